"""Business writes of the orders app: prescription intake, refill requests, cancellations.

Every way a prescription comes in (NCPDP SCRIPT, FHIR, phone or fax entry) ends in
``receive_prescription``, so the rules below hold whatever the channel.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import cache

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Max, OuterRef, Subquery
from django.utils import timezone

from inventory.models import DEASchedule, Package, Product, Storage
from orders.intake.messages import IncomingCancel, IncomingPrescription, IntakeError
from orders.models import (
    Channel,
    DurAlert,
    Fill,
    FillEvent,
    FillHold,
    HoldReason,
    IntakeIssue,
    Order,
    Prescription,
)
from orders.sig import expand_sig
from orders.units import dispensing_unit
from pharmacy import dur
from pharmacy.drug_checks import (
    allergy_profiles_for_patient,
    cached_drug_profile,
    load_interaction_index,
)
from pharmacy.models import AuditEvent, Patient, Prescriber, User
from pharmacy.services import (
    PatientDataError,
    PrescriberDataError,
    RecordMatch,
    create_patient,
    match_or_create_patient,
    match_or_create_prescriber,
    record_audit_event,
    update_prescriber,
)

# A quantity above this is a typing error, not a prescription (10,000 tablets).
MAX_QUANTITY = Decimal("10000")
MAX_DAYS_SUPPLY = 365
# 21 CFR 1306.22: CIII-CV at most 5 refills; 21 CFR 1306.12: CII no refills.
MAX_REFILLS = {DEASchedule.CII: 0, DEASchedule.CIII: 5, DEASchedule.CIV: 5, DEASchedule.CV: 5}
MAX_REFILLS_NON_CONTROLLED = 99


@dataclass(frozen=True)
class IntakeResult:
    """The stored prescription, and whether this call created it (False: a duplicate)."""

    prescription: Prescription
    created: bool


def _refuse(code: str, description: str) -> IntakeError:
    return IntakeError(code, description)


def _expiry(written_date: date, schedule: str) -> date:
    days = settings.CONTROLLED_RX_EXPIRY_DAYS if schedule else settings.RX_EXPIRY_DAYS
    return written_date + timedelta(days=days)


def check_schedule_rules(
    schedule: str, *, refills: int, written_date: date, channel: str, today: date
) -> date:
    """The expiry date of a prescription of this DEA schedule, or IntakeError when no
    pharmacy may fill it: Schedule I; too many refills for the schedule; a Schedule II
    prescription phoned or faxed in; already expired."""
    if schedule == DEASchedule.CI:
        raise _refuse(
            "schedule_i", "Schedule I substances have no accepted medical use and cannot be filled."
        )
    if schedule == DEASchedule.CII and channel in (Channel.PHONE, Channel.FAX):
        # 21 CFR 1306.11: a Schedule II prescription is electronic (EPCS) or written and
        # signed; an oral emergency supply is a pharmacist's decision outside intake.
        raise _refuse(
            "schedule_ii_channel",
            "A Schedule II prescription cannot be taken by phone or fax: it must arrive "
            "electronically or as the signed original (21 CFR 1306.11).",
        )
    limit = MAX_REFILLS.get(schedule, MAX_REFILLS_NON_CONTROLLED)
    if refills > limit:
        rule = {
            DEASchedule.CII: "Schedule II prescriptions cannot be refilled (21 CFR 1306.12)",
            "": f"at most {limit} refills",
        }.get(
            schedule,
            f"Schedule {schedule[1:]} prescriptions allow at most 5 refills (21 CFR 1306.22)",
        )
        raise _refuse("too_many_refills", f"{refills} refills were written: {rule}.")
    expires_on = _expiry(written_date, schedule)
    if expires_on < today:
        raise _refuse(
            "prescription_expired",
            f"The prescription written {written_date} expired on {expires_on}.",
        )
    return expires_on


def _check_prescription_rules(
    incoming: IncomingPrescription, *, schedule: str, channel: str, today: date
) -> tuple[str, date]:
    """Refuse what no pharmacy may fill. Returns the dispensing unit and the expiry date."""
    unit = dispensing_unit(incoming.quantity_unit)
    if unit is None:
        raise _refuse(
            "unknown_unit",
            f"The quantity unit {incoming.quantity_unit!r} is not one we dispense in "
            "(tablet, capsule, mL, g, each ...); send a known NCPDP unit code.",
        )
    if not Decimal(0) < incoming.quantity <= MAX_QUANTITY:
        raise _refuse(
            "invalid_quantity",
            f"The quantity {incoming.quantity} is not possible: it must be more than 0 and at "
            f"most {MAX_QUANTITY}.",
        )
    if incoming.days_supply is not None and not 0 < incoming.days_supply <= MAX_DAYS_SUPPLY:
        raise _refuse(
            "invalid_days_supply",
            f"The days supply {incoming.days_supply} is not possible: 1 to {MAX_DAYS_SUPPLY}.",
        )
    if incoming.written_date > today:
        raise _refuse(
            "written_date_in_future",
            f"The written date {incoming.written_date} is in the future.",
        )
    expires_on = check_schedule_rules(
        schedule,
        refills=incoming.refills,
        written_date=incoming.written_date,
        channel=channel,
        today=today,
    )
    return unit, expires_on


def _match_drug(incoming: IncomingPrescription) -> Product | None:
    """The catalogue product of the package the prescription names by NDC11."""
    if not incoming.drug.ndc:
        return None
    package = (
        Package.objects.by_ndc11(incoming.drug.ndc)
        .select_related("product")
        # What intake reads of the product (the rest loads if ever used): its schedule,
        # storage and name.
        .only(
            "product__product_ndc",
            "product__proprietary_name",
            "product__proprietary_name_suffix",
            "product__nonproprietary_name",
            "product__dea_schedule",
            "product__storage",
        )
        .first()
    )
    return package.product if package else None


def _address(incoming_address) -> dict:
    return {
        "line1": incoming_address.line1,
        "line2": incoming_address.line2,
        "city": incoming_address.city,
        "state": incoming_address.state,
        "postal_code": incoming_address.postal_code,
    }


def _received_data(incoming: IncomingPrescription) -> dict:
    patient, prescriber, drug = incoming.patient, incoming.prescriber, incoming.drug
    return {
        "patient": {
            "first_name": patient.first_name,
            "middle_name": patient.middle_name,
            "last_name": patient.last_name,
            "date_of_birth": patient.date_of_birth.isoformat() if patient.date_of_birth else None,
            "sex": patient.sex,
            "phone": patient.phone,
            "address": _address(patient.address),
        },
        "prescriber": {
            "first_name": prescriber.first_name,
            "last_name": prescriber.last_name,
            "npi": prescriber.npi,
            "dea_number": prescriber.dea_number,
            "phone": prescriber.phone,
            "fax": prescriber.fax,
        },
        "drug": {
            "description": drug.description,
            "ndc": drug.ndc,
            "strength": drug.strength,
            "dosage_form": drug.dosage_form,
            "dea_schedule": drug.dea_schedule,
        },
        "warnings": list(incoming.warnings),
    }


def receive_prescription(
    incoming: IncomingPrescription,
    *,
    channel: str,
    by: User | None,
    original_document: UploadedFile | None = None,
    today: date | None = None,
    patient: Patient | None = None,
    prescriber: Prescriber | None = None,
    product: Product | None = None,
) -> IntakeResult:
    """Store an incoming prescription with its first fill, or refuse it with the reason.

    Matches the patient (name and date of birth), the prescriber (NPI) and the drug
    (NDC); what cannot be matched for certain is listed in ``intake_issues`` and the
    prescription waits in the intake queue instead of creating duplicates. A ``patient``,
    ``prescriber`` or ``product`` passed in (a technician picked it in manual entry) is
    used as is instead of matching. Runs the drug checks when patient and drug are known.
    The same ``message_id`` twice stores nothing new and returns the first prescription
    (``created`` False), even when two copies race.

    Raises IntakeError (nothing written) for a prescription no pharmacy may fill:
    unknown unit, impossible quantity or days supply, future written date, Schedule I,
    too many refills for its schedule, expired, or a controlled substance without a
    prescriber DEA registration covering its schedule.
    """
    today = today or timezone.localdate()
    try:
        with transaction.atomic():
            return IntakeResult(
                _store_prescription(
                    incoming,
                    channel=channel,
                    by=by,
                    original_document=original_document,
                    today=today,
                    patient=patient,
                    prescriber=prescriber,
                    product=product,
                ),
                created=True,
            )
    except (IntegrityError, IntakeError):
        # A message received before is refused by the unique message id (even a copy
        # racing the first), or by a rule that changed since: either way the answer is
        # the prescription stored then, and this attempt's writes are rolled back. No
        # lookup before storing: nearly every message is new.
        existing = (
            Prescription.objects.filter(message_id=incoming.message_id).first()
            if incoming.message_id
            else None
        )
        if existing is None:
            raise
        return IntakeResult(existing, created=False)


def _store_prescription(
    incoming: IncomingPrescription,
    *,
    channel: str,
    by: User | None,
    original_document: UploadedFile | None,
    today: date,
    patient: Patient | None = None,
    prescriber: Prescriber | None = None,
    product: Product | None = None,
) -> Prescription:
    if product is None:
        product = _match_drug(incoming)
    schedule = product.dea_schedule if product else incoming.drug.dea_schedule
    unit, expires_on = _check_prescription_rules(
        incoming, schedule=schedule, channel=channel, today=today
    )
    issues: list[str] = []
    notes: list[str] = list(incoming.warnings)

    sent = incoming.prescriber
    if prescriber is not None:
        prescriber_match = RecordMatch(prescriber)
    else:
        prescriber_match = match_or_create_prescriber(
            npi=sent.npi,
            first_name=sent.first_name,
            last_name=sent.last_name,
            dea_number=sent.dea_number,
            state_license=sent.state_license,
            phone=sent.phone,
            fax=sent.fax,
            address=_address(sent.address),
        )
    prescriber = prescriber_match.record
    if prescriber is None:
        issues.append(IntakeIssue.PRESCRIBER_UNCERTAIN)
        notes.append(prescriber_match.uncertain)
    elif prescriber_match.created:
        issues.append(IntakeIssue.NEW_PRESCRIBER)

    if schedule:
        dea_number = (prescriber.dea_number if prescriber else "") or sent.dea_number
        if not dea_number:
            raise _refuse(
                "dea_number_required",
                f"A Schedule {schedule[1:]} prescription needs the prescriber's DEA number.",
            )
        if prescriber is not None and not prescriber.needs_review and prescriber.dea_schedules:
            if schedule not in prescriber.dea_schedules:
                raise _refuse(
                    "dea_schedule_not_registered",
                    f"The DEA registration of {prescriber} does not cover Schedule "
                    f"{schedule[1:]} (it covers {', '.join(prescriber.dea_schedules)}).",
                )
        else:
            issues.append(IntakeIssue.DEA_REGISTRATION_UNVERIFIED)

    sent_patient = incoming.patient
    if patient is not None:
        patient_match = RecordMatch(patient)
    else:
        patient_match = match_or_create_patient(
            first_name=sent_patient.first_name,
            last_name=sent_patient.last_name,
            middle_name=sent_patient.middle_name,
            date_of_birth=sent_patient.date_of_birth,
            sex=sent_patient.sex,
            phone=sent_patient.phone,
            address=_address(sent_patient.address),
        )
    patient = patient_match.record
    if patient is None:
        issues.append(IntakeIssue.PATIENT_UNCERTAIN)
        notes.append(patient_match.uncertain)
    elif patient_match.created:
        issues.append(IntakeIssue.NEW_PATIENT)
    if product is None:
        issues.append(IntakeIssue.DRUG_NOT_MATCHED)
        notes.append(f"No catalogue product has the NDC {incoming.drug.ndc or '(none sent)'}.")

    # A new patient or prescriber record is complete enough to go on; an uncertain match,
    # an unknown drug or an unverified DEA registration is not.
    blocking = [i for i in issues if i not in (IntakeIssue.NEW_PATIENT, IntakeIssue.NEW_PRESCRIBER)]
    # The Rx number is the database default (the next of its sequence), read back on insert.
    prescription = Prescription.objects.create(
        status=Prescription.Status.INTAKE if blocking else Prescription.Status.ACTIVE,
        channel=channel,
        message_id=incoming.message_id or None,
        prescriber_order_number=incoming.prescriber_order_number,
        raw_message=incoming.raw.decode("utf-8", errors="replace"),
        received_data=_received_data(incoming),
        intake_issues=issues,
        patient=patient,
        prescriber=prescriber,
        product=product,
        prescribed_ndc=incoming.drug.ndc or "",
        drug_description=incoming.drug.description[:255],
        dea_schedule=schedule,
        quantity=incoming.quantity,
        quantity_unit=unit,
        days_supply=incoming.days_supply,
        refills_authorized=incoming.refills,
        sig_text=incoming.sig_text,
        directions=expand_sig(incoming.sig_text, unit=unit),
        substitutions_allowed=incoming.substitutions_allowed,
        written_date=incoming.written_date,
        expires_on=expires_on,
        note="\n".join(filter(None, [incoming.note, *notes])),
        received_by=by,
    )
    if original_document is not None:
        prescription.original_document.save(original_document.name, original_document, save=True)
    fill = create_fill(
        prescription,
        by=by,
        # An order is a patient's package: a fill whose patient is not matched yet gets
        # its order when a technician resolves the match.
        order=Order.objects.create(patient=patient) if patient is not None else None,
        status=Fill.Status.INTAKE if blocking else Fill.Status.PV1,
        reason=f"Received by {Channel(channel).label}",
        requested_via="new_prescription",
        quantity=prescription.quantity,
        days_supply=prescription.days_supply,
    )
    if patient is not None and product is not None:
        run_drug_checks(prescription, fill, today=today, patient_is_new=patient_match.created)
    if by is not None:
        record_audit_event(
            actor=by,
            action=AuditEvent.Action.CREATE,
            obj=prescription,
            patient=patient,
            summary=f"Prescription received ({channel})",
        )
    return prescription


def create_fill(
    prescription: Prescription,
    *,
    by: User | None,
    order: Order | None,
    status: str,
    reason: str,
    requested_via: str,
    quantity: Decimal,
    days_supply: int | None,
    fill_number: int = 0,
    partial_of: Fill | None = None,
    replacement_of: Fill | None = None,
    reason_code: str = "",
    held_from_status: str = "",
    priority: int = Fill.Priority.NORMAL,
    promised_on: date | None = None,
) -> Fill:
    """Create a fill of the prescription, in ``order``, at ``status``, with the FillEvent
    that starts its history (from nothing to ``status``, ``reason``, ``reason_code``).
    Every fill is made here: a new prescription's first fill, a refill, the remainder of
    a partial fill (``partial_of``) and a reship's replacement (``replacement_of``); from
    then on its status moves only through ``orders.services.workflow``.

    A remainder or a replacement completes or replaces one dispensing: it takes that
    fill's number, cold-chain flag and PV1 (the pharmacist verified the prescription
    for the whole quantity). A fill that starts on hold (``held_from_status``, the step a
    release sends it to) gets its open FillHold, with ``reason_code`` (a HoldReason) and
    ``reason`` as its note, placed by ``by``. Writes in the caller's transaction.

    Raises ValueError for a programming error: a hold without a hold reason, the step to
    return to or the person placing it.
    """
    original = partial_of or replacement_of
    if original is not None:
        fill_number = original.fill_number
        is_cold_chain = original.is_cold_chain
    else:
        is_cold_chain = (
            prescription.product is not None
            and prescription.product.storage == Storage.REFRIGERATED
        )
    on_hold = status == Fill.Status.ON_HOLD
    if on_hold and not (held_from_status and reason_code in HoldReason.values and by):
        raise ValueError("A fill made on hold needs the step it is held at, a hold reason and by.")
    fill = Fill.objects.create(
        prescription=prescription,
        order=order,
        fill_number=fill_number,
        partial_of=partial_of,
        replacement_of=replacement_of,
        status=status,
        held_from_status=held_from_status if on_hold else "",
        quantity=quantity,
        days_supply=days_supply,
        requested_via=requested_via,
        priority=priority,
        promised_on=promised_on,
        is_cold_chain=is_cold_chain,
        pv1_by_id=original.pv1_by_id if original else None,
        pv1_at=original.pv1_at if original else None,
    )
    FillEvent.objects.create(
        fill=fill,
        from_status="",
        to_status=status,
        reason=reason[:255],
        reason_code=reason_code,
        actor=by,
    )
    if on_hold:
        FillHold.objects.create(
            fill=fill,
            reason_code=reason_code,
            note=reason,
            from_status=held_from_status,
            placed_by=by,
        )
    return fill


def next_fill_number(prescription: Prescription) -> int:
    """The number of the prescription's next refill (its fills are numbered from 0)."""
    return (prescription.fills.aggregate(n=Max("fill_number"))["n"] or 0) + 1


