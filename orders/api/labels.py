"""The Rx vial label of a fill as PDF: ``GET /api/v1/fills/{id}/label.pdf`` (DESIGN.md
section 6). Its barcode carries the fill's ``label_code``."""

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.views import APIView

from inventory.api.serializers import ErrorSerializer
from lib.api_errors import APIError
from orders.models import Fill
from orders.services.labels import RxLabelError, rx_label_pdf
from pharmacy.models import AuditEvent
from pharmacy.services import record_audit_event


class FillLabelView(APIView):
    """The fill's Rx vial label: the one the worker stored, or, while it has not stored
    the label of the fill's data as they are now, the same PDF rendered on the spot and
    stored by nobody (a read never writes).

    A fill that has not passed PV1 (intake, PV1, cancelled) has no label: 409. Errors are
    JSON whatever the client accepts, so a PDF viewer asking for ``application/pdf``
    still reads why.
    """

    required_permissions = ["pharmacy.work_technician_queues", "pharmacy.view_patient"]

    def perform_content_negotiation(self, request, force=False):
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        operation_id="fill_label_pdf",
        responses={
            (200, "application/pdf"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The label, one 4 x 2.5 inch page."
            ),
            403: ErrorSerializer,
            404: ErrorSerializer,
            409: OpenApiResponse(
                ErrorSerializer,
                description="The fill has not passed PV1 (`label_not_ready`) or was "
                "cancelled (`fill_cancelled`).",
            ),
        },
    )
    def get(self, request, pk: int):
        fill = get_object_or_404(Fill.objects.select_related("prescription__patient"), pk=pk)
        try:
            pdf = rx_label_pdf(fill)
        except RxLabelError as error:
            raise APIError(error.code, error.detail, status_code=409) from None
        record_audit_event(
            actor=request.user,
            action=AuditEvent.Action.VIEW,
            request=request,
            obj=fill,
            patient=fill.prescription.patient,
            summary=f"API Rx label of Rx {fill.prescription.rx_number}",
        )
        response = HttpResponse(pdf, content_type="application/pdf")
        response["Content-Disposition"] = (
            f'inline; filename="rx-{fill.prescription.rx_number}-fill-{fill.pk}.pdf"'
        )
        response["Cache-Control"] = "private, no-store"
        # Framed by no page, ours included: the PV2 page and the fill station show the
        # label inline from its HTML (orders.services.labels.rx_label_preview_html).
        return response
