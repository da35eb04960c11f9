"""The intake queue: a technician resolves what holds a prescription in intake (the
patient, prescriber or drug not matched for certain, a DEA registration to confirm), and
its first fill goes on to PV1."""

from datetime import date

from django.db import transaction
from django.utils import timezone

from inventory.models import DEASchedule, Product
from orders.intake.messages import IntakeError
from orders.models import Fill, IntakeIssue, Order, Prescription
from orders.services.drug_checks import run_drug_checks
from orders.services.intake.receiving import check_schedule_rules
from orders.services.workflow import blocking_intake_issues, move_locked_fill
from pharmacy.models import AuditEvent, Patient, Prescriber, User
from pharmacy.services import (
    PatientDataError,
    PatientMergedError,
    PrescriberDataError,
    create_patient,
    lock_patient_for_new_work,
    record_audit_event,
    update_prescriber,
)

__all__ = ["IntakeResolutionError", "resolve_intake"]


class IntakeResolutionError(ValueError):
    """A technician's choice in the intake queue that cannot be applied; ``code`` and
    ``detail`` say why in plain words. Nothing is written."""

    def __init__(self, code: str, detail: str):
        super().__init__(detail)
        self.code = code
        self.detail = detail


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
    # The technician saw the patients on file beside what was received (the queue's
    # candidates) and chose to create the patient: that is the confirmation.
    values["confirm_not_duplicate"] = True
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
            try:
                lock_patient_for_new_work(patient)
            except PatientMergedError as error:
                raise IntakeResolutionError("patient_merged", error.errors["patient"]) from None
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
    """Send the first fill of a resolved prescription to PV1 with fresh drug checks.

    The move is written by the workflow's ``move_locked_fill`` (its FillEvent, status and
    claim), without the role and claim checks of ``transition_fill``: resolving intake is
    a technician's step of its own, and ``resolve_intake`` checked what it needs."""
    fill = (
        prescription.fills.select_for_update(of=("self",))
        .filter(fill_number=0, status=Fill.Status.INTAKE)
        .select_related("order")
        .first()
    )
    if fill is None:
        return
    update_fields = []
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
    move_locked_fill(
        fill,
        to=Fill.Status.PV1,
        by=by,
        reason="Intake resolved by a technician",
        update_fields=update_fields,
    )
    # Alerts raised at receipt were computed on the data as received and never reached a
    # pharmacist (the fill was held in intake); the checks run again on what was resolved.
    fill.dur_alerts.all().delete()
    run_drug_checks(prescription, fill, today=today)
