"""Browser pages of the orders app: the intake queue and its resolution, manual entry of
phone and fax prescriptions, the prescription page, refills requested by phone; the fill
queues and the work pages of the fill workflow (PV1, the fill station, PV2, holds).

Every page that shows a patient's data writes one audit row; the search-as-you-type
pickers write one per search that shows patients. The queues' tables refresh themselves
(htmx polls ``.../rows/``) without touching the rest of the page, so what is being typed
stays. The work pages call ``orders.services.workflow`` and show its refusals in its own
words; a fill another person claimed opens read-only.
"""

import json
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import PurePath
from xml.parsers.expat import ExpatError

from defusedxml import DefusedXmlException
from defusedxml import minidom as defused_minidom
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Prefetch, Q, Subquery
from django.db.models.expressions import RawSQL
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from inventory.models import Package, Product, ProductIngredient
from inventory.ndc import ScanError, is_partial_ndc, is_product_ndc, looks_like_code
from orders.forms import (
    INLINE_IMAGE_KINDS,
    ORIGINAL_TYPES,
    FillScanForm,
    HoldForm,
    ManualEntryForm,
    Pv1ApprovalForm,
    Pv1RejectForm,
    Pv2Form,
    Pv2RejectForm,
    RefillRequestForm,
    ReleaseForm,
    ResolveIntakeForm,
    original_document_type,
    rx_number_from_text,
)
from orders.intake.fhir import parse_fhir_json
from orders.intake.messages import IntakeError
from orders.intake.ncpdp import parse_new_rx
from orders.models import (
    FILL_MOVES,
    QUEUE_ORDER,
    Channel,
    DurAlert,
    DurOverride,
    Fill,
    FillHold,
    FillScan,
    HoldReason,
    IntakeIssue,
    Prescription,
)
from orders.services import workflow
from orders.services.intake import (
    IntakeResolutionError,
    RefillRefused,
    blocking_intake_issues,
    receive_prescription,
    request_refill,
    resolve_intake,
)
from orders.sig import days_supply_from_sig, expand_sig
from orders.units import dispensing_unit
from pharmacy.access import staff_permission_required
from pharmacy.models import AuditEvent, Patient, Prescriber
from pharmacy.services import record_audit_event

TECHNICIAN_WORK = "pharmacy.work_technician_queues"
# Rows the queue page shows; the oldest come first, and the count says how many wait.
QUEUE_PAGE_ROWS = 200
PICK_RESULTS = 10
_POSITIVE_NUMBER = re.compile(r"^\d{1,7}(\.\d{1,3})?$")
MIN_SEARCH_LENGTH = 2

# --------------------------------------------------------------------------- intake queue


def _quantity_words(quantity, unit: str) -> str:
    """``30 capsules``, ``1 capsule``, ``150 mL``."""
    text = f"{quantity.normalize():f}"
    if unit in ("tablet", "capsule") and quantity != 1:
        unit = f"{unit}s"
    return f"{text} {unit}"


def _queue_context() -> dict:
    waiting = Prescription.objects.in_intake_queue()
    rows = list(waiting.select_related("patient", "product")[:QUEUE_PAGE_ROWS])
    for prescription in rows:
        prescription.issue_labels = [IntakeIssue(i).label for i in prescription.intake_issues]
    return {"rows": rows, "count": waiting.count() if len(rows) == QUEUE_PAGE_ROWS else len(rows)}


@staff_permission_required(TECHNICIAN_WORK)
def intake_queue(request):
    context = _queue_context()
    record_audit_event(
        actor=request.user,
        action=AuditEvent.Action.VIEW,
        request=request,
        patients=[p.patient for p in context["rows"] if p.patient],
        summary=f"Intake queue ({len(context['rows'])} shown)",
    )
    return render(request, "orders/intake_queue.html", context)


@require_GET
@staff_permission_required(TECHNICIAN_WORK)
def intake_queue_rows(request):
    """The queue's table alone, polled by the page every 15 seconds."""
    return render(request, "orders/_intake_rows.html", _queue_context())


def _patient_candidates(prescription: Prescription) -> list[Patient]:
    sent = prescription.received_data.get("patient") or {}
    conditions = Q()
    if sent.get("date_of_birth"):
        conditions |= Q(date_of_birth=sent["date_of_birth"])
    if sent.get("last_name"):
        conditions |= Q(last_name__iexact=sent["last_name"])
    if not conditions:
        return []
    return list(Patient.objects.filter(conditions).prefetch_related("allergies")[:PICK_RESULTS])


def _prescriber_candidates(prescription: Prescription) -> list[Prescriber]:
    sent = prescription.received_data.get("prescriber") or {}
    conditions = Q()
    if sent.get("npi"):
        conditions |= Q(npi=sent["npi"])
    if sent.get("last_name"):
        conditions |= Q(last_name__iexact=sent["last_name"])
    return list(Prescriber.objects.filter(conditions)[:PICK_RESULTS]) if conditions else []


def _product_candidates(prescription: Prescription) -> list[dict]:
    words = re.findall(r"[A-Za-z]{3,}", prescription.drug_description)
    if not words:
        return []
    return [_product_option(p) for p in _with_strengths(Product.objects.search(words[0]))]


def _intake_page(request, prescription: Prescription, form: ResolveIntakeForm, status=200):
    issues = list(prescription.intake_issues)
    open_patient = prescription.patient is None or IntakeIssue.PATIENT_UNCERTAIN in issues
    open_prescriber = prescription.prescriber is None or (
        IntakeIssue.PRESCRIBER_UNCERTAIN in issues
    )
    patients = _patient_candidates(prescription) if open_patient else []
    context = {
        "prescription": prescription,
        "received": prescription.received_data,
        "issues": [(issue, IntakeIssue(issue).label) for issue in issues],
        "blocking": blocking_intake_issues(prescription),
        "form": form,
        "open_patient": open_patient,
        "open_prescriber": open_prescriber,
        "open_drug": prescription.product is None or IntakeIssue.DRUG_NOT_MATCHED in issues,
        "open_dea": IntakeIssue.DEA_REGISTRATION_UNVERIFIED in issues,
        "patient_options": [_patient_option(p) for p in patients],
        "prescriber_options": [_prescriber_option(p) for p in _prescriber_candidates(prescription)]
        if open_prescriber
        else [],
        "product_options": _product_candidates(prescription),
        "original": _original(prescription),
        "chosen": _chosen(form),
        "quantity_text": _quantity_words(prescription.quantity, prescription.quantity_unit),
    }
    record_audit_event(
        actor=request.user,
        action=AuditEvent.Action.VIEW,
        request=request,
        obj=prescription,
        patient=prescription.patient,
        patients=patients,
        summary=f"Intake of Rx {prescription.rx_number}",
    )
    return render(request, "orders/intake_detail.html", context, status=status)