# --------------------------------------------------------------------------- drug checks


@cache
def _medication_rows():
    """Prescriptions of a catalogue drug as the drug checks read them: the product as
    ``cached_drug_profile`` sees it, the days supply and when it was last filled. Built
    once per process and narrowed per patient (each filter is a copy): resolving its
    subquery and joins on every prescription cost more than running it."""
    latest_fill = Fill.objects.filter(prescription=OuterRef("pk")).order_by("-created_at")
    return (
        Prescription.objects.filter(product__isnull=False)
        .annotate(last_fill_at=Subquery(latest_fill.values("created_at")[:1]))
        .values_list(
            "product_id",
            "product__product_ndc",
            "product__proprietary_name",
            "product__proprietary_name_suffix",
            "product__nonproprietary_name",
            "product__dea_schedule",
            "days_supply",
            "last_fill_at",
        )
    )


def _current_medications(prescription: Prescription) -> list[dur.CurrentMedication]:
    """The patient's other active prescriptions of a catalogue drug, with their latest
    fill, in one query."""
    return [
        dur.CurrentMedication(
            profile=cached_drug_profile(
                Product(
                    pk=product_id,
                    product_ndc=product_ndc,
                    proprietary_name=brand,
                    proprietary_name_suffix=suffix,
                    nonproprietary_name=generic,
                    dea_schedule=schedule,
                )
            ),
            last_fill_date=timezone.localdate(last_fill_at) if last_fill_at else None,
            days_supply=days_supply,
        )
        for (
            product_id,
            product_ndc,
            brand,
            suffix,
            generic,
            schedule,
            days_supply,
            last_fill_at,
        ) in _medication_rows().current_medications_besides(prescription)
    ]


