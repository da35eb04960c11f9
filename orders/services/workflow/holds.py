"""Holds: a fill put aside with a coded reason, and released back to the step it was at."""

from django.db import transaction
from django.utils import timezone

from orders.models import Fill, FillHold, HoldReason
from orders.services.workflow.helpers import (
    S,
    WorkflowError,
    _check_move,
    _describe,
    _free_text,
    _lock,
    _refuse_wrong_status,
    move_locked_fill,
)
from pharmacy.models import User

__all__ = ["hold_fill", "release_fill"]


def hold_fill(fill: Fill, *, by: User, reason_code: str, note: str = "") -> FillHold:
    """Put a fill on hold with a coded reason (HoldReason) and a note; the step it was at
    is kept so a release returns it there. Raises WorkflowError: unknown reason (400),
    already on hold, a move or role FILL_MOVES does not allow, claimed by someone else."""
    if reason_code not in HoldReason.values:
        raise WorkflowError(
            "invalid_reason_code",
            f"{reason_code!r} is not a hold reason; use one of {', '.join(HoldReason.values)}.",
            400,
        )
    note = _free_text(note, "note")
    with transaction.atomic():
        fill = _lock(fill)
        if fill.status == S.ON_HOLD:
            raise WorkflowError("already_on_hold", f"{_describe(fill)} is already on hold.")
        _check_move(fill, to=S.ON_HOLD, by=by)
        hold = FillHold.objects.create(
            fill=fill, reason_code=reason_code, note=note, from_status=fill.status, placed_by=by
        )
        fill.held_from_status = fill.status
        label = HoldReason(reason_code).label
        move_locked_fill(
            fill,
            to=S.ON_HOLD,
            by=by,
            reason=f"On hold: {label}" + (f": {note}" if note else ""),
            reason_code=reason_code,
            update_fields=["held_from_status"],
        )
    return hold


def release_fill(fill: Fill, *, by: User, note: str = "") -> Fill:
    """Release a fill from hold back to the step it was held at, closing its hold.
    Raises WorkflowError: not on hold, a role that may not return it there (a technician
    cannot release a fill held at PV2), claimed by someone else."""
    note = _free_text(note, "note")
    with transaction.atomic():
        fill = _lock(fill)
        if fill.status != S.ON_HOLD:
            raise _refuse_wrong_status(fill, S.ON_HOLD)
        back_to = fill.held_from_status
        if not back_to:
            raise WorkflowError(
                "no_return_step",
                f"{_describe(fill)} does not record the step it was held at; cancel it or "
                "ask a pharmacist.",
            )
        _check_move(fill, to=back_to, by=by)
        hold = FillHold.objects.select_for_update().filter(fill=fill, released_at__isnull=True)
        hold = hold.first()
        reason_code = ""
        if hold is not None:
            hold.released_by = by
            hold.released_at = timezone.now()
            hold.release_note = note
            hold.save(update_fields=["released_by", "released_at", "release_note"])
            reason_code = hold.reason_code
        fill.held_from_status = ""
        return move_locked_fill(
            fill,
            to=back_to,
            by=by,
            reason="Released from hold" + (f": {note}" if note else ""),
            reason_code=reason_code,
            update_fields=["held_from_status"],
        )
