"""The work pages of the fill workflow: PV1, the fill station and PV2, one fill at a
time, plus what every fill page shows (the fill, who claimed it, the hold form). They call
``orders.services.workflow`` and show its refusals in its own words; a fill another
person claimed opens read-only. Each view is audited.
"""

import json
from xml.parsers.expat import ExpatError

from defusedxml import DefusedXmlException
from defusedxml import minidom as defused_minidom
from django.contrib import messages
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from orders.forms import (
    FillScanForm,
    HoldForm,
    PdmpCheckForm,
    Pv1ApprovalForm,
    Pv1RejectForm,
    Pv2Form,
    Pv2RejectForm,
)
from orders.intake.fhir import parse_fhir_json
from orders.intake.messages import IntakeError
from orders.intake.ncpdp import parse_new_rx
from orders.models import (
    FILL_MOVES,
    Channel,
    DurAlert,
    DurOverride,
    Fill,
    FillScan,
    Prescription,
    ScanEntry,
    severity_label,
)
from orders.services import workflow
from orders.units import dispensing_unit
from orders.views._common import TECHNICIAN_WORK, VERIFY_WORK, _quantity_words
from orders.views.claims import _next_page
from orders.views.prescriptions import _original
from orders.views.product_checks import compare_rows, label_preview, prescribed_package
from orders.views.pv1_checks import (
    SERIOUS,
    controlled_checks,
    most_serious_first,
    pdmp_checks,
    worst_severity,
)
from orders.views.queues import FILL_QUEUES, claimed_by_someone_else, step_words
from pharmacy.access import staff_permission_required
from pharmacy.models import AuditEvent
from pharmacy.services import record_audit_event

# The PV1 approval form's id: its alert fields sit at the top of the page, its button at
# the foot.
PV1_APPROVE_FORM = "pv1-approve-form"


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
        "Drug": f"{product.full_description}, NDC "
        f"{prescription.prescribed_ndc or product.product_ndc}"
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
        .select_related("product")
        .prefetch_related("product__strengths")
        .only(
            *("rx_number", "drug_description", "directions", "days_supply", "written_date"),
            *("product__proprietary_name", "product__proprietary_name_suffix"),
            *("product__nonproprietary_name", "product__product_ndc", "product__dosage_form"),
        )
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
    """Each alert, most serious first, with its severity in words and its reason and note
    fields, or the override already recorded. The fields sit at the top of the page and
    belong to the approval form at its foot (the ``form`` attribute)."""
    for field in form.fields.values():
        field.widget.attrs["form"] = PV1_APPROVE_FORM
    return [
        {
            "alert": alert,
            "severity": severity_label(alert.severity),
            "is_serious": alert.severity in SERIOUS,
            "reason": form[f"override_{alert.pk}"]
            if f"override_{alert.pk}" in form.fields
            else None,
            "note": form[f"note_{alert.pk}"] if f"note_{alert.pk}" in form.fields else None,
            "done": next(iter(alert.overrides.all()), None),
        }
        for alert in most_serious_first(alerts)
    ]


def _pv1_page(
    request, fill: Fill, *, form=None, reject_form=None, pdmp_form=None, error="", status=200
):
    prescription = fill.prescription
    alerts = _pv1_alerts(fill)
    schedule = prescription.controlled_schedule
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
        approve_form_id=PV1_APPROVE_FORM,
        worst_severity=severity_label(worst_severity(a.severity for a in alerts)) if alerts else "",
        schedule=schedule,
        controlled_checks=controlled_checks(prescription, schedule) if schedule else [],
        pdmp_checks=pdmp_checks(fill) if schedule else [],
        pdmp_form=pdmp_form
        or PdmpCheckForm(prefix="pdmp", initial={"state": _patient_state(prescription)}),
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


def _patient_state(prescription: Prescription) -> str:
    """Where the PDMP look-up starts: the state the patient lives in, if on file."""
    patient = prescription.patient
    address = patient.default_shipping_address if patient else None
    return address.state if address else ""


@require_POST
@staff_permission_required(VERIFY_WORK)
def fill_pv1_pdmp(request, pk: int):
    """PV1 of a controlled substance: the pharmacist records the state PDMP check."""
    fill = _work_fill(pk)
    if (moved := _check_step(request, fill, Fill.Status.PV1)) is not None:
        return moved
    form = PdmpCheckForm(request.POST, prefix="pdmp")
    if not form.is_valid():
        return _pv1_page(request, fill, pdmp_form=form, status=400)
    try:
        check = workflow.record_pdmp_check(fill, by=request.user, **form.cleaned_data)
    except workflow.WorkflowError as error:
        return _moved_on(request, fill, error) or _pv1_page(
            request, fill, pdmp_form=form, error=error.detail, status=error.status
        )
    messages.success(
        request,
        f"PDMP check recorded for Rx {fill.prescription.rx_number}: "
        f"{check.get_result_display().lower()}.",
    )
    return redirect("fill_pv1", pk=fill.pk)


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


