"""Celery tasks of the orders app: thin wrappers that take ids and call a service.

No patient data travels through the broker. Each is safe to run twice.
"""

from celery import shared_task
from django.utils import timezone

from orders.models import ScheduledRefill
from orders.services.intake.scheduled_refills import queue_scheduled_refill


@shared_task
def queue_due_refills_task() -> int:
    """Beat: the scheduled refills whose date has come enter the fill queue (or are
    cancelled with the reason). Each is claimed by ``queue_scheduled_refill``, so a run
    that overlaps another, or repeats, makes no second fill. Returns how many were
    due."""
    today = timezone.localdate()
    due = list(ScheduledRefill.objects.due(today).values_list("pk", flat=True))
    for scheduled_id in due:
        queue_scheduled_refill(scheduled_id, today=today)
    return len(due)