def run_drug_checks(
    prescription: Prescription,
    fill: Fill,
    *,
    today: date,
    last_fill: Fill | None = None,
    patient_is_new: bool = False,
) -> list[DurAlert]:
    """Run every DUR check for this fill and store each alert for the pharmacist at PV1.

    Needs the patient and the product matched. ``patient_is_new``: the patient record was
    created by this intake, in this transaction, so it has no allergy recorded and no
    other prescription, and neither is read. The interaction reference data is read from
    the in-process cache; an empty reference is itself a ``no_data`` alert.
    """
    patient = prescription.patient
    if patient_is_new:
        # What allergy_profiles_for_patient and _current_medications answer for it.
        allergies = () if patient.no_known_allergies else None
        current_medications = []
    else:
        allergies = allergy_profiles_for_patient(patient)
        current_medications = _current_medications(prescription)
    alerts = dur.check_drug(
        cached_drug_profile(prescription.product),
        allergies=allergies,
        current_medications=current_medications,
        interactions=load_interaction_index(),
        quantity=fill.quantity,
        days_supply=fill.days_supply or prescription.days_supply or 30,
        today=today,
        last_fill=dur.LastFill(
            filled_on=timezone.localdate(last_fill.created_at),
            days_supply=last_fill.days_supply or 30,
        )
        if last_fill
        else None,
    )
    return DurAlert.objects.bulk_create(
        DurAlert(
            prescription=prescription,
            fill=fill,
            type=alert.type,
            severity=alert.severity,
            message=alert.message,
            detail=alert.detail,
        )
        for alert in alerts
    )


