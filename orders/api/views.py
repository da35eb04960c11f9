"""API views of the orders app: e-prescription intake (NCPDP SCRIPT, FHIR), prescriptions,
refill requests, the fill work queues and their steps (PV1, fill, PV2, holds), orders.

The two e-prescription endpoints read the raw body themselves (DRF's parsers never touch
it): the size is checked from ``Content-Length`` before a byte is read, and the parsers of
``orders.intake`` see the bytes exactly as sent, which are kept verbatim. Each answers in
its own protocol whatever happens, errors included: SCRIPT ``Status``/``Error`` XML for
NCPDP, an ``OperationOutcome`` for FHIR.
"""

import logging

from django.db.models import OuterRef, Prefetch
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, status
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from inventory.api.serializers import ErrorSerializer
from inventory.api.views import LOT_TRACE_PARAMETERS, LotTraceView
from inventory.models import strength_pairs_of
from lib.api_errors import APIError
from orders.api.serializers import (
    FHIR_BODY,
    XML_BODY,
    FillDetailSerializer,
    FillInputSerializer,
    FillSerializer,
    HoldInputSerializer,
    OrderSerializer,
    PrescriptionEnvelopeSerializer,
    PrescriptionSerializer,
    PV1DecisionSerializer,
    PV2DecisionSerializer,
    RecallTraceSerializer,
    ReleaseInputSerializer,
)
from orders.intake.fhir import operation_outcome, parse_fhir_json
from orders.intake.messages import (
    MAX_MESSAGE_BYTES,
    NCPDP_RECEIVER_SYSTEM_ERROR,
    NCPDP_TRANSACTION_REJECTED,
    IntakeError,
)
from orders.intake.ncpdp import (
    NEW_RX,
    build_cancel_rx_response,
    build_error,
    build_error_for,
    build_status,
    parse_cancel_rx,
    parse_new_rx,
    parse_script_message,
)
from orders.models import QUEUE_ORDER, Channel, DurAlert, Fill, FillEvent, Order, Prescription
from orders.services.intake import (
    cancel_prescription_for_prescriber,
    receive_prescription,
)
from orders.services.recalls import trace_recalled_lot
from orders.services.workflow import (
    Correction,
    Override,
    WorkflowError,
    approve_pv1,
    approve_pv2,
    claim_fill,
    fill_with_scan,
    hold_fill,
    reject_pv1,
    reject_pv2,
    release_fill,
    unclaim_fill,
)
from pharmacy.models import AuditEvent, Patient
from pharmacy.permissions import StaffTokenAuthentication
from pharmacy.services import record_audit_event

logger = logging.getLogger(__name__)

XML_CONTENT_TYPES = ("application/xml", "text/xml")
RECEIVER_SYSTEM_ERROR = (
    "Receiver system error: the pharmacy could not process the message because of an error "
    "on its side; send it again later."
)
FHIR_CONTENT_TYPES = ("application/fhir+json", "application/json")

# One query each for fills and alerts, whatever the number of prescriptions.
PRESCRIPTION_PREFETCH = (
    Prefetch("fills", queryset=Fill.objects.only("id", "status", "fill_number", "prescription_id")),
    "dur_alerts",
)


def prescriptions_for_api():
    return (
        Prescription.objects.select_related("product")
        .with_refills_used()
        .annotate(product_strengths=strength_pairs_of(OuterRef("product_id")))
        .prefetch_related(*PRESCRIPTION_PREFETCH)
    )


def _body_within_limit(request) -> bytes:
    """The raw body, refused as ``too_large`` from its declared length before it is read."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_MESSAGE_BYTES:
        raise IntakeError(
            "too_large", f"The body is {length:,} bytes; we accept at most {MAX_MESSAGE_BYTES:,}."
        )
    return request.body


def _media_type(request) -> str:
    """The body's media type without parameters (``; charset=utf-8``), lower case."""
    return request.content_type.split(";", 1)[0].strip().lower()


class _RawBodyRenderer(BaseRenderer):
    """Passes bytes a view built itself (SCRIPT XML) through unchanged."""

    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data


