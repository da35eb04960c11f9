"""Browser pages of the orders app: the intake queue and its resolution, manual entry of
phone and fax prescriptions, the prescription page, refills requested by phone.

Every page that shows a patient's data writes one audit row; the search-as-you-type
pickers write one per search that shows patients. The intake queue's table refreshes
itself (htmx polls ``intake/rows/``) without touching the rest of the page.
"""

import re
from datetime import date, datetime
from pathlib import PurePath

from django.contrib import messages
from django.db.models import Prefetch, Q
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET

from inventory.models import Package, Product, ProductIngredient
from inventory.ndc import ScanError, is_partial_ndc, is_product_ndc, looks_like_code
from orders.forms import (
    INLINE_IMAGE_KINDS,
    ORIGINAL_TYPES,
    ManualEntryForm,
    RefillRequestForm,
    ResolveIntakeForm,
    original_document_type,
)
from orders.intake.messages import IntakeError
from orders.models import DurAlert, Fill, IntakeIssue, Prescription
from orders.services.intake import (
    IntakeResolutionError,
    RefillRefused,
    blocking_intake_issues,
    receive_prescription,
    refills_remaining,
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
        "refills_remaining": refills_remaining(prescription),
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
    record_audit_event(
        actor=request.user,
        action=AuditEvent.Action.CREATE,
        request=request,
        obj=fill,
        patient=prescription.patient,
        summary=f"Refill of Rx {prescription.rx_number} requested by phone",
    )
    context = {
        # A fresh form: the next caller's Rx number can be scanned straight away.
        "form": RefillRequestForm(),
        "fill": fill,
        "prescription": prescription,
        "alerts": list(DurAlert.objects.filter(fill=fill)),
        "refills_remaining": refills_remaining(prescription),
        "fill_status": Fill.Status(fill.status).label,
        "quantity_text": _quantity_words(fill.quantity, prescription.quantity_unit),
    }
    return render(request, "orders/refill_request.html", context)