@staff_permission_required(TECHNICIAN_WORK)
def intake_detail(request, pk: int):
    """What was received beside the pickers that resolve it; POST applies the choices."""
    prescription = get_object_or_404(
        Prescription.objects.select_related("patient", "prescriber", "product"), pk=pk
    )
    if request.method != "POST":
        return _intake_page(request, prescription, ResolveIntakeForm())
    form = ResolveIntakeForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            prescription = resolve_intake(
                prescription,
                by=request.user,
                patient=data["patient"],
                create_patient_as_received=data["create_patient_as_received"],
                prescriber=data["prescriber"],
                product=data["product"],
                dea_schedules_verified=data["dea_schedules_verified"],
            )
        except IntakeResolutionError as error:
            form.add_error(None, error.detail)
        else:
            if prescription.status == Prescription.Status.ACTIVE:
                messages.success(
                    request,
                    f"Rx {prescription.rx_number} is resolved; its fill waits for PV1.",
                )
                return redirect("prescription_detail", pk=prescription.pk)
            waiting = ", ".join(
                IntakeIssue(i).label.lower() for i in blocking_intake_issues(prescription)
            )
            messages.info(request, f"Saved. Rx {prescription.rx_number} still waits: {waiting}.")
            return redirect("intake_detail", pk=prescription.pk)
    return _intake_page(request, prescription, form, status=400)


# --------------------------------------------------------------------------- manual entry


def _chosen(form) -> dict:
    """The records a bound form's pickers hold, to show them again after an error."""
    chosen = {}
    data = getattr(form, "cleaned_data", {})
    if data.get("patient"):
        chosen["patient"] = _patient_option(data["patient"])
    if data.get("prescriber"):
        chosen["prescriber"] = _prescriber_option(data["prescriber"])
    if data.get("product"):
        chosen["product"] = _product_option(data["product"])
    return chosen


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


# --------------------------------------------------------------------------- pickers


def _allergy_words(patient: Patient) -> str:
    allergies = [a.allergen for a in patient.allergies.all()]
    if allergies:
        return "Allergies: " + ", ".join(allergies)
    return "No known allergies" if patient.no_known_allergies else "Allergies not recorded"


def _patient_option(patient: Patient) -> dict:
    return {
        "value": patient.pk,
        "label": f"{patient.full_name} ({patient.date_of_birth:%Y-%m-%d})",
        "detail": _allergy_words(patient),
        "badges": [{"text": "Allergies", "class": "severe"}] if patient.allergies.all() else [],
    }


def _prescriber_option(prescriber: Prescriber) -> dict:
    dea = f"DEA {prescriber.dea_number}" if prescriber.dea_number else "no DEA number"
    schedules = ", ".join(prescriber.dea_schedules) or "no schedules on file"
    return {
        "value": prescriber.pk,
        "label": f"{prescriber} (NPI {prescriber.npi})",
        "detail": f"{dea}; {schedules}",
        "badges": [{"text": "To review", "class": ""}] if prescriber.needs_review else [],
    }


def _unit_of(product: Product) -> str:
    """The dispensing unit a product's dosage form suggests ("TABLET, FILM COATED")."""
    words = product.dosage_form.split(",")[0].split()
    return (dispensing_unit(words[0]) or "") if words else ""


def _product_option(product: Product, package: Package | None = None) -> dict:
    strengths = "; ".join(
        f"{s.ingredient.name} {s.strength} {s.strength_unit}".strip()
        for s in product.strengths.all()
    )
    badges = []
    if product.dea_schedule:
        badges.append({"text": product.dea_schedule, "class": "controlled"})
    return {
        "value": product.pk,
        "label": f"{product.display_name} ({product.product_ndc})",
        "detail": " · ".join(filter(None, [strengths, product.dosage_form.lower()])),
        "badges": badges,
        "unit": _unit_of(product),
        "package": package.package_ndc if package else "",
    }


def _with_strengths(products):
    return products.prefetch_related(
        Prefetch("strengths", queryset=ProductIngredient.objects.select_related("ingredient"))
    ).order_by(*Product._meta.ordering)[:PICK_RESULTS]


def _search_log(request, patients: list[Patient], what: str) -> None:
    if patients:
        record_audit_event(
            actor=request.user,
            action=AuditEvent.Action.SEARCH,
            request=request,
            patients=patients,
            summary=f"{what} ({len(patients)} shown)",
        )


_DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%m-%d-%Y", "%m/%d/%y")


def _as_date(text: str) -> date | None:
    for layout in _DATE_FORMATS:
        try:
            return datetime.strptime(text, layout).date()  # noqa: DTZ007 (a birth date)
        except ValueError:
            continue
    return None


def _pick_results(request, target: str, options: list[dict], *, query: str, empty: str):
    return render(
        request,
        "orders/_pick_results.html",
        {"target": target, "options": options, "query": query, "empty": empty},
    )


@require_GET
@staff_permission_required(TECHNICIAN_WORK)
def search_patients(request):
    """Patients by name ("smith", "smith jo") and/or date of birth (1960-12-10, 12/10/1960)."""
    query = request.GET.get("q", "").strip()[:100]
    if len(query) < MIN_SEARCH_LENGTH:
        return _pick_results(request, "patient", [], query=query, empty="")
    names, born = [], None
    for part in query.replace(",", " ").split():
        day = _as_date(part)
        if day is not None:
            born = day
        else:
            names.append(part)
    patients = Patient.objects.search(" ".join(names)) if names else Patient.objects.all()
    if born is not None:
        patients = patients.filter(date_of_birth=born)
    elif not names:
        patients = Patient.objects.none()
    found = list(patients.prefetch_related("allergies")[:PICK_RESULTS])
    _search_log(request, found, "Patient search in intake")
    return _pick_results(
        request,
        "patient",
        [_patient_option(p) for p in found],
        query=query,
        empty=f"No patient matches “{query}”. Check the spelling or search by date of birth.",
    )


