"""The stock: suppliers and purchase orders, lots on the shelf with their status and its
changes, and the append-only movement ledger."""

from datetime import date
from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Case, Q, Value, When
from django.utils import timezone

from inventory.models.catalogue import Package


class Supplier(models.Model):
    """A wholesaler or manufacturer the pharmacy buys from."""

    name = models.CharField(max_length=200, unique=True)
    account_number = models.CharField(max_length=50, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=30, blank=True)
    lead_time_days = models.PositiveSmallIntegerField(default=1)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class PurchaseOrder(models.Model):
    """An order to a supplier; receipts against it fill its lines, partly or fully."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        PARTIALLY_RECEIVED = "partially_received", "Partially received"
        RECEIVED = "received", "Received"
        CLOSED = "closed", "Closed"
        CANCELLED = "cancelled", "Cancelled"

    number = models.CharField(max_length=30, unique=True)
    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="purchase_orders")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    ordered_on = models.DateField()
    expected_on = models.DateField(null=True, blank=True)
    note = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-ordered_on", "-pk"]

    def __str__(self):
        return f"PO {self.number}"

    @property
    def accepts_receipts(self) -> bool:
        return self.status in (self.Status.OPEN, self.Status.PARTIALLY_RECEIVED)


# The moves a purchase order's status may make (inventory.services.receiving checks them).
PURCHASE_ORDER_MOVES = {
    PurchaseOrder.Status.OPEN: {
        PurchaseOrder.Status.PARTIALLY_RECEIVED,
        PurchaseOrder.Status.RECEIVED,
        PurchaseOrder.Status.CLOSED,
        PurchaseOrder.Status.CANCELLED,
    },
    PurchaseOrder.Status.PARTIALLY_RECEIVED: {
        PurchaseOrder.Status.RECEIVED,
        PurchaseOrder.Status.CLOSED,
    },
    PurchaseOrder.Status.RECEIVED: {PurchaseOrder.Status.CLOSED},
    PurchaseOrder.Status.CLOSED: set(),
    PurchaseOrder.Status.CANCELLED: set(),
}


class PurchaseOrderLine(models.Model):
    """How many packages of one NDC were ordered, and how many have arrived so far."""

    purchase_order = models.ForeignKey(
        PurchaseOrder, on_delete=models.CASCADE, related_name="lines"
    )
    package = models.ForeignKey(Package, on_delete=models.PROTECT, related_name="+")
    quantity_ordered = models.PositiveIntegerField(help_text="Packages.")
    quantity_received = models.PositiveIntegerField(default=0, help_text="Packages.")

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(fields=["purchase_order", "package"], name="po_line_unique")
        ]

    def __str__(self):
        return f"{self.purchase_order} {self.package.package_ndc} x{self.quantity_ordered}"


class StockLotQuerySet(models.QuerySet):
    @staticmethod
    def dispensing_conditions(
        *, usable_until: date, quantity: Decimal | None = None
    ) -> list[tuple[str, Q]]:
        """The rule of a dispensable lot, one named condition at a time, in the order a
        refusal names them: the lot is available (not quarantined, recalled or marked
        expired), not past its date (a lot is not dispensed on its expiry day): the two
        conditions of ``available``; it does not expire before the patient will have
        used the drug (``usable_until``), and it holds ``quantity`` units (with no
        quantity: any)."""
        return [
            *StockLotQuerySet.availability_conditions(),
            ("expires_too_soon", Q(expiry__gt=usable_until)),
            (
                "short",
                Q(quantity_on_hand__gt=0)
                if quantity is None
                else Q(quantity_on_hand__gte=quantity),
            ),
        ]

    @staticmethod
    def availability_conditions(*, today: date | None = None) -> list[tuple[str, Q]]:
        """The rule of a lot whose units count as available stock, named as in
        ``dispensing_conditions``: available status, and not past its date on ``today``
        (the pharmacy's local date unless given)."""
        return [
            ("status", Q(status=StockLot.Status.AVAILABLE)),
            ("expired", Q(expiry__gt=timezone.localdate() if today is None else today)),
        ]

    def available(self, *, today: date | None = None) -> "StockLotQuerySet":
        """Lots whose units are the pharmacy's available stock (``availability_conditions``).

        The one definition of available units: the reorder check counts them and the
        reorder rules page shows them (``inventory.services.reorder``:
        ``available_units_by_product``, ``available_units_subquery``), the expiry report
        lists those about to expire (``inventory.services.lots.expiring_lots``); every
        lot that may be dispensed is one of these (``dispensable``)."""
        conditions = self.availability_conditions(today=today)
        return self.filter(*(condition for _, condition in conditions))

    def past_expiry(self, *, today: date | None = None) -> "StockLotQuerySet":
        """Lots past their date, whatever their status: they fail the ``expired``
        condition of ``available`` (a lot is not dispensed on its expiry day).

        Relied on by the expiry sweep, which moves the available ones to EXPIRED, by the
        release of a quarantined lot, which expires one past its date instead
        (``inventory.services.lots``), and by the expiry report's expired lots."""
        return self.exclude(dict(self.availability_conditions(today=today))["expired"])

    def units_by_product(self) -> dict[int, Decimal]:
        """Units on hand of these lots, per product id (products without lots left out)."""
        return dict(
            self.order_by()
            .values_list("package__product_id")
            .annotate(units=models.Sum("quantity_on_hand"))
        )

    def dispensable(
        self, *, usable_until: date, quantity: Decimal | None = None
    ) -> "StockLotQuerySet":
        """Lots that may be dispensed to a patient who will use the drug until
        ``usable_until`` (and that hold ``quantity`` units, when given).

        The one definition of a dispensable lot (``dispensing_conditions``). Relied on
        by the fill station's first-expiring-first suggestion and its partial-fill check
        (``orders.services.workflow.filling._fefo_lot``, ``suggest_lot``) and, through
        ``with_dispensing_refusal``, by the write itself
        (``inventory.services.stock.dispense_from_lot``), so the lot suggested and the
        lot accepted never disagree.
        """
        conditions = self.dispensing_conditions(usable_until=usable_until, quantity=quantity)
        return self.filter(*(condition for _, condition in conditions))

    def with_dispensing_refusal(
        self, *, usable_until: date, quantity: Decimal
    ) -> "StockLotQuerySet":
        """Each lot with ``dispensing_refusal``: the name of the first condition of
        ``dispensable`` it fails (``dispensing_conditions``), None when it may be
        dispensed. The database evaluates the very conditions ``dispensable`` filters
        by; ``inventory.services.stock.dispense_from_lot`` turns the name into its
        refusal."""
        conditions = self.dispensing_conditions(usable_until=usable_until, quantity=quantity)
        return self.annotate(
            dispensing_refusal=Case(
                *(When(~condition, then=Value(name)) for name, condition in conditions),
                default=None,
                output_field=models.CharField(),
            )
        )

    def first_expiring_first(self) -> "StockLotQuerySet":
        """First-expiring-first (FEFO): the order the fill station suggests lots in."""
        return self.order_by("expiry", "pk")


class StockLot(models.Model):
    """Units of one manufacturer lot of one package NDC on the shelf.

    ``quantity_on_hand`` is in dispensing units (tablets, mL, each), never below zero
    (a database constraint), and always equal to the sum of the lot's ledger rows: only
    ``inventory.services.stock`` changes it, with the ledger row in the same transaction.
    """

    class Status(models.TextChoices):
        AVAILABLE = "available", "Available"
        QUARANTINED = "quarantined", "Quarantined"
        EXPIRED = "expired", "Expired"
        RECALLED = "recalled", "Recalled"

    package = models.ForeignKey(Package, on_delete=models.PROTECT, related_name="lots")
    lot_number = models.CharField(max_length=40)
    expiry = models.DateField()
    location = models.CharField(max_length=40, blank=True, help_text="Bin or shelf.")
    quantity_on_hand = models.DecimalField(max_digits=12, decimal_places=3, default=0)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.AVAILABLE)
    status_reason = models.CharField(max_length=255, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    objects = StockLotQuerySet.as_manager()

    class Meta:
        ordering = ["expiry", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity_on_hand__gte=0), name="stock_lot_on_hand_not_negative"
            ),
            models.UniqueConstraint(fields=["package", "lot_number"], name="stock_lot_unique"),
        ]
        indexes = [
            models.Index(fields=["package", "status", "expiry"], name="stock_lot_fefo_idx"),
        ]

    def __str__(self):
        return f"{self.package.package_ndc} lot {self.lot_number} exp {self.expiry}"