# --------------------------------------------------------------------------- refills


class RefillRefused(Exception):
    """A refill request that cannot be honoured; ``code`` and ``detail`` say why."""

    def __init__(self, code: str, detail: str, status_code: int = 409):
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.status_code = status_code


def request_refill(
    rx_number: str, *, date_of_birth: date, by: User | None, today: date | None = None
) -> Fill:
    """A patient's refill request: a new fill waiting for PV1, or RefillRefused with the reason.

    The refill page, the API and any command call this. Locks the prescription row so
    two simultaneous requests cannot both take the last refill. The patient's date of
    birth must match; a mismatch answers "not found" so the endpoint does not confirm
    that an Rx number exists. The new fill (in a new order of the patient) runs the drug
    checks, and one audit row records who asked for whose refill.
    """
    today = today or timezone.localdate()
    with transaction.atomic():
        prescription = (
            Prescription.objects.select_for_update(of=("self",))
            .select_related("patient", "product")
            .filter(rx_number=rx_number.strip())
            .first()
        )
        if (
            prescription is None
            or prescription.patient is None
            or (prescription.patient.date_of_birth != date_of_birth)
        ):
            raise RefillRefused(
                "not_found",
                "No prescription matches that Rx number and date of birth.",
                status_code=404,
            )
        if prescription.status == Prescription.Status.CANCELLED:
            raise RefillRefused(
                "cancelled", f"Rx {rx_number} was cancelled and cannot be refilled."
            )
        if prescription.status == Prescription.Status.EXPIRED or prescription.expires_on < today:
            raise RefillRefused(
                "expired",
                f"Rx {rx_number} expired on {prescription.expires_on}; a new "
                "prescription is needed from the prescriber.",
            )
        if prescription.status != Prescription.Status.ACTIVE:
            raise RefillRefused(
                "not_active",
                f"Rx {rx_number} is {prescription.get_status_display().lower()}; "
                "the pharmacy will contact the patient.",
            )
        fills = list(
            prescription.fills.exclude(status=Fill.Status.CANCELLED).order_by("fill_number")
        )
        if any(f.status not in (Fill.Status.SHIPPED,) for f in fills):
            raise RefillRefused(
                "already_in_progress", f"A fill of Rx {rx_number} is already being prepared."
            )
        # Counted by a statement of its own, after the lock: a count in the locking
        # statement is read before it waits, so it could miss a refill just committed.
        if prescription.refills_remaining() <= 0:
            raise RefillRefused(
                "no_refills_left",
                f"Rx {rx_number} has no refills left; the pharmacy can ask the "
                "prescriber for a new prescription.",
            )
        last = fills[-1] if fills else None
        if last is not None:
            percent = (
                settings.CONTROLLED_REFILL_DUE_PERCENT
                if prescription.is_controlled
                else settings.REFILL_DUE_PERCENT
            )
            days = last.days_supply or prescription.days_supply or 30
            due = timezone.localdate(last.created_at) + timedelta(days=days * percent / 100)
            if today < due:
                raise RefillRefused(
                    "too_soon",
                    f"Rx {rx_number} can be refilled from {due} ({percent} % of the "
                    f"last fill's {days}-day supply).",
                )
        fill = create_fill(
            prescription,
            by=by,
            order=Order.objects.create(patient=prescription.patient),
            status=Fill.Status.PV1,
            reason="Refill requested",
            requested_via="refill_request",
            quantity=prescription.quantity,
            days_supply=prescription.days_supply,
            fill_number=next_fill_number(prescription),
        )
        run_drug_checks(prescription, fill, today=today, last_fill=last)
        record_audit_event(
            actor=by,
            action=AuditEvent.Action.CREATE,
            obj=fill,
            patient=prescription.patient,
            summary=f"Refill of Rx {prescription.rx_number} requested",
        )
        return fill


