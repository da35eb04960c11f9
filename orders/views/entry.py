"""Manual entry of phone and fax prescriptions, typed from the original (kept as an
image or PDF) and saved through intake, with the patient's medications and allergies shown
as soon as the patient is picked, and the live preview of the sig's directions and days
supply.
"""

import re

from django.conf import settings
from django.contrib import messages
from django.db.models import Prefetch
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from inventory.models import ProductIngredient
from orders.forms import ORIGINAL_TYPES, ManualEntryForm
from orders.intake.messages import IntakeError
from orders.models import Prescription
from orders.services.intake import pharmacist_required_for, receive_prescription
from orders.sig import days_supply_from_sig, expand_sig
from orders.units import dispensing_unit
from orders.views._common import TECHNICIAN_WORK
from orders.views.pickers import _chosen
from pharmacy.access import staff_permission_required
from pharmacy.models import AuditEvent, Patient
from pharmacy.services import record_audit_event

_POSITIVE_NUMBER = re.compile(r"^\d{1,7}(\.\d{1,3})?$")


def _sig_context(sig_text: str, quantity: str, quantity_unit: str) -> dict:
    unit = dispensing_unit(quantity_unit) or "tablet"
    sig_text, quantity = sig_text.strip()[:1000], quantity.strip()
    if not _POSITIVE_NUMBER.match(quantity) or not float(quantity):
        quantity = ""  # nothing to work a days supply out from yet
    return {
        "directions": expand_sig(sig_text, unit=unit) if sig_text else "",
        "days_supply": days_supply_from_sig(sig_text, quantity, unit=unit) if quantity else None,
        "quantity": quantity,
    }


def _manual_entry_page(request, form: ManualEntryForm, *, status: int = 200):
    context = {
        "form": form,
        "chosen": _chosen(form),
        "accept": ",".join(ORIGINAL_TYPES),
        "preview": _sig_context(
            form.data.get("sig_text", ""),
            form.data.get("quantity", ""),
            form.data.get("quantity_unit", ""),
        ),
        "reupload": bool(request.FILES) and "original_document" not in form.errors,
        "caller_fields": [form["caller_office"], form["caller_name"], form["callback_phone"]],
        "pharmacist_states": ", ".join(sorted(settings.VERBAL_ORDER_PHARMACIST_STATES)),
    }
    return render(request, "orders/manual_entry.html", context, status=status)


@staff_permission_required(TECHNICIAN_WORK)
def manual_entry(request):
    """A phone or fax prescription typed from its original; saved through intake."""
    if request.method != "POST":
        return _manual_entry_page(request, ManualEntryForm())
    form = ManualEntryForm(request.POST, request.FILES)
    if form.is_valid():
        data = form.cleaned_data
        days_supply = data["days_supply"]
        if days_supply is None:
            days_supply = days_supply_from_sig(
                data["sig_text"], data["quantity"], unit=dispensing_unit(data["quantity_unit"])
            )
        try:
            result = receive_prescription(
                form.incoming_prescription(days_supply=days_supply),
                channel=data["channel"],
                by=request.user,
                original_document=data["original_document"],
                patient=data["patient"],
                prescriber=data["prescriber"],
                product=data["product"],
                verbal_order=form.verbal_order(),
            )
        except IntakeError as error:
            form.add_intake_error(error)
        else:
            prescription = result.prescription
            messages.success(request, f"Rx {prescription.rx_number} saved.")
            return redirect("prescription_detail", pk=prescription.pk)
    return _manual_entry_page(request, form, status=400)


@require_GET
@staff_permission_required(TECHNICIAN_WORK)
def sig_preview(request):
    """The label's directions and the days supply, as the technician types the sig."""
    context = _sig_context(
        request.GET.get("sig_text", ""),
        request.GET.get("quantity", ""),
        request.GET.get("quantity_unit", ""),
    )
    return render(request, "orders/_sig_preview.html", context)


@require_GET
@staff_permission_required(TECHNICIAN_WORK)
def patient_panel(request):
    """The picked patient's active medications and allergies, shown on the entry form
    before anything is saved, and whether a phone order for them must name the
    pharmacist who took it."""
    patient_id = request.GET.get("patient", "").strip()
    if not patient_id:
        return render(request, "orders/_patient_panel.html", {})
    patient = (
        Patient.objects.active()
        .filter(pk=int(patient_id))
        .prefetch_related("allergies", "addresses")
        .first()
        if patient_id.isdigit() and len(patient_id) <= 9
        else None
    )
    if patient is None:
        error = "That patient record is no longer in use (merged or removed); search again."
        return render(request, "orders/_patient_panel.html", {"error": error}, status=404)
    medications = list(
        Prescription.objects.current_medications_of(patient.pk)
        .select_related("product")
        .prefetch_related(
            Prefetch(
                "product__strengths",
                queryset=ProductIngredient.objects.select_related("ingredient"),
            )
        )
    )
    record_audit_event(
        actor=request.user,
        action=AuditEvent.Action.VIEW,
        request=request,
        obj=patient,
        patient=patient,
        summary="Medications and allergies in phone or fax entry",
    )
    context = {
        "patient": patient,
        "medications": medications,
        "allergies": list(patient.allergies.all()),
        "pharmacist_required": pharmacist_required_for(patient),
    }
    return render(request, "orders/_patient_panel.html", context)
