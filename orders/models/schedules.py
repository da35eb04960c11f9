"""The work that waits for a date or a limit: refills scheduled for their first eligible
date, and how long work may wait in each queue before it shows late."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class ScheduledRefillQuerySet(models.QuerySet):
    def due(self, today) -> "ScheduledRefillQuerySet":
        """Scheduled refills whose date has come, oldest date first: what the beat task
        ``orders.tasks.queue_due_refills_task`` hands to ``queue_scheduled_refill``."""
        return self.filter(status=ScheduledRefill.Status.SCHEDULED, fill_on__lte=today).order_by(
            "fill_on", "pk"
        )


class ScheduledRefill(models.Model):
    """A refill asked for too soon and scheduled for a date on or after its first eligible
    date, so the patient need not call back. On that date a beat task makes the fill
    through the refill rules (``orders.services.intake.scheduled_refills``) exactly once:
    the status moves from ``scheduled`` to ``queued`` by a conditional UPDATE, and to
    ``cancelled`` (with the reason) if the prescription was cancelled, expired or ran
    out of refills before then. At most one is scheduled per prescription at a time.
    """

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        QUEUED = "queued", "Entered the fill queue"
        CANCELLED = "cancelled", "Cancelled"

    prescription = models.ForeignKey(
        "orders.Prescription", on_delete=models.PROTECT, related_name="scheduled_refills"
    )
    fill_on = models.DateField(help_text="The day the refill enters the fill queue.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SCHEDULED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    fill = models.ForeignKey(
        "orders.Fill", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    processed_at = models.DateTimeField(null=True, blank=True)
    cancelled_reason = models.CharField(max_length=255, blank=True)

    objects = ScheduledRefillQuerySet.as_manager()

    class Meta:
        ordering = ["fill_on", "pk"]
        indexes = [models.Index(fields=["status", "fill_on"], name="scheduled_refill_due_idx")]
        constraints = [
            # Two schedules of one prescription would make two fills on the same day.
            models.UniqueConstraint(
                fields=["prescription"],
                condition=Q(status="scheduled"),
                name="one_scheduled_refill_per_rx",
            ),
        ]

    def __str__(self):
        return f"Refill of Rx {self.prescription.rx_number} on {self.fill_on}"


class QueueWaitLimit(models.Model):
    """How long work may wait in a queue before its tab shows it late, set by managers on
    the queue-limits page (``orders.services.queue_limits``); one row per queue, seeded
    by migration. Read by the queue tabs (``orders.views.queues.queue_tabs``)."""

    class Queue(models.TextChoices):
        INTAKE = "intake", "Intake"
        PV1 = "pv1", "PV1"
        FILL = "fill", "Fill"
        PV2 = "pv2", "PV2"
        READY_TO_PACK = "ready_to_pack", "Ready to pack"
        ON_HOLD = "on_hold", "On hold"

    queue = models.CharField(max_length=16, choices=Queue.choices, unique=True)
    minutes = models.PositiveIntegerField()
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(condition=Q(minutes__gt=0), name="queue_wait_limit_positive")
        ]

    def __str__(self):
        return f"{self.get_queue_display()}: {self.minutes} min"
