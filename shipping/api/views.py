"""API views of the shipping app: shipments (DESIGN.md section 6), packing, labels,
hand-over, delivery exceptions, the carriers' tracking webhook, and the order and recall
trace views that show shipments.

Reads only read: an order's shipment is made when its last fill passes PV2
(``shipping.services.shipments.create_shipment_for_order``, queued on that commit).
"""

from django.db.models import OuterRef, Prefetch, Subquery
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from inventory.api.serializers import ErrorSerializer
from inventory.api.views import LOT_TRACE_PARAMETERS
from inventory.services.lots import LotTrace
from lib.api_errors import APIError
from orders.api.views import OrderDetailView, RecallTraceView
from pharmacy.models import AuditEvent, Patient
from pharmacy.services import record_audit_event
from shipping.api.serializers import (
    BlockedOrderSerializer,
    CarrierEventResultSerializer,
    DeliveryExceptionInputSerializer,
    DeliveryExceptionSerializer,
    HandOverInputSerializer,
    HandOverResultSerializer,
    OrderWithShipmentsSerializer,
    PackInputSerializer,
    RecallTraceWithShipmentsSerializer,
    ResolveInputSerializer,
    ShipmentSerializer,
    ShipmentSummarySerializer,
    UnpackInputSerializer,
)
from shipping.carriers import MAX_WEBHOOK_BYTES
from shipping.models import DeliveryException, Shipment, ShipmentEvent, ShippingDocument
from shipping.services.shipments import (
    ShippingError,
    blocked_orders,
    hand_over_to_carrier,
    pack_shipment,
    record_carrier_event,
    report_delivery_exception,
    resolve_delivery_exception,
    retry_label_purchase,
    shipment_fills,
    transition_shipment,
)


def _refused(error: ShippingError) -> APIError:
    return APIError(error.code, error.detail, error.status, **error.extra)


def shipment_for_api(pk: int) -> Shipment:
    """One shipment with its history and the vials that go in it; 404 if none."""
    shipment = get_object_or_404(
        Shipment.objects.select_related("service", "order", "reship_of").prefetch_related(
            Prefetch("events", queryset=ShipmentEvent.objects.select_related("actor")),
            "exceptions",
            "reships",
        ),
        pk=pk,
    )
    shipment.contents = shipment_fills(shipment)
    return shipment


def _patient_of(shipment: Shipment) -> Patient:
    return Patient(pk=shipment.order.patient_id)


def _digits(params, name: str) -> int | None:
    value = params.get(name, "").strip()
    if not value:
        return None
    if not value.isdigit():
        raise APIError(f"invalid_{name}", f"{name} must be an {name} id, not {value!r}.")
    return int(value)


ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Malformed input; nothing changed."),
    403: OpenApiResponse(ErrorSerializer, description="Your role may not do this."),
    404: ErrorSerializer,
    409: OpenApiResponse(
        ErrorSerializer, description="Refused by the shipment's state, with the reason."
    ),
}


# --------------------------------------------------------------------------- shipments


@extend_schema(
    parameters=[
        OpenApiParameter("order", int, description="Order id"),
        OpenApiParameter("status", str, enum=Shipment.Status.values),
    ],
    responses={200: ShipmentSummarySerializer(many=True), 400: ErrorSerializer},
    tags=["shipments"],
)
class ShipmentListView(generics.ListAPIView):
    """Shipments, newest first, by order or status. An order's shipment exists (awaiting
    packing) once every fill in it passed PV2."""

    serializer_class = ShipmentSummarySerializer
    required_permissions = ["shipping.view_shipment"]

    def get_queryset(self):
        shipments = Shipment.objects.select_related("service", "order")
        params = self.request.query_params
        if (order := _digits(params, "order")) is not None:
            shipments = shipments.filter(order_id=order)
        if wanted := params.get("status", "").strip():
            if wanted not in Shipment.Status.values:
                raise APIError(
                    "invalid_status",
                    f"{wanted!r} is not a shipment status; use one of "
                    f"{', '.join(Shipment.Status.values)}.",
                    allowed=Shipment.Status.values,
                )
            shipments = shipments.filter(status=wanted)
        return shipments.order_by("-created_at", "-pk")

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        record_audit_event(
            actor=request.user,
            action=AuditEvent.Action.SEARCH,
            request=request,
            patients=[Patient(pk=pk) for pk in {s.order.patient_id for s in page}],
            summary=f"API shipment list ({len(page)} shown)",
        )
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


