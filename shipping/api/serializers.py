"""Serializers of the shipping API: shipments with their events, packing, hand-over,
delivery exceptions, carrier webhooks, and the order and recall views that show
shipments."""

from drf_spectacular.utils import extend_schema_field, inline_serializer
from rest_framework import serializers

from orders.api.serializers import (
    OrderSerializer,
    RecallTraceSerializer,
    RecipientDispensingSerializer,
    StaffNameSerializer,
    scan_entry_field,
    typed_reason_field,
)
from shipping.models import CarrierService, DeliveryException, Shipment, ShipmentEvent


class CarrierServiceSerializer(serializers.ModelSerializer):
    class Meta:
        model = CarrierService
        fields = [
            "id",
            "carrier",
            "code",
            "name",
            "transit_days",
            "delivers_saturday",
            "allows_cold_chain",
            "allows_controlled",
        ]


class ShipmentEventSerializer(serializers.ModelSerializer):
    actor = StaffNameSerializer(allow_null=True, read_only=True)

    class Meta:
        model = ShipmentEvent
        fields = ["from_status", "to_status", "detail", "actor", "carrier_event", "occurred_at"]


class DeliveryExceptionSerializer(serializers.ModelSerializer):
    is_open = serializers.BooleanField(read_only=True)

    class Meta:
        model = DeliveryException
        fields = [
            "id",
            "shipment",
            "kind",
            "description",
            "reported_by",
            "reported_at",
            "carrier_event",
            "is_open",
            "resolution",
            "resolved_by",
            "resolved_at",
            "reship",
        ]


class ShipToSerializer(serializers.Serializer):
    """The address as it was when the shipment was made."""

    name = serializers.CharField(source="ship_to_name")
    line1 = serializers.CharField(source="ship_to_line1")
    line2 = serializers.CharField(source="ship_to_line2")
    city = serializers.CharField(source="ship_to_city")
    state = serializers.CharField(source="ship_to_state")
    postal_code = serializers.CharField(source="ship_to_postal_code")
    phone = serializers.CharField(source="ship_to_phone")


class ShipmentSummarySerializer(serializers.ModelSerializer):
    """A shipment as an order or a list shows it."""

    service = serializers.CharField(source="service.code", allow_null=True, default=None)
    service_name = serializers.CharField(source="service.name", allow_null=True, default=None)

    class Meta:
        model = Shipment
        fields = [
            "id",
            "order",
            "status",
            "package_code",
            "carrier",
            "service",
            "service_name",
            "tracking_number",
            "packaging",
            "is_cold_chain",
            "is_controlled",
            "signature_required",
            "ship_on",
            "reship_of",
            "created_at",
            "status_changed_at",
        ]


class ShipmentSerializer(ShipmentSummarySerializer):
    """One shipment with what the packer needs (packaging, cold packs, instructions,
    the vials to scan) and its history (events, delivery exceptions)."""

    ship_to = ShipToSerializer(source="*")
    fills = serializers.SerializerMethodField(
        help_text="The vials that go in this package: fill id and label code."
    )
    events = ShipmentEventSerializer(many=True, read_only=True)
    exceptions = DeliveryExceptionSerializer(many=True, read_only=True)
    reships = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta(ShipmentSummarySerializer.Meta):
        fields = [
            *ShipmentSummarySerializer.Meta.fields,
            "ship_to",
            "cold_packs",
            "instructions",
            "weight_oz",
            "carrier_shipment_id",
            "packed_by",
            "packed_at",
            "handed_over_at",
            "delivered_at",
            "patient_notified_at",
            "fills",
            "events",
            "exceptions",
            "reships",
        ]

    @extend_schema_field(
        inline_serializer(
            "ShipmentFill",
            fields={
                "id": serializers.IntegerField(),
                "label_code": serializers.CharField(),
                "status": serializers.CharField(),
            },
            many=True,
        )
    )
    def get_fills(self, shipment: Shipment) -> list[dict]:
        fills = getattr(shipment, "contents", None) or []
        return [
            {"id": fill.pk, "label_code": fill.label_code, "status": fill.status} for fill in fills
        ]


class PackInputSerializer(serializers.Serializer):
    scans = serializers.ListField(
        child=serializers.CharField(max_length=60, allow_blank=True, trim_whitespace=True),
        max_length=200,
        help_text="The label code of every vial scanned (duplicates count once); the "
        "package's own packing slip code may be among them.",
    )
    weight_oz = serializers.DecimalField(
        max_digits=7,
        decimal_places=1,
        help_text="The package's weight in ounces: more than 0, at most 1200.",
    )
    entry = scan_entry_field("the vial codes")
    typed_reason = typed_reason_field()


class HandOverInputSerializer(serializers.Serializer):
    shipments = serializers.ListField(
        child=serializers.IntegerField(min_value=1), min_length=1, max_length=500
    )


class HandOverResultSerializer(serializers.Serializer):
    handed_over = serializers.IntegerField()


class DeliveryExceptionInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=DeliveryException.Kind.choices)
    description = serializers.CharField(max_length=2000)


class ResolveInputSerializer(serializers.Serializer):
    resolution = serializers.CharField(max_length=2000)
    reship = serializers.BooleanField(default=False)
    replace_fills = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        default=list,
        help_text="Fills of the first package whose product is replaced (reship only).",
    )


class UnpackInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=255)


class BlockedOrderSerializer(serializers.Serializer):
    """An order ready to ship whose shipment cannot be made yet."""

    order = serializers.IntegerField(source="order.pk")
    patient = serializers.IntegerField(source="order.patient_id")
    error = serializers.CharField(source="code")
    detail = serializers.CharField()
    problems = serializers.ListField(child=serializers.CharField())


class CarrierEventResultSerializer(serializers.Serializer):
    event_id = serializers.CharField()
    outcome = serializers.CharField(
        help_text="applied, no_change, stale, not_handed_over, info or ignored."
    )
    replay = serializers.BooleanField(help_text="The event was received before.")


class OrderWithShipmentsSerializer(OrderSerializer):
    """An order with its fills and its shipments (the first package and any reships)."""

    shipments = ShipmentSummarySerializer(many=True, read_only=True)


class ShippedDispensingSerializer(RecipientDispensingSerializer):
    shipment = serializers.IntegerField(
        source="shipment_id",
        allow_null=True,
        help_text="The package that carried it (the newest of its order).",
    )


class RecallTraceWithShipmentsSerializer(RecallTraceSerializer):
    dispensings = ShippedDispensingSerializer(many=True)