# The station's refusals that ask for the rotation reason (a later-expiring lot scanned).
ROTATION_REFUSALS = frozenset({"rotation_reason_required"})


def _station_page(
    request,
    fill: Fill,
    *,
    form=None,
    error="",
    is_scan_refusal=False,
    asks_rotation_reason=False,
    status=200,
):
    # Neither the count nor the lot is filled in: the technician counts and the lot comes
    # from the bottle's scan or is typed from it (issue 13). The suggestion is shown, as
    # where to take stock from, never as a value.
    lot = workflow.suggest_lot(fill)
    form = form or FillScanForm()
    if asks_rotation_reason:
        form.fields["rotation_reason"].widget.attrs["data-focus"] = ""
    context = _work_context(
        request,
        fill,
        form=form,
        error=error,
        is_scan_refusal=is_scan_refusal,
        asks_rotation_reason=asks_rotation_reason,
        lot=lot,
        package=prescribed_package(fill.prescription),
        **label_preview(fill),
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
            rotation_reason=data["rotation_reason"],
        )
    except workflow.WorkflowError as error:
        if (moved := _moved_on(request, fill, error)) is not None:
            return moved
        # A fresh scan field: the next scan must not land after the refused one. What the
        # technician typed stays (their count, their lot, their reason).
        form = FillScanForm(
            initial={
                "quantity": data["quantity"],
                "lot_number": data["lot_number"],
                "is_partial": data["is_partial"],
                "rotation_reason": data["rotation_reason"],
            }
        )
        return _station_page(
            request,
            fill,
            form=form,
            error=error.detail,
            is_scan_refusal=isinstance(error, workflow.ScanRefused),
            asks_rotation_reason=error.code in ROTATION_REFUSALS or bool(data["rotation_reason"]),
            status=error.status,
        )
    done = (
        f"Rx {filled.prescription.rx_number} filled: "
        f"{_quantity_words(filled.dispensed_quantity, filled.prescription.quantity_unit)} "
        f"from lot {filled.lot_number}; it waits for PV2."
    )
    return _next_page(request, Fill.Status.FILL, done, scan_confirmed=True)


def _pv2_page(
    request,
    fill: Fill,
    *,
    form=None,
    reject_form=None,
    error="",
    is_scan_refusal=False,
    asks_typed_reason=False,
    status=200,
):
    prescription = fill.prescription
    context = _work_context(
        request,
        fill,
        asks_typed_reason=asks_typed_reason,
        form=_pv2_form(form, asks_typed_reason=asks_typed_reason),
        reject_form=reject_form or Pv2RejectForm(prefix="reject"),
        error=error,
        is_scan_refusal=is_scan_refusal,
        compare_rows=compare_rows(fill, prescribed_package(prescription)),
        **label_preview(fill),
        dispensed_quantity_text=_quantity_words(fill.dispensed_quantity, prescription.quantity_unit)
        if fill.dispensed_quantity is not None
        else "–",
        quantity_matches=fill.dispensed_quantity == fill.quantity,
        label_url=_label_url(fill),
        scans=list(fill.scans.select_related("by").order_by("-pk")[:6]),
    )
    _audit_fill_page(request, fill, "PV2")
    return render(request, "orders/pv2.html", context, status=status)


def _pv2_form(form, *, asks_typed_reason: bool) -> Pv2Form:
    form = form or Pv2Form()
    if asks_typed_reason:
        form.fields["typed_reason"].widget.attrs["data-focus"] = ""
    return form


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
    data = form.cleaned_data
    try:
        workflow.approve_pv2(
            fill,
            by=request.user,
            scan=data["scan"],
            stock_scan=data["stock_scan"],
            # Not said by the page's script (no script, a pasted code): typed.
            entry=data["entry"] or ScanEntry.TYPED,
            typed_reason=data["typed_reason"],
        )
    except workflow.WorkflowError as error:
        if (moved := _moved_on(request, fill, error)) is not None:
            return moved
        return _pv2_page(
            request,
            fill,
            form=Pv2Form(initial={"typed_reason": data["typed_reason"]}),
            error=error.detail,
            is_scan_refusal=isinstance(error, workflow.ScanRefused),
            asks_typed_reason=error.code == "typed_code" or bool(data["typed_reason"]),
            status=error.status,
        )
    return _next_page(
        request,
        Fill.Status.PV2,
        f"Rx {fill.prescription.rx_number} passed PV2: ready to pack.",
        scan_confirmed=True,
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
