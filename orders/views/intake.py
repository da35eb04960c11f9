"""The intake queue (prescriptions waiting for a technician: an unmatched patient,
prescriber or drug) and the page that resolves one, what was received beside the pickers
that choose the records. Both audit the patients they show.
"""

import re
from datetime import date

from django.contrib import messages
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET

from inventory.models import Product
from orders.forms import ResolveIntakeForm
from orders.models import Fill, IntakeIssue, Prescription
from orders.services.intake import IntakeResolutionError, blocking_intake_issues, resolve_intake
from orders.views._common import TECHNICIAN_WORK, _quantity_words
from orders.views.pickers import (
    PICK_RESULTS,
    _chosen,
    _patient_option,
    _prescriber_option,
    _product_option,
    _with_strengths,
)
from orders.views.prescriptions import _original
from orders.views.queues import queue_tabs
from pharmacy.access import staff_permission_required
from pharmacy.models import AuditEvent, Patient, Prescriber
from pharmacy.patient_keys import name_key
from pharmacy.services import find_possible_duplicates, record_audit_event, record_list_view

# Rows the queue page shows; the oldest come first, and the count says how many wait.
QUEUE_PAGE_ROWS = 200


def _queue_context() -> dict:
    waiting = Prescription.objects.in_intake_queue()
    rows = list(
        waiting.select_related("patient", "product").prefetch_related("product__strengths")[
            :QUEUE_PAGE_ROWS
        ]
    )
    for prescription in rows:
        prescription.issue_labels = [IntakeIssue(i).label for i in prescription.intake_issues]
    return {"rows": rows, "count": waiting.count() if len(rows) == QUEUE_PAGE_ROWS else len(rows)}


def _audit_queue(request, context: dict, *, refresh: bool) -> None:
    """One audit row per page view naming the patients shown; a refresh only when it
    shows someone new (``record_list_view``, as the fill queues)."""
    record_list_view(
        request,
        list_name="intake-queue",
        page="",
        patients=[p.patient for p in context["rows"] if p.patient],
        summary=f"Intake queue ({len(context['rows'])} shown)",
        refresh=refresh,
    )


@staff_permission_required(TECHNICIAN_WORK)
def intake_queue(request):
    context = _queue_context()
    _audit_queue(request, context, refresh=False)
    context["tabs"] = queue_tabs(request, current=Fill.Status.INTAKE)
    return render(request, "orders/intake_queue.html", context)


@require_GET
@staff_permission_required(TECHNICIAN_WORK)
def intake_queue_rows(request):
    """The queue's table alone, polled by the page every 15 seconds."""
    context = _queue_context()
    _audit_queue(request, context, refresh=True)
    return render(request, "orders/_intake_rows.html", context)


def _patient_candidates(prescription: Prescription) -> list[tuple[Patient, str]]:
    """Records in use that may be the patient received, with why: the likely duplicates
    (same birth date and a similar name, same phone, same address), then anyone with
    the same last name or birth date."""
    sent = prescription.received_data.get("patient") or {}
    born = sent.get("date_of_birth")
    address = sent.get("address") or {}
    found = {
        d.patient.pk: (d.patient, d.why)
        for d in find_possible_duplicates(
            first_name=sent.get("first_name", ""),
            last_name=sent.get("last_name", ""),
            date_of_birth=date.fromisoformat(born) if born else None,
            phone=sent.get("phone", ""),
            addresses=[address] if address.get("line1") else [],
        )
    }
    others = Q()
    if sent.get("last_name"):
        others |= Q(search_last_name=name_key(sent["last_name"]))
    if born:
        others |= Q(date_of_birth=born)
    if others:
        for patient in Patient.objects.active().filter(others).order_by("pk")[:PICK_RESULTS]:
            same_born = born and patient.date_of_birth.isoformat() == born
            found.setdefault(
                patient.pk, (patient, "same date of birth" if same_born else "same last name")
            )
    pks = list(found)[:PICK_RESULTS]
    loaded = Patient.objects.prefetch_related("allergies", "addresses").in_bulk(pks)
    return [(loaded[pk], found[pk][1]) for pk in pks]


def _prescriber_candidates(prescription: Prescription) -> list[Prescriber]:
    sent = prescription.received_data.get("prescriber") or {}
    conditions = Q()
    if sent.get("npi"):
        conditions |= Q(npi=sent["npi"])
    if sent.get("last_name"):
        conditions |= Q(last_name__iexact=sent["last_name"])
    return list(Prescriber.objects.filter(conditions)[:PICK_RESULTS]) if conditions else []


def _product_candidates(prescription: Prescription) -> list[dict]:
    """Catalogue products for the drug as received: by its first name word and strength
    ("Lisinopril 10 MG Oral Tablet" -> "Lisinopril 10 mg"), else by that word alone."""
    words = re.findall(r"[A-Za-z]{3,}", prescription.drug_description)
    if not words:
        return []
    strength = re.search(
        r"(\d+(?:\.\d+)?)\s*(mg|mcg|g|ml|meq|units?)\b", prescription.drug_description, re.I
    )
    if strength:
        found = _with_strengths(Product.objects.search(f"{words[0]} {strength[1]} {strength[2]}"))
        if found:
            return [_product_option(p) for p in found]
    return [_product_option(p) for p in _with_strengths(Product.objects.search(words[0]))]


def _intake_page(request, prescription: Prescription, form: ResolveIntakeForm, status=200):
    issues = list(prescription.intake_issues)
    open_patient = prescription.patient is None or IntakeIssue.PATIENT_UNCERTAIN in issues
    open_prescriber = prescription.prescriber is None or (
        IntakeIssue.PRESCRIBER_UNCERTAIN in issues
    )
    candidates = _patient_candidates(prescription) if open_patient else []
    patients = [patient for patient, _ in candidates]
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
        "patient_options": [_patient_option(p, why=why) for p, why in candidates],
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
