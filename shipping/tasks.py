"""Celery tasks of the shipping app: thin wrappers that take ids and call a service.

No patient data travels through the broker. Each is safe to run twice (acks are late).
The shipping side effects (the carrier label's purchase, the label and packing slip
PDFs, label batches, the patient's e-mail) are not tasks here: they are outbox messages,
delivered by ``shipping.effects``.
"""

import logging

from celery import shared_task

from orders.models import Order
from shipping.services import shipments

logger = logging.getLogger(__name__)


# Sent by name from orders.services.workflow (ORDER_READY_TASK): keep the name.
@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=5, max_retries=5)
def create_shipment_for_order_task(order_id: int) -> int | None:
    """Make the shipment of an order that just became ready to pack (queued by the fill
    workflow after the commit of its last fill's PV2 approval); returns its id, None when
    there was nothing to make. Retried on failure (database trouble); a second run finds
    the shipment made and makes nothing."""
    order = Order.objects.filter(pk=order_id).first()
    if order is None:
        logger.warning("Shipment task: order %s does not exist.", order_id)
        return None
    shipment = shipments.create_shipment_for_order(order)
    return shipment.pk if shipment is not None else None


@shared_task
def ensure_shipments_task() -> int:
    """Every 30 seconds (beat), the catch-up: the shipments of ready orders whose own
    task never came (broker down, a race) or whose address was corrected since."""
    return shipments.ensure_shipments_for_ready_orders()
