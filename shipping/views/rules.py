"""The packaging rules, carrier service levels and holiday calendar a manager keeps, as
data; the packer sees their effect as instructions."""

from datetime import timedelta

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from pharmacy.access import staff_permission_required
from shipping.forms import CarrierHolidayForm, CarrierServiceForm, ShippingRulesForm
from shipping.models import Carrier, CarrierHoliday, CarrierService
from shipping.services import settings_admin
from shipping.services.shipments import ShippingError
from shipping.views._common import MANAGE_RULES


def _rules_page(
    request, *, rules_form=None, service_forms=None, holiday_form=None, error="", status=200
):
    rules = settings_admin.shipping_rules()
    service_forms = service_forms or {}
    # The built-in carrier first: the one every pharmacy has.
    services = sorted(CarrierService.objects.all(), key=lambda s: s.carrier != Carrier.LOCAL)
    for service in services:
        service.form = service_forms.get(service.pk) or CarrierServiceForm(
            prefix=f"service-{service.pk}", initial=CarrierServiceForm.initial_from(service)
        )
    today = timezone.localdate()
    context = {
        "rules": rules,
        "rules_form": rules_form
        or ShippingRulesForm(prefix="rules", initial=ShippingRulesForm.initial_from(rules)),
        "services": services,
        "holiday_form": holiday_form or CarrierHolidayForm(prefix="holiday"),
        "holidays": list(CarrierHoliday.objects.filter(day__gte=today - timedelta(days=31))),
        "error": error,
    }
    return render(request, "shipping/rules.html", context, status=status)


@staff_permission_required(MANAGE_RULES)
def shipping_rules(request):
    """The packaging rules, carrier service levels and holiday calendar, as data a manager
    changes; the packer sees their effect as instructions."""
    if request.method != "POST":
        return _rules_page(request)
    form = ShippingRulesForm(request.POST, prefix="rules")
    if not form.is_valid():
        return _rules_page(request, rules_form=form, status=400)
    try:
        settings_admin.update_shipping_rules(
            settings_admin.shipping_rules(), by=request.user, **form.cleaned_data
        )
    except ShippingError as error:
        return _rules_page(request, rules_form=form, error=error.detail, status=error.status)
    messages.success(request, "Packaging rules saved: they apply to packages packed from now.")
    return redirect("shipping_rules")


@require_POST
@staff_permission_required("shipping.change_carrierservice")
def carrier_service_edit(request, pk: int):
    service = get_object_or_404(CarrierService, pk=pk)
    form = CarrierServiceForm(request.POST, prefix=f"service-{service.pk}")
    if not form.is_valid():
        return _rules_page(request, service_forms={service.pk: form}, status=400)
    try:
        settings_admin.update_carrier_service(service, by=request.user, **form.cleaned_data)
    except ShippingError as error:
        return _rules_page(
            request, service_forms={service.pk: form}, error=error.detail, status=error.status
        )
    messages.success(request, f"{service} saved.")
    return redirect("shipping_rules")


@require_POST
@staff_permission_required("shipping.add_carrierholiday")
def carrier_holiday_add(request):
    form = CarrierHolidayForm(request.POST, prefix="holiday")
    if not form.is_valid():
        return _rules_page(request, holiday_form=form, status=400)
    data = form.cleaned_data
    try:
        holiday = settings_admin.set_carrier_holiday(
            data["day"], carrier=data["carrier"], name=data["name"].strip(), by=request.user
        )
    except ShippingError as error:
        return _rules_page(request, holiday_form=form, error=error.detail, status=error.status)
    messages.success(request, f"{holiday.day:%Y-%m-%d} ({holiday.name}) is a carrier holiday.")
    return redirect("shipping_rules")


@require_POST
@staff_permission_required("shipping.delete_carrierholiday")
def carrier_holiday_remove(request, pk: int):
    holiday = get_object_or_404(CarrierHoliday, pk=pk)
    settings_admin.remove_carrier_holiday(holiday, by=request.user)
    messages.success(request, f"{holiday.day:%Y-%m-%d} ({holiday.name}) removed.")
    return redirect("shipping_rules")
