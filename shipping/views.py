"""Browser pages of the shipping app: the shipments per status (refreshing themselves),
the orders that cannot ship and why, a shipment's record with its exceptions, the packing
station built for a scanner, batch printing of carrier labels with a progress bar, the
end-of-day manifests, and the packaging rules a manager keeps.

Pages parse, call ``shipping.services`` and render; every write is a service call whose
``ShippingError`` is shown in its own words. Every page that shows a patient's data writes
one audit row; a list's refresh (the htmx poll) writes one only when it shows a patient
the last row did not name. Pages only read: an order's shipment is made when its last
fill passes PV2 (``shipping.services.shipments.create_shipment_for_order``).
"""

from dataclasses import dataclass
from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.db.models.expressions import RawSQL
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from orders.models import Fill
from orders.views import age_words
from pharmacy.access import staff_permission_required
from pharmacy.models import AuditEvent, Patient, Role
from pharmacy.services import record_audit_event
from shipping.forms import (
    CarrierHolidayForm,
    CarrierServiceForm,
    HandOverForm,
    LabelBatchForm,
    ManifestForm,
    PackForm,
    PackingSlipScanForm,
    ReportExceptionForm,
    ResolveExceptionForm,
    ShippingRulesForm,
)
from shipping.models import (
    Carrier,
    CarrierHoliday,
    CarrierService,
    DeliveryException,
    LabelBatch,
    Manifest,
    Shipment,
    ShippingDocument,
)
from shipping.services import settings_admin
from shipping.services.documents import (
    build_manifest,
    current_document,
    document_pdf,
    label_batch_progress,
    start_label_batch,
)
from shipping.services.shipments import (
    ShippingError,
    blocked_orders,
    hand_over_to_carrier,
    pack_shipment,
    report_delivery_exception,
    resolve_delivery_exception,
    shipment_fills,
)

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

ROWS_PER_PAGE = 50
# As the fill queues: counting stops here (a year of delivered packages is a big count).
COUNT_CAP = 1000
REFRESH_SECONDS = 10
LABEL_POLL_SECONDS = 2
BATCH_POLL_SECONDS = 1
_LIST_SESSION_KEY = "shipment_list_audit"
Status = Shipment.Status

# --------------------------------------------------------------------------- shipment lists


@dataclass(frozen=True)
class ShipmentList:
    """The shipments at one status, and in which order they are shown."""

    status: str
    title: str
    note: str
    oldest_first: bool = True  # work lists: the longest waiting first; finished: newest


SHIPMENT_LISTS = {
    item.status: item
    for item in (
        ShipmentList(
            Status.AWAITING_PACKING,
            "Awaiting packing",
            "Orders whose every fill passed PV2. Scan the packing slip at the packing station.",
        ),
        ShipmentList(Status.PACKED, "Packed", "Closed packages waiting for the carrier's label."),
        ShipmentList(
            Status.LABELLED, "Labelled", "Packages with their label, waiting for the driver."
        ),
        ShipmentList(
            Status.HANDED_TO_CARRIER,
            "Handed to carrier",
            "Packages the carrier took; no tracking event yet.",
        ),
        ShipmentList(Status.IN_TRANSIT, "In transit", "Packages on their way."),
        ShipmentList(
            Status.EXCEPTION,
            "Exceptions",
            "Packages the carrier or a person reported a problem with.",
        ),
        ShipmentList(Status.DELIVERED, "Delivered", "Delivered packages.", oldest_first=False),
        ShipmentList(Status.RETURNED, "Returned", "Packages back at the pharmacy.", False),
    )
}


def _list_or_404(status: str) -> ShipmentList:
    shipment_list = SHIPMENT_LISTS.get(status)
    if shipment_list is None:
        raise Http404("There is no such list of shipments.")
    return shipment_list


def _after_shipment(queryset, shipment_list: ShipmentList, after: str):
    """The shipments after shipment ``after`` in the list's order (keyset pagination, as
    the fill queues): a page follows on from the last row shown however the list moved."""
    if not after:
        return queryset
    keys = (
        Shipment.objects.filter(pk=int(after))
        .values("is_cold_chain", "status_changed_at", "pk")
        .first()
    )
    if keys is None:
        return queryset
    if not shipment_list.oldest_first:
        return queryset.filter(
            Q(status_changed_at__lt=keys["status_changed_at"])
            | Q(status_changed_at=keys["status_changed_at"], pk__lt=keys["pk"])
        )
    # Cold chain first, then the oldest.
    later = Q(is_cold_chain=keys["is_cold_chain"]) & (
        Q(status_changed_at__gt=keys["status_changed_at"])
        | Q(status_changed_at=keys["status_changed_at"], pk__gt=keys["pk"])
    )
    if keys["is_cold_chain"]:
        later |= Q(is_cold_chain=False)
    return queryset.filter(later)