@require_GET
@staff_permission_required(TECHNICIAN_WORK)
def search_prescribers(request):
    """Prescribers by name or NPI (all or the first digits)."""
    query = request.GET.get("q", "").strip()[:100]
    if len(query) < MIN_SEARCH_LENGTH:
        return _pick_results(request, "prescriber", [], query=query, empty="")
    prescribers = Prescriber.objects.all()
    if query.isdigit():
        prescribers = prescribers.filter(npi__startswith=query)
    else:
        for part in query.replace(",", " ").split():
            prescribers = prescribers.filter(
                Q(last_name__istartswith=part) | Q(first_name__istartswith=part)
            )
    options = [_prescriber_option(p) for p in prescribers[:PICK_RESULTS]]
    return _pick_results(
        request,
        "prescriber",
        options,
        query=query,
        empty=f"No prescriber matches “{query}”. Search by last name or the 10-digit NPI.",
    )


def _drug_options(query: str) -> tuple[list[dict], str]:
    """Catalogue products for a name, a product or package NDC, or a scan; or an error."""
    if is_product_ndc(query):
        products = Product.objects.filter(product_ndc=query)
        return [_product_option(p) for p in _with_strengths(products)], ""
    if not looks_like_code(query):
        return [_product_option(p) for p in _with_strengths(Product.objects.search(query))], ""
    try:
        packages = Package.objects.for_code(query)
    except ScanError as error:
        if is_partial_ndc(query):
            products = Product.objects.with_ndc_starting(query)
            return [_product_option(p) for p in _with_strengths(products)], ""
        return [], str(error)
    found = list(
        packages.select_related("product").prefetch_related("product__strengths__ingredient")[
            :PICK_RESULTS
        ]
    )
    if not found:
        return [], f"No package in the catalogue has the code {query!r}."
    return [_product_option(package.product, package) for package in found], ""


@require_GET
@staff_permission_required(TECHNICIAN_WORK)
def search_drugs(request):
    """Catalogue products by name, NDC or a scan of the package."""
    query = request.GET.get("q", "").strip()[:300]
    if len(query) < MIN_SEARCH_LENGTH:
        return _pick_results(request, "product", [], query=query, empty="")
    options, error = _drug_options(query)
    return _pick_results(
        request,
        "product",
        options,
        query=query,
        empty=error or f"No drug in the catalogue matches “{query}”.",
    )


# --------------------------------------------------------------------------- prescriptions


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


# --------------------------------------------------------------------------- refills


@staff_permission_required(TECHNICIAN_WORK)
def refill_request(request):
    """A patient on the phone asks for a refill: Rx number (or vial scan) and birth date."""
    if request.method != "POST":
        return render(request, "orders/refill_request.html", {"form": RefillRequestForm()})
    form = RefillRequestForm(request.POST)
    if not form.is_valid():
        return render(request, "orders/refill_request.html", {"form": form}, status=400)
    try:
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


# --------------------------------------------------------------------------- fill queues

VERIFY_WORK = "pharmacy.verify_prescriptions"
QUEUE_ROWS_PER_PAGE = 50
# The waiting count stops at this: counting 50,000 queued fills on every poll costs more
# than the rows themselves, and past a thousand "more than 1,000" says all a person needs.
QUEUE_COUNT_CAP = 1000
QUEUE_REFRESH_SECONDS = 10


@dataclass(frozen=True)
class FillQueue:
    """One work queue: the fills at one status, and who may see it."""

    status: str
    title: str
    permission: str
    note: str


FILL_QUEUES = {
    queue.status: queue
    for queue in (
        FillQueue(
            Fill.Status.INTAKE,
            "Intake",
            TECHNICIAN_WORK,
            "Fills whose prescription waits for a technician to resolve it.",
        ),
        FillQueue(Fill.Status.PV1, "PV1", VERIFY_WORK, "Data entry and drug checks to verify."),
        FillQueue(Fill.Status.FILL, "Fill", TECHNICIAN_WORK, "Verified prescriptions to fill."),
        FillQueue(Fill.Status.PV2, "PV2", VERIFY_WORK, "Filled products to verify."),
        FillQueue(
            Fill.Status.READY_TO_PACK,
            "Ready to pack",
            TECHNICIAN_WORK,
            "Fills that passed PV2, waiting for packing.",
        ),
        FillQueue(Fill.Status.ON_HOLD, "On hold", TECHNICIAN_WORK, "Fills held with a reason."),
    )
}
# The statuses whose fills are worked on one at a time, claimed first; the page each opens.
WORK_PAGES = {
    Fill.Status.PV1: "fill_pv1",
    Fill.Status.FILL: "fill_station",
    Fill.Status.PV2: "fill_pv2",
}
WORK_PAGE_LABELS = {
    Fill.Status.PV1: "Open PV1",
    Fill.Status.FILL: "Open the fill station",
    Fill.Status.PV2: "Open PV2",
}
_QUEUE_SESSION_KEY = "queue_audit"


def step_words(status: str) -> str:
    """A fill status inside a sentence: "waiting for PV1", "on hold"."""
    label = Fill.Status(status).label
    return label[0].lower() + label[1:]


def fill_work_url(fill: Fill) -> str:
    """Where a fill is worked on at its status: its work page, or its summary page."""
    if fill.status == Fill.Status.INTAKE:
        return reverse("intake_detail", args=[fill.prescription_id])
    return reverse(WORK_PAGES.get(fill.status, "fill_detail"), args=[fill.pk])


def claimed_by_someone_else(fill: Fill, user, now: datetime) -> bool:
    """True while another person's claim on the fill is live: the page opens read-only.
    A claim older than FILL_CLAIM_MINUTES is stale and anyone may take it over (the
    workflow's rule; it enforces it again on every step)."""
    return (
        fill.claimed_by_id not in (None, user.pk)
        and fill.claimed_at is not None
        and fill.claimed_at > now - timedelta(minutes=settings.FILL_CLAIM_MINUTES)
    )


