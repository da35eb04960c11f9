"""Refills requested by phone: the technician types or scans the Rx number and the
patient's birth date.
"""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from orders.forms import RefillRequestForm
from orders.models import DurAlert, Fill, ScheduledRefill
from orders.services.intake import RefillRefused, request_refill, schedule_refill
from orders.services.intake.scheduled_refills import cancel_scheduled_refill
from orders.views._common import TECHNICIAN_WORK, _quantity_words
from pharmacy.access import staff_permission_required


@staff_permission_required(TECHNICIAN_WORK)
def refill_request(request):
    """A patient on the phone asks for a refill: Rx number (or vial scan) and birth date."""
    if request.method != "POST":
        return render(request, "orders/refill_request.html", {"form": RefillRequestForm()})
    form = RefillRequestForm(request.POST)
    if not form.is_valid():
        return render(request, "orders/refill_request.html", {"form": form}, status=400)
    try:
        if "schedule" in request.POST:
            # Asked for too soon: the patient need not call back on the day.
            scheduled = schedule_refill(
                form.cleaned_data["rx_number"],
                date_of_birth=form.cleaned_data["date_of_birth"],
                fill_on=form.cleaned_data["fill_on"],
                by=request.user,
            )
            context = {"form": RefillRequestForm(), "scheduled": scheduled}
            return render(request, "orders/refill_request.html", context)
        fill = request_refill(
            form.cleaned_data["rx_number"],
            date_of_birth=form.cleaned_data["date_of_birth"],
            by=request.user,
        )
    except RefillRefused as refusal:
        context = {"form": form, "refusal": refusal}
        return render(request, "orders/refill_request.html", context, status=refusal.status_code)
    prescription = fill.prescription
    context = {
        # A fresh form: the next caller's Rx number can be scanned straight away.
        "form": RefillRequestForm(),
        "fill": fill,
        "prescription": prescription,
        "alerts": list(DurAlert.objects.filter(fill=fill)),
        "refills_remaining": prescription.refills_remaining(),
        "fill_status": Fill.Status(fill.status).label,
        "quantity_text": _quantity_words(fill.quantity, prescription.quantity_unit),
    }
    return render(request, "orders/refill_request.html", context)


@require_POST
@staff_permission_required(TECHNICIAN_WORK)
def scheduled_refill_cancel(request, pk: int):
    """Cancel a scheduled refill from its prescription's page (the patient no longer
    wants it), with an optional note."""
    scheduled = get_object_or_404(ScheduledRefill, pk=pk)
    try:
        cancel_scheduled_refill(scheduled, by=request.user, note=request.POST.get("note", ""))
    except RefillRefused as refusal:
        messages.error(request, refusal.detail)
    else:
        messages.success(request, f"The refill scheduled for {scheduled.fill_on} is cancelled.")
    return redirect("prescription_detail", pk=scheduled.prescription_id)
