"""The drug catalogue (shaped like the FDA NDC Directory it is imported from) and the stock:
suppliers, purchase orders, lots and the movement ledger."""

from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone

from inventory.ndc import (
    Scan,
    ScanError,
    gtin14_from_ndc,
    gtin_at_start,
    ndc10_from_gtin,
    parse_scan,
)


class DEASchedule(models.TextChoices):
    """Controlled Substances Act schedules (21 CFR 1308); blank for non-controlled."""

    NONE = "", "Not controlled"
    CI = "CI", "Schedule I"
    CII = "CII", "Schedule II"
    CIII = "CIII", "Schedule III"
    CIV = "CIV", "Schedule IV"
    CV = "CV", "Schedule V"


class Storage(models.TextChoices):
    ROOM_TEMPERATURE = "room", "Room temperature"
    REFRIGERATED = "refrigerated", "Refrigerated (2-8 °C)"
    FROZEN = "frozen", "Frozen"


class Ingredient(models.Model):
    """An active ingredient, named once whatever salt form a product lists it in.

    ``normalized_name`` is the matching key (upper case, salt words removed, see
    ``inventory.ingredients``): WARFARIN SODIUM and Warfarin are one ingredient.
    """

    name = models.CharField(max_length=255)
    normalized_name = models.CharField(max_length=255, unique=True)

    class Meta:
        ordering = ["normalized_name"]

    def __str__(self):
        return self.name


class PharmacologicClass(models.Model):
    """An FDA Established Pharmacologic Class or related class (`Name [EPC]`, `[MoA]`, ...)."""

    class Kind(models.TextChoices):
        ESTABLISHED = "EPC", "Established pharmacologic class"
        MECHANISM = "MoA", "Mechanism of action"
        PHYSIOLOGIC = "PE", "Physiologic effect"
        CHEMICAL = "CS", "Chemical structure"
        OTHER = "", "Other"

    name = models.CharField(max_length=255)
    kind = models.CharField(max_length=3, choices=Kind.choices, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["name", "kind"], name="pharmacologic_class_unique")
        ]
        verbose_name_plural = "pharmacologic classes"

    def __str__(self):
        return f"{self.name} [{self.kind}]" if self.kind else self.name


class ProductQuerySet(models.QuerySet):
    def search(self, text: str) -> "ProductQuerySet":
        """Products whose brand, generic or ingredient name contains the text."""
        return self.filter(
            Q(proprietary_name__icontains=text)
            | Q(nonproprietary_name__icontains=text)
            | Q(ingredients__name__icontains=text)
        ).distinct()

    def with_ndc_starting(self, text: str) -> "ProductQuerySet":
        """Products whose product NDC or one of whose package NDCs starts with the text."""
        return self.filter(
            Q(product_ndc__startswith=text) | Q(packages__package_ndc__startswith=text)
        ).distinct()

    def controlled(self) -> "ProductQuerySet":
        return self.exclude(dea_schedule=DEASchedule.NONE)


