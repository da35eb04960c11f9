"""The outbox table: side effects waiting to be delivered, delivered, or given up on."""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class OutboxMessageQuerySet(models.QuerySet):
    def due(self, *, now) -> "OutboxMessageQuerySet":
        """Pending messages whose time has come and that no live worker holds: never
        claimed, or claimed by a worker that died (its claim ran out)."""
        return self.filter(
            Q(claimed_until__isnull=True) | Q(claimed_until__lt=now),
            status=OutboxMessage.Status.PENDING,
            next_attempt_at__lte=now,
        )

    def needing_attention(self) -> "OutboxMessageQuerySet":
        """What a manager looks at: failed for good, or pending and already tried."""
        return self.filter(
            Q(status=OutboxMessage.Status.FAILED)
            | Q(status=OutboxMessage.Status.PENDING, attempts__gt=0)
        )


class OutboxMessage(models.Model):
    """One side effect of a business change (a label to render, an e-mail to send, a
    label to buy from a carrier), written in the same transaction as the change, so it
    exists exactly when the change does.

    A worker claims it (``claimed_until``, a conditional UPDATE), delivers it through the
    deliverer registered for its ``kind`` and only then marks it delivered; a failure is
    recorded in ``last_error`` and tried again after a back-off, up to ``max_attempts``,
    then the message is failed and shown to managers, who can send it again. A claim
    that runs out (the worker died) is taken over by the periodic sweep. ``payload``
    holds ids and codes only, never patient data. ``dedupe_key``, when given, makes a
    side effect that must happen once ever (one "shipped" e-mail per package) one row.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to be delivered"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed: needs a person"

    kind = models.CharField(max_length=60)
    target_id = models.BigIntegerField(
        null=True, blank=True, help_text="The id of the object the side effect is about."
    )
    payload = models.JSONField(default=dict, blank=True)
    description = models.CharField(
        max_length=200, blank=True, help_text="What it is, in words (no patient data)."
    )
    dedupe_key = models.CharField(max_length=150, null=True, blank=True, unique=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=10)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_until = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=150, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    retried_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = OutboxMessageQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        permissions = [("retry_outboxmessage", "Can send a failed side effect again")]
        indexes = [
            # The sweep reads only what is pending, oldest due first.
            models.Index(
                fields=["next_attempt_at", "id"],
                condition=Q(status="pending"),
                name="outbox_pending_due_idx",
            ),
            models.Index(fields=["kind", "target_id"], name="outbox_kind_target_idx"),
        ]

    def __str__(self):
        return f"{self.kind} #{self.pk} ({self.status})"

    @property
    def is_claimed(self) -> bool:
        return self.claimed_until is not None and self.claimed_until > timezone.now()


def backoff(attempts: int) -> timedelta:
    """How long to wait before the next try after ``attempts`` tries: 10 s, 20 s, 40 s ...
    up to an hour."""
    return timedelta(seconds=min(10 * 2 ** max(attempts - 1, 0), 3600))
