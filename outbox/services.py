"""Recording side effects and delivering them, exactly once where they land.

- ``record_side_effect`` writes the row in the caller's transaction and, once that
  commits, asks a worker to deliver it at once (``lib.queueing.send_task_fast``: never
  waits on a slow broker; when the broker is down the sweep delivers it later).
- ``deliver_side_effect`` claims the row with a conditional UPDATE (of two workers that
  get the same message, one delivers), calls the kind's deliverer outside any
  transaction (a carrier call or SMTP conversation must not hold row locks), and marks
  it delivered only after the deliverer returned. A failure is written down and tried
  again after a back-off; a worker that dies leaves a claim that runs out.
- ``deliver_due_side_effects`` (Celery beat) delivers what is due: never queued because
  the broker was down, queued but lost, failed earlier and due again, or claimed by a
  worker that died.
- ``retry_side_effect``: a manager sends a failed one again.
"""

import logging
import os
import socket
import traceback
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from lib.queueing import send_task_fast
from outbox.models import OutboxMessage, backoff
from outbox.registry import PermanentFailure, deliverer

logger = logging.getLogger(__name__)


def _worker_name() -> str:
    """Who holds a claim, for the managers' list: host and process (read when claiming:
    worker processes are forked after import)."""
    return f"{socket.gethostname()}:{os.getpid()}"


class OutboxError(Exception):
    """A side effect cannot be recorded or retried as asked; ``code`` and ``detail`` say why."""

    def __init__(self, code: str, detail: str):
        super().__init__(detail)
        self.code = code
        self.detail = detail


def record_side_effect(
    kind: str,
    *,
    target_id: int | None = None,
    payload: dict | None = None,
    description: str = "",
    dedupe_key: str | None = None,
) -> OutboxMessage:
    """Record a side effect in the current transaction; a worker delivers it after commit.

    With ``dedupe_key``, a side effect already recorded under that key is returned
    instead of a second row (a savepoint keeps the caller's transaction usable). Raises
    LookupError for a kind no app delivers (a typo must fail where it is made).
    """
    deliverer(kind)
    message = OutboxMessage(
        kind=kind,
        target_id=target_id,
        payload=payload or {},
        description=description[:200],
        dedupe_key=dedupe_key,
    )
    if dedupe_key is None:
        message.save(force_insert=True)
    else:
        try:
            with transaction.atomic():
                message.save(force_insert=True)
        except IntegrityError:
            return OutboxMessage.objects.get(dedupe_key=dedupe_key)
    message_id = message.pk
    transaction.on_commit(lambda: queue_delivery(message_id))
    return message


def queue_delivery(message_id: int) -> bool:
    """Ask a worker to deliver the message now; False when the broker cannot take it (the
    sweep delivers it then)."""
    from outbox.tasks import deliver_side_effect_task  # noqa: PLC0415 (tasks import us)

    return send_task_fast(deliver_side_effect_task, (message_id,), what=f"side effect {message_id}")


def _claim(message_id: int, *, now) -> bool:
    claim_until = now + timedelta(seconds=settings.OUTBOX_CLAIM_SECONDS)
    return bool(
        OutboxMessage.objects.due(now=now)
        .filter(pk=message_id)
        .update(
            claimed_until=claim_until,
            claimed_by=_worker_name()[:150],
            attempts=F("attempts") + 1,
        )
    )


def deliver_side_effect(message_id: int) -> bool:
    """Deliver one side effect if it is due and nobody else is delivering it; returns
    whether this call delivered it. Never raises for a deliverer's failure: the failure
    is recorded on the message (``last_error``) and the message is tried again later, or
    failed for good after ``max_attempts`` or a ``PermanentFailure``."""
    now = timezone.now()
    if not _claim(message_id, now=now):
        return False
    message = OutboxMessage.objects.get(pk=message_id)
    try:
        deliverer(message.kind)(message)
    except Exception as error:
        _record_failure(message, error)
        return False
    # Only the claim holder marks it: a worker slower than its claim lost it to another.
    OutboxMessage.objects.filter(pk=message.pk, claimed_until=message.claimed_until).update(
        status=OutboxMessage.Status.DELIVERED,
        delivered_at=timezone.now(),
        claimed_until=None,
        last_error="",
    )
    return True


def _record_failure(message: OutboxMessage, error: Exception) -> None:
    permanent = isinstance(error, PermanentFailure | LookupError)
    given_up = permanent or message.attempts >= message.max_attempts
    text = "".join(traceback.format_exception_only(type(error), error)).strip()
    logger.warning(
        "Side effect %s (%s) failed on attempt %s%s: %s",
        message.pk,
        message.kind,
        message.attempts,
        "; giving up" if given_up else "",
        text,
        exc_info=not permanent,
    )
    OutboxMessage.objects.filter(pk=message.pk, claimed_until=message.claimed_until).update(
        status=OutboxMessage.Status.FAILED if given_up else OutboxMessage.Status.PENDING,
        next_attempt_at=timezone.now() + backoff(message.attempts),
        claimed_until=None,
        last_error=text[:2000],
    )


def deliver_due_side_effects(*, limit: int = 200) -> int:
    """Deliver the pending side effects that are due, oldest first; returns how many were
    delivered. Run by Celery beat, so nothing waits longer than a sweep when the broker
    lost a message or a worker died."""
    ids = list(
        OutboxMessage.objects.due(now=timezone.now())
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    return sum(deliver_side_effect(message_id) for message_id in ids)


def retry_side_effect(message: OutboxMessage, *, by) -> OutboxMessage:
    """A manager sends a failed side effect again (with a fresh set of attempts). Raises
    OutboxError when it is not failed (delivered, or still being tried)."""
    with transaction.atomic():
        message = OutboxMessage.objects.select_for_update().get(pk=message.pk)
        if message.status != OutboxMessage.Status.FAILED:
            raise OutboxError(
                "not_failed",
                f"Side effect {message.pk} is {message.get_status_display().lower()}; only a "
                "failed one can be sent again.",
            )
        message.status = OutboxMessage.Status.PENDING
        message.next_attempt_at = timezone.now()
        message.max_attempts = (
            message.attempts + OutboxMessage._meta.get_field("max_attempts").default
        )
        message.retried_by = by
        message.save(update_fields=["status", "next_attempt_at", "max_attempts", "retried_by"])
        transaction.on_commit(lambda: queue_delivery(message.pk))
    return message
