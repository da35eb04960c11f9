"""Deliverers of the orders app's side effects (``outbox``): what a worker does with an
``orders.*`` row recorded in the transaction of a fill's move.

- ``orders.rx_label`` (``labels.queue_rx_label``): make the fill's current Rx vial label
  for its data as they are now. Idempotent where it lands: a label is keyed by the hash
  of what it prints, so a second delivery finds it and renders nothing.
"""

import logging

from orders.models import Fill
from orders.services import labels
from outbox.models import OutboxMessage
from outbox.registry import PermanentFailure, delivers

logger = logging.getLogger(__name__)

# What a label refusal means for its side effect. The fill no longer needs a label (it
# was cancelled, or sent back before PV1 since: passing PV1 again records a new side
# effect): nothing to do. The directions do not fit any label: no retry can help until a
# person shortens them, so it waits for a manager. Anything else (the data kept changing
# while the label rendered) is passing: raised, and tried again after a back-off.
NOTHING_TO_DO = frozenset({"fill_cancelled", "label_not_ready"})
NEEDS_A_PERSON = frozenset({"label_too_long"})


@delivers(labels.RX_LABEL_EFFECT)
def deliver_rx_label(message: OutboxMessage) -> None:
    """Make the fill's current label (``labels.generate_rx_label``). Raises
    PermanentFailure when the fill is gone or its text fits no label."""
    fill = Fill.objects.filter(pk=message.target_id).first()
    if fill is None:
        raise PermanentFailure(f"Fill {message.target_id} does not exist.")
    try:
        labels.generate_rx_label(fill)
    except labels.RxLabelError as error:
        if error.code in NOTHING_TO_DO:
            logger.info("Rx label of fill %s: nothing to do: %s", fill.pk, error.detail)
            return
        if error.code in NEEDS_A_PERSON:
            raise PermanentFailure(error.detail) from error
        raise