# The moves a lot's status may make (inventory.services.lots checks them). A recall is
# final: recalled units go back to the manufacturer or are destroyed, never dispensed.
# An expired lot may still be recalled, so a recall trace finds it among the others.
STOCK_LOT_MOVES = {
    StockLot.Status.AVAILABLE: {
        StockLot.Status.QUARANTINED,
        StockLot.Status.RECALLED,
        StockLot.Status.EXPIRED,
    },
    StockLot.Status.QUARANTINED: {
        StockLot.Status.AVAILABLE,
        StockLot.Status.RECALLED,
        StockLot.Status.EXPIRED,
    },
    StockLot.Status.EXPIRED: {StockLot.Status.RECALLED},
    StockLot.Status.RECALLED: set(),
}


class StockMovement(models.Model):
    """One append-only line of the stock ledger: a signed change of one lot's quantity.

    ``reference`` names what caused it in another app without a foreign key
    (``fill:123``), so inventory depends on nothing; a recall trace starts from it.
    A database trigger (migration) refuses UPDATE and DELETE.
    """

    class Kind(models.TextChoices):
        RECEIPT = "receipt", "Receipt"
        DISPENSE = "dispense", "Dispense"
        RETURN_TO_STOCK = "return", "Return to stock"
        ADJUSTMENT = "adjustment", "Adjustment"
        DAMAGE = "damage", "Damage"
        EXPIRY = "expiry", "Expiry"
        COUNT_CORRECTION = "count_correction", "Count correction"
        TRANSFER = "transfer", "Transfer"
        DESTRUCTION = "destruction", "Destruction"

    lot = models.ForeignKey(StockLot, on_delete=models.PROTECT, related_name="movements")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    quantity_change = models.DecimalField(max_digits=12, decimal_places=3)
    reason = models.CharField(max_length=255, blank=True)
    reference = models.CharField(max_length=64, blank=True, db_index=True)
    purchase_order_line = models.ForeignKey(
        PurchaseOrderLine, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    serial_numbers = ArrayField(models.CharField(max_length=40), default=list, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    witness = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    occurred_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["occurred_at", "pk"]
        constraints = [
            models.CheckConstraint(condition=~Q(quantity_change=0), name="stock_movement_not_zero")
        ]

    def __str__(self):
        return f"{self.kind} {self.quantity_change:+} {self.lot}"


class StockLotStatusChange(models.Model):
    """One move of a lot's status (quarantine, recall, release, expiry): who, when, why.

    A status change moves units in or out of available stock without changing the
    quantity on hand, so it is not a ledger row; ``actor`` is blank for the daily expiry
    task.
    """

    lot = models.ForeignKey(StockLot, on_delete=models.PROTECT, related_name="status_changes")
    from_status = models.CharField(max_length=12, choices=StockLot.Status.choices)
    to_status = models.CharField(max_length=12, choices=StockLot.Status.choices)
    reason = models.CharField(max_length=255)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    occurred_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["occurred_at", "pk"]

    def __str__(self):
        return f"{self.lot} {self.from_status} -> {self.to_status}"