# --------------------------------------------------------------------------- CancelRx


@dataclass(frozen=True)
class CancelOutcome:
    approved: bool
    reason: str
    prescription: Prescription | None


def cancel_prescription_for_prescriber(cancel: IncomingCancel, *, by: User | None) -> CancelOutcome:
    """A prescriber's CancelRx: cancel the prescription and its fills if none was filled yet.

    Found by the prescriber's order number (and the prescriber's NPI), or by the original
    NewRx message id. Denied, with the reason, when nothing matches or a fill already
    passed the fill step (it is in the pharmacist's hands or shipped, or on hold after
    the fill step). Locks the prescription and its fills; each fill is cancelled through
    the workflow (``cancel_locked_fill``: its open hold closed, its FillEvent written)
    and one audit row records the cancellation.
    """
    # The workflow imports this module (drug checks, fill creation): read it at call time.
    from orders.services.workflow import cancel_locked_fill

    with transaction.atomic():
        candidates = Prescription.objects.select_for_update(of=("self",))
        prescription = None
        if cancel.prescriber_order_number:
            prescription = candidates.filter(
                prescriber_order_number=cancel.prescriber_order_number,
                prescriber__npi=cancel.prescriber.npi,
            ).first()
        if prescription is None and cancel.relates_to_message_id:
            prescription = candidates.filter(message_id=cancel.relates_to_message_id).first()
        if prescription is None:
            return CancelOutcome(
                False,
                "No prescription from this prescriber matches the order number or message.",
                None,
            )
        if prescription.status == Prescription.Status.CANCELLED:
            return CancelOutcome(True, "The prescription was already cancelled.", prescription)
        not_yet_filled = {Fill.Status.INTAKE, Fill.Status.PV1, Fill.Status.FILL}
        fills = list(prescription.fills.select_for_update())
        for fill in fills:
            step = fill.held_from_status if fill.status == Fill.Status.ON_HOLD else fill.status
            if fill.status != Fill.Status.CANCELLED and step not in not_yet_filled:
                return CancelOutcome(
                    False,
                    "The prescription was already filled; contact the pharmacy.",
                    prescription,
                )
        for fill in fills:
            if fill.status != Fill.Status.CANCELLED:
                cancel_locked_fill(
                    fill, by=by, reason=f"CancelRx from prescriber: {cancel.reason}"[:255]
                )
        prescription.status = Prescription.Status.CANCELLED
        prescription.save(update_fields=["status", "updated_at"])
        record_audit_event(
            actor=by, action=AuditEvent.Action.UPDATE, obj=prescription,
            patient=prescription.patient, summary="Cancelled by the prescriber (CancelRx)",
        )  # fmt: skip
        return CancelOutcome(True, "Cancelled before filling.", prescription)


