"""Serializers of the inventory API: catalogue output; receipts, suppliers and reorder rules
(input apart from output)."""

from collections.abc import Mapping

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from inventory.models import (
    Package,
    PharmacologicClass,
    Product,
    ProductIngredient,
    PurchaseOrder,
    Receipt,
    ReceiptLine,
    ReceivingDiscrepancy,
    ReorderAlert,
    ReorderRule,
    StockLot,
    Supplier,
)


class ProductIngredientSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="ingredient.name")
    normalized_name = serializers.CharField(source="ingredient.normalized_name")

    class Meta:
        model = ProductIngredient
        fields = ["name", "normalized_name", "strength", "strength_unit"]


class PharmacologicClassSerializer(serializers.ModelSerializer):
    class Meta:
        model = PharmacologicClass
        fields = ["name", "kind"]


class PackageSerializer(serializers.ModelSerializer):
    gtin = serializers.CharField(read_only=True)
    quantity = serializers.DecimalField(
        max_digits=14, decimal_places=4, normalize_output=True, allow_null=True, read_only=True
    )

    class Meta:
        model = Package
        fields = [
            "package_ndc",
            "ndc11",
            "gtin",
            "description",
            "quantity",
            "unit",
            "marketing_start",
            "marketing_end",
            "is_sample",
        ]


class ProductSerializer(serializers.ModelSerializer):
    display_name = serializers.CharField(read_only=True)
    full_description = serializers.CharField(
        read_only=True,
        help_text='Name, strength and dosage form: "Losartan Potassium 50 mg tablet, film '
        'coated", as every screen names the product.',
    )
    is_controlled = serializers.BooleanField(read_only=True)
    ingredients = ProductIngredientSerializer(source="strengths", many=True, read_only=True)
    pharmacologic_classes = PharmacologicClassSerializer(many=True, read_only=True)
    packages = PackageSerializer(many=True, read_only=True)

    class Meta:
        model = Product
        fields = [
            "product_ndc",
            "display_name",
            "full_description",
            "proprietary_name",
            "proprietary_name_suffix",
            "nonproprietary_name",
            "product_type",
            "dosage_form",
            "route",
            "marketing_category",
            "application_number",
            "labeler_name",
            "marketing_start",
            "marketing_end",
            "dea_schedule",
            "is_controlled",
            "is_finished",
            "storage",
            "unit_description",
            "ingredients",
            "pharmacologic_classes",
            "packages",
        ]


class PackageProductSerializer(serializers.ModelSerializer):
    """The product of a package, in short, for package lookups by NDC or scan."""

    display_name = serializers.CharField(read_only=True)

    class Meta:
        model = Product
        fields = [
            "product_ndc",
            "display_name",
            "nonproprietary_name",
            "dosage_form",
            "dea_schedule",
            "storage",
        ]


class PackageWithProductSerializer(PackageSerializer):
    product = PackageProductSerializer(read_only=True)

    class Meta(PackageSerializer.Meta):
        fields = [*PackageSerializer.Meta.fields, "product"]


class ScanSerializer(serializers.Serializer):
    """What a scan said besides the package: lot, expiry and serial number."""

    kind = serializers.CharField()
    ndc = serializers.CharField()
    gtin = serializers.CharField()
    lot = serializers.CharField()
    expiry = serializers.DateField(allow_null=True)
    serial = serializers.CharField()


# --------------------------------------------------------------------------- receiving and stock


class ErrorSerializer(serializers.Serializer):
    """An error as the contract gives it; ``fields`` names each bad input where it is."""

    error = serializers.CharField()
    detail = serializers.CharField()
    fields = serializers.DictField(required=False)


class ReceiptLineInputSerializer(serializers.Serializer):
    """One line of a delivery: the scan of a package (or its NDC), lot, expiry, packages."""

    scan = serializers.CharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        max_length=500,
        help_text="Raw barcode text: GS1 DataMatrix (lot, expiry and serial come from it), "
        "UPC-A, GTIN-14 or an NDC. Give this or ndc.",
    )
    ndc = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=20,
        help_text="Package NDC, hyphenated 10-digit or plain 11-digit. Give this or scan.",
    )
    lot = serializers.CharField(
        required=False, allow_blank=True, max_length=100, help_text="Required unless scanned."
    )
    expiry = serializers.CharField(
        required=False,
        allow_blank=True,
        allow_null=True,
        max_length=20,
        help_text="YYYY-MM-DD, or YYYY-MM for the end of that month. Required unless scanned.",
    )
    quantity = serializers.DecimalField(
        max_digits=12,
        decimal_places=3,
        help_text="Packages received: a positive whole number.",
    )
    serial = serializers.CharField(
        required=False, allow_blank=True, max_length=100, help_text="Serial number, if typed."
    )
    location = serializers.CharField(
        required=False, allow_blank=True, max_length=40, help_text="Bin of a new lot."
    )


