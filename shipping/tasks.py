"""Celery tasks of the shipping app: thin wrappers that take ids and call a service.

No patient data travels through the broker. Each is safe to run twice (acks are late).
"""

import logging

from celery import shared_task

from shipping.models import LabelBatch, Shipment
from shipping.services import documents, shipments

logger = logging.getLogger(__name__)


@shared_task
def ensure_shipments_task() -> int:
    """Every 30 seconds (beat), the catch-up: the shipments of ready orders that no
    ``shipping.create_shipment`` side effect made (a race between an order's last two
    fills, a CancelRx, an order ready again after its side effect was delivered) or
    whose blocked address was corrected since."""
    return shipments.ensure_shipments_for_ready_orders()


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=10, max_retries=5)
def send_shipment_email_task(shipment_id: int) -> bool:
    """Tell the patient their package was handed to the carrier (once: the service
    claims ``patient_notified_at``); retried when the mail server fails."""
    shipment = Shipment.objects.filter(pk=shipment_id).first()
    if shipment is None:
        logger.warning("Shipment e-mail task: shipment %s does not exist.", shipment_id)
        return False
    return shipments.notify_patient_of_shipment(shipment)


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=5, max_retries=5)
def generate_shipping_documents_task(shipment_id: int) -> dict | None:
    """Make the shipment's 4 x 6 in label (once the carrier sold it) and its packing slip
    (queued when the label is bought); returns the documents' ids. Retried on failure
    (database or broker trouble). Running twice, or again after the worker died, still
    leaves one current document of each kind (their content hash)."""
    shipment = Shipment.objects.filter(pk=shipment_id).first()
    if shipment is None:
        logger.warning("Shipping documents task: shipment %s does not exist.", shipment_id)
        return None
    try:
        return documents.generate_shipping_documents(shipment)
    except shipments.ShippingError as error:
        logger.warning("Shipping documents task: shipment %s: %s", shipment_id, error.detail)
        return None


# A long wave outlives the task time limit: each retry resumes where the last run stopped.
@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=5, max_retries=20)
def print_label_batch_task(batch_id: int) -> dict | None:
    """Print a wave of labels (queued by ``start_label_batch``): each label made or
    reused, the progress counted, the labels merged into one PDF. Returns the progress."""
    batch = LabelBatch.objects.filter(pk=batch_id).first()
    if batch is None:
        logger.warning("Label batch task: batch %s does not exist.", batch_id)
        return None
    return documents.label_batch_progress(documents.print_label_batch(batch))


@shared_task
def generate_missing_shipping_documents_task() -> int:
    """Every two minutes (beat): the labels whose own task never ran, and the label
    batches left unfinished (a worker killed, the broker down when they were started).
    Returns how many labels were made."""
    made = documents.generate_missing_shipping_documents()
    documents.resume_unfinished_label_batches()
    return made
