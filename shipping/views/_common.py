"""What the shipping pages share: the permissions that open them, finding a shipment
and auditing its view, the vials it holds, its label's address, and PDF responses."""

from django.db.models import prefetch_related_objects
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse

from orders.models import Fill
from pharmacy.models import AuditEvent
from pharmacy.services import record_audit_event
from shipping.models import Shipment
from shipping.services.shipments import shipment_fills

# Who sees and does what (pharmacy/roles.py gives these to the roles).
VIEW_SHIPMENTS = "shipping.view_shipment"
WORK_SHIPMENTS = "shipping.change_shipment"  # pack, hand over: technicians, pharmacists
REPORT_EXCEPTIONS = "shipping.add_deliveryexception"
RESOLVE_EXCEPTIONS = "shipping.change_deliveryexception"
VIEW_BATCHES = "shipping.view_labelbatch"
PRINT_BATCHES = "shipping.add_labelbatch"
VIEW_MANIFESTS = "shipping.view_manifest"
BUILD_MANIFESTS = "shipping.add_manifest"
MANAGE_RULES = "shipping.change_shippingrules"

Status = Shipment.Status


def _fills(shipment: Shipment) -> list[Fill]:
    """The vials that travel in the package, as packing checks them, with their products'
    strengths (each vial is named with ``Product.full_description``)."""
    fills = shipment_fills(shipment)
    prefetch_related_objects(fills, "prescription__product__strengths")
    return fills


def _shipment_or_404(pk: int) -> Shipment:
    return get_object_or_404(
        Shipment.objects.select_related("order__patient", "service", "packed_by", "reship_of"),
        pk=pk,
    )


def _audit_shipment(request, shipment: Shipment, what: str) -> None:
    record_audit_event(
        actor=request.user,
        action=AuditEvent.Action.VIEW,
        request=request,
        obj=shipment,
        patient=shipment.order.patient,
        summary=f"{what} of {shipment.package_code}",
    )


def label_url(shipment: Shipment) -> str:
    """The contract's carrier label; the API view takes the browser's session too."""
    return reverse("api_shipment_label", args=[shipment.pk])


def _pdf_response(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response