@extend_schema(responses={200: ShipmentSerializer, 404: ErrorSerializer}, tags=["shipments"])
class ShipmentDetailView(generics.RetrieveAPIView):
    """One shipment: status, carrier, service, tracking number, packaging and the
    packer's instructions, the vials to scan, events and delivery exceptions."""

    serializer_class = ShipmentSerializer
    required_permissions = ["shipping.view_shipment"]
    queryset = Shipment.objects.all()

    def retrieve(self, request, pk: int):
        shipment = shipment_for_api(pk)
        record_audit_event(
            actor=request.user,
            action=AuditEvent.Action.VIEW,
            request=request,
            obj=shipment,
            patient=_patient_of(shipment),
        )
        return Response(self.get_serializer(shipment).data)


@extend_schema(
    responses={200: BlockedOrderSerializer(many=True), 403: ErrorSerializer}, tags=["shipments"]
)
class BlockedOrderListView(generics.GenericAPIView):
    """Orders ready to ship that cannot be: their patient's address cannot be shipped to
    (missing fields, a state or ZIP code that does not exist in the format). Each shows
    the reason; the shipment is made as soon as the address is corrected. A page of the
    list like every list of the API (``count``, ``next``, ``previous``, ``results``)."""

    serializer_class = BlockedOrderSerializer
    required_permissions = ["shipping.view_shipment"]

    def get(self, request):
        page = self.paginate_queryset(blocked_orders())
        record_audit_event(
            actor=request.user,
            action=AuditEvent.Action.SEARCH,
            request=request,
            patients=[Patient(pk=row.order.patient_id) for row in page],
            summary=f"API orders that cannot ship ({len(page)} shown)",
        )
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class _ShipmentStepView(generics.GenericAPIView):
    """A step on one shipment: parse, call the service, answer with the shipment."""

    queryset = Shipment.objects.all()
    required_permissions = ["shipping.change_shipment"]

    def take_step(self, shipment: Shipment, data: dict, user) -> str:
        raise NotImplementedError

    def post(self, request, pk: int):
        shipment = get_object_or_404(Shipment.objects.all(), pk=pk)
        given = self.get_serializer(data=request.data)
        given.is_valid(raise_exception=True)
        try:
            done = self.take_step(shipment, given.validated_data, request.user)
        except ShippingError as refused:
            raise _refused(refused) from None
        shipment = shipment_for_api(pk)
        record_audit_event(
            actor=request.user,
            action=AuditEvent.Action.UPDATE,
            request=request,
            obj=shipment,
            patient=_patient_of(shipment),
            summary=f"{done} (API)",
        )
        return Response(ShipmentSerializer(shipment).data)


PACK_RESPONSES = {
    200: OpenApiResponse(
        ShipmentSerializer,
        description="Packed; its carrier label is queued (status `packed`, no tracking "
        "number yet). A worker buys it: the shipment becomes `labelled` with its "
        "`tracking_number`, and `label.pdf` follows.",
    ),
    **ERRORS,
    409: OpenApiResponse(
        ErrorSerializer,
        description="Refused: wrong_vial (a vial of another order), wrong_packing_slip, "
        "vials_missing (with `missing` fill ids), fills_not_ready, no_service, not_ship_day "
        "(a refrigerated package before its ship day), wrong_status.",
    ),
}