class ScriptXMLRenderer(_RawBodyRenderer):
    media_type = "application/xml"
    format = "xml"


class FHIRJSONRenderer(JSONRenderer):
    media_type = "application/fhir+json"
    format = "fhir+json"


class _ProtocolView(APIView):
    """An integration endpoint: token authentication, and an answer whatever the caller
    accepts (the protocol fixes the reply's format, so no 406)."""

    authentication_classes = [StaffTokenAuthentication]
    required_permissions = ["pharmacy.work_technician_queues"]
    metadata_class = None  # OPTIONS is a 405: DRF's metadata is no SCRIPT or FHIR message
    # lib.request_limits reads a chunked body up to one byte past this; the view refuses
    # what is longer in its protocol's own format.
    max_body_bytes = MAX_MESSAGE_BYTES
    answers_oversized_body = True

    def perform_content_negotiation(self, request, force=False):
        return super().perform_content_negotiation(request, force=True)


# --------------------------------------------------------------------------- NCPDP SCRIPT


def _xml(body: bytes, status_code: int, headers: dict | None = None) -> HttpResponse:
    return HttpResponse(body, status=status_code, content_type="application/xml", headers=headers)


class NcpdpScriptView(_ProtocolView):
    """NCPDP SCRIPT intake: one NewRx or CancelRx message per request.

    Every answer is a SCRIPT message: ``Status`` (NewRx stored: 201; the same MessageID
    already accepted: 200, nothing stored twice), ``CancelRxResponse`` (200, approved or
    denied with the reason) or ``Error`` (400 for a message we refuse, 415 for a body
    that is not XML, 401/403 for credentials, 500 with code 602 for a failure on our side).
    """

    renderer_classes = [ScriptXMLRenderer]
    parser_classes: list = []  # the body is read raw, never by a DRF parser

    @staticmethod
    def request_refused(*, status: int, code: str, detail: str) -> HttpResponse:
        """A refusal before the view runs (lib.request_limits: a NUL character in the
        address or a header) as a SCRIPT Error."""
        return _xml(build_error(None, code=NCPDP_TRANSACTION_REJECTED, description=detail), status)

    @extend_schema(
        operation_id="erx_ncpdp_receive",
        summary="Receive an NCPDP SCRIPT NewRx or CancelRx",
        request=XML_BODY,
        responses={
            (201, "application/xml"): OpenApiResponse(
                OpenApiTypes.STR, description="SCRIPT Status: the NewRx is stored."
            ),
            (200, "application/xml"): OpenApiResponse(
                OpenApiTypes.STR,
                description="SCRIPT Status for a MessageID already accepted (nothing stored "
                "again), or a CancelRxResponse (Approved, or Denied with a DenialReason).",
            ),
            (400, "application/xml"): OpenApiResponse(
                OpenApiTypes.STR,
                description="SCRIPT Error (code 900 or 601) saying what to fix; nothing stored.",
            ),
            (415, "application/xml"): OpenApiResponse(
                OpenApiTypes.STR, description="SCRIPT Error: send application/xml or text/xml."
            ),
            (500, "application/xml"): OpenApiResponse(
                OpenApiTypes.STR, description="SCRIPT Error 602: receiver system error."
            ),
        },
        tags=["e-prescriptions"],
    )
    def post(self, request):
        self.script_header = None
        if _media_type(request) not in XML_CONTENT_TYPES:
            return _xml(
                build_error(
                    None,
                    code=NCPDP_TRANSACTION_REJECTED,
                    description=f"The body is sent as {_media_type(request) or 'no type'!r}: "
                    "send one SCRIPT XML message as application/xml.",
                ),
                status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            )
        try:
            message = parse_script_message(_body_within_limit(request))
            self.script_header = message.header
            if message.message_type == NEW_RX:
                return self._new_rx(request, message)
            return self._cancel_rx(request, message)
        except IntakeError as error:
            if error.header is None:
                error.header = self.script_header
            return _xml(build_error_for(error), status.HTTP_400_BAD_REQUEST)

    def _new_rx(self, request, message) -> HttpResponse:
        result = receive_prescription(parse_new_rx(message), channel=Channel.NCPDP, by=request.user)
        rx_number = result.prescription.rx_number
        if result.created:
            return _xml(
                build_status(message.header, description=f"Received as Rx {rx_number}."),
                status.HTTP_201_CREATED,
            )
        return _xml(
            build_status(
                message.header,
                description=f"Already received as Rx {rx_number}: this MessageID was accepted "
                "before and nothing was stored again.",
            ),
            status.HTTP_200_OK,
        )

    def _cancel_rx(self, request, message) -> HttpResponse:
        outcome = cancel_prescription_for_prescriber(parse_cancel_rx(message), by=request.user)
        return _xml(
            build_cancel_rx_response(
                message.header, approved=outcome.approved, reason=outcome.reason
            ),
            status.HTTP_200_OK,
        )

    def handle_exception(self, exc):
        header = getattr(self, "script_header", None)
        if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
            return _xml(
                build_error(header, code=NCPDP_TRANSACTION_REJECTED, description=str(exc.detail)),
                status.HTTP_401_UNAUTHORIZED,
                {"WWW-Authenticate": self.get_authenticate_header(self.request) or "Token"},
            )
        if isinstance(exc, exceptions.APIException):
            return _xml(
                build_error(header, code=NCPDP_TRANSACTION_REJECTED, description=str(exc.detail)),
                exc.status_code,
            )
        logger.exception(
            "NCPDP intake failed on our side (MessageID %s)",
            header.message_id if header else "unknown",
        )
        return _xml(
            build_error(
                header, code=NCPDP_RECEIVER_SYSTEM_ERROR, description=RECEIVER_SYSTEM_ERROR
            ),
            status.HTTP_500_INTERNAL_SERVER_ERROR,
        )


