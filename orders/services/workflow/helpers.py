"""What every step of the fill workflow shares: the constants of the state machine, its
errors, the checks of a move (status, FILL_MOVES, role, claim), and the move itself.

``move_locked_fill`` is the one place a status move is written: it writes the FillEvent,
saves the fill and clears its claim. When a move leaves an order ready to pack (its last
active fill passed PV2, or was released from hold back to ready to pack, or the last one
not ready was cancelled), a ``shipping.create_shipment`` side effect is recorded in the
same transaction (``outbox``), one per order; a worker delivers it with the shipping
app's deliverer. ``orders`` may not import ``shipping`` (DESIGN.md section 3): the kind
is a string (``ORDER_READY_EFFECT``), and recording an unknown kind fails at once.
"""

from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from lib.text import checked_free_text
from orders.models import FILL_MOVES, Fill, FillEvent, Order
from outbox.services import record_side_effect
from pharmacy.models import User

__all__ = [
    "DISPENSED_BLANKS",
    "DISPENSED_FIELDS",
    "NEXT_STEP",
    "ORDER_READY_EFFECT",
    "STEP_SERVICES",
    "ScanRefused",
    "WorkflowError",
    "move_locked_fill",
    "orders_ready_to_pack",
]

S = Fill.Status

# The work each step waits for: the move forward from it. Whoever may make that move may
# claim a fill at that step.
NEXT_STEP = {
    S.INTAKE: S.PV1,
    S.PV1: S.FILL,
    S.FILL: S.PV2,
    S.PV2: S.READY_TO_PACK,
    S.READY_TO_PACK: S.PACKED,
}

# Moves that carry checks of their own: only their service makes them, never a bare
# ``transition_fill`` (PV1 must see every alert overridden, a fill needs a matching scan...).
STEP_SERVICES = {
    (S.PV1, S.FILL): "approve_pv1",
    (S.PV1, S.INTAKE): "reject_pv1",
    (S.FILL, S.PV2): "fill_with_scan",
    (S.PV2, S.READY_TO_PACK): "approve_pv2",
    (S.PV2, S.FILL): "reject_pv2",
}

# Delivered by shipping (orders cannot import it): make the shipment of a ready order.
ORDER_READY_EFFECT = "shipping.create_shipment"

# What the fill step records on a fill, cleared again when the product goes back to stock.
DISPENSED_FIELDS = (
    "dispensed_package",
    "dispensed_ndc",
    "dispensed_quantity",
    "stock_lot",
    "lot_number",
    "expiry",
    "serial_number",
    "filled_by",
    "filled_at",
    "lot_entered_by_hand",
    "rotation_reason",
)
# What each of them is cleared to when the product goes back to stock.
DISPENSED_BLANKS = {
    "dispensed_ndc": "",
    "lot_number": "",
    "serial_number": "",
    "lot_entered_by_hand": False,
    "rotation_reason": "",
}


class WorkflowError(Exception):
    """A workflow step refused; nothing was changed (a refused scan is still recorded).

    ``code`` is stable for programs, ``detail`` a sentence for people, ``status`` the HTTP
    status the API answers with (409 a conflict with the fill's state or stock, 400 bad
    input, 403 a role or person who may not do this); ``extra`` goes into the API's body.
    """

    def __init__(self, code: str, detail: str, status: int = 409, **extra):
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.status = status
        self.extra = extra


class ScanRefused(WorkflowError):
    """A scan at the fill station or at PV2 that was refused: recorded as a FillScan."""

    def __init__(self, code: str, detail: str, status: int = 409, *, ndc: str = "", lot=""):
        super().__init__(code, detail, status)
        self.scanned_ndc = ndc
        self.lot_number = lot


def _name(user: User) -> str:
    return user.get_full_name() or user.get_username()


def _step(status: str) -> str:
    """A status as words inside a sentence: "waiting for PV1", "on hold"."""
    label = Fill.Status(status).label
    return label[0].lower() + label[1:]


def _describe(fill: Fill, *, start: bool = True) -> str:
    """The fill as people name it: Fill 12 of Rx 1000034 (``start`` False: fill 12 ...)."""
    return f"{'Fill' if start else 'fill'} {fill.pk} of Rx {fill.prescription.rx_number}"


def _lock(fill: Fill) -> Fill:
    """The fill's row, locked until the end of the transaction, read afresh."""
    return (
        Fill.objects.select_for_update(of=("self",))
        .select_related("prescription__product", "order", "claimed_by")
        .get(pk=fill.pk)
    )


def _claim_is_live(fill: Fill, now) -> bool:
    return fill.claimed_by_id is not None and fill.claimed_at > now - timedelta(
        minutes=settings.FILL_CLAIM_MINUTES
    )


def _last_move(fill: Fill) -> str:
    event = fill.events.select_related("actor").order_by("-occurred_at", "-pk").first()
    if event is None or event.actor is None:
        return ""
    when = timezone.localtime(event.occurred_at)
    return f" ({_name(event.actor)} moved it at {when:%H:%M})"


def _refuse_wrong_status(fill: Fill, expected: str) -> WorkflowError:
    return WorkflowError(
        "wrong_status",
        f"{_describe(fill)} is {_step(fill.status)}, not {_step(expected)}{_last_move(fill)}.",
    )


