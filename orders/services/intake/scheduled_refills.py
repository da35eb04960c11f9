"""Scheduled refills: a refill asked for too soon waits for its date instead of being
refused, and a beat task makes the fill on that date, once (``ScheduledRefill``).

The refill rules are those of ``orders.services.intake.refills``, checked when the refill
is scheduled and again when its date comes: a prescription cancelled, expired or out of
refills by then never enters the queue.
"""

import logging
from datetime import date

from django.db import IntegrityError, transaction
from django.utils import timezone

from lib.text import checked_free_text
from orders.models import Prescription, ScheduledRefill
from orders.services.intake.refills import (
    RefillRefused,
    check_refill_allowed,
    locked_prescription_for_patient,
    make_refill,
)
from pharmacy.models import AuditEvent, User
from pharmacy.services import record_audit_event

__all__ = [
    "cancel_scheduled_refill",
    "cancel_scheduled_refills",
    "queue_scheduled_refill",
    "schedule_refill",
]

logger = logging.getLogger(__name__)

# Refusals that end a schedule when its date comes; any other (the prescription on hold)
# leaves it scheduled, tried again at the next run, so a hold released later still
# gets the patient their refill.
FINAL_REFUSALS = frozenset(
    {"cancelled", "expired", "no_refills_left", "already_in_progress", "too_soon"}
)


def schedule_refill(
    rx_number: str,
    *,
    date_of_birth: date,
    fill_on: date | None,
    by: User | None,
    today: date | None = None,
) -> ScheduledRefill:
    """Schedule the refill of a prescription for ``fill_on`` (None: its first eligible
    date), when it is too soon to fill today; RefillRefused with the reason otherwise.

    The prescription must be refillable (the refill request's rules, under its lock) and
    have no refill scheduled already. ``fill_on`` may not be in the past, before the
    first eligible date or after the prescription expires. Writes the schedule and one
    audit row in one transaction.
    """
    today = today or timezone.localdate()
    with transaction.atomic():
        prescription = locked_prescription_for_patient(rx_number, date_of_birth=date_of_birth)
        _, due = check_refill_allowed(prescription, today=today)
        rx = prescription.rx_number
        if fill_on is None:
            if due <= today:
                raise RefillRefused(
                    "due_now",
                    f"Rx {rx} can be refilled today; request the refill instead of scheduling it.",
                    status_code=400,
                )
            fill_on = due
        if fill_on < today:
            raise RefillRefused(
                "date_in_past",
                f"{fill_on} is in the past; choose {max(due, today)} or a later date.",
                status_code=400,
            )
        if fill_on < due:
            raise RefillRefused(
                "before_eligible",
                f"Rx {rx} can be refilled from {due}; choose that date or a later one.",
                status_code=400,
            )
        if fill_on > prescription.expires_on:
            raise RefillRefused(
                "after_expiry",
                f"Rx {rx} expires on {prescription.expires_on}; choose a date before then.",
                status_code=400,
            )
        existing = prescription.scheduled_refills.filter(status=ScheduledRefill.Status.SCHEDULED)
        scheduled = existing.first()
        if scheduled is not None:
            raise RefillRefused(
                "already_scheduled",
                f"A refill of Rx {rx} is already scheduled for {scheduled.fill_on}.",
            )
        try:
            # The prescription's lock makes a race impossible; the unique index is the
            # last word all the same.
            with transaction.atomic():
                scheduled = ScheduledRefill.objects.create(
                    prescription=prescription, fill_on=fill_on, requested_by=by
                )
        except IntegrityError:
            raise RefillRefused(
                "already_scheduled", f"A refill of Rx {rx} is already scheduled."
            ) from None
        record_audit_event(
            actor=by,
            action=AuditEvent.Action.CREATE,
            obj=scheduled,
            patient=prescription.patient,
            summary=f"Refill of Rx {rx} scheduled for {fill_on}",
        )
        return scheduled


