"""Refill requests: a patient asks for the next fill of a prescription (the refill page,
the API's ``/refill-requests/``), and gets a new fill waiting for PV1 or the reason why not.
"""

from datetime import date, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from orders.models import Fill, Order, Prescription
from orders.services.drug_checks import run_drug_checks
from orders.services.fills import create_fill, next_fill_number
from pharmacy.models import AuditEvent, User
from pharmacy.services import record_audit_event

__all__ = ["RefillRefused", "request_refill"]


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
    checks, and one audit row records who asked for whose refill. A refill asked for too
    soon can be scheduled instead (``orders.services.intake.scheduled_refills``).
    """
    today = today or timezone.localdate()
    with transaction.atomic():
        prescription = locked_prescription_for_patient(rx_number, date_of_birth=date_of_birth)
        last, due = check_refill_allowed(prescription, today=today)
        if today < due:
            raise too_soon_refusal(prescription, last=last, due=due)
        fill = make_refill(prescription, last=last, by=by, today=today, reason="Refill requested")
        record_audit_event(
            actor=by,
            action=AuditEvent.Action.CREATE,
            obj=fill,
            patient=prescription.patient,
            summary=f"Refill of Rx {prescription.rx_number} requested",
        )
        return fill


def locked_prescription_for_patient(rx_number: str, *, date_of_birth: date) -> Prescription:
    """The prescription with that Rx number, locked, if the patient's date of birth
    matches; else RefillRefused "not_found" (the same answer for an unknown Rx number,
    so that a caller cannot learn which Rx numbers exist). Call inside a transaction."""
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
    return prescription


def check_refill_allowed(prescription: Prescription, *, today: date) -> tuple[Fill | None, date]:
    """Whether the locked prescription may be refilled at all (not cancelled, expired,
    inactive, already being filled or out of refills: RefillRefused otherwise), and from
    which date: its last fill and the first date a refill is due (the last fill's date
    plus the share of its days' supply that settings allow; ``today`` for a first fill).

    The one statement of the refill rules, used by the refill request and by the
    scheduled refill both when it is scheduled and when it is queued on its date."""
    rx_number = prescription.rx_number
    if prescription.status == Prescription.Status.CANCELLED:
        raise RefillRefused("cancelled", f"Rx {rx_number} was cancelled and cannot be refilled.")
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
    fills = list(prescription.fills.exclude(status=Fill.Status.CANCELLED).order_by("fill_number"))
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
    if last is None:
        return None, today
    days = last.days_supply or prescription.days_supply or 30
    return last, timezone.localdate(last.created_at) + timedelta(
        days=days * refill_due_percent(prescription) / 100
    )


def refill_due_percent(prescription: Prescription) -> int:
    """The share of the last fill's days' supply that must pass before a refill."""
    if prescription.is_controlled:
        return settings.CONTROLLED_REFILL_DUE_PERCENT
    return settings.REFILL_DUE_PERCENT


def too_soon_refusal(prescription: Prescription, *, last: Fill | None, due: date) -> RefillRefused:
    """The "too soon" refusal, naming the first date the refill is due."""
    days = (last.days_supply if last else None) or prescription.days_supply or 30
    return RefillRefused(
        "too_soon",
        f"Rx {prescription.rx_number} can be refilled from {due} "
        f"({refill_due_percent(prescription)} % of the last fill's {days}-day supply).",
    )


def make_refill(
    prescription: Prescription, *, last: Fill | None, by: User | None, today: date, reason: str
) -> Fill:
    """The refill itself, once allowed: a new fill waiting for PV1 in a new order of the
    patient, through ``create_fill``, with its drug checks. Writes in the caller's
    transaction, which holds the prescription's lock."""
    fill = create_fill(
        prescription,
        by=by,
        order=Order.objects.create(patient=prescription.patient),
        status=Fill.Status.PV1,
        reason=reason,
        requested_via="refill_request",
        quantity=prescription.quantity,
        days_supply=prescription.days_supply,
        fill_number=next_fill_number(prescription),
    )
    run_drug_checks(prescription, fill, today=today, last_fill=last)
    return fill