# --------------------------------------------------------------------------- intake queue


class IntakeResolutionError(ValueError):
    """A technician's choice in the intake queue that cannot be applied; ``code`` and
    ``detail`` say why in plain words. Nothing is written."""

    def __init__(self, code: str, detail: str):
        super().__init__(detail)
        self.code = code
        self.detail = detail


# A new patient or prescriber record is to be completed, but does not hold a prescription.
NON_BLOCKING_ISSUES = (IntakeIssue.NEW_PATIENT, IntakeIssue.NEW_PRESCRIBER)


def blocking_intake_issues(prescription: Prescription) -> list[str]:
    """The intake issues that keep the prescription (and its first fill) out of PV1."""
    return [issue for issue in prescription.intake_issues if issue not in NON_BLOCKING_ISSUES]


def _check_schedule_fits(prescription: Prescription, schedule: str, *, today: date) -> date:
    """The expiry date under ``schedule``, or IntakeResolutionError when the prescription as
    written cannot be filled as a product of that schedule."""
    try:
        return check_schedule_rules(
            schedule,
            refills=prescription.refills_authorized,
            written_date=prescription.written_date,
            channel=prescription.channel,
            today=today,
        )
    except IntakeError as error:
        raise IntakeResolutionError(
            error.code,
            f"Rx {prescription.rx_number} as mapped to that product: {error.description}",
        ) from None