class Product(models.Model):
    """A drug product (one FDA NDC Directory product row): labeler + product code.

    Imported and updated by ``import_ndc``; ``storage`` is set by staff and never
    overwritten by an import.
    """

    product_ndc = models.CharField("product NDC", max_length=10, unique=True)
    fda_product_id = models.CharField("FDA product ID", max_length=80, blank=True)
    product_type = models.CharField(max_length=100, blank=True)
    proprietary_name = models.CharField(max_length=255, blank=True)
    proprietary_name_suffix = models.CharField(max_length=255, blank=True)
    nonproprietary_name = models.CharField(max_length=512, blank=True)
    dosage_form = models.CharField(max_length=100, blank=True)
    route = models.CharField(max_length=255, blank=True)
    marketing_category = models.CharField(max_length=100, blank=True)
    application_number = models.CharField(max_length=50, blank=True)
    labeler_name = models.CharField(max_length=255, blank=True)
    marketing_start = models.DateField(null=True, blank=True)
    marketing_end = models.DateField(null=True, blank=True)
    dea_schedule = models.CharField(
        "DEA schedule", max_length=4, choices=DEASchedule.choices, blank=True
    )
    is_finished = models.BooleanField(
        default=True, help_text="False for unfinished (bulk) products of the NDC Directory."
    )
    storage = models.CharField(
        max_length=12, choices=Storage.choices, default=Storage.ROOM_TEMPERATURE
    )
    ingredients = models.ManyToManyField(
        Ingredient, through="ProductIngredient", related_name="products"
    )
    pharmacologic_classes = models.ManyToManyField(
        PharmacologicClass, related_name="products", blank=True
    )
    updated_at = models.DateTimeField(auto_now=True)

    objects = ProductQuerySet.as_manager()

    class Meta:
        ordering = ["proprietary_name", "nonproprietary_name", "product_ndc"]
        indexes = [
            models.Index(fields=["proprietary_name"], name="product_proprietary_idx"),
            models.Index(fields=["nonproprietary_name"], name="product_nonproprietary_idx"),
        ]

    def __str__(self):
        return f"{self.display_name} ({self.product_ndc})"

    @property
    def display_name(self) -> str:
        brand = " ".join(filter(None, [self.proprietary_name, self.proprietary_name_suffix]))
        if brand and self.nonproprietary_name and brand.lower() != self.nonproprietary_name.lower():
            return f"{brand} ({self.nonproprietary_name})"
        return brand or self.nonproprietary_name or self.product_ndc

    @property
    def is_controlled(self) -> bool:
        return self.dea_schedule != DEASchedule.NONE