# --------------------------------------------------------------------------- FHIR


def _outcome(status_code: int, error: IntakeError, *, issue_type: str | None = None) -> Response:
    body = operation_outcome([error])
    if issue_type:
        body["issue"][0]["code"] = issue_type
    return Response(body, status=status_code, content_type="application/fhir+json")


class FhirMedicationRequestView(_ProtocolView):
    """FHIR R4 intake: a MedicationRequest, or a Bundle holding one with its Patient,
    Practitioner and Medication.

    201 ``{"prescription": {...}}`` when stored; 200 with the same body when the message
    (Bundle identifier, else resource id) was received before; otherwise an
    OperationOutcome: 400 for a document we refuse, 415 for a body that is not JSON,
    401/403 for credentials, 500 for a failure on our side.
    """

    renderer_classes = [JSONRenderer, FHIRJSONRenderer]
    parser_classes: list = []  # the body is read raw, never by a DRF parser

    @staticmethod
    def request_refused(*, status: int, code: str, detail: str) -> HttpResponse:
        """A refusal before the view runs (lib.request_limits: a NUL character in the
        address or a header) as an OperationOutcome."""
        return JsonResponse(
            operation_outcome([IntakeError(code, detail)]),
            status=status,
            content_type="application/fhir+json",
        )

    @extend_schema(
        operation_id="erx_fhir_receive",
        summary="Receive a FHIR R4 MedicationRequest or Bundle",
        request=FHIR_BODY,
        responses={
            201: PrescriptionEnvelopeSerializer,
            200: OpenApiResponse(
                PrescriptionEnvelopeSerializer,
                description="The message was received before: the prescription stored then.",
            ),
            (400, "application/fhir+json"): OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="OperationOutcome saying what to fix; nothing stored.",
                examples=[
                    OpenApiExample(
                        "missing quantity",
                        value=operation_outcome(
                            [
                                IntakeError(
                                    "missing_element",
                                    "The quantity to dispense is missing.",
                                    path="MedicationRequest.dispenseRequest.quantity",
                                )
                            ]
                        ),
                    )
                ],
            ),
            (415, "application/fhir+json"): OpenApiResponse(
                OpenApiTypes.OBJECT, description="OperationOutcome: send JSON."
            ),
        },
        tags=["e-prescriptions"],
    )
    def post(self, request):
        if _media_type(request) not in FHIR_CONTENT_TYPES:
            return _outcome(
                status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
                IntakeError(
                    "unsupported_media_type",
                    f"The body is sent as {_media_type(request) or 'no type'!r}: send FHIR "
                    "JSON as application/fhir+json or application/json.",
                ),
                issue_type="not-supported",
            )
        try:
            incoming = parse_fhir_json(_body_within_limit(request))
            result = receive_prescription(incoming, channel=Channel.FHIR, by=request.user)
        except IntakeError as error:
            return _outcome(status.HTTP_400_BAD_REQUEST, error)
        prescription = prescriptions_for_api().get(pk=result.prescription.pk)
        if not result.created:
            # The service wrote the audit row when it stored the prescription; showing it
            # again is a read of the patient's data.
            record_audit_event(
                actor=request.user,
                action=AuditEvent.Action.VIEW,
                request=request,
                obj=prescription,
                patient=prescription.patient,
                summary="FHIR message received again: stored prescription returned",
            )
        return Response(
            {"prescription": PrescriptionSerializer(prescription).data},
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )

    def handle_exception(self, exc):
        if isinstance(exc, exceptions.APIException):
            response = super().handle_exception(exc)  # status and WWW-Authenticate
            issue_type = {401: "login", 403: "forbidden"}.get(response.status_code, "processing")
            error = IntakeError(response.data["error"], response.data["detail"])
            outcome = _outcome(response.status_code, error, issue_type=issue_type)
            if "WWW-Authenticate" in response:
                outcome["WWW-Authenticate"] = response["WWW-Authenticate"]
            return outcome
        logger.exception("FHIR intake failed on our side")
        return _outcome(
            status.HTTP_500_INTERNAL_SERVER_ERROR,
            IntakeError("receiver_error", RECEIVER_SYSTEM_ERROR),
            issue_type="exception",
        )