def _create_patient_as_received(prescription: Prescription, *, by: User, today: date) -> Patient:
    sent = prescription.received_data.get("patient") or {}
    born = sent.get("date_of_birth")
    if not born:
        raise IntakeResolutionError(
            "no_date_of_birth",
            "No date of birth was received, so the patient cannot be created as received: "
            "pick the patient, or ask the prescriber's office.",
        )
    address = sent.get("address") or {}
    addresses = [address] if address.get("line1") and address.get("city") else []
    values = {
        "first_name": sent.get("first_name", ""),
        "last_name": sent.get("last_name", ""),
        "middle_name": sent.get("middle_name", ""),
        "date_of_birth": date.fromisoformat(born),
        "sex": sent.get("sex") if sent.get("sex") in Patient.Sex.values else Patient.Sex.UNKNOWN,
        "phone": sent.get("phone", ""),
    }
    try:
        return create_patient(**values, addresses=addresses, by=by, today=today)
    except PatientDataError as error:
        if not addresses or not all(key.startswith("addresses") for key in error.errors):
            raise IntakeResolutionError(
                "patient_data",
                "The patient as received cannot be created: "
                + " ".join(f"{field}: {message}" for field, message in error.errors.items()),
            ) from None
    # The address as received is incomplete: the patient is created without it and the
    # technician adds it on the patient's page.
    return create_patient(**values, by=by, today=today)


def resolve_intake(
    prescription: Prescription,
    *,
    by: User,
    patient: Patient | None = None,
    create_patient_as_received: bool = False,
    prescriber: Prescriber | None = None,
    product: Product | None = None,
    dea_schedules_verified: bool = False,
    today: date | None = None,
) -> Prescription:
    """A technician resolves what holds a prescription in the intake queue.

    Picks the patient (or creates them from ``received_data`` when no record fits), the
    prescriber, the catalogue product the drug maps to, and confirms that the
    prescriber's DEA registration covers the product's schedule (recorded on the
    prescriber). What is left unresolved keeps the prescription in intake; when nothing
    blocking remains it becomes active, its first fill gets an order for the patient and
    moves intake -> pv1 with a FillEvent, and the drug checks run again on what was
    resolved. Locks the prescription row; writes one audit row.

    Raises IntakeResolutionError (nothing written): the prescription is not in intake,
    nothing was chosen, or a choice does not fit: a product whose schedule forbids the
    refills written or has expired the prescription, or whose schedule the prescriber's
    verified DEA registration does not cover, a controlled product without a prescriber
    DEA number, a patient that cannot be created as received.
    """
    today = today or timezone.localdate()
    if not (
        patient or create_patient_as_received or prescriber or product or dea_schedules_verified
    ):
        raise IntakeResolutionError(
            "nothing_chosen",
            "Nothing was chosen: pick the patient, prescriber or drug, or confirm the DEA "
            "registration.",
        )
    if patient is not None and create_patient_as_received:
        raise IntakeResolutionError(
            "conflicting_choice",
            "Either pick a patient on file or create the patient as received, not both.",
        )
    with transaction.atomic():
        prescription = (
            Prescription.objects.select_for_update(of=("self",))
            .select_related("patient", "prescriber", "product")
            .get(pk=prescription.pk)
        )
        if prescription.status != Prescription.Status.INTAKE:
            raise IntakeResolutionError(
                "not_in_intake",
                f"Rx {prescription.rx_number} is {prescription.get_status_display().lower()}, "
                "not waiting in intake: there is nothing to resolve.",
            )
        issues = list(prescription.intake_issues)
        done: list[str] = []

        if product is not None:
            prescription.expires_on = _check_schedule_fits(
                prescription, product.dea_schedule, today=today
            )
            prescription.product = product
            prescription.dea_schedule = product.dea_schedule
            issues = [i for i in issues if i != IntakeIssue.DRUG_NOT_MATCHED]
            done.append(f"drug mapped to {product.display_name} ({product.product_ndc})")
        if prescriber is not None:
            prescription.prescriber = prescriber
            issues = [
                i
                for i in issues
                if i not in (IntakeIssue.PRESCRIBER_UNCERTAIN, IntakeIssue.NEW_PRESCRIBER)
            ]
            done.append(f"prescriber {prescriber} (NPI {prescriber.npi})")
        if create_patient_as_received:
            patient = _create_patient_as_received(prescription, by=by, today=today)
            issues = [i for i in issues if i != IntakeIssue.PATIENT_UNCERTAIN]
            issues.append(IntakeIssue.NEW_PATIENT)
            done.append(f"new patient {patient} (#{patient.pk}) created as received")
        elif patient is not None:
            issues = [
                i
                for i in issues
                if i not in (IntakeIssue.PATIENT_UNCERTAIN, IntakeIssue.NEW_PATIENT)
            ]
            done.append(f"patient {patient} (#{patient.pk})")
        if patient is not None:
            prescription.patient = patient

        issues = [i for i in issues if i != IntakeIssue.DEA_REGISTRATION_UNVERIFIED]
        issues += _dea_registration_issues(
            prescription, by=by, verified=dea_schedules_verified, done=done
        )
        prescription.intake_issues = list(dict.fromkeys(issues))
        blocking = blocking_intake_issues(prescription)
        if not blocking:
            prescription.status = Prescription.Status.ACTIVE
        prescription.save(
            update_fields=[
                "patient",
                "prescriber",
                "product",
                "dea_schedule",
                "expires_on",
                "intake_issues",
                "status",
                "updated_at",
            ]
        )
        if not blocking:
            _release_first_fill(prescription, by=by, today=today)
        record_audit_event(
            actor=by,
            action=AuditEvent.Action.UPDATE,
            obj=prescription,
            patient=prescription.patient,
            summary=(
                f"Intake {'resolved' if not blocking else 'partly resolved'}: " + "; ".join(done)
            ),
        )
    return prescription


