"""Receiving prescriptions: every way a prescription comes in (NCPDP SCRIPT, FHIR, phone or
fax entry) ends in ``receive_prescription``, so the rules below hold whatever the channel.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from inventory.models import DEASchedule, Package, Product
from orders.intake.messages import IncomingPrescription, IntakeError
from orders.models import Channel, Fill, IntakeIssue, Order, Prescription
from orders.services.drug_checks import run_drug_checks
from orders.services.fills import create_fill
from orders.services.intake.verbal_orders import VerbalOrder, check_verbal_order
from orders.services.workflow import NON_BLOCKING_ISSUES
from orders.sig import expand_sig
from orders.units import dispensing_unit
from pharmacy.models import AuditEvent, Patient, Prescriber, User
from pharmacy.services import (
    PatientMergedError,
    RecordMatch,
    lock_patient_for_new_work,
    match_or_create_patient,
    match_or_create_prescriber,
    record_audit_event,
)

__all__ = [
    "MAX_DAYS_SUPPLY",
    "MAX_QUANTITY",
    "MAX_REFILLS",
    "MAX_REFILLS_NON_CONTROLLED",
    "IntakeResult",
    "check_schedule_rules",
    "receive_prescription",
]

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
    verbal_order: VerbalOrder | None = None,
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
    prescriber DEA registration covering its schedule; a phone order without the
    caller's office, name and US call-back number, or without the pharmacist who took it
    where the patient's state requires one (``check_verbal_order``).
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
                    verbal_order=verbal_order,
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
    verbal_order: VerbalOrder | None = None,
) -> Prescription:
    # The caller details first: a phone order without them is refused before any write.
    verbal_order = check_verbal_order(verbal_order, channel=channel, patient=None)
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
        try:
            # A technician picked this record: a merged one is refused, naming the survivor.
            patient = lock_patient_for_new_work(patient)
        except PatientMergedError as error:
            raise _refuse("patient_merged", error.errors["patient"]) from None
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
    if patient is not None and not patient_match.created:
        # Matched before a merge of the record may have committed: the lock waits for it,
        # and the prescription goes to the survivor.
        patient = lock_patient_for_new_work(patient, follow_merge=True)
    if patient is None:
        issues.append(IntakeIssue.PATIENT_UNCERTAIN)
        notes.append(patient_match.uncertain)
    elif patient_match.created:
        issues.append(IntakeIssue.NEW_PATIENT)
    # Whether a pharmacist must have taken it depends on the patient's state.
    verbal_order = check_verbal_order(verbal_order, channel=channel, patient=patient)
    if product is None:
        issues.append(IntakeIssue.DRUG_NOT_MATCHED)
        notes.append(f"No catalogue product has the NDC {incoming.drug.ndc or '(none sent)'}.")

    # A new patient or prescriber record is complete enough to go on; an uncertain match,
    # an unknown drug or an unverified DEA registration is not.
    blocking = [i for i in issues if i not in NON_BLOCKING_ISSUES]
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
        caller_office=verbal_order.caller_office,
        caller_name=verbal_order.caller_name,
        callback_phone=verbal_order.callback_phone,
        verbal_order_taken_by=verbal_order.taken_by,
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
