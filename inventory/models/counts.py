"""Adjustments by hand (their coded reasons) and blind cycle counts."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from inventory.models.stock import StockLot, StockMovement


class AdjustmentReason(models.TextChoices):
    """Why stock was adjusted by hand (the coded reason of an adjustment)."""

    DAMAGED = "damaged", "Damaged"
    EXPIRED = "expired", "Expired"
    COUNT_CORRECTION = "count_correction", "Count correction"
    DESTRUCTION = "destruction", "Destruction (witnessed)"


# The ledger's movement kind of each adjustment reason.
ADJUSTMENT_MOVEMENT_KINDS = {
    AdjustmentReason.DAMAGED: StockMovement.Kind.DAMAGE,
    AdjustmentReason.EXPIRED: StockMovement.Kind.EXPIRY,
    AdjustmentReason.COUNT_CORRECTION: StockMovement.Kind.COUNT_CORRECTION,
    AdjustmentReason.DESTRUCTION: StockMovement.Kind.DESTRUCTION,
}


class CycleCountQuerySet(models.QuerySet):
    def open(self) -> "CycleCountQuerySet":
        return self.filter(status__in=[CycleCount.Status.COUNTING, CycleCount.Status.SUBMITTED])


class CycleCount(models.Model):
    """A blind count of some lots: counted (the counter never sees the expected quantity),
    submitted, then approved by a manager or pharmacist, which posts the variances to the
    ledger as COUNT_CORRECTION rows (``reference`` ``count:<id>``).

    Each status move is stamped once on the count itself (who and when).
    """

    class Status(models.TextChoices):
        COUNTING = "counting", "Counting"
        SUBMITTED = "submitted", "Submitted for approval"
        APPROVED = "approved", "Approved"
        CANCELLED = "cancelled", "Cancelled"

    status = models.CharField(max_length=12, choices=Status.choices, default=Status.COUNTING)
    scope = models.CharField(max_length=200, help_text="What is counted, in words.")
    note = models.CharField(max_length=255, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    witness = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)

    objects = CycleCountQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        permissions = [
            (
                "view_controlled_inventory",
                "Can view controlled-substance perpetual and biennial inventories",
            )
        ]

    def __str__(self):
        return f"Count {self.pk} ({self.scope})"

    @property
    def reference(self) -> str:
        return f"count:{self.pk}"


# The moves a cycle count's status may make (inventory.services.counts checks them).
CYCLE_COUNT_MOVES = {
    CycleCount.Status.COUNTING: {CycleCount.Status.SUBMITTED, CycleCount.Status.CANCELLED},
    CycleCount.Status.SUBMITTED: {CycleCount.Status.APPROVED, CycleCount.Status.CANCELLED},
    CycleCount.Status.APPROVED: set(),
    CycleCount.Status.CANCELLED: set(),
}


class CycleCountLine(models.Model):
    """One lot of a count: what the ledger held and what the counter found.

    ``expected_quantity`` is the lot's quantity on hand when the count started, taken
    again when the line is counted, so units dispensed or received in between are not
    mistaken for a variance. ``is_estimate`` marks a count the law lets be estimated
    (21 CFR 1304.11(e)(3): never for schedule II); an estimate posts no correction.
    """

    count = models.ForeignKey(CycleCount, on_delete=models.CASCADE, related_name="lines")
    lot = models.ForeignKey(StockLot, on_delete=models.PROTECT, related_name="count_lines")
    expected_quantity = models.DecimalField(max_digits=12, decimal_places=3)
    counted_quantity = models.DecimalField(max_digits=12, decimal_places=3, null=True, blank=True)
    is_estimate = models.BooleanField(default=False)
    counted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    counted_at = models.DateTimeField(null=True, blank=True)
    correction = models.OneToOneField(
        StockMovement, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["lot__location", "lot__package__package_ndc", "lot__lot_number", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["count", "lot"], name="cycle_count_line_unique"),
            models.CheckConstraint(
                condition=Q(counted_quantity__gte=0) | Q(counted_quantity__isnull=True),
                name="cycle_count_line_counted_not_negative",
            ),
        ]

    def __str__(self):
        return f"{self.count} {self.lot}"

    @property
    def is_counted(self) -> bool:
        return self.counted_quantity is not None

    @property
    def variance(self):
        """Counted minus expected units (None until counted)."""
        if self.counted_quantity is None:
            return None
        return self.counted_quantity - self.expected_quantity