def _dea_registration_issues(
    prescription: Prescription, *, by: User, verified: bool, done: list[str]
) -> list[str]:
    """The DEA issue left for a controlled prescription, after the technician's check."""
    schedule = prescription.dea_schedule
    prescriber = prescription.prescriber
    if not schedule:
        return []
    if prescriber is None:
        if verified:
            raise IntakeResolutionError(
                "prescriber_required",
                "Pick the prescriber before confirming their DEA registration.",
            )
        return [IntakeIssue.DEA_REGISTRATION_UNVERIFIED]
    label = DEASchedule(schedule).label
    # The number on file, else the one the prescription carried (checked at intake).
    dea_number = prescriber.dea_number or (
        (prescription.received_data.get("prescriber") or {}).get("dea_number") or ""
    )
    if not dea_number:
        raise IntakeResolutionError(
            "dea_number_required",
            f"Neither {prescriber}'s record nor the prescription has a DEA number, and a "
            f"{label} prescription needs one: ask the prescriber's office.",
        )
    on_file = not prescriber.needs_review and prescriber.dea_schedules
    if on_file and schedule not in prescriber.dea_schedules:
        # Never bypassed: a registration on file that does not cover the schedule.
        raise IntakeResolutionError(
            "dea_schedule_not_registered",
            f"The DEA registration of {prescriber} ({prescriber.dea_number}) does not cover "
            f"{label} (it covers {', '.join(prescriber.dea_schedules)}).",
        )
    if on_file:
        return []
    if not verified:
        return [IntakeIssue.DEA_REGISTRATION_UNVERIFIED]
    if schedule not in prescriber.dea_schedules or not prescriber.dea_number:
        try:
            update_prescriber(
                prescriber,
                by=by,
                dea_number=dea_number,
                dea_schedules=[*prescriber.dea_schedules, schedule],
            )
        except PrescriberDataError as error:
            raise IntakeResolutionError(
                "prescriber_data", f"The prescriber's record cannot be updated: {error}"
            ) from None
    done.append(f"DEA registration {dea_number} confirmed for {label}")
    return []


def _release_first_fill(prescription: Prescription, *, by: User, today: date) -> None:
    """Send the first fill of a resolved prescription to PV1 with fresh drug checks."""
    fill = (
        prescription.fills.select_for_update(of=("self",))
        .filter(fill_number=0, status=Fill.Status.INTAKE)
        .select_related("order")
        .first()
    )
    if fill is None:
        return
    update_fields = ["status", "status_changed_at"]
    if fill.order is None:
        fill.order = Order.objects.create(patient=prescription.patient)
        update_fields.append("order")
    elif fill.order.patient_id != prescription.patient_id:
        # The order was made for a patient matched at receipt whom the technician replaced.
        if fill.order.fills.exclude(pk=fill.pk).exists():
            fill.order = Order.objects.create(patient=prescription.patient)
            update_fields.append("order")
        else:
            fill.order.patient = prescription.patient
            fill.order.save(update_fields=["patient"])
    FillEvent.objects.create(
        fill=fill,
        from_status=fill.status,
        to_status=Fill.Status.PV1,
        reason="Intake resolved by a technician",
        actor=by,
    )
    fill.status = Fill.Status.PV1
    fill.status_changed_at = timezone.now()
    fill.save(update_fields=update_fields)
    # Alerts raised at receipt were computed on the data as received and never reached a
    # pharmacist (the fill was held in intake); the checks run again on what was resolved.
    fill.dur_alerts.all().delete()
    run_drug_checks(prescription, fill, today=today)
