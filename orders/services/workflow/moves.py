"""Status moves of a fill without a step service of their own: ``transition_fill`` (the
general move along FILL_MOVES, intake to PV1 among them) and ``cancel_locked_fill``, with
what a move back or a cancellation undoes (dispensed units returned, an open hold closed).
"""

from django.db import transaction
from django.utils import timezone

from inventory.models import StockMovement
from inventory.services.stock import return_to_stock
from orders.models import Fill, FillHold, IntakeIssue, Order, Prescription
from orders.services.drug_checks import run_drug_checks
from orders.services.workflow.helpers import (
    DISPENSED_BLANKS,
    DISPENSED_FIELDS,
    STEP_SERVICES,
    S,
    WorkflowError,
    _check_move,
    _lock,
    _required_text,
    _step,
    move_locked_fill,
)
from pharmacy.models import User

__all__ = [
    "NON_BLOCKING_ISSUES",
    "blocking_intake_issues",
    "cancel_locked_fill",
    "transition_fill",
]

# A new patient or prescriber record is to be completed, but does not hold a prescription.
NON_BLOCKING_ISSUES = (IntakeIssue.NEW_PATIENT, IntakeIssue.NEW_PRESCRIBER)


def blocking_intake_issues(prescription: Prescription) -> list[str]:
    """The intake issues that keep the prescription (and its first fill) out of PV1:
    checked by ``transition_fill`` (intake to PV1) and by the intake queue
    (``orders.services.intake.resolve_intake``)."""
    return [issue for issue in prescription.intake_issues if issue not in NON_BLOCKING_ISSUES]


def transition_fill(
    fill: Fill, *, to: str, by: User, reason: str = "", reason_code: str = ""
) -> Fill:
    """Move a fill to another status along FILL_MOVES, as ``by``; returns the fill.

    Locks the fill and re-reads its status. The moves with checks of their own (PV1,
    the fill, PV2, holds and releases) are refused here: their own service makes them.
    Sending a fill from intake to PV1 needs the prescription's patient, prescriber and
    drug settled; it gets an order if it had none and its drug checks run again on the
    data as corrected. Cancelling needs a reason and returns any dispensed units to their
    lot. Raises WorkflowError: unknown status, move not allowed, role not allowed,
    claimed by someone else, a step with its own service, missing reason.
    """
    if to not in S.values:
        raise WorkflowError("unknown_status", f"{to!r} is not a fill status.", 400)
    with transaction.atomic():
        fill = _lock(fill)
        _check_move(fill, to=to, by=by)
        service = STEP_SERVICES.get((fill.status, to))
        if service is None and to == S.ON_HOLD:
            service = "hold_fill"
        elif service is None and fill.status == S.ON_HOLD and to != S.CANCELLED:
            service = "release_fill"
        if service is not None:
            raise WorkflowError(
                "step_required",
                f"Moving a fill from {_step(fill.status)} to {_step(to)} is a step with its "
                f"own checks: use {service}.",
            )
        if to == S.CANCELLED:
            return cancel_locked_fill(
                fill, by=by, reason=_required_text(reason, "reason"), reason_code=reason_code
            )
        update_fields: list[str] = []
        if fill.status == S.INTAKE and to == S.PV1:
            update_fields += _prepare_for_pv1(fill)
        return move_locked_fill(
            fill, to=to, by=by, reason=reason, reason_code=reason_code, update_fields=update_fields
        )


def cancel_locked_fill(fill: Fill, *, by: User | None, reason: str, reason_code: str = "") -> Fill:
    """Cancel a fill whose row the caller locked, in the caller's transaction: dispensed
    units go back to their lot, an open hold is closed, and the move writes its
    FillEvent. Who may cancel is the caller's check: ``transition_fill`` checks a
    person's role and claim; a prescriber's CancelRx
    (``orders.services.intake.cancel_prescription_for_prescriber``) has rules of its own
    and may come with no person (``by`` None)."""
    update_fields = _undo_dispensing(fill, by=by, reason=f"Fill cancelled: {reason}")[0]
    update_fields += _close_open_hold(fill, by=by, note=f"Cancelled: {reason}")
    return move_locked_fill(
        fill,
        to=S.CANCELLED,
        by=by,
        reason=reason,
        reason_code=reason_code,
        update_fields=update_fields,
    )


def _prepare_for_pv1(fill: Fill) -> list[str]:
    """A fill leaving intake (after a PV1 rejection, say): its prescription must be
    settled; it gets an order, and drug checks run again on the data as corrected."""
    prescription = fill.prescription
    missing = [
        what
        for what, value in (
            ("patient", prescription.patient_id),
            ("prescriber", prescription.prescriber_id),
            ("drug", prescription.product_id),
        )
        if value is None
    ]
    if missing or blocking_intake_issues(prescription):
        raise WorkflowError(
            "intake_incomplete",
            f"Rx {prescription.rx_number} still has intake issues to resolve"
            + (f" (no {', '.join(missing)} matched)" if missing else "")
            + "; resolve them before sending the fill to PV1.",
        )
    update_fields = []
    if fill.order is None:
        fill.order = Order.objects.create(patient=prescription.patient)
        update_fields.append("order")
    last_fill = (
        prescription.fills.exclude(pk=fill.pk)
        .exclude(status=S.CANCELLED)
        .filter(fill_number__lt=fill.fill_number)
        .order_by("-fill_number", "-created_at")
        .first()
    )
    # Overrides of the old alerts go with them (cascade): this is a new PV1.
    fill.dur_alerts.all().delete()
    run_drug_checks(prescription, fill, today=timezone.localdate(), last_fill=last_fill)
    return update_fields


def _undo_dispensing(
    fill: Fill, *, by: User, reason: str
) -> tuple[list[str], StockMovement | None]:
    """Return what was put in the vial to its lot (a RETURN ledger row) and clear the
    record of it on the fill. Returns the fields changed and the ledger row (None when
    nothing was dispensed)."""
    if fill.stock_lot_id is None or not fill.dispensed_quantity:
        return [], None
    movement = return_to_stock(
        fill.stock_lot,
        quantity=fill.dispensed_quantity,
        by=by,
        reference=fill.stock_reference,
        reason=reason[:255],
    )
    for field in DISPENSED_FIELDS:
        setattr(fill, field, DISPENSED_BLANKS.get(field))
    return list(DISPENSED_FIELDS), movement


def _close_open_hold(fill: Fill, *, by: User, note: str) -> list[str]:
    if fill.status != S.ON_HOLD:
        return []
    FillHold.objects.filter(fill=fill, released_at__isnull=True).update(
        released_by=by, released_at=timezone.now(), release_note=note
    )
    fill.held_from_status = ""
    return ["held_from_status"]
