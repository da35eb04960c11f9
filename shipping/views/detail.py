"""One shipment's record: the address as it was, packaging, carrier and tracking, the
vials inside, every event, its documents, and its delivery exceptions, reported and
resolved here."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from orders.models import Fill
from pharmacy.access import staff_permission_required
from pharmacy.models import Role
from shipping.forms import ReportExceptionForm, ResolveExceptionForm
from shipping.models import DeliveryException, Shipment, ShippingDocument
from shipping.services.documents import document_pdf
from shipping.services.shipments import (
    ShippingError,
    report_delivery_exception,
    resolve_delivery_exception,
)
from shipping.views._common import (
    REPORT_EXCEPTIONS,
    RESOLVE_EXCEPTIONS,
    VIEW_SHIPMENTS,
    WORK_SHIPMENTS,
    Status,
    _audit_shipment,
    _fills,
    _pdf_response,
    _shipment_or_404,
    label_url,
)
from shipping.views.lists import SHIPMENT_LISTS


def _can_report_exception(user, shipment: Shipment) -> bool:
    """Staff report a problem once the package has left (the service's rule)."""
    left = shipment.status not in (Status.AWAITING_PACKING, Status.PACKED, Status.LABELLED)
    return left and user.has_perm(REPORT_EXCEPTIONS)


def _detail_page(request, shipment: Shipment, *, report_form=None, resolve_forms=None, error=""):
    fills = _fills(shipment)
    fill_ids = [fill.pk for fill in fills]
    exceptions = list(
        shipment.exceptions.select_related("reported_by", "resolved_by", "reship").order_by(
            "reported_at", "pk"
        )
    )
    events = list(shipment.events.select_related("actor"))
    labels = dict(Status.choices)
    for event in events:
        event.from_label = labels.get(event.from_status, event.from_status)
        event.to_label = labels.get(event.to_status, event.to_status)
    resolve_forms = resolve_forms or {}
    for exception in exceptions:
        if exception.is_open:
            exception.form = resolve_forms.get(exception.pk) or ResolveExceptionForm(
                prefix=f"resolve-{exception.pk}",
                fills=Fill.objects.filter(pk__in=fill_ids),
            )
    context = {
        "shipment": shipment,
        "patient": shipment.order.patient,
        "fills": fills,
        "events": events,
        "documents": list(shipment.documents.defer("pdf")),
        "exceptions": exceptions,
        "reships": list(shipment.reships.all()),
        "report_form": report_form or ReportExceptionForm(prefix="report"),
        "can_report": _can_report_exception(request.user, shipment),
        "can_resolve": request.user.has_perm(RESOLVE_EXCEPTIONS),
        # Only a pharmacist dispenses product again (the service's rule).
        "can_replace": request.user.role == Role.PHARMACIST,
        "can_work": request.user.has_perm(WORK_SHIPMENTS),
        "label_url": label_url(shipment),
        "error": error,
        "list_title": SHIPMENT_LISTS[shipment.status].title,
    }
    _audit_shipment(request, shipment, "Shipment")
    status = 400 if error or (report_form and report_form.errors) or resolve_forms else 200
    return render(request, "shipping/shipment_detail.html", context, status=status)


@require_GET
@staff_permission_required(VIEW_SHIPMENTS)
def shipment_detail(request, pk: int):
    """A shipment's record: the address as it was, the packaging, carrier and tracking,
    the vials inside, every event, the documents, exceptions with their resolutions."""
    return _detail_page(request, _shipment_or_404(pk))


@require_POST
@staff_permission_required(REPORT_EXCEPTIONS)
def shipment_report_exception(request, pk: int):
    shipment = _shipment_or_404(pk)
    form = ReportExceptionForm(request.POST, prefix="report")
    if not form.is_valid():
        return _detail_page(request, shipment, report_form=form)
    try:
        report_delivery_exception(
            shipment,
            by=request.user,
            kind=form.cleaned_data["kind"],
            description=form.cleaned_data["description"].strip(),
        )
    except ShippingError as error:
        return _detail_page(request, shipment, report_form=form, error=error.detail)
    messages.success(request, f"Exception reported on {shipment.package_code}.")
    return redirect("shipment_detail", pk=shipment.pk)


@require_POST
@staff_permission_required(RESOLVE_EXCEPTIONS)
def exception_resolve(request, pk: int):
    exception = get_object_or_404(DeliveryException.objects.select_related("shipment"), pk=pk)
    shipment = _shipment_or_404(exception.shipment_id)
    fills = Fill.objects.filter(pk__in=[fill.pk for fill in _fills(shipment)])
    form = ResolveExceptionForm(request.POST, prefix=f"resolve-{exception.pk}", fills=fills)
    if not form.is_valid():
        return _detail_page(request, shipment, resolve_forms={exception.pk: form})
    data = form.cleaned_data
    try:
        exception = resolve_delivery_exception(
            exception,
            by=request.user,
            resolution=data["resolution"].strip(),
            reship=data["reship"],
            replace_fills=list(data["replace_fills"]),
        )
    except ShippingError as error:
        return _detail_page(
            request, shipment, resolve_forms={exception.pk: form}, error=error.detail
        )
    if exception.reship_id:
        replaced = len(data["replace_fills"])
        messages.success(
            request,
            "Exception resolved: the order ships again"
            + (
                f"; {replaced} fill{'s' if replaced != 1 else ''} to replace wait for the "
                "fill workflow."
                if replaced
                else "."
            ),
        )
        return redirect("shipment_detail", pk=exception.reship_id)
    messages.success(request, "Exception resolved.")
    return redirect("shipment_detail", pk=shipment.pk)


@require_GET
@staff_permission_required(VIEW_SHIPMENTS)
def shipment_document(request, pk: int, document_id: int):
    """A label or packing slip of the shipment as stored, audited as a view."""
    shipment = _shipment_or_404(pk)
    document = get_object_or_404(ShippingDocument, pk=document_id, shipment=shipment)
    _audit_shipment(request, shipment, document.get_kind_display())
    return _pdf_response(bytes(document.pdf), f"{document.kind}-{shipment.package_code}.pdf")


@require_GET
@staff_permission_required(VIEW_SHIPMENTS)
def shipment_packing_slip(request, pk: int):
    """The package's packing slip to print before packing (its barcode is the first scan
    at the packing station): the stored one, or while the worker has not stored it yet
    the same PDF rendered now (and not stored)."""
    shipment = _shipment_or_404(pk)
    try:
        slip = document_pdf(shipment, ShippingDocument.Kind.PACKING_SLIP)
    except ShippingError as error:
        messages.error(request, f"No packing slip: {error.detail}")
        return redirect("shipment_detail", pk=shipment.pk)
    _audit_shipment(request, shipment, "Packing slip")
    return _pdf_response(slip, f"packing-slip-{shipment.package_code}.pdf")
