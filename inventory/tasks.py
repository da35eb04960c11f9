"""Celery tasks of the inventory app: thin wrappers that call a service.

They are safe to run twice (acks are late, so a task whose worker died runs again).
Reorder alert e-mails are side effects delivered by the outbox (``inventory.effects``),
not tasks of their own.
"""

import logging

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from inventory.services import lots

logger = logging.getLogger(__name__)


@shared_task
def expire_lots_task() -> dict[str, int]:
    """Daily (beat): move lots past their expiry date out of available stock and count the
    lots expiring within EXPIRY_WARNING_DAYS (the expiry report lists them)."""
    report = lots.expire_lots(today=timezone.localdate(), window_days=settings.EXPIRY_WARNING_DAYS)
    logger.info(
        "Expiry sweep: %d lots expired, %d expire within %d days.",
        len(report.expired),
        len(report.expiring),
        settings.EXPIRY_WARNING_DAYS,
    )
    return {"expired": len(report.expired), "expiring": len(report.expiring)}