# --------------------------------------------------------------------------- prescriptions


@extend_schema(
    parameters=[
        OpenApiParameter("message_id", str, description="The e-Rx MessageID (or FHIR id)"),
        OpenApiParameter("rx_number", str, description="The pharmacy's Rx number"),
        OpenApiParameter("patient", int, description="Patient id"),
        OpenApiParameter("status", str, enum=Prescription.Status.values),
    ],
    responses={200: PrescriptionSerializer(many=True), 400: ErrorSerializer},
)
class PrescriptionListView(generics.ListAPIView):
    """Prescriptions, newest first, by e-Rx message id, Rx number, patient or status."""

    serializer_class = PrescriptionSerializer
    required_permissions = ["pharmacy.view_patient"]

    def get_queryset(self):
        prescriptions = prescriptions_for_api()
        params = self.request.query_params
        if message_id := params.get("message_id", "").strip():
            prescriptions = prescriptions.filter(message_id=message_id)
        if rx_number := params.get("rx_number", "").strip():
            prescriptions = prescriptions.filter(rx_number=rx_number)
        if patient := params.get("patient", "").strip():
            if not patient.isdigit():
                raise APIError("invalid_patient", f"patient must be a patient id, not {patient!r}.")
            prescriptions = prescriptions.filter(patient_id=int(patient))
        if wanted := params.get("status", "").strip():
            if wanted not in Prescription.Status.values:
                raise APIError(
                    "invalid_status",
                    f"{wanted!r} is not a prescription status; use one of "
                    f"{', '.join(Prescription.Status.values)}.",
                    allowed=Prescription.Status.values,
                )
            prescriptions = prescriptions.filter(status=wanted)
        return prescriptions

    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        shown = {row["patient"] for row in response.data["results"] if row["patient"]}
        record_audit_event(
            actor=request.user,
            action=AuditEvent.Action.SEARCH,
            request=request,
            patients=[Patient(pk=pk) for pk in shown],
            summary=f"API prescription search ({len(response.data['results'])} shown)",
        )
        return response


