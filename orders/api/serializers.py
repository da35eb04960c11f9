"""Serializers of the orders API: prescriptions as stored, fills, refill requests."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field, inline_serializer
from rest_framework import serializers

from inventory.api.serializers import DispensingSerializer, LotTraceSerializer
from lib.text import validate_free_text, validate_one_line_text
from orders.models import (
    Discrepancy,
    DurAlert,
    Fill,
    FillEvent,
    FillHold,
    FillScan,
    HoldReason,
    IntakeIssue,
    Order,
    OverrideReason,
    PdmpCheck,
    Prescription,
    ScanEntry,
)


class DurAlertSerializer(serializers.ModelSerializer):
    class Meta:
        model = DurAlert
        fields = ["id", "type", "severity", "message", "fill", "created_at"]


def drug_name(prescription: Prescription, read) -> str:
    """The drug as every screen names it: the catalogue product with its strength and
    dosage form (``Product.full_description``), or the description as received while the
    drug is not matched. ``read`` is the object the list query annotated with
    ``product_strengths`` (``strength_pairs_of``), so a page of rows costs no query each."""
    product = prescription.product
    if product is None:
        return prescription.drug_description
    if hasattr(read, "product_strengths"):
        product.strength_pairs = read.product_strengths or []
    return product.full_description


class PrescriptionDrugSerializer(serializers.Serializer):
    """The drug: the matched catalogue product, and what the prescriber sent."""

    product = serializers.IntegerField(source="product_id", allow_null=True)
    product_ndc = serializers.CharField(source="product.product_ndc", allow_null=True, default=None)
    name = serializers.SerializerMethodField(
        help_text='The catalogue product with its strength and dosage form ("Losartan '
        'Potassium 50 mg tablet, film coated"), or the description as received when the '
        "drug is not matched."
    )
    description = serializers.CharField(source="drug_description", help_text="As received.")
    prescribed_ndc = serializers.CharField(help_text="11 digits, as received; may be empty.")
    dea_schedule = serializers.CharField()

    def get_name(self, prescription: Prescription) -> str:
        return drug_name(prescription, prescription)


class PrescriptionSerializer(serializers.ModelSerializer):
    """A prescription with its fills (ids) and drug-check alerts.

    Read it with ``orders.api.views.prescriptions_for_api``: its fills and alerts are
    prefetched and ``refills_remaining`` comes from the ``with_refills_used`` annotation,
    so a list costs no query per row.
    """

    drug = PrescriptionDrugSerializer(source="*")
    refills_remaining = serializers.SerializerMethodField()
    intake_issues = serializers.SerializerMethodField()
    fills = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    dur_alerts = DurAlertSerializer(many=True, read_only=True)

    class Meta:
        model = Prescription
        fields = [
            "id",
            "rx_number",
            "status",
            "channel",
            "message_id",
            "prescriber_order_number",
            "patient",
            "prescriber",
            "drug",
            "quantity",
            "quantity_unit",
            "days_supply",
            "refills_authorized",
            "refills_remaining",
            "substitutions_allowed",
            "written_date",
            "expires_on",
            "sig_text",
            "directions",
            "intake_issues",
            "note",
            "received_at",
            "fills",
            "dur_alerts",
        ]

    def get_refills_remaining(self, prescription: Prescription) -> int:
        return prescription.refills_remaining()

    @extend_schema_field(
        inline_serializer(
            "IntakeIssue",
            fields={
                "code": serializers.ChoiceField(choices=IntakeIssue.choices),
                "label": serializers.CharField(),
            },
            many=True,
        )
    )
    def get_intake_issues(self, prescription: Prescription) -> list[dict]:
        return [
            {"code": code, "label": IntakeIssue(code).label} for code in prescription.intake_issues
        ]


class PrescriptionEnvelopeSerializer(serializers.Serializer):
    """``{"prescription": {...}}``: the answer of the FHIR intake endpoint."""

    prescription = PrescriptionSerializer()


class FillSummarySerializer(serializers.ModelSerializer):
    """A fill as a refill request answers it: just created, waiting for PV1."""

    class Meta:
        model = Fill
        fields = [
            "id",
            "status",
            "prescription",
            "order",
            "fill_number",
            "quantity",
            "days_supply",
            "requested_via",
            "created_at",
        ]


class RefillRequestSerializer(serializers.Serializer):
    """What a patient gives to ask for a refill (portal or phone system)."""

    rx_number = serializers.CharField(max_length=20, trim_whitespace=True)
    date_of_birth = serializers.DateField(input_formats=["iso-8601"])
    schedule_if_too_soon = serializers.BooleanField(
        default=False,
        help_text="When it is too soon to refill, schedule the refill for its first "
        "eligible date (202) instead of refusing it.",
    )
    fill_on = serializers.DateField(
        input_formats=["iso-8601"],
        required=False,
        help_text="Schedule the refill for this date (202): on or after the first eligible "
        "date, not in the past, not after the prescription expires.",
    )


class RefillResponseSerializer(serializers.Serializer):
    fill = FillSummarySerializer()
    prescription = serializers.IntegerField()


class ScheduledRefillSerializer(serializers.Serializer):
    """A refill scheduled for a date: it enters the fill queue on ``fill_on``."""

    id = serializers.IntegerField()
    prescription = serializers.IntegerField(source="prescription_id")
    fill_on = serializers.DateField()
    status = serializers.CharField()
    fill = serializers.IntegerField(source="fill_id", allow_null=True)


class ScheduledRefillResponseSerializer(serializers.Serializer):
    scheduled_refill = ScheduledRefillSerializer()


# --------------------------------------------------------------------------- fill workflow


class StaffNameSerializer(serializers.Serializer):
    """A member of staff as a fill shows them: id and name."""

    id = serializers.IntegerField()
    name = serializers.SerializerMethodField()

    def get_name(self, user) -> str:
        return user.get_full_name() or user.get_username()


class FillSerializer(serializers.ModelSerializer):
    """A fill as the work queues show it: where it is, what it is, and, after the fill
    step, what went into the vial (``dispensed_ndc``, ``lot``, ``expiry``).

    Read it with ``Fill.objects.with_work_details()``: one query for a whole page.
    """

    rx_number = serializers.CharField(source="prescription.rx_number")
    patient = serializers.IntegerField(source="prescription.patient_id", allow_null=True)
    drug = serializers.SerializerMethodField(
        help_text="The verified catalogue product with its strength and dosage form, or the "
        "drug as received while unmatched."
    )
    quantity_unit = serializers.CharField(source="prescription.quantity_unit")
    lot = serializers.CharField(source="lot_number", help_text="Empty until filled.")
    claimed_by = StaffNameSerializer(allow_null=True, read_only=True)
    waiting_since = serializers.DateTimeField(
        source="status_changed_at", help_text="When the fill reached its current status."
    )

    class Meta:
        model = Fill
        fields = [
            "id",
            "status",
            "prescription",
            "rx_number",
            "patient",
            "order",
            "fill_number",
            "partial_of",
            "drug",
            "quantity",
            "quantity_unit",
            "days_supply",
            "priority",
            "promised_on",
            "is_cold_chain",
            "label_code",
            "claimed_by",
            "claimed_at",
            "held_from_status",
            "dispensed_ndc",
            "dispensed_quantity",
            "lot",
            "lot_entered_by_hand",
            "rotation_reason",
            "expiry",
            "serial_number",
            "pv1_by",
            "pv1_at",
            "filled_by",
            "filled_at",
            "pv2_by",
            "pv2_at",
            "requested_via",
            "created_at",
            "waiting_since",
        ]

    def get_drug(self, fill: Fill) -> str:
        return drug_name(fill.prescription, fill)


class FillEventSerializer(serializers.ModelSerializer):
    actor = StaffNameSerializer(allow_null=True, read_only=True)

    class Meta:
        model = FillEvent
        fields = ["from_status", "to_status", "reason_code", "reason", "actor", "occurred_at"]


class FillHoldSerializer(serializers.ModelSerializer):
    class Meta:
        model = FillHold
        fields = [
            "id",
            "reason_code",
            "note",
            "from_status",
            "placed_by",
            "placed_at",
            "released_by",
            "released_at",
            "release_note",
        ]


class FillScanSerializer(serializers.ModelSerializer):
    class Meta:
        model = FillScan
        fields = [
            "step",
            "raw",
            "is_accepted",
            "refusal_code",
            "message",
            "scanned_ndc",
            "lot_number",
            "entry",
            "typed_reason",
            "by",
            "at",
        ]


class DiscrepancySerializer(serializers.ModelSerializer):
    class Meta:
        model = Discrepancy
        fields = [
            "id",
            "kind",
            "description",
            "found_by",
            "found_at",
            "stock_movement",
            "resolution",
            "resolved_by",
            "resolved_at",
        ]


class FillAlertSerializer(serializers.ModelSerializer):
    """A drug-check alert of the fill with the pharmacist's override, once PV1 passed."""

    override = serializers.SerializerMethodField()

    class Meta:
        model = DurAlert
        fields = ["id", "type", "severity", "message", "override"]

    @extend_schema_field(
        inline_serializer(
            "DurOverride",
            fields={
                "reason_code": serializers.ChoiceField(choices=OverrideReason.choices),
                "note": serializers.CharField(),
                "by": serializers.IntegerField(),
                "at": serializers.DateTimeField(),
            },
            allow_null=True,
        )
    )
    def get_override(self, alert: DurAlert) -> dict | None:
        fill_id = self.context["fill_id"]
        override = next((o for o in alert.overrides.all() if o.fill_id == fill_id), None)
        if override is None:
            return None
        return {
            "reason_code": override.reason_code,
            "note": override.note,
            "by": override.by_id,
            "at": override.at,
        }