class ProductIngredient(models.Model):
    """One active ingredient of a product with its strength as the FDA lists it."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="strengths")
    ingredient = models.ForeignKey(Ingredient, on_delete=models.PROTECT)
    strength = models.CharField(max_length=50, blank=True)
    strength_unit = models.CharField(max_length=50, blank=True)

    class Meta:
        ordering = ["product", "ingredient__normalized_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["product", "ingredient"], name="product_ingredient_unique"
            )
        ]

    def __str__(self):
        return f"{self.ingredient} {self.strength} {self.strength_unit}".strip()


class PackageQuerySet(models.QuerySet):
    def by_ndc_digits(self, ndc10_digits: str) -> "PackageQuerySet":
        return self.filter(ndc10=ndc10_digits)

    def by_ndc11(self, ndc11: str) -> "PackageQuerySet":
        return self.filter(ndc11=ndc11)

    def for_code(self, text: str) -> "PackageQuerySet":
        """The package a search box's full code names: a scan, a typed NDC, a GTIN or UPC.
        Raises ScanError (with the reason) when the text is not such a code."""
        if text.isdigit() and len(text) == 10:
            # Unhyphenated NDC10s are ambiguous in general, but unique in the catalogue.
            return self.filter(ndc10=text)
        try:
            return self.for_scan(parse_scan(text))
        except ScanError:
            gtin = gtin_at_start(text)
            if gtin is None:
                raise
            return self.filter(ndc10=ndc10_from_gtin(gtin))

    def for_scan(self, scan: Scan) -> "PackageQuerySet":
        """The package a parsed scan or typed NDC names (``inventory.ndc.parse_scan``).

        A typed hyphenated NDC must match exactly (its layout is part of it); a GTIN or
        UPC-A carries only the 10 digits, which are unique in the catalogue.
        """
        if scan.package_ndc:
            return self.filter(package_ndc=scan.package_ndc)
        if scan.ndc10:
            return self.filter(ndc10=scan.ndc10)
        return self.filter(ndc11=scan.ndc11)


class Package(models.Model):
    """A package of a product as sold: package NDC, its 11-digit billing form and contents.

    ``package_ndc`` keeps the hyphenated 10-digit form (the layout matters: an
    unhyphenated 10-digit NDC is ambiguous); ``ndc10`` holds its digits to match
    GTIN and UPC scans, ``ndc11`` the 5-4-2 billing form.
    """

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="packages")
    package_ndc = models.CharField("package NDC", max_length=12, unique=True)
    ndc10 = models.CharField("NDC digits", max_length=10, unique=True)
    ndc11 = models.CharField("NDC11", max_length=11, unique=True)
    description = models.TextField(blank=True)
    quantity = models.DecimalField(
        max_digits=14,
        decimal_places=4,
        null=True,
        blank=True,
        help_text="Dispensing units in one package, parsed from the description.",
    )
    unit = models.CharField(max_length=60, blank=True)
    marketing_start = models.DateField(null=True, blank=True)
    marketing_end = models.DateField(null=True, blank=True)
    is_sample = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PackageQuerySet.as_manager()

    class Meta:
        ordering = ["package_ndc"]

    def __str__(self):
        return f"{self.package_ndc} {self.description}"

    @property
    def gtin(self) -> str:
        return gtin14_from_ndc(self.package_ndc)


# =========================================================================== stock


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
    def availability_conditions() -> list[tuple[str, Q]]:
        """The rule of a lot whose units count as available stock, named as in
        ``dispensing_conditions``: available status, and not past its date."""
        return [
            ("status", Q(status=StockLot.Status.AVAILABLE)),
            ("expired", Q(expiry__gt=timezone.localdate())),
        ]

    def available(self) -> "StockLotQuerySet":
        """Lots whose units are the pharmacy's available stock (``availability_conditions``).

        The one definition of available units: the reorder check counts them and the
        reorder rules page shows them (``inventory.services.reorder``:
        ``available_units_by_product``, ``available_units_subquery``); every lot that
        may be dispensed is one of these (``dispensable``)."""
        return self.filter(*(condition for _, condition in self.availability_conditions()))

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
        (``orders.services.workflow._fefo_lot``, ``suggest_lot``) and, through
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


# =========================================================================== receiving and counts


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


# ======================================================== reorder rules, alerts, lot status


class ReorderRule(models.Model):
    """When, and how much of, a product to reorder.

    Quantities are dispensing units (tablets, mL, each), like the stock they are compared
    with: when the units in available, unexpired lots of the product fall below
    ``reorder_point``, a ReorderAlert suggests ordering ``reorder_quantity`` units (or, when
    ``par_level`` is set, enough to bring the stock back up to it), as whole packages of
    ``order_package`` from ``preferred_supplier``.
    """

    product = models.OneToOneField(Product, on_delete=models.CASCADE, related_name="reorder_rule")
    reorder_point = models.DecimalField(max_digits=12, decimal_places=3)
    reorder_quantity = models.DecimalField(max_digits=12, decimal_places=3)
    par_level = models.DecimalField(max_digits=12, decimal_places=3, null=True, blank=True)
    order_package = models.ForeignKey(
        Package,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The package to order; blank: the product's largest package.",
    )
    preferred_supplier = models.ForeignKey(
        Supplier, null=True, blank=True, on_delete=models.SET_NULL, related_name="reorder_rules"
    )
    lead_time_days = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Blank: the preferred supplier's lead time."
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["product__proprietary_name", "product__nonproprietary_name", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(reorder_point__gte=0), name="reorder_rule_point_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(reorder_quantity__gt=0), name="reorder_rule_quantity_positive"
            ),
            models.CheckConstraint(
                condition=Q(par_level__isnull=True) | Q(par_level__gt=F("reorder_point")),
                name="reorder_rule_par_above_point",
            ),
        ]

    def __str__(self):
        return f"Reorder {self.product.product_ndc} below {self.reorder_point.normalize():f}"

    @property
    def effective_lead_time_days(self) -> int | None:
        if self.lead_time_days is not None:
            return self.lead_time_days
        return self.preferred_supplier.lead_time_days if self.preferred_supplier else None


class ReorderAlertQuerySet(models.QuerySet):
    def current(self) -> "ReorderAlertQuerySet":
        """Alerts still to be dealt with (open or acknowledged): at most one per product."""
        return self.filter(status__in=ReorderAlert.CURRENT_STATUSES)

    def email_claimable(self, *, now) -> "ReorderAlertQuerySet":
        """Alerts whose e-mail is unsent and not being sent: never claimed, or claimed by a
        worker longer ago than REORDER_ALERT_CLAIM_SECONDS (it died mid-send)."""
        abandoned = now - timedelta(seconds=settings.REORDER_ALERT_CLAIM_SECONDS)
        return self.current().filter(
            Q(email_claimed_at__isnull=True) | Q(email_claimed_at__lt=abandoned),
            email_sent_at__isnull=True,
        )


class ReorderAlert(models.Model):
    """The stock of a product fell below its reorder point: managers see it in the app and
    get one e-mail, with a suggested purchase order.

    Raised by ``inventory.services.reorder.check_reorder_point`` in the transaction that
    lowered the stock, so the alert exists if and only if the stock change does; it is
    also the e-mail's outbox: ``email_claimed_at`` marks a worker sending it,
    ``email_sent_at`` that it went out. A partial unique constraint allows one open or
    acknowledged alert per product; closing it lets the next fall below raise a new one.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        CLOSED = "closed", "Closed"

    CURRENT_STATUSES = (Status.OPEN, Status.ACKNOWLEDGED)

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="reorder_alerts")
    rule = models.ForeignKey(
        ReorderRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts"
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    reorder_point = models.DecimalField(
        max_digits=12, decimal_places=3, help_text="The rule's reorder point when raised."
    )
    available_at_crossing = models.DecimalField(max_digits=12, decimal_places=3)
    suggested_quantity = models.DecimalField(
        max_digits=12, decimal_places=3, help_text="Dispensing units to order."
    )
    suggested_package = models.ForeignKey(
        Package, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    suggested_packages = models.PositiveIntegerField(null=True, blank=True)
    suggested_supplier = models.ForeignKey(
        Supplier, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    lead_time_days = models.PositiveSmallIntegerField(null=True, blank=True)
    raised_at = models.DateTimeField(default=timezone.now)
    email_claimed_at = models.DateTimeField(null=True, blank=True)
    email_sent_at = models.DateTimeField(null=True, blank=True)
    email_recipients = models.TextField(blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    close_note = models.CharField(max_length=255, blank=True)

    objects = ReorderAlertQuerySet.as_manager()

    class Meta:
        ordering = ["-raised_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["product"],
                condition=Q(status__in=["open", "acknowledged"]),
                name="reorder_alert_one_current_per_product",
            ),
        ]
        indexes = [
            models.Index(
                fields=["raised_at"],
                condition=Q(email_sent_at__isnull=True),
                name="reorder_alert_unsent_idx",
            ),
            models.Index(fields=["status", "raised_at"], name="reorder_alert_status_idx"),
        ]

    def __str__(self):
        return f"Reorder alert {self.pk}: {self.product.product_ndc} ({self.status})"

    @property
    def expected_arrival(self) -> date | None:
        """When the suggested order would arrive if placed the day the alert was raised."""
        if self.lead_time_days is None:
            return None
        return timezone.localdate(self.raised_at) + timedelta(days=self.lead_time_days)


# The moves a reorder alert's status may make (inventory.services.reorder checks them).
REORDER_ALERT_MOVES = {
    ReorderAlert.Status.OPEN: {ReorderAlert.Status.ACKNOWLEDGED, ReorderAlert.Status.CLOSED},
    ReorderAlert.Status.ACKNOWLEDGED: {ReorderAlert.Status.CLOSED},
    ReorderAlert.Status.CLOSED: set(),
}

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