def queue_scheduled_refill(scheduled_id: int, *, today: date | None = None) -> ScheduledRefill:
    """On or after its date, make the scheduled refill's fill (waiting for PV1) through
    the refill rules, or cancel the schedule with the reason those rules give.

    The schedule is claimed by a conditional UPDATE (scheduled -> queued) whose row
    count is checked, so a beat task run twice, or two workers at once, make one fill:
    the second claim waits for the first transaction and then matches no row. A
    prescription merely not active (on hold) leaves the schedule waiting for the next
    run. Returns the schedule as it now is.
    """
    today = today or timezone.localdate()
    with transaction.atomic():
        claimed = ScheduledRefill.objects.filter(
            pk=scheduled_id, status=ScheduledRefill.Status.SCHEDULED, fill_on__lte=today
        ).update(status=ScheduledRefill.Status.QUEUED, processed_at=timezone.now())
        scheduled = ScheduledRefill.objects.select_related("requested_by").get(pk=scheduled_id)
        if not claimed:
            return scheduled
        prescription = (
            Prescription.objects.select_for_update(of=("self",))
            .select_related("patient", "product")
            .get(pk=scheduled.prescription_id)
        )
        try:
            last, due = check_refill_allowed(prescription, today=today)
            if today < due:
                raise RefillRefused("too_soon", f"Another fill was made; next due {due}.")
        except RefillRefused as refused:
            if refused.code not in FINAL_REFUSALS:
                # Undo the claim: the schedule waits for the next run.
                transaction.set_rollback(True)
                scheduled.status = ScheduledRefill.Status.SCHEDULED
                return scheduled
            scheduled.status = ScheduledRefill.Status.CANCELLED
            scheduled.cancelled_reason = refused.detail[:255]
            scheduled.save(update_fields=["status", "cancelled_reason"])
            record_audit_event(
                actor=None,
                action=AuditEvent.Action.UPDATE,
                obj=scheduled,
                patient=prescription.patient,
                summary=f"Scheduled refill of Rx {prescription.rx_number} cancelled",
            )
            return scheduled
        who = scheduled.requested_by
        asked = f" (asked for by {who.get_full_name() or who.get_username()})" if who else ""
        fill = make_refill(
            prescription,
            last=last,
            by=None,
            today=today,
            reason=f"Scheduled refill for {scheduled.fill_on}{asked}"[:255],
        )
        scheduled.fill = fill
        scheduled.save(update_fields=["fill"])
        record_audit_event(
            actor=None,
            action=AuditEvent.Action.CREATE,
            obj=fill,
            patient=prescription.patient,
            summary=f"Scheduled refill of Rx {prescription.rx_number} entered the queue",
        )
        return scheduled


def cancel_scheduled_refills(prescription: Prescription, *, reason: str) -> int:
    """Cancel the prescription's scheduled refills with ``reason`` (its cancellation by
    the prescriber): they never enter the queue, and staff see why at once rather than
    on their date. Writes in the caller's transaction; returns how many."""
    return prescription.scheduled_refills.filter(status=ScheduledRefill.Status.SCHEDULED).update(
        status=ScheduledRefill.Status.CANCELLED, cancelled_reason=reason[:255]
    )


def cancel_scheduled_refill(scheduled: ScheduledRefill, *, by: User, note: str) -> ScheduledRefill:
    """Staff cancel one scheduled refill (the patient called to say they no longer want
    it): it never enters the queue. Refused with RefillRefused when it is no longer
    scheduled (made or cancelled already) or the note cannot be stored. Locks the
    schedule row; writes it and one audit row in one transaction."""
    note, problem = checked_free_text(note, "note")
    if problem:
        raise RefillRefused("invalid_note", problem, status_code=400)
    with transaction.atomic():
        locked = (
            ScheduledRefill.objects.select_for_update(of=("self",))
            .select_related("prescription__patient")
            .get(pk=scheduled.pk)
        )
        if locked.status != ScheduledRefill.Status.SCHEDULED:
            raise RefillRefused(
                "not_scheduled",
                f"This refill is {locked.get_status_display().lower()} already; nothing "
                "was changed.",
            )
        who = by.get_full_name() or by.get_username()
        locked.status = ScheduledRefill.Status.CANCELLED
        locked.cancelled_reason = f"Cancelled by {who}" + (f": {note}" if note else ".")
        locked.cancelled_reason = locked.cancelled_reason[:255]
        locked.processed_at = timezone.now()
        locked.save(update_fields=["status", "cancelled_reason", "processed_at"])
        record_audit_event(
            actor=by,
            action=AuditEvent.Action.UPDATE,
            obj=locked,
            patient=locked.prescription.patient,
            summary=f"Scheduled refill of Rx {locked.prescription.rx_number} cancelled",
        )
        return locked