class PrescriptionDetailView(generics.RetrieveAPIView):
    """One prescription with its fills and drug-check alerts."""

    serializer_class = PrescriptionSerializer
    required_permissions = ["pharmacy.view_patient"]

    def retrieve(self, request, pk: int):
        prescription = get_object_or_404(prescriptions_for_api(), pk=pk)
        record_audit_event(
            actor=request.user,
            action=AuditEvent.Action.VIEW,
            request=request,
            obj=prescription,
            patient=prescription.patient,
        )
        return Response(self.get_serializer(prescription).data)


# --------------------------------------------------------------------------- fills


# Everything a fill's detail shows, in one query per relation.
FILL_DETAIL_PREFETCH = (
    Prefetch("events", queryset=FillEvent.objects.select_related("actor")),
    "holds",
    "scans",
    "discrepancies",
    Prefetch("remainders", queryset=Fill.objects.only("id", "partial_of_id")),
    "pdmp_checks__checked_by",
)


def fill_for_api(pk: int) -> Fill:
    """One fill with its history and the drug-check alerts its PV1 resolves; 404 if none."""
    fill = get_object_or_404(
        Fill.objects.with_work_details().prefetch_related(*FILL_DETAIL_PREFETCH), pk=pk
    )
    fill.alerts_for_pv1 = list(DurAlert.objects.for_fill(fill).prefetch_related("overrides"))
    return fill


def _patient_of(fill: Fill) -> Patient | None:
    """The fill's patient for an audit row, without loading their record."""
    patient_id = fill.prescription.patient_id
    return Patient(pk=patient_id) if patient_id else None


def _digits_parameter(params, name: str) -> int | None:
    value = params.get(name, "").strip()
    if not value:
        return None
    if not value.isdigit():
        raise APIError(f"invalid_{name}", f"{name} must be a {name} id, not {value!r}.")
    return int(value)


@extend_schema(
    parameters=[
        OpenApiParameter(
            "status", str, enum=Fill.Status.values, description="The queue: fills at this step"
        ),
        OpenApiParameter("prescription", int, description="Prescription id"),
        OpenApiParameter("order", int, description="Order id"),
    ],
    responses={200: FillSerializer(many=True), 400: ErrorSerializer},
)
class FillListView(generics.ListAPIView):
    """The work queues: fills, most urgent first (promised date, cold chain, priority, then
    the oldest), by status, prescription or order."""

    serializer_class = FillSerializer
    required_permissions = ["pharmacy.view_patient"]

    def get_queryset(self):
        fills = Fill.objects.with_work_details()
        params = self.request.query_params
        if wanted := params.get("status", "").strip():
            if wanted not in Fill.Status.values:
                raise APIError(
                    "invalid_status",
                    f"{wanted!r} is not a fill status; use one of {', '.join(Fill.Status.values)}.",
                    allowed=Fill.Status.values,
                )
            fills = fills.filter(status=wanted)
        if (prescription := _digits_parameter(params, "prescription")) is not None:
            fills = fills.filter(prescription_id=prescription)
        if (order := _digits_parameter(params, "order")) is not None:
            fills = fills.filter(order_id=order)
        return fills.order_by(*QUEUE_ORDER)

    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        shown = {row["patient"] for row in response.data["results"] if row["patient"]}
        record_audit_event(
            actor=request.user,
            action=AuditEvent.Action.SEARCH,
            request=request,
            patients=[Patient(pk=pk) for pk in shown],
            summary=f"API fill queue ({len(response.data['results'])} shown)",
        )
        return response


@extend_schema(responses={200: FillDetailSerializer, 404: ErrorSerializer})
class FillDetailView(generics.RetrieveAPIView):
    """One fill with its drug-check alerts and overrides, events, holds, scans,
    discrepancies and the remainders split off it."""

    serializer_class = FillDetailSerializer
    required_permissions = ["pharmacy.view_patient"]
    queryset = Fill.objects.all()

    def retrieve(self, request, pk: int):
        fill = fill_for_api(pk)
        record_audit_event(
            actor=request.user,
            action=AuditEvent.Action.VIEW,
            request=request,
            obj=fill,
            patient=_patient_of(fill),
        )
        return Response(self.get_serializer(fill).data)