@extend_schema_field(
    {
        "oneOf": [{"type": "integer"}, {"type": "string"}],
        "example": "Cardinal Health",
    }
)
class SupplierReferenceField(serializers.Field):
    """A supplier as a caller names it: its id, or its exact name (any case). Which
    supplier that is, and whether it may deliver, the receiving service decides."""

    default_error_messages = {
        "invalid": "Give the supplier's id (a number) or its exact name (text).",
        "max_length": "A supplier's name has at most {max_length} characters.",
    }

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | str):
            self.fail("invalid")
        max_length = Supplier._meta.get_field("name").max_length
        if isinstance(data, str) and len(data) > max_length:
            self.fail("max_length", max_length=max_length)
        return data

    def to_representation(self, value):
        return value


class ReceiptInputSerializer(serializers.Serializer):
    """A delivery: its lines, the supplier (by id or name) and the purchase order (by
    number)."""

    lines = ReceiptLineInputSerializer(many=True, allow_empty=True)
    supplier = SupplierReferenceField(
        required=False,
        allow_null=True,
        help_text="The supplier's id, or its exact name (trimmed, any case); it must be "
        "active. May be left out when purchase_order is given.",
    )
    purchase_order = serializers.SlugRelatedField(
        slug_field="number",
        queryset=PurchaseOrder.objects.select_related("supplier"),
        required=False,
        allow_null=True,
        help_text="The purchase order's number, when the delivery is against one.",
    )


class StockLotSerializer(serializers.ModelSerializer):
    ndc = serializers.CharField(source="package.package_ndc", read_only=True)
    ndc11 = serializers.CharField(source="package.ndc11", read_only=True)
    product = serializers.CharField(source="package.product.display_name", read_only=True)
    dea_schedule = serializers.CharField(source="package.product.dea_schedule", read_only=True)
    unit = serializers.CharField(source="package.unit", read_only=True)
    # A plain string in the schema: the status enum is shared by two components (this one
    # and the recall trace's lots), which drf-spectacular cannot name without a setting.
    status = serializers.CharField(
        read_only=True, help_text="available, quarantined, expired or recalled"
    )
    quantity_on_hand = serializers.DecimalField(
        max_digits=12, decimal_places=3, normalize_output=True, read_only=True
    )

    class Meta:
        model = StockLot
        fields = [
            "id",
            "ndc",
            "ndc11",
            "product",
            "dea_schedule",
            "lot_number",
            "expiry",
            "location",
            "status",
            "status_reason",
            "quantity_on_hand",
            "unit",
        ]


class ReceiptLineSerializer(serializers.ModelSerializer):
    ndc = serializers.CharField(source="lot.package.package_ndc")
    lot = serializers.CharField(source="lot.lot_number")
    lot_id = serializers.IntegerField(source="lot.pk")
    expiry = serializers.DateField(source="lot.expiry")
    units = serializers.DecimalField(
        source="movement.quantity_change", max_digits=12, decimal_places=3, normalize_output=True
    )
    serial_numbers = serializers.ListField(
        source="movement.serial_numbers", child=serializers.CharField()
    )

    class Meta:
        model = ReceiptLine
        fields = ["ndc", "lot", "lot_id", "expiry", "packages", "units", "serial_numbers"]


class ReceivingDiscrepancySerializer(serializers.ModelSerializer):
    ndc = serializers.CharField(source="package.package_ndc")
    difference = serializers.IntegerField(read_only=True)

    class Meta:
        model = ReceivingDiscrepancy
        fields = [
            "id",
            "kind",
            "ndc",
            "quantity_ordered",
            "quantity_received",
            "difference",
            "recorded_at",
            "resolved_at",
            "resolution",
        ]


class SupplierReferenceSerializer(serializers.ModelSerializer):
    """A supplier in short, where a receipt, rule or alert names one."""

    class Meta:
        model = Supplier
        fields = ["id", "name"]


class SupplierSerializer(serializers.ModelSerializer):
    """A supplier the pharmacy buys from; an inactive one takes no orders or deliveries."""

    class Meta:
        model = Supplier
        fields = ["id", "name", "account_number", "email", "phone", "lead_time_days", "is_active"]


