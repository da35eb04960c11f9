"""The packing station, built for a scanner: the packing slip's scan opens its shipment,
each vial's label is ticked as it is scanned, the weight closes the package, and the
carrier label prints as soon as it is ready."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET

from orders.models import ScanEntry
from pharmacy.access import staff_permission_required
from pharmacy.models import Role
from shipping.forms import PackForm, PackingSlipScanForm
from shipping.models import Shipment, ShippingDocument
from shipping.services.documents import current_document
from shipping.services.shipments import ShippingError, label_purchase_problem, pack_shipment
from shipping.views._common import (
    VIEW_SHIPMENTS,
    WORK_SHIPMENTS,
    Status,
    _audit_shipment,
    _fills,
    _shipment_or_404,
    label_url,
)
from shipping.views.lists import SHIPMENT_LISTS

LABEL_POLL_SECONDS = 2


def _find_for_packing(code: str) -> Shipment | None:
    """The shipment a packing slip's scan names: its package id (PKG-...), or the order
    number typed from the slip (its shipment waiting to be packed, else its newest)."""
    if code.startswith("PKG-"):
        return Shipment.objects.filter(package_code=code).first()
    digits = code.removeprefix("ORDER").strip(" -#")
    if not digits.isdigit() or len(digits) > 18:
        return None
    shipments = Shipment.objects.filter(order_id=int(digits))
    return (
        shipments.filter(status=Status.AWAITING_PACKING).order_by("pk").first()
        or shipments.order_by("-pk").first()
    )


@staff_permission_required(WORK_SHIPMENTS)
def packing_start(request):
    """The packing station's first scan: the packing slip opens its shipment."""
    if request.method != "POST":
        return render(request, "shipping/packing_start.html", {"form": PackingSlipScanForm()})
    form = PackingSlipScanForm(request.POST)
    shipment = _find_for_packing(form.cleaned_data["code"]) if form.is_valid() else None
    if shipment is None:
        if form.is_valid():
            form.add_error(
                "code",
                f"No package or order has the code “{form.cleaned_data['code']}”. Scan the "
                "barcode at the top of the packing slip, or type the order number.",
            )
        # A fresh scan field: the next scan must not land after the refused one.
        context = {"form": PackingSlipScanForm(), "errors": form.errors.get("code", [])}
        return render(request, "shipping/packing_start.html", context, status=404)
    return redirect("packing_station", pk=shipment.pk)


# The service's refusals of a scan: a hard stop at the station.
SCAN_REFUSALS = frozenset(
    {"wrong_vial", "wrong_packing_slip", "unknown_code", "vials_missing", "typed_code"}
)


def _station_page(
    request, shipment: Shipment, *, form=None, error="", is_scan_refusal=False, status=200
):
    fills = _fills(shipment)
    scanned = set(getattr(form, "cleaned_data", {}).get("scans", []))
    expected = {fill.label_code for fill in fills}
    context = {
        "shipment": shipment,
        "patient": shipment.order.patient,
        "fills": fills,
        # What was scanned before a refusal stays ticked: the packer does not start over.
        "scanned": sorted(scanned & expected),
        "form": form or PackForm(),
        "error": error,
        "is_scan_refusal": is_scan_refusal,
        "is_open": shipment.status == Status.AWAITING_PACKING,
        "list_title": SHIPMENT_LISTS[shipment.status].title,
        "label_url": label_url(shipment),
        "label_poll_seconds": LABEL_POLL_SECONDS,
        "label_ready": _label_ready(shipment),
        "label_problem": label_purchase_problem(shipment),
        "next_form": PackingSlipScanForm(),
        # Typed vial codes are taken only from a pharmacist, with a reason.
        "may_type_codes": request.user.role == Role.PHARMACIST,
        "entry": getattr(form, "cleaned_data", {}).get("entry", ""),
    }
    _audit_shipment(request, shipment, "Packing station")
    return render(request, "shipping/packing_station.html", context, status=status)


def _label_ready(shipment: Shipment) -> bool:
    return (
        shipment.status not in (Status.AWAITING_PACKING, Status.PACKED)
        and current_document(shipment, ShippingDocument.Kind.LABEL) is not None
    )


@staff_permission_required(WORK_SHIPMENTS)
def packing_station(request, pk: int):
    """The packing station for one package: the packaging instructions, the vials expected
    ticked as their labels are scanned, the weight; POST closes the package (the service
    checks every scan again) and queues its carrier label, which a worker buys; the page
    polls until it prints."""
    shipment = _shipment_or_404(pk)
    if request.method != "POST":
        return _station_page(request, shipment)
    if shipment.status != Status.AWAITING_PACKING:
        messages.info(
            request, f"{shipment.package_code} is {shipment.get_status_display().lower()}."
        )
        return redirect("packing_station", pk=shipment.pk)
    form = PackForm(request.POST)
    if not form.is_valid():
        return _station_page(request, shipment, form=form, status=400)
    try:
        shipment = pack_shipment(
            shipment,
            by=request.user,
            scans=form.cleaned_data["scans"],
            weight_oz=form.cleaned_data["weight_oz"],
            # Not said by the page's script: typed.
            entry=form.cleaned_data["entry"] or ScanEntry.TYPED,
            typed_reason=form.cleaned_data["typed_reason"],
        )
    except ShippingError as error:
        shipment.refresh_from_db()
        return _station_page(
            request,
            shipment,
            form=form,
            error=error.detail,
            is_scan_refusal=error.code in SCAN_REFUSALS,
            status=error.status,
        )
    messages.success(
        request,
        f"{shipment.package_code} closed ({form.cleaned_data['weight_oz']} oz). "
        "The carrier label prints as soon as it is ready.",
    )
    return redirect("packing_station", pk=shipment.pk)


@require_GET
@staff_permission_required(VIEW_SHIPMENTS)
def shipment_label_status(request, pk: int):
    """Where the package's label is, polled by the packing station until it is ready (no
    patient data: the status, the carrier, the tracking number, why the carrier has not
    sold it yet)."""
    shipment = get_object_or_404(Shipment.objects.select_related("service"), pk=pk)
    context = {
        "shipment": shipment,
        "label_ready": _label_ready(shipment),
        "label_problem": label_purchase_problem(shipment),
        "label_url": label_url(shipment),
        "label_poll_seconds": LABEL_POLL_SECONDS,
    }
    return render(request, "shipping/_label_status.html", context)
