"""The wait limits of the work queues, set by managers: past its limit a queue's oldest
wait shows late on its tab (``QueueWaitLimit``)."""

from django.db import transaction

from orders.models import QueueWaitLimit
from pharmacy.models import User

__all__ = ["MAX_LIMIT_MINUTES", "QueueLimitError", "set_queue_wait_limits"]

# A week: a limit longer than that would never turn a tab late in practice.
MAX_LIMIT_MINUTES = 7 * 24 * 60


class QueueLimitError(Exception):
    """Limits that cannot be saved; ``errors`` maps each queue to what is wrong."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def set_queue_wait_limits(minutes: dict[str, int], *, by: User) -> list[QueueWaitLimit]:
    """Set the wait limit of each queue named in ``minutes`` (whole minutes, 1 to a week).
    Refused with QueueLimitError, nothing written, for an unknown queue or a limit out of
    range. Locks the limit rows; one transaction."""
    errors = {}
    for queue, value in minutes.items():
        if queue not in QueueWaitLimit.Queue.values:
            errors[queue] = f"There is no queue {queue!r}."
        elif not isinstance(value, int) or not 1 <= value <= MAX_LIMIT_MINUTES:
            label = QueueWaitLimit.Queue(queue).label
            errors[queue] = (
                f"The {label} limit is a whole number of minutes from 1 to "
                f"{MAX_LIMIT_MINUTES} (a week), not {value!r}."
            )
    if errors:
        raise QueueLimitError(errors)
    with transaction.atomic():
        rows = {
            row.queue: row
            for row in QueueWaitLimit.objects.select_for_update().filter(queue__in=minutes)
        }
        for queue, value in minutes.items():
            row = rows.get(queue) or QueueWaitLimit(queue=queue)
            row.minutes, row.updated_by = value, by
            row.save()
            rows[queue] = row
        return [rows[queue] for queue in minutes]