class SupplierInputSerializer(serializers.Serializer):
    """A supplier to add (``name`` required) or the fields of one to change (PATCH: any of
    them). The content (unique name, e-mail, lead time, control characters) is checked by
    the service, which names every problem; a field not listed here is refused."""

    name = serializers.CharField(
        max_length=1000,
        trim_whitespace=False,
        help_text="Unique whatever its case; trimmed; not only digits. At most 200 characters.",
    )
    account_number = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=1000,
        trim_whitespace=False,
        help_text="The pharmacy's account with the supplier. At most 50 characters.",
    )
    email = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=1000,
        trim_whitespace=False,
        help_text="Where orders go (an e-mail address).",
    )
    phone = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=1000,
        trim_whitespace=False,
        help_text="Digits, spaces, + ( ) - . and an extension as x123.",
    )
    lead_time_days = serializers.IntegerField(
        required=False, help_text="Days from order to delivery, 0 to 365 (default 1)."
    )
    is_active = serializers.BooleanField(
        required=False,
        help_text="false: no new orders or deliveries (suppliers are never deleted).",
    )

    def to_internal_value(self, data):
        # DRF drops fields it does not know; a caller who misspelt one must hear of it.
        unknown = {}
        if isinstance(data, Mapping):
            unknown = {
                field: ["This is not a field of a supplier."]
                for field in sorted(set(data) - set(self.fields))
            }
        try:
            values = super().to_internal_value(data)
        except serializers.ValidationError as error:
            if isinstance(error.detail, dict):
                raise serializers.ValidationError({**error.detail, **unknown}) from None
            raise
        if unknown:
            raise serializers.ValidationError(unknown)
        return values


class ReceiptSerializer(serializers.ModelSerializer):
    """A delivery received: its lines, the lots it touched (as they are now) and the
    discrepancies it raised against its purchase order."""

    supplier = SupplierReferenceSerializer()
    purchase_order = serializers.CharField(source="purchase_order.number", allow_null=True)
    purchase_order_status = serializers.CharField(source="purchase_order.status", allow_null=True)
    received_by = serializers.CharField(source="received_by.username")
    lines = ReceiptLineSerializer(many=True)
    lots = serializers.SerializerMethodField()
    discrepancies = ReceivingDiscrepancySerializer(many=True)

    class Meta:
        model = Receipt
        fields = [
            "id",
            "supplier",
            "purchase_order",
            "purchase_order_status",
            "received_by",
            "received_at",
            "note",
            "lines",
            "lots",
            "discrepancies",
        ]

    @extend_schema_field(StockLotSerializer(many=True))
    def get_lots(self, receipt: Receipt):
        lots = {line.lot.pk: line.lot for line in receipt.lines.all()}
        return StockLotSerializer(sorted(lots.values(), key=lambda lot: lot.pk), many=True).data


# --------------------------------------------------------------------------- reorder, recalls


class ReorderRuleInputSerializer(serializers.Serializer):
    """A product's reorder rule; quantities in dispensing units (tablets, mL, each)."""

    ndc = serializers.CharField(
        max_length=20,
        help_text="Product NDC (0002-3227), or a package NDC hyphenated (0002-3227-30) or as "
        "11 digits (00002322730): that package is then the one to order.",
    )
    reorder_point = serializers.DecimalField(
        max_digits=12, decimal_places=3, help_text="Alert when available units fall below."
    )
    reorder_quantity = serializers.DecimalField(
        max_digits=12, decimal_places=3, help_text="Units to order when no par level is set."
    )
    par_level = serializers.DecimalField(
        max_digits=12,
        decimal_places=3,
        required=False,
        allow_null=True,
        help_text="Order up to this many units instead (above the reorder point).",
    )
    preferred_supplier = serializers.PrimaryKeyRelatedField(
        queryset=Supplier.objects.filter(is_active=True),
        required=False,
        allow_null=True,
        help_text="Supplier id.",
    )
    lead_time_days = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=0,
        max_value=365,
        help_text="Days from order to delivery; blank: the supplier's.",
    )


def _units_field(**kwargs):
    return serializers.DecimalField(
        max_digits=12, decimal_places=3, normalize_output=True, read_only=True, **kwargs
    )


