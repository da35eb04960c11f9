"""Celery tasks of the shipping app: thin wrappers that take ids and call a service.

No patient data travels through the broker. Each is safe to run twice (acks are late).
The shipping side effects (the carrier label's purchase, the label and packing slip
PDFs, label batches, the patient's e-mail) are not tasks here: they are outbox messages,
delivered by ``shipping.effects``.
"""

import logging

from celery import shared_task

from shipping.services import shipments

logger = logging.getLogger(__name__)


@shared_task
def ensure_shipments_task() -> int:
    """Every 30 seconds (beat), the catch-up: the shipments of ready orders that no
    ``shipping.create_shipment`` side effect made (a race between an order's last two
    fills, a CancelRx, an order ready again after its side effect was delivered) or
    whose blocked address was corrected since."""
    return shipments.ensure_shipments_for_ready_orders()
