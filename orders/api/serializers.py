"""Serializers of the orders API: prescriptions as stored, fills, refill requests."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field, inline_serializer
from rest_framework import serializers

from orders.models import DurAlert, Fill, IntakeIssue, Prescription


class DurAlertSerializer(serializers.ModelSerializer):
    class Meta:
        model = DurAlert
        fields = ["id", "type", "severity", "message", "fill", "created_at"]


class PrescriptionDrugSerializer(serializers.Serializer):
    """The drug: the matched catalogue product, and what the prescriber sent."""

    product = serializers.IntegerField(source="product_id", allow_null=True)
    product_ndc = serializers.CharField(source="product.product_ndc", allow_null=True, default=None)
    name = serializers.SerializerMethodField(
        help_text="The catalogue product's name, or the description as received when the "
        "drug is not matched."
    )
    description = serializers.CharField(source="drug_description", help_text="As received.")
    prescribed_ndc = serializers.CharField(help_text="11 digits, as received; may be empty.")
    dea_schedule = serializers.CharField()

    def get_name(self, prescription: Prescription) -> str:
        if prescription.product is not None:
            return prescription.product.display_name
        return prescription.drug_description


class PrescriptionSerializer(serializers.ModelSerializer):
    """A prescription with its fills (ids) and drug-check alerts.

    Read it with ``PRESCRIPTION_PREFETCH`` (orders.api.views): ``refills_remaining`` is
    computed from the prefetched fills, with the formula of
    ``orders.services.intake.refills_remaining``, so a list costs no query per row.
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
        # The same count as orders.services.intake.refills_remaining (dispensings beyond the
        # first, cancelled fills not counted, a partial fill's remainder sharing its
        # number), over the prefetched fills.
        used = len(
            {fill.fill_number for fill in prescription.fills.all()
             if fill.status != Fill.Status.CANCELLED}
        )  # fmt: skip
        return max(prescription.refills_authorized - max(used - 1, 0), 0)

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


class FillSerializer(serializers.ModelSerializer):
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


class RefillResponseSerializer(serializers.Serializer):
    fill = FillSerializer()
    prescription = serializers.IntegerField()


# The raw bodies of the e-prescription endpoints, for the schema.
XML_BODY = {"application/xml": OpenApiTypes.STR, "text/xml": OpenApiTypes.STR}
FHIR_BODY = {
    "application/fhir+json": OpenApiTypes.OBJECT,
    "application/json": OpenApiTypes.OBJECT,
}