def _check_move(fill: Fill, *, to: str, by: User, expected_from: str | None = None) -> None:
    """Refuse the move unless the locked fill is where the step expects it, FILL_MOVES
    allows the move, the actor's role may make it and nobody else holds a live claim."""
    if expected_from is not None and fill.status != expected_from:
        raise _refuse_wrong_status(fill, expected_from)
    moves = FILL_MOVES.get(fill.status, {})
    if to not in moves:
        raise WorkflowError(
            "move_not_allowed",
            f"{_describe(fill)} is {_step(fill.status)}; it cannot move to {_step(to)}.",
        )
    if by.role not in moves[to]:
        raise WorkflowError(
            "role_not_allowed",
            f"A {by.role_label.lower()} cannot move a fill from {_step(fill.status)} to "
            f"{_step(to)}.",
            status=403,
        )
    _check_claim(fill, by=by)


def _check_claim(fill: Fill, *, by: User) -> None:
    now = timezone.now()
    if fill.claimed_by_id not in (None, by.pk) and _claim_is_live(fill, now):
        since = timezone.localtime(fill.claimed_at)
        raise WorkflowError(
            "claimed",
            f"{_describe(fill)} is claimed by {_name(fill.claimed_by)} (since {since:%H:%M}); "
            "pick another one, or ask them to let it go.",
            claimed_by=_name(fill.claimed_by),
        )


def move_locked_fill(
    fill: Fill,
    *,
    to: str,
    by: User,
    reason: str = "",
    reason_code: str = "",
    update_fields: Iterable[str] = (),
) -> Fill:
    """Move a fill whose row the caller locked, in the caller's transaction: write its
    FillEvent, save the status and clear the claim (the work is done). Checks nothing:
    each step checks its move first (``_check_move``), or has rules of its own (intake's
    release of a resolved prescription's first fill, ``cancel_locked_fill``)."""
    FillEvent.objects.create(
        fill=fill,
        from_status=fill.status,
        to_status=to,
        reason=reason[:255],
        reason_code=reason_code,
        actor=by,
    )
    fill.status = to
    fill.status_changed_at = timezone.now()
    fill.claimed_by = None
    fill.claimed_at = None
    fill.save(
        update_fields=["status", "status_changed_at", "claimed_by", "claimed_at", *update_fields]
    )
    if to in (S.READY_TO_PACK, S.CANCELLED) and fill.order_id is not None:
        _record_shipment_if_order_ready(fill.order_id)
    return fill


def orders_ready_to_pack():
    """Orders whose every active fill passed PV2 and waits to be packed (at least one
    fill ready to pack, the others cancelled): the orders that get a shipment."""
    ready = Fill.objects.filter(order=OuterRef("pk"), status=S.READY_TO_PACK)
    not_ready = Fill.objects.filter(order=OuterRef("pk")).exclude(
        status__in=[S.READY_TO_PACK, S.CANCELLED]
    )
    return Order.objects.filter(Exists(ready)).exclude(Exists(not_ready))


def _record_shipment_if_order_ready(order_id: int) -> None:
    """Inside the move's transaction: when the order is now ready to pack, record its
    shipment's making (``ORDER_READY_EFFECT``), once per order (its dedupe key): a later
    move that leaves the order ready again finds it recorded, and its shipment made or
    made by the catch-up.

    The check reads other fills without locking them: two pharmacists approving the last
    two fills of one order at the same instant each see the other still at PV2, and
    neither records it. The beat catch-up (``ensure_shipments_for_ready_orders``, every
    30 seconds) makes that shipment, and those of orders whose blocked address was
    corrected; locking the order row here instead would make every move of a fill wait on
    its order and add a second lock to every workflow step, for a race a short delay
    already settles."""
    if orders_ready_to_pack().filter(pk=order_id).exists():
        record_side_effect(
            ORDER_READY_EFFECT,
            target_id=order_id,
            description=f"Shipment of order {order_id}",
            dedupe_key=f"{ORDER_READY_EFFECT}:order:{order_id}",
        )


def _claim_quietly(fill_pk: int, by: User) -> None:
    """Claim an unclaimed (or stale) fill for someone who just tried to work it."""
    now = timezone.now()
    Fill.objects.filter(pk=fill_pk).filter(
        Q(claimed_by__isnull=True)
        | Q(claimed_at__lt=now - timedelta(minutes=settings.FILL_CLAIM_MINUTES))
    ).update(claimed_by=by, claimed_at=now)


def _free_text(value: str, what: str) -> str:
    """A note or reason as it is kept: trimmed, and refused (400) when it holds a control
    character or a text-direction override (``lib.text``)."""
    text, problem = checked_free_text(value, what)
    if problem:
        raise WorkflowError(f"invalid_{what}", problem, 400)
    return text


def _short_reason(value: str, *, limit: int = 500) -> str:
    """A reason kept in a column of ``limit`` characters: checked as ``_free_text``, and
    refused (400) when longer, never cut."""
    text = _free_text(value, "reason")
    if len(text) > limit:
        raise WorkflowError(
            "reason_too_long", f"Keep the reason under {limit} characters ({len(text)}).", 400
        )
    return text


def _required_text(value: str, what: str) -> str:
    text = _free_text(value, what)
    if not text:
        raise WorkflowError(f"{what}_required", f"Give a {what}: it is kept on the record.", 400)
    return text