WORKFLOW_RESPONSES = {
    200: FillDetailSerializer,
    400: OpenApiResponse(ErrorSerializer, description="Malformed input; nothing changed."),
    403: OpenApiResponse(
        ErrorSerializer,
        description="Your role may not take this step (role_not_allowed), or you filled "
        "this fill and may not verify it (own_fill).",
    ),
    404: ErrorSerializer,
    409: OpenApiResponse(
        ErrorSerializer,
        description="Refused by the fill's state: wrong_status (someone else moved it), "
        "claimed (someone else works it), or a refusal of the step itself.",
    ),
}


class _FillStepView(generics.GenericAPIView):
    """A step of the workflow: parse the input, call the service, answer with the fill.

    The service locks the fill and checks its state, the role and any claim; its
    WorkflowError becomes the API error with the same code and status. The answer shows
    the patient's fill, so it writes one audit row.
    """

    queryset = Fill.objects.all()
    summary = ""

    def take_step(self, fill: Fill, data: dict, user) -> str:
        """Call the service; return what the audit row says was done."""
        raise NotImplementedError

    # The request body is each step's serializer_class (none for claim and unclaim).
    @extend_schema(responses=WORKFLOW_RESPONSES, tags=["fills"])
    def post(self, request, pk: int):
        fill = get_object_or_404(Fill.objects.select_related("prescription"), pk=pk)
        data = {}
        if self.serializer_class is not None:
            given = self.get_serializer(data=request.data)
            given.is_valid(raise_exception=True)
            data = given.validated_data
        try:
            done = self.take_step(fill, data, request.user)
        except WorkflowError as refused:
            raise APIError(refused.code, refused.detail, refused.status, **refused.extra) from None
        fill = fill_for_api(pk)
        record_audit_event(
            actor=request.user,
            action=AuditEvent.Action.UPDATE,
            request=request,
            obj=fill,
            patient=_patient_of(fill),
            summary=f"{done} (API)",
        )
        return Response(FillDetailSerializer(fill).data)


class FillPV1View(_FillStepView):
    """PV1: a pharmacist approves (every drug-check alert overridden with a coded reason)
    or rejects the fill back to intake with a reason."""

    serializer_class = PV1DecisionSerializer
    required_permissions = ["pharmacy.verify_prescriptions"]

    def take_step(self, fill, data, user) -> str:
        if data["decision"] == "reject":
            reject_pv1(fill, by=user, reason=data["reason"])
            return "PV1 rejected"
        overrides = [
            Override(given["alert"], given["reason_code"], given["note"])
            for given in data["overrides"]
        ]
        approve_pv1(fill, by=user, overrides=overrides)
        return "PV1 approved"


class FillFillView(_FillStepView):
    """The fill step: the stock bottle's scan and the counted quantity. 409 when the scan
    is not the verified product, the lot is expired, quarantined, recalled or expires
    before the supply ends, stock is short, or the quantity is not right; the refused
    scan is recorded."""

    serializer_class = FillInputSerializer
    required_permissions = ["pharmacy.work_technician_queues"]

    def take_step(self, fill, data, user) -> str:
        fill_with_scan(
            fill,
            by=user,
            scan=data["scan"],
            quantity=data["quantity"],
            lot_number=data["lot"],
            partial=data["partial"],
            rotation_reason=data["rotation_reason"],
        )
        return "Filled" + (" (partial fill)" if data["partial"] else "")


class FillPV2View(_FillStepView):
    """PV2: a pharmacist who did not fill it approves (scanning the vial label) or rejects
    it back to the fill step with a reason (the units return to their lot)."""

    serializer_class = PV2DecisionSerializer
    required_permissions = ["pharmacy.verify_prescriptions"]

    def take_step(self, fill, data, user) -> str:
        if data["decision"] == "reject":
            reject_pv2(
                fill, by=user, reason=data["reason"], discrepancy_kind=data["discrepancy_kind"]
            )
            return "PV2 rejected"
        scans = {key: data[key] for key in ("scan", "stock_scan", "entry", "typed_reason")}
        approve_pv2(fill, by=user, **scans)
        return "PV2 approved"


