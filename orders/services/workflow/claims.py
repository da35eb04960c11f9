"""Claims on fills: who is working a fill now.

``claim_fill`` is a conditional UPDATE whose row count says who won. A fill claimed by
someone else cannot be worked (PV1, fill, PV2, hold) until they let it go or their claim
is ``FILL_CLAIM_MINUTES`` old: then it is stale and anyone may take it over, so a person
who went home does not block a queue. An unclaimed fill may be worked directly (the row
lock is the claim for the length of the step); a refused scan claims it for the scanner,
who is about to try again.
"""

from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from orders.models import FILL_MOVES, Fill
from orders.services.workflow.helpers import (
    NEXT_STEP,
    WorkflowError,
    _check_claim,
    _describe,
    _name,
    _step,
)
from pharmacy.models import Role, User

__all__ = ["claim_fill", "unclaim_fill"]


def _workable_statuses(user: User) -> list[str]:
    return [status for status, nxt in NEXT_STEP.items() if user.role in FILL_MOVES[status][nxt]]


def claim_fill(fill: Fill, *, by: User) -> Fill:
    """Claim a fill so nobody else works it meanwhile; returns the fill as claimed.

    One conditional UPDATE (unclaimed, already ours, or a claim older than
    FILL_CLAIM_MINUTES; and at a step the actor's role works): of two people claiming at
    once exactly one changes the row. Raises WorkflowError ``claimed`` (someone else holds
    it) or ``not_claimable`` (not at a step this person works).
    """
    now = timezone.now()
    stale = now - timedelta(minutes=settings.FILL_CLAIM_MINUTES)
    claimed = (
        Fill.objects.filter(pk=fill.pk, status__in=_workable_statuses(by))
        .filter(Q(claimed_by__isnull=True) | Q(claimed_by=by) | Q(claimed_at__lt=stale))
        .update(claimed_by=by, claimed_at=now)
    )
    fresh = Fill.objects.with_work_details().get(pk=fill.pk)
    if claimed:
        return fresh
    if fresh.status not in _workable_statuses(by):
        raise WorkflowError(
            "not_claimable",
            f"{_describe(fresh)} is {_step(fresh.status)}: not work a "
            f"{by.role_label.lower()} can claim.",
            status=409 if by.role in (Role.TECHNICIAN, Role.PHARMACIST) else 403,
        )
    _check_claim(fresh, by=by)
    # Released or moved between our UPDATE and our read: the person may simply try again.
    raise WorkflowError("claim_failed", f"{_describe(fresh)} changed meanwhile; try again.")


def unclaim_fill(fill: Fill, *, by: User) -> Fill:
    """Let go of one's claim on a fill (nothing happens if it was not claimed).

    Raises WorkflowError ``claimed`` when someone else holds it.
    """
    Fill.objects.filter(pk=fill.pk, claimed_by=by).update(claimed_by=None, claimed_at=None)
    fresh = Fill.objects.with_work_details().get(pk=fill.pk)
    if fresh.claimed_by_id is not None:
        raise WorkflowError(
            "claimed",
            f"{_describe(fresh)} is claimed by {_name(fresh.claimed_by)}, not by you.",
            claimed_by=_name(fresh.claimed_by),
        )
    return fresh
