"""What happens to a purchase order: its status moves, the deliveries received against
it (receipts and their lines) and the discrepancies found."""

from django.conf import settings
from django.db import models

from inventory.models.catalogue import Package
from inventory.models.stock import (
    PurchaseOrder,
    PurchaseOrderLine,
    StockLot,
    StockMovement,
    Supplier,
)


class PurchaseOrderEvent(models.Model):
    """One move of a purchase order's status: who, when, from, to, and why."""

    purchase_order = models.ForeignKey(
        PurchaseOrder, on_delete=models.CASCADE, related_name="events"
    )
    from_status = models.CharField(max_length=20, choices=PurchaseOrder.Status.choices)
    to_status = models.CharField(max_length=20, choices=PurchaseOrder.Status.choices)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    note = models.CharField(max_length=255, blank=True)
    occurred_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["occurred_at", "pk"]

    def __str__(self):
        return f"{self.purchase_order} {self.from_status} -> {self.to_status}"


class Receipt(models.Model):
    """One delivery received from a supplier, against a purchase order or without one.

    Its lines are the packages put on the shelf; each line's units are one RECEIPT row
    of the ledger (``reference`` ``receipt:<id>``), written by
    ``inventory.services.receiving.receive_stock``.
    """

    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="receipts")
    purchase_order = models.ForeignKey(
        PurchaseOrder, null=True, blank=True, on_delete=models.PROTECT, related_name="receipts"
    )
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    received_at = models.DateTimeField(auto_now_add=True)
    note = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-received_at", "-pk"]

    def __str__(self):
        return f"Receipt {self.pk} from {self.supplier}"

    @property
    def reference(self) -> str:
        """What the receipt's ledger rows name as their cause."""
        return f"receipt:{self.pk}"


class ReceiptLine(models.Model):
    """Packages of one lot in one receipt; ``movement`` is the ledger row that shelved them
    (its quantity is packages x the package's units, its serial numbers those scanned)."""

    receipt = models.ForeignKey(Receipt, on_delete=models.CASCADE, related_name="lines")
    lot = models.ForeignKey(StockLot, on_delete=models.PROTECT, related_name="receipt_lines")
    purchase_order_line = models.ForeignKey(
        PurchaseOrderLine, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    packages = models.PositiveIntegerField()
    movement = models.OneToOneField(StockMovement, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["pk"]

    def __str__(self):
        return f"{self.lot} x{self.packages} packages"


class ReceivingDiscrepancyQuerySet(models.QuerySet):
    def unresolved(self) -> "ReceivingDiscrepancyQuerySet":
        return self.filter(resolved_at__isnull=True)


class ReceivingDiscrepancy(models.Model):
    """A difference between what a purchase order asked for and what arrived, kept until
    someone resolves it (with the supplier: a credit, a back order, a return).

    Quantities are packages: ``quantity_ordered`` on the line, ``quantity_received`` on
    it when the discrepancy was found.
    """

    class Kind(models.TextChoices):
        NOT_ORDERED = "not_ordered", "Received but not ordered"
        OVER_RECEIVED = "over_received", "More received than ordered"
        SHORT_AT_CLOSE = "short_at_close", "Short when the order was closed"

    purchase_order = models.ForeignKey(
        PurchaseOrder, on_delete=models.PROTECT, related_name="discrepancies"
    )
    package = models.ForeignKey(Package, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    quantity_ordered = models.PositiveIntegerField()
    quantity_received = models.PositiveIntegerField()
    receipt = models.ForeignKey(
        Receipt, null=True, blank=True, on_delete=models.PROTECT, related_name="discrepancies"
    )
    note = models.CharField(max_length=255, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolution = models.CharField(max_length=255, blank=True)

    objects = ReceivingDiscrepancyQuerySet.as_manager()

    class Meta:
        ordering = ["recorded_at", "pk"]
        verbose_name_plural = "receiving discrepancies"

    def __str__(self):
        return f"{self.purchase_order} {self.package.package_ndc} {self.kind}"

    @property
    def difference(self) -> int:
        """Packages received minus packages ordered (negative when short)."""
        return self.quantity_received - self.quantity_ordered