class FillHoldView(_FillStepView):
    """Put a fill on hold with a coded reason and a note."""

    serializer_class = HoldInputSerializer
    required_permissions = ["pharmacy.work_technician_queues"]

    def take_step(self, fill, data, user) -> str:
        hold_fill(fill, by=user, reason_code=data["reason_code"], note=data["note"])
        return f"Put on hold ({data['reason_code']})"


class FillReleaseView(_FillStepView):
    """Release a fill from hold to the step it was held at."""

    serializer_class = ReleaseInputSerializer
    required_permissions = ["pharmacy.work_technician_queues"]

    def take_step(self, fill, data, user) -> str:
        correction = Correction(
            **{key: data[key] for key in ("directions", "quantity", "drug_ndc")}
        )
        release_fill(fill, by=user, note=data["note"], correction=correction)
        return "Released from hold"


class _BodylessFillStepView(_FillStepView):
    """A step that takes no body (claim, unclaim): a schema of its own."""

    serializer_class = None
    required_permissions = ["pharmacy.work_technician_queues"]

    @extend_schema(request=None, responses=WORKFLOW_RESPONSES, tags=["fills"])
    def post(self, request, pk: int):
        return super().post(request, pk)


class FillClaimView(_BodylessFillStepView):
    """Claim a fill so nobody else works it (taken over when the claim is stale)."""

    def take_step(self, fill, data, user) -> str:
        claim_fill(fill, by=user)
        return "Claimed"


class FillUnclaimView(_BodylessFillStepView):
    """Let go of one's claim on a fill."""

    def take_step(self, fill, data, user) -> str:
        unclaim_fill(fill, by=user)
        return "Claim released"


# --------------------------------------------------------------------------- orders


@extend_schema(responses={200: OrderSerializer, 404: ErrorSerializer})
class OrderDetailView(generics.RetrieveAPIView):
    """An order: its fills, its status (from the fills) and its shipments."""

    serializer_class = OrderSerializer
    required_permissions = ["pharmacy.view_patient"]
    queryset = Order.objects.select_related("patient").prefetch_related(
        Prefetch("fills", queryset=Fill.objects.with_work_details().order_by("pk"))
    )

    def retrieve(self, request, pk: int):
        order = self.load_order(pk)
        record_audit_event(
            actor=request.user,
            action=AuditEvent.Action.VIEW,
            request=request,
            obj=order,
            patient=order.patient,
        )
        return Response(self.get_serializer(order).data)

    def load_order(self, pk: int) -> Order:
        """The order to show."""
        return get_object_or_404(self.get_queryset(), pk=pk)


# --------------------------------------------------------------------------- recalls


@extend_schema(
    parameters=LOT_TRACE_PARAMETERS,
    responses={
        200: RecallTraceSerializer,
        400: OpenApiResponse(ErrorSerializer, description="ndc or lot missing or malformed."),
        404: OpenApiResponse(ErrorSerializer, description="No such lot in stock records."),
    },
)
class RecallTraceView(LotTraceView):
    """Every dispensing of a lot from the stock ledger, oldest first, with the fill,
    prescription and patient that received it (DESIGN.md section 6). Shipments join
    when the shipping app exists. One audit row names the patients shown."""

    serializer_class = RecallTraceSerializer

    def lot_trace(self, ndc: str, lot_number: str):
        return trace_recalled_lot(ndc, lot_number)

    def get(self, request):
        response = super().get(request)
        if response.status_code == status.HTTP_200_OK:
            shown = {row["patient"] for row in response.data["dispensings"] if row["patient"]}
            record_audit_event(
                actor=request.user,
                action=AuditEvent.Action.SEARCH,
                request=request,
                patients=[Patient(pk=pk) for pk in shown],
                summary=f"Recall trace of lot {response.data['lot']} ({len(shown)} patients)",
            )
        return response
