"""The prescription page, and its original document (the fax image or PDF) served to
staff only; each view is audited.
"""

from pathlib import PurePath

from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from orders.forms import INLINE_IMAGE_KINDS, original_document_type
from orders.models import IntakeIssue, Prescription
from orders.views._common import TECHNICIAN_WORK, _quantity_words
from pharmacy.access import staff_permission_required
from pharmacy.models import AuditEvent
from pharmacy.services import record_audit_event


def _original(prescription: Prescription) -> dict | None:
    if not prescription.original_document:
        return None
    kind, _ = original_document_type(prescription.original_document.name) or ("File", "")
    return {"kind": kind, "inline": kind in INLINE_IMAGE_KINDS}


@staff_permission_required(TECHNICIAN_WORK)
def prescription_detail(request, pk: int):
    prescription = get_object_or_404(
        Prescription.objects.select_related("patient", "prescriber", "product"), pk=pk
    )
    fills = list(prescription.fills.select_related("order"))
    alerts = list(prescription.dur_alerts.select_related("fill"))
    record_audit_event(
        actor=request.user,
        action=AuditEvent.Action.VIEW,
        request=request,
        obj=prescription,
        patient=prescription.patient,
        summary=f"Rx {prescription.rx_number}",
    )
    context = {
        "prescription": prescription,
        "fills": fills,
        "alerts": alerts,
        "refills_remaining": prescription.refills_remaining(),
        "issues": [IntakeIssue(i).label for i in prescription.intake_issues],
        "original": _original(prescription),
        "quantity_text": _quantity_words(prescription.quantity, prescription.quantity_unit),
        "scheduled_refills": list(prescription.scheduled_refills.select_related("fill")),
    }
    return render(request, "orders/prescription_detail.html", context)


@require_GET
@staff_permission_required(TECHNICIAN_WORK)
def prescription_original(request, pk: int):
    """The image or PDF of the original, served only to staff and audited as a view."""
    prescription = get_object_or_404(Prescription.objects.select_related("patient"), pk=pk)
    document = prescription.original_document
    content = original_document_type(document.name) if document else None
    if content is None:
        raise Http404("This prescription has no original document.")
    record_audit_event(
        actor=request.user,
        action=AuditEvent.Action.VIEW,
        request=request,
        obj=prescription,
        patient=prescription.patient,
        summary=f"Original of Rx {prescription.rx_number}",
    )
    response = FileResponse(document.open("rb"), content_type=content[1])
    suffix = PurePath(document.name).suffix.lower()
    response["Content-Disposition"] = f'inline; filename="rx-{prescription.rx_number}{suffix}"'
    response["Cache-Control"] = "private, no-store"
    return response