class PdmpCheckSerializer(serializers.ModelSerializer):
    """A state prescription-monitoring (PDMP) check recorded at PV1 of a controlled fill."""

    checked_by = StaffNameSerializer(read_only=True)
    result_label = serializers.CharField(source="get_result_display", read_only=True)

    class Meta:
        model = PdmpCheck
        fields = [
            "id",
            "state",
            "result",
            "result_label",
            "reference",
            "note",
            "checked_by",
            "checked_at",
        ]


class PdmpCheckInputSerializer(serializers.Serializer):
    """``POST /api/v1/fills/{id}/pdmp-check/``: what the PDMP look-up showed."""

    state = serializers.CharField(max_length=2, help_text="Two-letter state code, e.g. OH.")
    result = serializers.ChoiceField(choices=PdmpCheck.Result.choices)
    reference = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=60,
        validators=[validate_one_line_text],
    )
    note = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=1000,
        validators=[validate_free_text],
        help_text="Required when concerns were found.",
    )


class FillDetailSerializer(FillSerializer):
    """One fill with its history: drug-check alerts and overrides, events, holds, scans,
    discrepancies, and the remainders split off it."""

    dur_alerts = serializers.SerializerMethodField()
    events = FillEventSerializer(many=True, read_only=True)
    holds = FillHoldSerializer(many=True, read_only=True)
    scans = FillScanSerializer(many=True, read_only=True)
    discrepancies = DiscrepancySerializer(many=True, read_only=True)
    remainders = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    pdmp_checks = PdmpCheckSerializer(
        many=True,
        read_only=True,
        help_text="State prescription-monitoring checks of a controlled fill, newest first; "
        "PV1 approval needs one whose result allows dispensing.",
    )

    class Meta(FillSerializer.Meta):
        fields = [
            *FillSerializer.Meta.fields,
            "pdmp_checks",
            "dur_alerts",
            "events",
            "holds",
            "scans",
            "discrepancies",
            "remainders",
        ]

    @extend_schema_field(FillAlertSerializer(many=True))
    def get_dur_alerts(self, fill: Fill) -> list[dict]:
        # Prefetched as ``alerts_for_pv1`` (orders.api.views): the fill's own alerts and
        # those of its prescription as a whole.
        alerts = getattr(fill, "alerts_for_pv1", None)
        if alerts is None:
            alerts = DurAlert.objects.for_fill(fill).prefetch_related("overrides")
        return FillAlertSerializer(alerts, many=True, context={"fill_id": fill.pk}).data