def _list_rows(request, shipment_list: ShipmentList) -> dict:
    """One page of a list and its waiting count (capped), in one statement."""
    after = request.GET.get("after", "")
    after = after if after.isdigit() else ""
    order = (
        ("-is_cold_chain", "status_changed_at", "pk")
        if shipment_list.oldest_first
        else ("-status_changed_at", "-pk")
    )
    shipments = (
        _after_shipment(Shipment.objects.filter(status=shipment_list.status), shipment_list, after)
        .select_related("service", "order__patient")
        .only(
            "status",
            "package_code",
            "order_id",
            "order__patient__first_name",
            "order__patient__middle_name",
            "order__patient__last_name",
            "reship_of_id",
            "ship_to_name",
            "ship_to_city",
            "ship_to_state",
            "is_cold_chain",
            "is_controlled",
            "signature_required",
            "packaging",
            "cold_packs",
            "carrier",
            "service__name",
            "tracking_number",
            "ship_on",
            "created_at",
            "status_changed_at",
        )
        .annotate(
            waiting=RawSQL(
                f"SELECT count(*) FROM (SELECT 1 FROM {Shipment._meta.db_table} "
                "WHERE status = %s LIMIT %s) AS c",
                [shipment_list.status, COUNT_CAP + 1],
            )
        )
        .order_by(*order)
    )
    rows = list(shipments[: ROWS_PER_PAGE + 1])
    more = len(rows) > ROWS_PER_PAGE
    rows = rows[:ROWS_PER_PAGE]
    now = timezone.now()
    for shipment in rows:
        shipment.age = age_words(shipment.status_changed_at, now)
    waiting = rows[0].waiting if rows else (0 if not after else None)
    return {
        "list": shipment_list,
        "rows": rows,
        "after": after,
        "next_after": rows[-1].pk if more else None,
        "waiting": waiting,
        "waiting_capped": waiting is not None and waiting > COUNT_CAP,
        "count_cap": COUNT_CAP,
        "refresh_seconds": REFRESH_SECONDS,
        "can_work": request.user.has_perm(WORK_SHIPMENTS),
    }


def _audit_list(request, context: dict, *, refresh: bool) -> None:
    """One audit row per page view naming the patients shown; a refresh writes one only
    when it shows a patient the last row did not name (as the fill queues)."""
    patients = [shipment.order.patient for shipment in context["rows"]]
    shown = sorted({p.pk for p in patients})
    logged = request.session.get(_LIST_SESSION_KEY, {})
    status, after = context["list"].status, context["after"]
    last_after, last_shown = logged.get(status, ("", []))
    if refresh and last_after == after and set(shown) <= set(last_shown):
        return
    record_audit_event(
        actor=request.user,
        action=AuditEvent.Action.VIEW,
        request=request,
        patients=patients,
        summary=f"Shipments {context['list'].title.lower()} ({len(context['rows'])} shown)",
    )
    request.session[_LIST_SESSION_KEY] = {**logged, status: (after, shown)}


def _tabs() -> list[dict]:
    return [
        {"title": item.title, "url": reverse("shipment_list", args=[item.status]), "key": status}
        for status, item in SHIPMENT_LISTS.items()
    ]


@require_GET
@staff_permission_required(VIEW_SHIPMENTS)
def shipping_home(request):
    return redirect("shipment_list", status=Status.AWAITING_PACKING)


@require_GET
@staff_permission_required(VIEW_SHIPMENTS)
def shipment_list(request, status: str):
    """The shipments at one status, the most urgent first; the table refreshes itself
    every 10 seconds (``shipment_list_rows``) without touching what is typed above it."""
    shipment_list = _list_or_404(status)
    context = _list_rows(request, shipment_list)
    _audit_list(request, context, refresh=False)
    context["tabs"] = _tabs()
    context["hand_over_form"] = HandOverForm()
    return render(request, "shipping/shipment_list.html", context)


