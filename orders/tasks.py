"""Celery tasks of the orders app: thin wrappers that call a service.

They take ids (no patient data travels through the broker) and are safe to run twice:
acks are late, so a task whose worker died runs again, and a label is identified by the
hash of what it prints, so running twice still leaves one current label.
"""

import logging

from celery import shared_task

from orders.models import Fill
from orders.services import labels

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=5, max_retries=5)
def generate_rx_label_task(fill_id: int) -> int | None:
    """Make the fill's Rx vial label (queued after PV1 approval and after the fill step);
    returns the label's id. Retried on failure (database or broker trouble), except for
    a fill that no longer needs a label (cancelled, sent back before PV1)."""
    fill = Fill.objects.filter(pk=fill_id).first()
    if fill is None:
        logger.warning("Rx label task: fill %s does not exist.", fill_id)
        return None
    try:
        return labels.generate_rx_label(fill).pk
    except labels.RxLabelError as error:
        logger.warning("Rx label task: fill %s: %s", fill_id, error.detail)
        return None


@shared_task
def generate_missing_rx_labels_task() -> int:
    """Every two minutes (beat): make the labels whose own task never ran."""
    return labels.generate_missing_rx_labels()