def _optional_free_text(*, max_length: int, help_text: str = "") -> serializers.CharField:
    """A note or reason that may be left out: free text (``lib.text``), "" when absent."""
    return serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=max_length,
        validators=[validate_free_text],
        help_text=help_text or None,
    )


class OverrideInputSerializer(serializers.Serializer):
    alert = serializers.IntegerField(min_value=1, help_text="The drug-check alert's id.")
    reason_code = serializers.ChoiceField(choices=OverrideReason.choices)
    note = _optional_free_text(max_length=2000)


class PV1DecisionSerializer(serializers.Serializer):
    """A pharmacist's PV1 decision. Approving needs an override for every alert of the
    fill; rejecting needs a reason (the fill goes back to intake)."""

    decision = serializers.ChoiceField(choices=["approve", "reject"])
    reason = _optional_free_text(max_length=255)
    overrides = OverrideInputSerializer(many=True, required=False, default=list)


class FillInputSerializer(serializers.Serializer):
    """The fill station: the stock bottle's scan and the counted quantity."""

    scan = serializers.CharField(
        max_length=200,
        help_text="The raw text the scanner typed: GS1 DataMatrix (with ]d2 and GS "
        "characters), UPC-A, GTIN or an NDC.",
    )
    quantity = serializers.DecimalField(
        max_digits=10,
        decimal_places=3,
        help_text="The count: required, more than 0, at most the fill's quantity, whole "
        "for tablets, capsules and other counted units.",
    )
    lot = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=40,
        help_text="The lot number printed on the bottle, when the scan carries none (a "
        "UPC-A or NDC): required then (lot_required), and recorded as typed by hand.",
    )
    partial = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Stock is short: fill this quantity and keep the rest as a new fill on hold.",
    )
    rotation_reason = _optional_free_text(
        max_length=500,
        help_text="Why a lot expiring later than the first-expiring usable one is taken; "
        "without it such a lot is refused (rotation_reason_required).",
    )


