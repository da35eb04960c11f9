"""Manual entry of phone and fax prescriptions, typed from the original (kept as an
image or PDF) and saved through intake, with the live preview of the sig's directions and
days supply.
"""

import re

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from orders.forms import ORIGINAL_TYPES, ManualEntryForm
from orders.intake.messages import IntakeError
from orders.services.intake import receive_prescription
from orders.sig import days_supply_from_sig, expand_sig
from orders.units import dispensing_unit
from orders.views._common import TECHNICIAN_WORK
from orders.views.pickers import _chosen
from pharmacy.access import staff_permission_required

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