@extend_schema(request=PackInputSerializer, responses=PACK_RESPONSES, tags=["shipments"])
class ShipmentPackView(_ShipmentStepView):
    """Close the package: every vial's label code scanned and its weight. Refused with
    the reason when a vial is missing or belongs elsewhere; packing queues the carrier
    label (bought by a worker, which then makes its PDF)."""

    serializer_class = PackInputSerializer

    def take_step(self, shipment, data, user) -> str:
        pack_shipment(
            shipment,
            by=user,
            scans=data["scans"],
            weight_oz=data["weight_oz"],
            entry=data["entry"],
            typed_reason=data["typed_reason"],
        )
        return "Packed"


@extend_schema(
    request=None,
    responses={
        202: OpenApiResponse(
            ShipmentSerializer, description="The label's purchase is queued again."
        ),
        **ERRORS,
    },
    tags=["shipments"],
)
class ShipmentBuyLabelView(_ShipmentStepView):
    """Ask again for the label of a packed package whose purchase failed (the carrier
    refused it): the purchase is sent again at once; one still being tried is left to
    its retries. The worker buys it."""

    serializer_class = None

    def post(self, request, pk: int):
        shipment = get_object_or_404(Shipment.objects.all(), pk=pk)
        try:
            retry_label_purchase(shipment, by=request.user)
        except ShippingError as refused:
            raise _refused(refused) from None
        shipment = shipment_for_api(pk)
        record_audit_event(
            actor=request.user,
            action=AuditEvent.Action.UPDATE,
            request=request,
            obj=shipment,
            patient=_patient_of(shipment),
            summary="Label asked for again (API)",
        )
        return Response(ShipmentSerializer(shipment).data, status=status.HTTP_202_ACCEPTED)


@extend_schema(
    request=UnpackInputSerializer, responses={200: ShipmentSerializer, **ERRORS}, tags=["shipments"]
)
class ShipmentUnpackView(_ShipmentStepView):
    """A pharmacist sends a packed or labelled package back to packing, with a reason;
    its label is void."""

    serializer_class = UnpackInputSerializer

    def take_step(self, shipment, data, user) -> str:
        transition_shipment(
            shipment, to=Shipment.Status.AWAITING_PACKING, by=user, detail=data["reason"]
        )
        return "Sent back to packing"


@extend_schema(
    request=DeliveryExceptionInputSerializer,
    responses={200: ShipmentSerializer, **ERRORS},
    tags=["shipments"],
)
class ShipmentExceptionView(_ShipmentStepView):
    """Report a delivery exception: damaged, lost, returned, temperature excursion."""

    serializer_class = DeliveryExceptionInputSerializer
    required_permissions = ["shipping.add_deliveryexception"]

    def take_step(self, shipment, data, user) -> str:
        report_delivery_exception(
            shipment, by=user, kind=data["kind"], description=data["description"]
        )
        return f"Delivery exception reported ({data['kind']})"


@extend_schema(
    request=HandOverInputSerializer,
    responses={200: HandOverResultSerializer, **ERRORS},
    tags=["shipments"],
)
class HandOverView(generics.GenericAPIView):
    """The carrier's pick-up: labelled packages are handed over, their fills shipped,
    and each patient told by e-mail. Packages not labelled are left as they are."""

    serializer_class = HandOverInputSerializer
    required_permissions = ["shipping.change_shipment"]

    def post(self, request):
        given = self.get_serializer(data=request.data)
        given.is_valid(raise_exception=True)
        shipments = list(
            Shipment.objects.select_related("order").filter(
                pk__in=given.validated_data["shipments"]
            )
        )
        try:
            handed = hand_over_to_carrier(shipments, by=request.user)
        except ShippingError as refused:
            raise _refused(refused) from None
        record_audit_event(
            actor=request.user,
            action=AuditEvent.Action.UPDATE,
            request=request,
            patients=[Patient(pk=s.order.patient_id) for s in shipments],
            summary=f"{handed} packages handed to the carrier (API)",
        )
        return Response({"handed_over": handed})