def scan_entry_field(what: str) -> serializers.ChoiceField:
    """How the code(s) reached the caller (``ScanEntry``): ``scanned`` by a barcode
    scanner, or ``typed`` on a keyboard, which passes only with a pharmacist's
    ``typed_reason``. Shared by PV2 and packing. Not sent counts as scanned: the
    integration contract's body (DESIGN.md section 6: ``{"decision", "reason", "scan"}``,
    ``{"scans", "weight_oz"}``) keeps its meaning for the scanning software that sends it;
    software that relays keyboard entry says so. (The browser stations tell a scanner from
    typing themselves, and there a code not shown to be scanned is typed.)"""
    return serializers.ChoiceField(
        choices=ScanEntry.choices,
        required=False,
        default=ScanEntry.SCANNED,
        help_text=f"How {what} reached the caller: `scanned` (read by a barcode scanner, "
        "the default) or `typed` (keyboard), refused unless a pharmacist gives "
        "`typed_reason`.",
    )


def typed_reason_field() -> serializers.CharField:
    """A pharmacist's reason for a code typed by hand (kept on the record)."""
    return _optional_free_text(
        max_length=500,
        help_text="Why the code was typed instead of scanned (a pharmacist's only).",
    )


class PV2DecisionSerializer(serializers.Serializer):
    """A pharmacist's PV2 decision (never the filler's). Approving needs the vial label's
    scan; rejecting needs a reason (the stock goes back to its lot, the fill to the fill
    step, a discrepancy is recorded)."""

    decision = serializers.ChoiceField(choices=["approve", "reject"])
    reason = _optional_free_text(max_length=2000)
    scan = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=200,
        help_text="The vial label's barcode (the fill's label_code).",
    )  # fmt: skip
    stock_scan = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=200,
        help_text="Optionally, the stock bottle scanned again.",
    )  # fmt: skip
    entry = scan_entry_field("the vial label's code")
    typed_reason = typed_reason_field()
    discrepancy_kind = serializers.ChoiceField(
        choices=Discrepancy.Kind.choices, required=False, allow_blank=True, default=""
    )


class HoldInputSerializer(serializers.Serializer):
    reason_code = serializers.ChoiceField(choices=HoldReason.choices)
    note = _optional_free_text(max_length=2000)


class ReleaseInputSerializer(serializers.Serializer):
    """A release: a note (required, saying what was clarified, for a clarification or
    discrepancy hold, which only a pharmacist releases), and optionally a pharmacist's
    correction of the directions, quantity or drug, which sends the fill back to PV1."""

    note = _optional_free_text(max_length=2000)
    directions = _optional_free_text(
        max_length=2000, help_text="Corrected directions (sig), as the prescriber clarified."
    )
    quantity = serializers.DecimalField(
        max_digits=10,
        decimal_places=3,
        required=False,
        allow_null=True,
        default=None,
        help_text="Corrected quantity of this fill (and of the prescription).",
    )
    drug_ndc = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=20,
        help_text="The package NDC of the corrected drug (same DEA schedule).",
    )


class OrderSerializer(serializers.ModelSerializer):
    """An order with its fills; its status follows from them (``orders.models.order_status``).
    ``shipments`` lists the order's shipments (none before the shipping app makes them)."""

    status = serializers.ChoiceField(choices=Order.Status.choices, read_only=True)
    fills = FillSerializer(many=True, read_only=True)
    shipments = serializers.SerializerMethodField()

    class Meta:
        model = Order
        fields = ["id", "patient", "status", "created_at", "fills", "shipments"]

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_shipments(self, order: Order) -> list[dict]:
        return []


class RecipientDispensingSerializer(DispensingSerializer):
    """A dispensing of a traced lot with the fill, prescription and patient it went to
    (null for a ledger reference that is not a fill)."""

    fill = serializers.IntegerField(allow_null=True)
    fill_status = serializers.CharField(allow_null=True)
    rx_number = serializers.CharField(allow_null=True)
    order = serializers.IntegerField(source="order_id", allow_null=True)
    patient = serializers.IntegerField(source="patient_id", allow_null=True)
    patient_name = serializers.CharField(allow_null=True)
    shipment = serializers.SerializerMethodField()

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_shipment(self, row: dict) -> int | None:
        return None  # the shipping app does not exist yet


class RecallTraceSerializer(LotTraceSerializer):
    dispensings = RecipientDispensingSerializer(many=True)


# The raw bodies of the e-prescription endpoints, for the schema.
XML_BODY = {"application/xml": OpenApiTypes.STR, "text/xml": OpenApiTypes.STR}
FHIR_BODY = {
    "application/fhir+json": OpenApiTypes.OBJECT,
    "application/json": OpenApiTypes.OBJECT,
}