class ReorderRuleSerializer(serializers.ModelSerializer):
    product_ndc = serializers.CharField(source="product.product_ndc")
    product = serializers.CharField(source="product.display_name")
    order_package_ndc = serializers.CharField(
        source="order_package.package_ndc", allow_null=True, default=None
    )
    preferred_supplier = SupplierReferenceSerializer(allow_null=True)
    reorder_point = _units_field()
    reorder_quantity = _units_field()
    par_level = _units_field(allow_null=True)
    effective_lead_time_days = serializers.IntegerField(allow_null=True, read_only=True)

    class Meta:
        model = ReorderRule
        fields = [
            "id",
            "product_ndc",
            "product",
            "reorder_point",
            "reorder_quantity",
            "par_level",
            "order_package_ndc",
            "preferred_supplier",
            "lead_time_days",
            "effective_lead_time_days",
            "updated_at",
        ]


class SuggestedOrderSerializer(serializers.Serializer):
    """The purchase order an alert suggests (not placed: a manager places it)."""

    supplier = SupplierReferenceSerializer(source="suggested_supplier", allow_null=True)
    package_ndc = serializers.CharField(
        source="suggested_package.package_ndc", allow_null=True, default=None
    )
    packages = serializers.IntegerField(source="suggested_packages", allow_null=True)
    units = _units_field(source="suggested_quantity")
    lead_time_days = serializers.IntegerField(allow_null=True)
    expected_arrival = serializers.DateField(allow_null=True)


class ReorderAlertSerializer(serializers.ModelSerializer):
    product_ndc = serializers.CharField(source="product.product_ndc")
    product = serializers.CharField(source="product.display_name")
    available_at_crossing = _units_field()
    reorder_point = _units_field()
    suggested_order = SuggestedOrderSerializer(source="*")
    email_sent = serializers.SerializerMethodField()
    acknowledged_by = serializers.CharField(
        source="acknowledged_by.username", allow_null=True, default=None
    )
    closed_by = serializers.CharField(source="closed_by.username", allow_null=True, default=None)

    class Meta:
        model = ReorderAlert
        fields = [
            "id",
            "status",
            "product_ndc",
            "product",
            "available_at_crossing",
            "reorder_point",
            "suggested_order",
            "raised_at",
            "email_sent",
            "email_sent_at",
            "acknowledged_by",
            "acknowledged_at",
            "closed_by",
            "closed_at",
            "close_note",
        ]

    def get_email_sent(self, alert: ReorderAlert) -> bool:
        return alert.email_sent_at is not None


class ReorderAlertCloseSerializer(serializers.Serializer):
    note = serializers.CharField(
        required=False, allow_blank=True, max_length=255, help_text="What was done (PO number)."
    )


class LotTraceLotSerializer(StockLotSerializer):
    class Meta(StockLotSerializer.Meta):
        fields = [*StockLotSerializer.Meta.fields, "received_at"]


class DispensingSerializer(serializers.Serializer):
    """Units of a lot that one dispensing took, from the ledger.

    ``reference`` names the dispensing (``fill:123``). When the fill workflow exists the
    row also carries ``fill``, ``patient`` and ``shipment``; clients should ignore keys
    they do not know.
    """

    reference = serializers.CharField()
    ndc = serializers.CharField(source="lot__package__package_ndc")
    lot = serializers.CharField(source="lot__lot_number")
    lot_id = serializers.IntegerField()
    quantity = _units_field(help_text="Units still out: dispensed minus returned.")
    dispensed = _units_field()
    returned = _units_field()
    first_dispensed_at = serializers.DateTimeField()
    last_movement_at = serializers.DateTimeField()


class LotTraceSerializer(serializers.Serializer):
    ndc = serializers.CharField()
    lot = serializers.CharField()
    lots = LotTraceLotSerializer(many=True)
    dispensings = DispensingSerializer(many=True)


class RecallResultSerializer(serializers.Serializer):
    """What a recall did: the lots it recalled now (already recalled ones are not listed).
    ``count`` and ``results`` as in the API's lists, so a client reads it like one."""

    count = serializers.IntegerField(help_text="How many lots were recalled now.")
    results = StockLotSerializer(many=True)


class RecallInputSerializer(serializers.Serializer):
    ndc = serializers.CharField(
        max_length=20,
        help_text="Product NDC (every package) or package NDC (hyphenated 10 or 11 digits).",
    )
    lot = serializers.CharField(
        required=False, allow_blank=True, max_length=40, help_text="Blank: every lot."
    )
    reason = serializers.CharField(max_length=255, help_text="The recall notice, in short.")