@require_GET
@staff_permission_required(VIEW_SHIPMENTS)
def shipment_list_rows(request, status: str):
    """The list's table alone, polled by its page."""
    shipment_list = _list_or_404(status)
    context = _list_rows(request, shipment_list)
    _audit_list(request, context, refresh=True)
    return render(request, "shipping/_shipment_rows.html", context)


# --------------------------------------------------------------------------- cannot ship


@require_GET
@staff_permission_required(VIEW_SHIPMENTS)
def cannot_ship(request):
    """Orders ready to pack that cannot ship, with the reason: fix the patient's address
    and the shipment appears by itself."""
    rows = blocked_orders()
    record_audit_event(
        actor=request.user,
        action=AuditEvent.Action.VIEW,
        request=request,
        patients=[row.order.patient for row in rows],
        summary=f"Orders that cannot ship ({len(rows)} shown)",
    )
    context = {"rows": rows, "tabs": _tabs(), "blocked_tab": True}
    return render(request, "shipping/cannot_ship.html", context)


# --------------------------------------------------------------------------- one shipment


def _fills(shipment: Shipment) -> list[Fill]:
    """The vials that travel in the package, as packing checks them."""
    return shipment_fills(shipment)


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


def _pdf_response(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


# --------------------------------------------------------------------------- hand-over


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


# --------------------------------------------------------------------------- packing station


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
SCAN_REFUSALS = frozenset({"wrong_vial", "wrong_packing_slip", "unknown_code", "vials_missing"})


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
        "next_form": PackingSlipScanForm(),
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
    checks every scan again) and its carrier label is bought and printed."""
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
    patient data: the status, the carrier, the tracking number)."""
    shipment = get_object_or_404(Shipment.objects.select_related("service"), pk=pk)
    context = {
        "shipment": shipment,
        "label_ready": _label_ready(shipment),
        "label_url": label_url(shipment),
        "label_poll_seconds": LABEL_POLL_SECONDS,
    }
    return render(request, "shipping/_label_status.html", context)


# --------------------------------------------------------------------------- label batches


def _printable():
    """The packages a wave prints: labelled, not yet handed over, the oldest first."""
    return (
        Shipment.objects.filter(status=Status.LABELLED)
        .select_related("service", "order__patient")
        .order_by("-is_cold_chain", "status_changed_at", "pk")
    )


def _batch_page(request, form: LabelBatchForm, *, error="", status=200):
    shipments = list(form.fields["shipments"].queryset[:500])
    today = timezone.localdate()
    ticked = {str(pk) for pk in form.data.getlist("shipments")} if form.is_bound else None
    for shipment in shipments:
        shipment.is_today = timezone.localdate(shipment.status_changed_at) == today
        shipment.ticked = str(shipment.pk) in ticked if ticked is not None else True
    context = {
        "form": form,
        "shipments": shipments,
        "error": error,
        "batches": list(
            LabelBatch.objects.defer("pdf").select_related("created_by").order_by("-pk")[:10]
        ),
    }
    record_audit_event(
        actor=request.user,
        action=AuditEvent.Action.VIEW,
        request=request,
        patients=[shipment.order.patient for shipment in shipments],
        summary=f"Label batch printing ({len(shipments)} packages shown)",
    )
    return render(request, "shipping/label_batches.html", context, status=status)


@staff_permission_required(PRINT_BATCHES)
def label_batches(request):
    """Print a wave of carrier labels: tick the packages (every labelled one is ticked),
    start the batch, and follow its progress."""
    if request.method != "POST":
        return _batch_page(request, LabelBatchForm(shipments=_printable()))
    form = LabelBatchForm(request.POST, shipments=_printable())
    if request.POST.get("wave") == "today":
        today = timezone.localdate()
        todays = [
            str(pk)
            for pk, changed in _printable().values_list("pk", "status_changed_at")
            if timezone.localdate(changed) == today
        ]
        data = request.POST.copy()
        data.setlist("shipments", todays)
        form = LabelBatchForm(data, shipments=_printable())
    if not form.is_valid():
        return _batch_page(request, form, status=400)
    try:
        batch = start_label_batch(list(form.cleaned_data["shipments"]), by=request.user)
    except ShippingError as error:
        return _batch_page(request, form, error=error.detail, status=error.status)
    return redirect("label_batch", pk=batch.pk)


def _batch_context(batch: LabelBatch) -> dict:
    return {
        "batch": batch,
        "progress": label_batch_progress(batch),
        "poll_seconds": BATCH_POLL_SECONDS,
    }


def _batch_or_404(pk: int) -> LabelBatch:
    return get_object_or_404(LabelBatch.objects.defer("pdf").select_related("created_by"), pk=pk)