@extend_schema(
    parameters=[OpenApiParameter("open", bool, description="Only those not resolved yet")],
    responses={200: DeliveryExceptionSerializer(many=True)},
    tags=["shipments"],
)
class DeliveryExceptionListView(generics.ListAPIView):
    """Delivery exceptions, newest first."""

    serializer_class = DeliveryExceptionSerializer
    required_permissions = ["shipping.view_deliveryexception"]

    def get_queryset(self):
        exceptions = DeliveryException.objects.select_related("shipment__order")
        if self.request.query_params.get("open", "").strip().lower() in {"1", "true", "yes"}:
            exceptions = exceptions.filter(resolved_at__isnull=True)
        return exceptions.order_by("-reported_at", "-pk")

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        record_audit_event(
            actor=request.user,
            action=AuditEvent.Action.SEARCH,
            request=request,
            patients=[Patient(pk=pk) for pk in {e.shipment.order.patient_id for e in page}],
            summary=f"API delivery exceptions ({len(page)} shown)",
        )
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


@extend_schema(
    request=ResolveInputSerializer,
    responses={200: DeliveryExceptionSerializer, **ERRORS},
    tags=["shipments"],
)
class DeliveryExceptionResolveView(generics.GenericAPIView):
    """Resolve a delivery exception, with a reship (and replacement fills for product
    that must be replaced) when one is needed."""

    serializer_class = ResolveInputSerializer
    required_permissions = ["shipping.change_deliveryexception"]

    def post(self, request, pk: int):
        exception = get_object_or_404(
            DeliveryException.objects.select_related("shipment__order"), pk=pk
        )
        given = self.get_serializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        try:
            exception = resolve_delivery_exception(
                exception,
                by=request.user,
                resolution=data["resolution"],
                reship=data["reship"],
                replace_fills=data["replace_fills"],
            )
        except ShippingError as refused:
            raise _refused(refused) from None
        record_audit_event(
            actor=request.user,
            action=AuditEvent.Action.UPDATE,
            request=request,
            obj=exception,
            patient=Patient(pk=exception.shipment.order.patient_id),
            summary="Delivery exception resolved" + (" with a reship" if data["reship"] else ""),
        )
        return Response(DeliveryExceptionSerializer(exception).data)