def age_words(since: datetime, now: datetime) -> str:
    """How long something has waited, in the queue's words: "4 min", "3 h 12 min", "2 d 5 h"."""
    minutes = max(0, int((now - since).total_seconds() // 60))
    if minutes < 1:
        return "under 1 min"
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"


def _queue_or_404(request, status: str) -> FillQueue:
    queue = FILL_QUEUES.get(status)
    if queue is None:
        raise Http404("There is no such queue.")
    if not request.user.has_perm(queue.permission):
        raise PermissionDenied(
            f"Your role ({request.user.role_label}) does not work the {queue.title} queue."
        )
    return queue


def _after_fill(queryset, after: str):
    """The fills that come after fill ``after`` in the queue order (keyset pagination):
    a page follows on from the last row shown however the queue moved meanwhile. The
    first page, the one people work from and the poll refreshes, reads 51 index entries;
    a page deep down reads the index up to its place (about 20 ms 25,000 rows down),
    PostgreSQL cannot turn the mixed-direction keys into one index range."""
    if not after:
        return queryset
    keys = (
        Fill.objects.filter(pk=int(after))
        .values("promised_on", "is_cold_chain", "priority", "created_at", "pk")
        .first()
    )
    if keys is None:
        return queryset
    # QUEUE_ORDER: promised date (none last), cold chain first, urgent first, oldest first.
    later = Q(is_cold_chain=keys["is_cold_chain"]) & (
        Q(priority__gt=keys["priority"])
        | Q(priority=keys["priority"], created_at__gt=keys["created_at"])
        | Q(priority=keys["priority"], created_at=keys["created_at"], pk__gt=keys["pk"])
    )
    if keys["is_cold_chain"]:
        later |= Q(is_cold_chain=False)
    if keys["promised_on"] is None:
        return queryset.filter(Q(promised_on__isnull=True) & later)
    return queryset.filter(
        Q(promised_on__gt=keys["promised_on"])
        | Q(promised_on__isnull=True)
        | (Q(promised_on=keys["promised_on"]) & later)
    )


def _queue_rows(request, queue: FillQueue) -> dict:
    """One page of a queue in one SQL statement: the rows, their patient, drug and claim,
    and the waiting count (capped) as an InitPlan of the same statement."""
    after = request.GET.get("after", "")
    after = after if after.isdigit() else ""
    fills = _after_fill(Fill.objects.in_queue(queue.status), after)
    fills = (
        fills.select_related("prescription__patient", "claimed_by")
        .only(
            "status",
            "quantity",
            "priority",
            "promised_on",
            "is_cold_chain",
            "created_at",
            "status_changed_at",
            "claimed_at",
            "prescription__rx_number",
            "prescription__drug_description",
            "prescription__quantity_unit",
            "prescription__dea_schedule",
            "prescription__received_data",
            "prescription__patient__first_name",
            "prescription__patient__middle_name",
            "prescription__patient__last_name",
            "claimed_by__username",
            "claimed_by__first_name",
            "claimed_by__last_name",
        )
        .annotate(
            waiting=RawSQL(
                f"SELECT count(*) FROM (SELECT 1 FROM {Fill._meta.db_table} "
                "WHERE status = %s LIMIT %s) AS c",
                [queue.status, QUEUE_COUNT_CAP + 1],
            )
        )
    )
    if queue.status == Fill.Status.ON_HOLD:
        open_hold = FillHold.objects.filter(fill=OuterRef("pk"), released_at__isnull=True)
        fills = fills.annotate(
            hold_reason=Subquery(open_hold.values("reason_code")[:1]),
            held_from=Subquery(open_hold.values("from_status")[:1]),
        )
    rows = list(fills[: QUEUE_ROWS_PER_PAGE + 1])
    more = len(rows) > QUEUE_ROWS_PER_PAGE
    rows = rows[:QUEUE_ROWS_PER_PAGE]
    now = timezone.now()
    for fill in rows:
        fill.age = age_words(fill.status_changed_at or fill.created_at, now)
        fill.claimed_by_other = claimed_by_someone_else(fill, request.user, now)
        fill.claim_is_stale = fill.claimed_by_id is not None and not (
            fill.claimed_by_other or fill.claimed_by_id == request.user.pk
        )
        fill.quantity_text = _quantity_words(fill.quantity, fill.prescription.quantity_unit)
        fill.work_url = fill_work_url(fill)
        if queue.status == Fill.Status.ON_HOLD:
            fill.hold_reason_label = (
                HoldReason(fill.hold_reason).label if fill.hold_reason else "No open hold"
            )
            fill.held_from_label = Fill.Status(fill.held_from).label if fill.held_from else ""
    if rows:
        waiting = rows[0].waiting
    else:
        waiting = 0 if not after else None
    return {
        "queue": queue,
        "rows": rows,
        "after": after,
        "next_after": rows[-1].pk if more else None,
        "waiting": waiting,
        "waiting_capped": waiting is not None and waiting > QUEUE_COUNT_CAP,
        "count_cap": QUEUE_COUNT_CAP,
        "is_work_step": queue.status in WORK_PAGES,
        "refresh_seconds": QUEUE_REFRESH_SECONDS,
    }


def _shown_patients(rows: list[Fill]) -> list[Patient]:
    return [fill.prescription.patient for fill in rows if fill.prescription.patient_id]


def _audit_queue(request, context: dict, *, refresh: bool) -> None:
    """One audit row per page view naming the patients shown. A refresh (the htmx poll)
    writes one only when it shows a patient the last row did not name, so every patient
    shown is in the trail without a row every ten seconds."""
    patients = _shown_patients(context["rows"])
    shown = sorted({p.pk for p in patients})
    # Per queue: the page last viewed and the patients its last audit row named.
    logged = request.session.get(_QUEUE_SESSION_KEY, {})
    status, after = context["queue"].status, context["after"]
    last_after, last_shown = logged.get(status, ("", []))
    if refresh and last_after == after and set(shown) <= set(last_shown):
        return
    record_audit_event(
        actor=request.user,
        action=AuditEvent.Action.VIEW,
        request=request,
        patients=patients,
        summary=f"{context['queue'].title} queue ({len(context['rows'])} shown)",
    )
    # Saved with the session, which is written on every request anyway: no extra query.
    request.session[_QUEUE_SESSION_KEY] = {**logged, status: (after, shown)}


@require_GET
@login_required
def fill_queue(request, status: str):
    """One work queue, most urgent first, with a scan field to open a fill by its Rx
    number; the table refreshes itself every 10 seconds (``fill_queue_rows``)."""
    queue = _queue_or_404(request, status)
    context = _queue_rows(request, queue)
    _audit_queue(request, context, refresh=False)
    context["queues"] = [q for q in FILL_QUEUES.values() if request.user.has_perm(q.permission)]
    return render(request, "orders/queue.html", context)


@require_GET
@login_required
def fill_queue_rows(request, status: str):
    """The queue's table alone, polled by its page."""
    queue = _queue_or_404(request, status)
    context = _queue_rows(request, queue)
    _audit_queue(request, context, refresh=True)
    return render(request, "orders/_queue_rows.html", context)


@require_POST
@login_required
def fill_queue_open(request, status: str):
    """A scanned or typed Rx number (or vial label code) opens that fill of the queue:
    claimed for the user at a work step, as the row's button would."""
    queue = _queue_or_404(request, status)
    code = request.POST.get("code", "").strip()[:40]
    rx_number = rx_number_from_text(code)
    fill = (
        Fill.objects.filter(status=queue.status)
        .filter(Q(prescription__rx_number=rx_number) | Q(label_code=code.upper()))
        .order_by(*QUEUE_ORDER)
        .first()
        if code
        else None
    )
    if fill is None:
        messages.error(
            request,
            f"No fill of Rx “{code}” waits in the {queue.title} queue."
            if code
            else "Scan or type an Rx number first.",
        )
        return redirect("fill_queue", status=queue.status)
    return _claim_and_open(request, fill)


# --------------------------------------------------------------------------- claims


def _claim_and_open(request, fill: Fill):
    if fill.status not in WORK_PAGES or fill.claimed_by_id == request.user.pk:
        return redirect(fill_work_url(fill))
    if claimed_by_someone_else(fill, request.user, timezone.now()):
        # Someone else works on it: the page opens read-only, saying who.
        return redirect(fill_work_url(fill))
    try:
        fill = workflow.claim_fill(fill, by=request.user)
    except workflow.WorkflowError as error:
        messages.error(request, error.detail)
        return redirect("fill_queue", status=fill.status)
    return redirect(fill_work_url(fill))


@require_POST
@login_required
def fill_claim(request, pk: int):
    """Claim a fill from its queue and open its work page."""
    fill = get_object_or_404(Fill, pk=pk)
    if fill.status not in FILL_QUEUES:
        return redirect("fill_detail", pk=fill.pk)
    _queue_or_404(request, fill.status)
    return _claim_and_open(request, fill)


@require_POST
@login_required
def fill_unclaim(request, pk: int):
    """Put a claimed fill back in its queue for someone else."""
    fill = get_object_or_404(Fill, pk=pk)
    if not request.user.has_perm(TECHNICIAN_WORK):
        raise PermissionDenied(f"Your role ({request.user.role_label}) does not work fills.")
    try:
        fill = workflow.unclaim_fill(fill, by=request.user)
    except workflow.WorkflowError as error:
        messages.error(request, error.detail)
        return redirect(fill_work_url(fill))
    messages.success(request, f"Rx {fill.prescription.rx_number} is back in the queue.")
    return redirect("fill_queue", status=fill.status)


def _claim_next(status: str, user) -> Fill | None:
    """Claim the most urgent unclaimed fill of a queue for ``user``, skipping the ones
    another user claims first; at PV2, never one ``user`` filled."""
    candidates = Fill.objects.in_queue(status).filter(claimed_by__isnull=True)
    if status == Fill.Status.PV2:
        candidates = candidates.exclude(filled_by=user)
    for candidate in candidates[:5]:
        try:
            return workflow.claim_fill(candidate, by=user)
        except workflow.WorkflowError:
            continue
    return None


def _next_page(request, status: str, done: str):
    """After a step is done: the next fill of the same queue, claimed, or the queue."""
    following = _claim_next(status, request.user)
    if following is None:
        messages.success(request, f"{done} Nothing else waits in the queue.")
        return redirect("fill_queue", status=status)
    messages.success(request, f"{done} Next: Rx {following.prescription.rx_number}.")
    return redirect(fill_work_url(following))


# --------------------------------------------------------------------------- work pages


def _work_fill(pk: int) -> Fill:
    return get_object_or_404(
        Fill.objects.select_related(
            "prescription__patient",
            "prescription__prescriber",
            "prescription__product",
            "claimed_by",
            "filled_by",
            "pv1_by",
            "dispensed_package__product",
            "stock_lot",
        ),
        pk=pk,
    )


def _check_step(request, fill: Fill, status: str):
    """None when the fill waits at ``status``; else a redirect to where it is now."""
    if fill.status == status:
        return None
    messages.info(
        request,
        f"Rx {fill.prescription.rx_number} is not {step_words(status)} any more: it is "
        f"{step_words(fill.status)}.",
    )
    return redirect("fill_detail", pk=fill.pk)


def _moved_on(request, fill: Fill, error):
    """A step refused because the fill moved on meanwhile (another person's step won the
    race): the fill's record, with the service's words on who moved it. Else None."""
    if error.code != "wrong_status":
        return None
    messages.error(request, error.detail)
    return redirect("fill_detail", pk=fill.pk)


def _work_context(request, fill: Fill, **extra) -> dict:
    """What every work page shows: the fill, its prescription, who holds the claim, and
    the hold form."""
    prescription = fill.prescription
    claimed_by_other = claimed_by_someone_else(fill, request.user, timezone.now())
    return {
        "fill": fill,
        "prescription": prescription,
        "patient": prescription.patient,
        "quantity_text": _quantity_words(fill.quantity, prescription.quantity_unit),
        "read_only": claimed_by_other,
        "claimed_by_other": claimed_by_other,
        "hold_form": HoldForm(prefix="hold"),
        "can_hold": request.user.role
        in FILL_MOVES.get(fill.status, {}).get(Fill.Status.ON_HOLD, ()),
        "queue_status": fill.status if fill.status in FILL_QUEUES else "",
        **extra,
    }


def _audit_fill_page(request, fill: Fill, what: str) -> None:
    record_audit_event(
        actor=request.user,
        action=AuditEvent.Action.VIEW,
        request=request,
        obj=fill,
        patient=fill.prescription.patient,
        summary=f"{what} of Rx {fill.prescription.rx_number}",
    )


def _as_received(prescription: Prescription):
    """The e-prescription parsed again from the raw message kept verbatim, or None (a
    phone or fax prescription, or a message that no longer parses)."""
    raw = prescription.raw_message.encode()
    try:
        if prescription.channel == Channel.NCPDP:
            return parse_new_rx(raw)
        if prescription.channel == Channel.FHIR:
            return parse_fhir_json(raw)
    except IntakeError:
        return None
    return None


def readable_raw_message(prescription: Prescription) -> str:
    """The raw message indented for reading: XML by its elements, JSON by its keys."""
    raw = prescription.raw_message
    if not raw:
        return ""
    try:
        if raw.lstrip().startswith("<"):
            document = defused_minidom.parseString(
                raw.encode(), forbid_dtd=True, forbid_entities=True, forbid_external=True
            )
            lines = document.toprettyxml(indent="  ").splitlines()
            return "\n".join(line for line in lines[1:] if line.strip())
        if raw.lstrip().startswith("{"):
            return json.dumps(json.loads(raw), indent=2, ensure_ascii=False)
    except (ValueError, ExpatError, DefusedXmlException):
        pass
    return raw


def _person(*names: str) -> str:
    return " ".join(filter(None, names))


def _pv1_lines(prescription: Prescription, received) -> list[dict]:
    """What was typed, line by line, beside what the e-prescription says (``received``,
    None for phone and fax: the original image is shown instead); ``differs`` marks a
    line a pharmacist should look at twice."""
    patient, prescriber, product = (
        prescription.patient,
        prescription.prescriber,
        prescription.product,
    )

    def substitution(allowed: bool) -> str:
        return "Generic substitution allowed" if allowed else "Dispense as written"

    entered = {
        "Patient": f"{patient.full_name}, born {patient.date_of_birth:%Y-%m-%d}"
        if patient
        else "Not matched",
        "Prescriber": f"{prescriber}, NPI {prescriber.npi}" if prescriber else "Not matched",
        "Drug": f"{product.display_name}, NDC {prescription.prescribed_ndc or product.product_ndc}"
        if product
        else f"{prescription.drug_description} (not matched)",
        "Quantity": _quantity_words(prescription.quantity, prescription.quantity_unit),
        "Days supply": str(prescription.days_supply or "not stated"),
        "Sig": prescription.sig_text,
        "Refills": str(prescription.refills_authorized),
        "Substitution": substitution(prescription.substitutions_allowed),
        "Written": f"{prescription.written_date:%Y-%m-%d}",
    }
    if received is None:
        return [
            {"label": label, "entered": value, "received": None, "differs": False}
            for label, value in entered.items()
        ]
    sent_patient, sent_prescriber, drug = received.patient, received.prescriber, received.drug
    sent = {
        "Patient": f"{_person(sent_patient.first_name, sent_patient.middle_name)} "
        f"{sent_patient.last_name}, born "
        + (f"{sent_patient.date_of_birth:%Y-%m-%d}" if sent_patient.date_of_birth else "?"),
        "Prescriber": f"{_person(sent_prescriber.first_name, sent_prescriber.last_name)}, "
        f"NPI {sent_prescriber.npi or 'not sent'}",
        "Drug": ", ".join(filter(None, [drug.description, drug.strength]))
        + (f", NDC {drug.ndc}" if drug.ndc else ""),
        "Quantity": _quantity_words(
            received.quantity,
            dispensing_unit(received.quantity_unit) or received.quantity_unit,
        ),
        "Days supply": str(received.days_supply or "not stated"),
        "Sig": received.sig_text,
        "Refills": str(received.refills),
        "Substitution": substitution(received.substitutions_allowed),
        "Written": f"{received.written_date:%Y-%m-%d}",
    }
    same = {
        "Patient": patient is not None
        and patient.date_of_birth == sent_patient.date_of_birth
        and patient.last_name.lower() == sent_patient.last_name.lower(),
        "Prescriber": prescriber is not None
        and (not sent_prescriber.npi or prescriber.npi == sent_prescriber.npi),
        "Drug": product is not None and (not drug.ndc or drug.ndc == prescription.prescribed_ndc),
    }
    return [
        {
            "label": label,
            "entered": value,
            "received": sent[label],
            "differs": not same[label]
            if label in same
            else value.strip().lower() != sent[label].strip().lower(),
        }
        for label, value in entered.items()
    ]


def _current_medications(prescription: Prescription) -> list[Prescription]:
    """The patient's other active prescriptions: what the drug checks compared against."""
    return list(
        Prescription.objects.current_medications_besides(prescription)
        .only("rx_number", "drug_description", "directions", "days_supply", "written_date")
        .order_by("drug_description")
    )


def _pv1_alerts(fill: Fill) -> list[DurAlert]:
    """The drug-check alerts a PV1 approval of this fill must override, each with the
    override already recorded for this fill, if any."""
    done = DurOverride.objects.filter(fill=fill).select_related("by")
    alerts = DurAlert.objects.for_fill(fill).prefetch_related(Prefetch("overrides", queryset=done))
    return list(alerts.order_by("pk"))


def _open_alerts(alerts: list[DurAlert]) -> list[DurAlert]:
    return [alert for alert in alerts if not alert.overrides.all()]


def _alert_rows(alerts: list[DurAlert], form: Pv1ApprovalForm) -> list[dict]:
    """Each alert with its reason and note fields, or the override already recorded."""
    return [
        {
            "alert": alert,
            "reason": form[f"override_{alert.pk}"]
            if f"override_{alert.pk}" in form.fields
            else None,
            "note": form[f"note_{alert.pk}"] if f"note_{alert.pk}" in form.fields else None,
            "done": next(iter(alert.overrides.all()), None),
        }
        for alert in alerts
    ]


def _pv1_page(request, fill: Fill, *, form=None, reject_form=None, error="", status=200):
    prescription = fill.prescription
    alerts = _pv1_alerts(fill)
    form = form or Pv1ApprovalForm(alerts=_open_alerts(alerts))
    received = _as_received(prescription)
    patient = prescription.patient
    context = _work_context(
        request,
        fill,
        form=form,
        reject_form=reject_form or Pv1RejectForm(prefix="reject"),
        error=error,
        alerts=alerts,
        alert_rows=_alert_rows(alerts, form),
        received=received,
        lines=_pv1_lines(prescription, received),
        raw_text=readable_raw_message(prescription),
        original=_original(prescription),
        allergies=list(patient.allergies.all()) if patient else [],
        conditions=list(patient.conditions.all()) if patient else [],
        medications=_current_medications(prescription),
        refills_remaining=prescription.refills_remaining(),
    )
    _audit_fill_page(request, fill, "PV1")
    return render(request, "orders/pv1.html", context, status=status)


@staff_permission_required(VERIFY_WORK)
def fill_pv1(request, pk: int):
    """PV1: the original beside what was typed, the patient's allergies and medications,
    and every drug-check alert with its override reason. POST approves."""
    fill = _work_fill(pk)
    if (moved := _check_step(request, fill, Fill.Status.PV1)) is not None:
        return moved
    if request.method != "POST":
        return _pv1_page(request, fill)
    form = Pv1ApprovalForm(request.POST, alerts=_open_alerts(_pv1_alerts(fill)))
    if not form.is_valid():
        return _pv1_page(request, fill, form=form, status=400)
    try:
        workflow.approve_pv1(fill, by=request.user, overrides=form.overrides())
    except workflow.WorkflowError as error:
        return _moved_on(request, fill, error) or _pv1_page(
            request, fill, form=form, error=error.detail, status=error.status
        )
    return _next_page(request, Fill.Status.PV1, f"Rx {fill.prescription.rx_number} passed PV1.")


@require_POST
@staff_permission_required(VERIFY_WORK)
def fill_pv1_reject(request, pk: int):
    """PV1 rejected: back to intake with what must be corrected."""
    fill = _work_fill(pk)
    if (moved := _check_step(request, fill, Fill.Status.PV1)) is not None:
        return moved
    form = Pv1RejectForm(request.POST, prefix="reject")
    if not form.is_valid():
        return _pv1_page(request, fill, reject_form=form, status=400)
    try:
        workflow.reject_pv1(fill, by=request.user, reason=form.cleaned_data["reason"])
    except workflow.WorkflowError as error:
        return _moved_on(request, fill, error) or _pv1_page(
            request, fill, reject_form=form, error=error.detail, status=error.status
        )
    return _next_page(
        request, Fill.Status.PV1, f"Rx {fill.prescription.rx_number} went back to intake."
    )


def _label_url(fill: Fill) -> str:
    # The API's label view takes the browser's session too (and audits the view).
    return reverse("api_fill_label", args=[fill.pk])


def _station_page(request, fill: Fill, *, form=None, error="", is_scan_refusal=False, status=200):
    lot = workflow.suggest_lot(fill)
    initial = {
        "quantity": f"{fill.quantity.normalize():f}",
        "lot_number": lot.lot_number if lot else "",
    }
    context = _work_context(
        request,
        fill,
        form=form or FillScanForm(initial=initial),
        error=error,
        is_scan_refusal=is_scan_refusal,
        lot=lot,
        package=Package.objects.filter(ndc11=fill.prescription.prescribed_ndc)
        .select_related("product")
        .first()
        if fill.prescription.prescribed_ndc
        else None,
        scans=list(
            fill.scans.filter(step=FillScan.Step.FILL).select_related("by").order_by("-pk")[:5]
        ),
        label_url=_label_url(fill),
    )
    _audit_fill_page(request, fill, "Fill station")
    return render(request, "orders/fill_station.html", context, status=status)


@staff_permission_required(TECHNICIAN_WORK)
def fill_station(request, pk: int):
    """The fill station, built for a scanner: the suggested lot, one scan field that
    keeps the focus, the counted quantity. POST fills with the scan."""
    fill = _work_fill(pk)
    if (moved := _check_step(request, fill, Fill.Status.FILL)) is not None:
        return moved
    if request.method != "POST":
        return _station_page(request, fill)
    form = FillScanForm(request.POST)
    if not form.is_valid():
        return _station_page(request, fill, form=form, status=400)
    data = form.cleaned_data
    try:
        filled = workflow.fill_with_scan(
            fill,
            by=request.user,
            scan=data["scan"],
            quantity=data["quantity"],
            lot_number=data["lot_number"].strip(),
            partial=data["is_partial"],
        )
    except workflow.WorkflowError as error:
        if (moved := _moved_on(request, fill, error)) is not None:
            return moved
        # A fresh scan field: the next scan must not land after the refused one.
        form = FillScanForm(
            initial={
                "quantity": data["quantity"],
                "lot_number": data["lot_number"],
                "is_partial": data["is_partial"],
            }
        )
        return _station_page(
            request,
            fill,
            form=form,
            error=error.detail,
            is_scan_refusal=isinstance(error, workflow.ScanRefused),
            status=error.status,
        )
    done = (
        f"Rx {filled.prescription.rx_number} filled: "
        f"{_quantity_words(filled.dispensed_quantity, filled.prescription.quantity_unit)} "
        f"from lot {filled.lot_number}; it waits for PV2."
    )
    return _next_page(request, Fill.Status.FILL, done)


def _pv2_page(
    request,
    fill: Fill,
    *,
    form=None,
    reject_form=None,
    error="",
    is_scan_refusal=False,
    status=200,
):
    prescription = fill.prescription
    context = _work_context(
        request,
        fill,
        form=form or Pv2Form(),
        reject_form=reject_form or Pv2RejectForm(prefix="reject"),
        error=error,
        is_scan_refusal=is_scan_refusal,
        dispensed_product=fill.dispensed_package.product if fill.dispensed_package else None,
        dispensed_quantity_text=_quantity_words(fill.dispensed_quantity, prescription.quantity_unit)
        if fill.dispensed_quantity is not None
        else "–",
        quantity_matches=fill.dispensed_quantity == fill.quantity,
        label_url=_label_url(fill),
        scans=list(fill.scans.select_related("by").order_by("-pk")[:6]),
    )
    _audit_fill_page(request, fill, "PV2")
    return render(request, "orders/pv2.html", context, status=status)


def _refuse_filler(request, fill: Fill):
    """PV2 is never done by the person who filled: say so, and show nothing to approve."""
    if fill.filled_by_id != request.user.pk:
        return None
    context = {"fill": fill, "prescription": fill.prescription}
    return render(request, "orders/pv2_refused.html", context, status=403)


@staff_permission_required(VERIFY_WORK)
def fill_pv2(request, pk: int):
    """PV2: prescribed against filled (product, lot, expiry, quantity) and the label; the
    pharmacist scans the vial label. POST approves."""
    fill = _work_fill(pk)
    if (moved := _check_step(request, fill, Fill.Status.PV2)) is not None:
        return moved
    if (refused := _refuse_filler(request, fill)) is not None:
        return refused
    if request.method != "POST":
        return _pv2_page(request, fill)
    form = Pv2Form(request.POST)
    if not form.is_valid():
        return _pv2_page(request, fill, form=form, status=400)
    try:
        workflow.approve_pv2(
            fill,
            by=request.user,
            scan=form.cleaned_data["scan"],
            stock_scan=form.cleaned_data["stock_scan"],
        )
    except workflow.WorkflowError as error:
        if (moved := _moved_on(request, fill, error)) is not None:
            return moved
        return _pv2_page(
            request,
            fill,
            error=error.detail,
            is_scan_refusal=isinstance(error, workflow.ScanRefused),
            status=error.status,
        )
    return _next_page(
        request, Fill.Status.PV2, f"Rx {fill.prescription.rx_number} passed PV2: ready to pack."
    )


@require_POST
@staff_permission_required(VERIFY_WORK)
def fill_pv2_reject(request, pk: int):
    """PV2 rejected: back to fill, the stock returned to its lot by the service."""
    fill = _work_fill(pk)
    if (moved := _check_step(request, fill, Fill.Status.PV2)) is not None:
        return moved
    if (refused := _refuse_filler(request, fill)) is not None:
        return refused
    form = Pv2RejectForm(request.POST, prefix="reject")
    if not form.is_valid():
        return _pv2_page(request, fill, reject_form=form, status=400)
    try:
        workflow.reject_pv2(
            fill,
            by=request.user,
            reason=form.cleaned_data["reason"],
            discrepancy_kind=form.cleaned_data["discrepancy_kind"],
        )
    except workflow.WorkflowError as error:
        return _moved_on(request, fill, error) or _pv2_page(
            request, fill, reject_form=form, error=error.detail, status=error.status
        )
    return _next_page(
        request, Fill.Status.PV2, f"Rx {fill.prescription.rx_number} went back to be filled."
    )


# --------------------------------------------------------------------------- holds, summary


@require_POST
@staff_permission_required(TECHNICIAN_WORK)
def fill_hold(request, pk: int):
    """Put a fill on hold with a coded reason and a note; back to the queue it was in."""
    fill = _work_fill(pk)
    form = HoldForm(request.POST, prefix="hold")
    if not form.is_valid():
        messages.error(request, "Not held: " + " ".join(form.errors.get("reason_code", [])))
        return redirect(fill_work_url(fill))
    was = fill.status
    try:
        workflow.hold_fill(
            fill,
            by=request.user,
            reason_code=form.cleaned_data["reason_code"],
            note=form.cleaned_data["note"].strip(),
        )
    except workflow.WorkflowError as error:
        messages.error(request, f"Not held: {error.detail}")
        return redirect(fill_work_url(fill))
    reason = HoldReason(form.cleaned_data["reason_code"]).label.lower()
    messages.success(request, f"Rx {fill.prescription.rx_number} is on hold ({reason}).")
    return (
        redirect("fill_queue", status=was)
        if was in FILL_QUEUES
        else redirect("fill_detail", pk=fill.pk)
    )


@require_POST
@staff_permission_required(TECHNICIAN_WORK)
def fill_release(request, pk: int):
    """Release a held fill: it returns to the step it was held at."""
    fill = _work_fill(pk)
    form = ReleaseForm(request.POST, prefix="release")
    form.is_valid()
    try:
        fill = workflow.release_fill(
            fill, by=request.user, note=form.cleaned_data.get("note", "").strip()
        )
    except workflow.WorkflowError as error:
        messages.error(request, f"Not released: {error.detail}")
        return redirect("fill_detail", pk=pk)
    messages.success(
        request,
        f"Rx {fill.prescription.rx_number} is released: {step_words(fill.status)}.",
    )
    return redirect("fill_detail", pk=fill.pk)


@require_GET
@staff_permission_required(TECHNICIAN_WORK)
def fill_detail(request, pk: int):
    """A fill's summary: where it is, who claimed it, what went into the vial, its
    history, holds, scans and discrepancies; the hold or release form."""
    fill = _work_fill(pk)
    open_hold = fill.holds.filter(released_at__isnull=True).select_related("placed_by").first()
    context = _work_context(
        request,
        fill,
        events=list(fill.events.select_related("actor")),
        holds=list(fill.holds.select_related("placed_by", "released_by")),
        scans=list(fill.scans.select_related("by")),
        discrepancies=list(fill.discrepancies.select_related("found_by", "resolved_by")),
        open_hold=open_hold,
        held_from=step_words(open_hold.from_status) if open_hold else "",
        release_form=ReleaseForm(prefix="release"),
        work_url=fill_work_url(fill) if fill.status in WORK_PAGES else "",
        work_label=WORK_PAGE_LABELS.get(fill.status, ""),
        label_url=_label_url(fill),
    )
    _audit_fill_page(request, fill, "Fill")
    return render(request, "orders/fill_detail.html", context)
