"""Handing labelled packages to the carrier: scanned one by one as the driver takes them,
or one from the list."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from pharmacy.access import staff_permission_required
from shipping.forms import HandOverForm
from shipping.models import Shipment
from shipping.services.shipments import ShippingError, hand_over_to_carrier
from shipping.views._common import WORK_SHIPMENTS, Status


def _hand_over(request, shipment: Shipment):
    try:
        hand_over_to_carrier([shipment], by=request.user)
    except ShippingError as error:
        messages.error(request, f"{shipment.package_code} not handed over: {error.detail}")
    else:
        messages.success(
            request,
            f"{shipment.package_code} handed to {shipment.get_carrier_display() or 'the carrier'}.",
        )
    return redirect("shipment_list", status=Status.LABELLED)


@require_POST
@staff_permission_required(WORK_SHIPMENTS)
def hand_over_scan(request):
    """A labelled package scanned (its package id) as the driver takes it."""
    form = HandOverForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors["code"]))
        return redirect("shipment_list", status=Status.LABELLED)
    shipment = Shipment.objects.filter(package_code=form.cleaned_data["code"]).first()
    if shipment is None:
        messages.error(request, f"No package has the id “{form.cleaned_data['code']}”.")
        return redirect("shipment_list", status=Status.LABELLED)
    return _hand_over(request, shipment)


@require_POST
@staff_permission_required(WORK_SHIPMENTS)
def shipment_hand_over(request, pk: int):
    return _hand_over(request, get_object_or_404(Shipment, pk=pk))