class ShipmentLabelView(APIView):
    """The 4x6 inch carrier label PDF: the stored one, or while the worker has not stored
    it yet the same PDF rendered now (not stored); 409 before the package is labelled.
    Errors are JSON whatever the client accepts."""

    required_permissions = ["shipping.view_shipment"]

    def perform_content_negotiation(self, request, force=False):
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        operation_id="shipment_label_pdf",
        responses={
            (200, "application/pdf"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The carrier label, one 4 x 6 inch page."
            ),
            403: ErrorSerializer,
            404: ErrorSerializer,
            409: OpenApiResponse(
                ErrorSerializer, description="label_not_ready: the package is not labelled yet."
            ),
        },
        tags=["shipments"],
    )
    def get(self, request, pk: int):
        from shipping.services import documents  # noqa: PLC0415 (documents import services)

        shipment = get_object_or_404(Shipment.objects.select_related("order"), pk=pk)
        if not shipment.tracking_number:
            raise APIError(
                "label_not_ready",
                f"Package {shipment.package_code} is {shipment.get_status_display().lower()}: "
                "it has no carrier label until it is packed and labelled.",
                409,
            )
        label = documents.document_pdf(shipment, ShippingDocument.Kind.LABEL)
        record_audit_event(
            actor=request.user,
            action=AuditEvent.Action.VIEW,
            request=request,
            obj=shipment,
            patient=_patient_of(shipment),
            summary=f"API carrier label of package {shipment.package_code}",
        )
        response = HttpResponse(label, content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="{shipment.package_code}.pdf"'
        response["Cache-Control"] = "private, no-store"
        return response


# --------------------------------------------------------------------------- webhook


class CarrierEventView(APIView):
    """A carrier's tracking webhook (DESIGN.md section 6), authenticated by the hex
    HMAC-SHA256 of the raw body with the carrier's secret in ``X-Signature`` (EasyPost's
    own ``X-Hmac-Signature`` too). Events may come twice or out of order: a replay
    answers 200 and changes nothing; a late event never moves a package backwards.

    Nothing is written for a request refused: 413 for a body over 64 KiB, 401 for a
    missing or wrong signature (the same answer for both), then 400 for a body that is not
    an event (a NUL character, a time more than a day ahead), 422 for a tracking number
    that is not the carrier's, 404 for one we do not know, 409 for an event id the carrier
    already used for another event.
    """

    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes: list = []  # the body is read raw: the signature covers its bytes
    # lib.request_limits answers 413 past this, before reading; it reads a chunked body.
    max_body_bytes = MAX_WEBHOOK_BYTES

    def perform_content_negotiation(self, request, force=False):
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        operation_id="carrier_tracking_event",
        request={"application/json": OpenApiTypes.OBJECT},
        parameters=[
            OpenApiParameter(
                "X-Signature",
                str,
                OpenApiParameter.HEADER,
                required=True,
                description="Hex HMAC-SHA256 of the raw body with the carrier's secret.",
            )
        ],
        responses={
            200: CarrierEventResultSerializer,
            400: OpenApiResponse(
                ErrorSerializer,
                description="Not JSON, or not an event (a NUL character in it, a time more "
                "than a day ahead).",
            ),
            401: OpenApiResponse(ErrorSerializer, description="Missing or wrong signature."),
            404: OpenApiResponse(
                ErrorSerializer, description="Unknown carrier or tracking number."
            ),
            409: OpenApiResponse(
                ErrorSerializer,
                description="event_id_reused: the carrier sent another event under this id "
                "before (a true replay answers 200).",
            ),
            413: OpenApiResponse(ErrorSerializer, description="The body is over 64 KiB."),
            422: OpenApiResponse(
                ErrorSerializer, description="Not a tracking number of this carrier."
            ),
        },
        tags=["shipping events"],
        auth=[],
    )
    def post(self, request, carrier: str):
        signature = request.headers.get("X-Signature") or request.headers.get(
            "X-Hmac-Signature", ""
        )
        try:
            event = record_carrier_event(carrier, body=request.body, signature=signature)
        except ShippingError as refused:
            raise _refused(refused) from None
        return Response(
            {
                "event_id": event.event_id,
                "outcome": event.outcome,
                "replay": getattr(event, "is_replay", False),
            },
            status=status.HTTP_200_OK,
        )


# --------------------------------------------------------------------------- orders, recalls


@extend_schema(responses={200: OrderWithShipmentsSerializer, 404: ErrorSerializer})
class OrderWithShipmentsView(OrderDetailView):
    """``GET /api/v1/orders/{id}/``: the order with its fills and its shipments (this
    app serves the orders app's view with the shipments it cannot read)."""

    serializer_class = OrderWithShipmentsSerializer
    queryset = OrderDetailView.queryset.prefetch_related(
        Prefetch("shipments", queryset=Shipment.objects.select_related("service").order_by("pk"))
    )


@extend_schema(
    parameters=LOT_TRACE_PARAMETERS,
    responses={
        200: RecallTraceWithShipmentsSerializer,
        400: OpenApiResponse(ErrorSerializer, description="ndc or lot missing or malformed."),
        404: OpenApiResponse(ErrorSerializer, description="No such lot in stock records."),
    },
)
class RecallTraceWithShipmentsView(RecallTraceView):
    """The recall trace with the package that carried each dispensing (the newest
    shipment of the fill's order: a reship of returned product carries it last)."""

    serializer_class = RecallTraceWithShipmentsSerializer

    def lot_trace(self, ndc: str, lot_number: str) -> LotTrace:
        trace = super().lot_trace(ndc, lot_number)
        newest = Shipment.objects.filter(order_id=OuterRef("order_id")).order_by("-pk")
        return LotTrace(
            lots=trace.lots,
            dispensings=trace.dispensings.annotate(shipment_id=Subquery(newest.values("pk")[:1])),
        )