@require_GET
@staff_permission_required(VIEW_BATCHES)
def label_batch(request, pk: int):
    """A wave's progress bar, refreshed until every label is printed; then its PDF."""
    batch = _batch_or_404(pk)
    shipments = list(batch.shipments.select_related("order__patient").order_by("pk"))
    record_audit_event(
        actor=request.user,
        action=AuditEvent.Action.VIEW,
        request=request,
        obj=batch,
        patients=[shipment.order.patient for shipment in shipments],
        summary=f"Label batch {batch.pk} ({len(shipments)} packages)",
    )
    context = {**_batch_context(batch), "shipments": shipments}
    return render(request, "shipping/label_batch.html", context)


@require_GET
@staff_permission_required(VIEW_BATCHES)
def label_batch_poll(request, pk: int):
    """The progress bar alone, polled by the batch page (counts only, no patient data)."""
    return render(request, "shipping/_batch_progress.html", _batch_context(_batch_or_404(pk)))


@require_GET
@staff_permission_required(VIEW_BATCHES)
def label_batch_pdf(request, pk: int):
    """Every label of the wave merged in one PDF, audited as a view of their patients."""
    batch = get_object_or_404(LabelBatch, pk=pk)
    if batch.finished_at is None or not batch.pdf:
        raise Http404("The batch is still printing.")
    patients = Patient.objects.filter(orders__shipments__label_batches=batch).distinct()
    record_audit_event(
        actor=request.user,
        action=AuditEvent.Action.VIEW,
        request=request,
        obj=batch,
        patients=list(patients),
        summary=f"Labels of batch {batch.pk}",
    )
    return _pdf_response(bytes(batch.pdf), f"labels-batch-{batch.pk}.pdf")


# --------------------------------------------------------------------------- manifests


def _manifest_page(request, form: ManifestForm, *, error="", status=200):
    today = timezone.localdate()
    handed_today = dict(
        Shipment.objects.filter(handed_over_at__date=today)
        .values_list("carrier")
        .annotate(n=Count("id"))
        .order_by()
    )
    context = {
        "form": form,
        "error": error,
        "manifests": list(
            Manifest.objects.defer("pdf", "csv")
            .select_related("created_by")
            .annotate(packages=Count("shipments"))[:30]
        ),
        "handed_today": [(label, handed_today.get(value, 0)) for value, label in Carrier.choices],
    }
    return render(request, "shipping/manifests.html", context, status=status)


@staff_permission_required(VIEW_MANIFESTS)
def manifests(request):
    """Build the end-of-day manifest of a carrier, and download past ones (PDF, CSV)."""
    if request.method != "POST":
        initial = {"carrier": Carrier.LOCAL, "day": timezone.localdate()}
        return _manifest_page(request, ManifestForm(initial=initial))
    if not request.user.has_perm(BUILD_MANIFESTS):
        raise PermissionDenied(f"Your role ({request.user.role_label}) does not build manifests.")
    form = ManifestForm(request.POST)
    if not form.is_valid():
        return _manifest_page(request, form, status=400)
    carrier, day = form.cleaned_data["carrier"], form.cleaned_data["day"]
    try:
        manifest = build_manifest(carrier, day, by=request.user)
    except ShippingError as error:
        return _manifest_page(request, form, error=error.detail, status=error.status)
    count = manifest.shipments.count()
    messages.success(
        request,
        f"{manifest.get_carrier_display()} manifest of {day:%Y-%m-%d}: "
        f"{count} package{'s' if count != 1 else ''}.",
    )
    return redirect("manifests")


def _manifest_download(pk: int, kind: str):
    """A manifest as built (package ids, tracking numbers, ZIP codes: no patient data, so
    no audit row)."""
    manifest = get_object_or_404(Manifest, pk=pk)
    filename = f"manifest-{manifest.carrier}-{manifest.day:%Y-%m-%d}.{kind}"
    if kind == "pdf":
        return _pdf_response(bytes(manifest.pdf), filename)
    response = HttpResponse(manifest.csv, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
@staff_permission_required(VIEW_MANIFESTS)
def manifest_pdf(request, pk: int):
    return _manifest_download(pk, "pdf")


@require_GET
@staff_permission_required(VIEW_MANIFESTS)
def manifest_csv(request, pk: int):
    return _manifest_download(pk, "csv")


# --------------------------------------------------------------------------- rules (managers)


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
