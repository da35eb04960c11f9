"""The fill workflow: PV1, the scan-verified fill, PV2, holds, claims and discrepancies.

Every function here is one business step (DESIGN.md section 2). Each takes the fill as an
object, locks its row (SELECT ... FOR UPDATE) and re-reads its status inside its own
transaction, then checks the move against ``FILL_MOVES`` and the actor's role; so of two
people racing on one fill the second is refused with the reason (``WorkflowError``)
instead of doing the work twice. Each status move writes a ``FillEvent`` in the same
transaction and clears the fill's claim; the Rx label is queued on commit.

When a move leaves an order ready to pack (its last active fill passed PV2, or was
released from hold back to ready to pack, or the last one not ready was cancelled), the
shipping app's task that makes the order's shipment is queued on commit. ``orders`` may
not import ``shipping`` (DESIGN.md section 3), so the task is sent by its registered
name (``ORDER_READY_TASK``); the shipping app's tests check the name is registered.

Choices where the issue is silent:

* Claims. ``claim_fill`` is a conditional UPDATE whose row count says who won. A fill
  claimed by someone else cannot be worked (PV1, fill, PV2, hold) until they let it go or
  their claim is ``FILL_CLAIM_MINUTES`` (15) old: then it is stale and anyone may take it
  over, so a person who went home does not block a queue. An unclaimed fill may be worked
  directly (the row lock is the claim for the length of the step); a refused scan claims
  it for the scanner, who is about to try again.
* Partial fills are split, not held: when stock is short the technician fills what there
  is (``partial=True``, so a miscount is never taken for a partial fill), that part goes on
  to PV2 and ships now, and the rest becomes a new fill of the same fill number
  (``partial_of``) in a new order of the patient, on hold as out of stock. The patient
  starts therapy now, nothing ships short without a record, and the remainder ships as
  soon as stock arrives and a technician releases and fills it.
* A ``no_data`` drug-check alert (no interaction reference) passes PV1 only with the
  override reason "checked by hand against a reference".
* Lots must outlast the supply: usable until today + days supply +
  ``DISPENSE_EXPIRY_MARGIN_DAYS`` (7: the days in the mail).
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from inventory.models import Package, StockLot, StockMovement
from inventory.ndc import Scan, ScanError, parse_scan
from inventory.services.stock import StockError, dispense_from_lot, return_to_stock
from orders.models import (
    FILL_MOVES,
    Discrepancy,
    DurAlert,
    DurOverride,
    Fill,
    FillEvent,
    FillHold,
    FillScan,
    HoldReason,
    Order,
    OverrideReason,
    Prescription,
)
from orders.services.intake import blocking_intake_issues, run_drug_checks
from orders.services.labels import queue_rx_label
from pharmacy.models import Role, User

logger = logging.getLogger(__name__)

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

# Made by shipping (orders cannot import it): the task that makes an order's shipment.
ORDER_READY_TASK = "shipping.tasks.create_shipment_for_order_task"

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
)


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


@dataclass(frozen=True)
class Override:
    """A pharmacist's coded reason for passing one drug-check alert at PV1."""

    alert_id: int
    reason_code: str
    note: str = ""


# --------------------------------------------------------------------------- helpers


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


def _move(
    fill: Fill,
    *,
    to: str,
    by: User,
    reason: str = "",
    reason_code: str = "",
    update_fields: Iterable[str] = (),
) -> Fill:
    """Move the locked fill and write its event; clears the claim (the work is done)."""
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
        _queue_shipment_if_order_ready(fill.order_id)
    return fill


def orders_ready_to_pack():
    """Orders whose every active fill passed PV2 and waits to be packed (at least one
    fill ready to pack, the others cancelled): the orders that get a shipment."""
    ready = Fill.objects.filter(order=OuterRef("pk"), status=S.READY_TO_PACK)
    not_ready = Fill.objects.filter(order=OuterRef("pk")).exclude(
        status__in=[S.READY_TO_PACK, S.CANCELLED]
    )
    return Order.objects.filter(Exists(ready)).exclude(Exists(not_ready))


def _send_order_ready_task(order_id: int) -> bool:
    """Queue shipping's task for an order that became ready; False (logged) when the
    broker cannot take it. Fails fast like ``labels._send_rx_label_task``: one connection
    attempt, no result to wait for. The beat catch-up makes the shipment later."""
    try:
        with current_app.producer_pool.acquire(block=True, timeout=2) as producer:
            producer.connection.ensure_connection(
                max_retries=1, interval_start=0, interval_step=0, timeout=2
            )
            current_app.send_task(
                ORDER_READY_TASK, (order_id,), producer=producer, retry=False, ignore_result=True
            )
    except Exception:
        logger.warning(
            "Order %s: could not queue the making of its shipment (is the broker down?); "
            "the catch-up task will make it.",
            order_id,
            exc_info=True,
        )
        return False
    return True


def _queue_shipment_if_order_ready(order_id: int) -> None:
    """Inside the move's transaction: when the order is now ready to pack, queue its
    shipment's making after commit.

    The check reads other fills without locking them: two pharmacists approving the last
    two fills of one order at the same instant each see the other still at PV2, and
    neither queues it. The beat catch-up (``ensure_shipments_for_ready_orders``, every
    30 seconds) makes that shipment; locking the order row here instead would make every
    move of a fill wait on its order and add a second lock to every workflow step, for a
    race a short delay already settles."""
    if orders_ready_to_pack().filter(pk=order_id).exists():
        transaction.on_commit(lambda: _send_order_ready_task(order_id))


def _claim_quietly(fill_pk: int, by: User) -> None:
    """Claim an unclaimed (or stale) fill for someone who just tried to work it."""
    now = timezone.now()
    Fill.objects.filter(pk=fill_pk).filter(
        Q(claimed_by__isnull=True)
        | Q(claimed_at__lt=now - timedelta(minutes=settings.FILL_CLAIM_MINUTES))
    ).update(claimed_by=by, claimed_at=now)


def _required_text(value: str, what: str) -> str:
    text = (value or "").strip()
    if not text:
        raise WorkflowError(f"{what}_required", f"Give a {what}: it is kept on the record.", 400)
    return text


# --------------------------------------------------------------------------- moves


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
        update_fields: list[str] = []
        if to == S.CANCELLED:
            reason = _required_text(reason, "reason")
            update_fields += _undo_dispensing(fill, by=by, reason=f"Fill cancelled: {reason}")[0]
            update_fields += _close_open_hold(fill, by=by, note=f"Cancelled: {reason}")
        if fill.status == S.INTAKE and to == S.PV1:
            update_fields += _prepare_for_pv1(fill)
        return _move(
            fill, to=to, by=by, reason=reason, reason_code=reason_code, update_fields=update_fields
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
        blank = "" if field in ("dispensed_ndc", "lot_number", "serial_number") else None
        setattr(fill, field, blank)
    return list(DISPENSED_FIELDS), movement


def _close_open_hold(fill: Fill, *, by: User, note: str) -> list[str]:
    if fill.status != S.ON_HOLD:
        return []
    FillHold.objects.filter(fill=fill, released_at__isnull=True).update(
        released_by=by, released_at=timezone.now(), release_note=note
    )
    fill.held_from_status = ""
    return ["held_from_status"]


# --------------------------------------------------------------------------- claims


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


# --------------------------------------------------------------------------- PV1


def approve_pv1(fill: Fill, *, by: User, overrides: list[Override]) -> Fill:
    """A pharmacist passes PV1: the data entry is right and every drug-check alert of the
    fill has a coded override reason. The fill moves to the fill queue, the pharmacist
    and time are recorded, and its Rx label is queued on commit.

    Raises WorkflowError: not at PV1, not a pharmacist, claimed by someone else; an
    override of an alert that is not this fill's, given twice, or with an unknown reason
    (400); an alert left without an override (``alerts_not_overridden``, listing them); a
    ``no_data`` alert overridden with anything but "checked by hand".
    """
    overrides = list(overrides)
    with transaction.atomic():
        fill = _lock(fill)
        _check_move(fill, to=S.FILL, by=by, expected_from=S.PV1)
        alerts = {alert.pk: alert for alert in DurAlert.objects.for_fill(fill)}
        done = set(DurOverride.objects.filter(fill=fill).values_list("alert_id", flat=True))
        given: set[int] = set()
        for override in overrides:
            alert = alerts.get(override.alert_id)
            if alert is None:
                raise WorkflowError(
                    "unknown_alert",
                    f"Alert {override.alert_id} is not a drug-check alert of this fill.",
                    400,
                )
            if override.alert_id in given or override.alert_id in done:
                raise WorkflowError(
                    "duplicate_override", f"Alert {alert.pk} is overridden twice.", 400
                )
            if override.reason_code not in OverrideReason.values:
                raise WorkflowError(
                    "invalid_reason_code",
                    f"{override.reason_code!r} is not an override reason; use one of "
                    f"{', '.join(OverrideReason.values)}.",
                    400,
                )
            if (
                alert.type == DurAlert.Type.NO_DATA
                and override.reason_code != OverrideReason.CHECKED_MANUALLY
            ):
                # Without reference data nothing was checked: only a check by hand passes it.
                raise WorkflowError(
                    "manual_check_required",
                    f"Alert {alert.pk} says the drug could not be checked ({alert.message}); "
                    f"it passes only as {OverrideReason.CHECKED_MANUALLY.label.lower()}.",
                )
            given.add(override.alert_id)
        missing = [alert for pk, alert in alerts.items() if pk not in given and pk not in done]
        if missing:
            raise WorkflowError(
                "alerts_not_overridden",
                f"{len(missing)} drug-check alert{'s' if len(missing) > 1 else ''} "
                f"{'have' if len(missing) > 1 else 'has'} no override reason: "
                + "; ".join(f"#{alert.pk} {alert.get_type_display()}" for alert in missing)
                + ". Give each a coded reason, or reject the fill.",
                alerts=[alert.pk for alert in missing],
            )
        DurOverride.objects.bulk_create(
            DurOverride(
                alert_id=override.alert_id,
                fill=fill,
                reason_code=override.reason_code,
                note=override.note,
                by=by,
            )
            for override in overrides
        )
        fill.pv1_by = by
        fill.pv1_at = timezone.now()
        reason = "PV1 approved" + (
            f"; {len(overrides)} drug-check alert{'s' if len(overrides) > 1 else ''} overridden"
            if overrides
            else ""
        )
        _move(fill, to=S.FILL, by=by, reason=reason, update_fields=["pv1_by", "pv1_at"])
        queue_rx_label(fill)
    return fill


def reject_pv1(fill: Fill, *, by: User, reason: str) -> Fill:
    """A pharmacist sends a fill back from PV1 to intake, with the reason, for a
    technician to correct the data entry. Raises WorkflowError (reason missing, not at
    PV1, not a pharmacist, claimed by someone else)."""
    reason = _required_text(reason, "reason")
    with transaction.atomic():
        fill = _lock(fill)
        _check_move(fill, to=S.INTAKE, by=by, expected_from=S.PV1)
        return _move(fill, to=S.INTAKE, by=by, reason=f"PV1 rejected: {reason}")


# --------------------------------------------------------------------------- fill


def usable_until(fill: Fill, *, today: date | None = None) -> date:
    """The day a dispensed lot must outlast: the end of the supply plus the margin."""
    days = fill.days_supply or fill.prescription.days_supply or 30
    return (today or timezone.localdate()) + timedelta(
        days=days + settings.DISPENSE_EXPIRY_MARGIN_DAYS
    )


def _prescribed_package(prescription: Prescription, packages: list[Package]) -> Package | None:
    return next((p for p in packages if p.ndc11 == prescription.prescribed_ndc), None)


def fillable_packages(prescription: Prescription) -> list[Package]:
    """The packages the fill may come from: any package of the verified product, or only
    the prescribed one when the prescriber allowed no substitution (when the prescribed
    NDC is not a package of the product, the product's packages)."""
    if prescription.product_id is None:
        return []
    packages = list(Package.objects.filter(product_id=prescription.product_id))
    prescribed = _prescribed_package(prescription, packages)
    if not prescription.substitutions_allowed and prescribed is not None:
        return [prescribed]
    return packages


def _fefo_lot(packages: list[Package], *, quantity: Decimal, until: date) -> StockLot | None:
    """The first-expiring usable lot holding the whole quantity, else the usable lot
    holding the most (a partial fill takes as much as one bottle has). Usable is
    ``StockLotQuerySet.dispensable``, the rule ``dispense_from_lot`` checks too."""
    lots = StockLot.objects.filter(package__in=packages)
    whole = lots.dispensable(usable_until=until, quantity=quantity).first_expiring_first()
    fullest = lots.dispensable(usable_until=until).order_by("-quantity_on_hand", "expiry", "pk")
    return whole.first() or fullest.first()


def suggest_lot(fill: Fill) -> StockLot | None:
    """The lot the fill station suggests (FEFO): the first-expiring lot that may be
    dispensed for this fill and holds its whole quantity, else the fullest usable lot;
    None when no usable lot is in stock."""
    packages = fillable_packages(fill.prescription)
    if not packages:
        return None
    lot = _fefo_lot(packages, quantity=fill.quantity, until=usable_until(fill))
    if lot is not None:
        lot = StockLot.objects.select_related("package").get(pk=lot.pk)
    return lot


def _product_text(product) -> str:
    strengths = ", ".join(
        f"{s.strength} {s.strength_unit}".strip() for s in product.strengths.all() if s.strength
    )
    parts = [product.display_name, strengths, (product.dosage_form or "").lower()]
    return " ".join(part for part in parts if part)


def _strength_key(product) -> set[tuple]:
    return {
        (s.ingredient_id, s.strength.strip(), s.strength_unit.strip().lower())
        for s in product.strengths.all()
    }


def _check_product(prescription: Prescription, package: Package, scanned_ndc: str) -> None:
    """Refuse a package that is not the verified product (or, without substitution, not
    the prescribed package)."""
    product = prescription.product
    if package.product_id == product.pk:
        if not prescription.substitutions_allowed:
            prescribed = _prescribed_package(prescription, list(product.packages.all()))
            if prescribed is not None and prescribed.pk != package.pk:
                raise ScanRefused(
                    "substitution_not_allowed",
                    f"This is package {package.package_ndc}; the prescriber allowed no "
                    f"substitution, so only package {prescribed.package_ndc} may be used.",
                    ndc=scanned_ndc,
                )
        return
    scanned, prescribed = package.product, product
    ingredients = {key[0] for key in _strength_key(scanned)}
    if ingredients and ingredients == {key[0] for key in _strength_key(prescribed)}:
        same_form = scanned.dosage_form.strip().lower() == prescribed.dosage_form.strip().lower()
        if same_form and _strength_key(scanned) == _strength_key(prescribed):
            raise ScanRefused(
                "other_product",
                f"This bottle is {_product_text(scanned)} (NDC {package.package_ndc}), the "
                f"same drug from another product line; PV1 verified "
                f"{_product_text(prescribed)} (product NDC {prescribed.product_ndc}). Use "
                "that product, or send the fill back to change the prescription's drug.",
                ndc=scanned_ndc,
            )
        raise ScanRefused(
            "wrong_strength",
            f"Wrong strength or form: this bottle is {_product_text(scanned)} (NDC "
            f"{package.package_ndc}); the prescription is for {_product_text(prescribed)}.",
            ndc=scanned_ndc,
        )
    raise ScanRefused(
        "wrong_drug",
        f"Wrong drug: this bottle is {_product_text(scanned)} (NDC {package.package_ndc}); "
        f"the prescription is for {_product_text(prescribed)}. Put it back.",
        ndc=scanned_ndc,
    )


def _read_scan(raw: str) -> tuple[Package, Scan | None]:
    """The package a scan names, with what the scan says (lot, expiry, serial) when the
    scanner's text was read whole (None: a typed unhyphenated NDC10, or a DataMatrix
    whose GTIN is readable but not the rest). Raises ScanRefused (unreadable, unknown
    product)."""
    try:
        parsed = parse_scan(raw)
        packages = Package.objects.for_scan(parsed)
    except ScanError as error:
        try:
            packages, parsed = Package.objects.for_code(raw), None
        except ScanError:
            raise ScanRefused("scan_unreadable", str(error), 400) from None
    package = packages.select_related("product").first()
    if package is None:
        ndc = parsed.ndc if parsed else raw
        raise ScanRefused(
            "unknown_product",
            f"No product in the catalogue has the NDC {ndc}: this is not a package we stock.",
            ndc=ndc,
        )
    return package, parsed


def _quantity(value) -> Decimal:
    try:
        quantity = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ScanRefused("invalid_quantity", f"{value!r} is not a quantity.", 400) from None
    if not quantity.is_finite() or quantity.as_tuple().exponent < -3:
        raise ScanRefused(
            "invalid_quantity", f"{value!r} is not a quantity (at most 3 decimals).", 400
        )
    return quantity


def _record_refused_scan(fill: Fill, step: str, raw: str, refused: ScanRefused, *, by) -> None:
    """Keep a refused scan on record and claim the fill for the scanner, who is about to
    try again. Called after the step's transaction rolled back, so the record stays."""
    FillScan.objects.create(
        fill_id=fill.pk,
        step=step,
        raw=raw[:200],
        is_accepted=False,
        refusal_code=refused.code,
        message=refused.detail[:300],
        scanned_ndc=refused.scanned_ndc[:12],
        lot_number=refused.lot_number[:40],
        by=by,
    )
    _claim_quietly(fill.pk, by)


def fill_with_scan(
    fill: Fill,
    *,
    by: User,
    scan: str,
    quantity: Decimal,
    lot_number: str = "",
    partial: bool = False,
) -> Fill:
    """A technician (or pharmacist) fills: scans the stock bottle and enters the count.

    The scan (GS1 DataMatrix, UPC-A, GTIN or typed NDC) must name the verified product
    (or, without substitution, the prescribed package). The lot is the one the
    DataMatrix carries, else ``lot_number``, else the FEFO lot of the scanned package.
    In one transaction: the units are dispensed from that lot through the stock ledger
    (``fill:<id>``), the package, NDC, lot, expiry, serial, quantity and filler are
    recorded, the scan is kept as accepted and the fill moves to PV2 (its label queued
    again on commit: the dispensed product is printed on it).

    A count below the fill's quantity is refused unless ``partial`` says stock is short
    (and no usable lot holds the whole quantity): then the fill is split, see the module
    docstring. Raises WorkflowError for the state, role or claim (nothing recorded), and
    ScanRefused, recorded as a refused FillScan, for: an unreadable scan (400), an
    unknown product, another drug, strength, form or product, another package without
    substitution, an unknown, expired, quarantined or recalled lot or one expiring before
    the supply ends, short stock, and a quantity that is not more than 0 and at most the
    fill's.
    """
    raw = (scan or "").strip()
    if not raw:
        raise WorkflowError(
            "scan_required", "Scan the stock bottle (or type its NDC) before filling.", 400
        )
    try:
        with transaction.atomic():
            locked = _lock(fill)
            _check_move(locked, to=S.PV2, by=by, expected_from=S.FILL)
            return _fill(
                locked,
                by=by,
                raw=raw,
                quantity=quantity,
                lot_number=(lot_number or "").strip(),
                partial=partial,
            )
    except ScanRefused as refused:
        _record_refused_scan(fill, FillScan.Step.FILL, raw, refused, by=by)
        raise


def _fill(fill: Fill, *, by: User, raw: str, quantity, lot_number: str, partial: bool) -> Fill:
    prescription = fill.prescription
    if prescription.product_id is None:
        raise WorkflowError(
            "drug_not_matched",
            f"Rx {prescription.rx_number} has no catalogue drug: send it back to intake.",
        )
    package, parsed = _read_scan(raw)
    ndc = package.package_ndc
    _check_product(prescription, package, ndc)
    scanned_lot = parsed.lot if parsed else ""
    typed_ndc10 = raw.isdigit() and len(raw) == 10
    if parsed is None and not typed_ndc10 and not lot_number:
        # A DataMatrix read only in part (a browser dropped its GS characters): the lot
        # it carries is unknown, and a guessed lot on the record would mislead a recall.
        raise ScanRefused(
            "lot_unreadable",
            f"The product ({ndc}) was read but not the lot: scan the bottle again, or type "
            "the lot number.",
            ndc=ndc,
        )

    quantity = _quantity(quantity)
    if quantity <= 0:
        raise ScanRefused(
            "invalid_quantity", f"The quantity must be more than 0, not {quantity}.", ndc=ndc
        )
    if quantity > fill.quantity:
        raise ScanRefused(
            "quantity_over_prescribed",
            f"{quantity.normalize():f} is more than this fill's "
            f"{fill.quantity.normalize():f} {prescription.quantity_unit}.",
            ndc=ndc,
        )
    until = usable_until(fill)
    is_partial = quantity < fill.quantity
    if is_partial and not partial:
        raise ScanRefused(
            "short_count",
            f"You counted {quantity.normalize():f} of the {fill.quantity.normalize():f} "
            f"{prescription.quantity_unit} to fill. Count again; if stock is short, fill it "
            "as a partial fill.",
            ndc=ndc,
        )
    if is_partial:
        whole = _fefo_lot(fillable_packages(prescription), quantity=fill.quantity, until=until)
        if whole is not None and whole.quantity_on_hand >= fill.quantity:
            raise ScanRefused(
                "stock_not_short",
                f"Lot {whole.lot_number} holds {whole.quantity_on_hand.normalize():f} usable "
                f"units: fill all {fill.quantity.normalize():f}, not a partial fill.",
                ndc=ndc,
            )

    if scanned_lot and lot_number and scanned_lot != lot_number:
        raise ScanRefused(
            "lot_mismatch",
            f"The bottle scanned is lot {scanned_lot}, not lot {lot_number}.",
            ndc=ndc,
            lot=scanned_lot,
        )
    wanted_lot = scanned_lot or lot_number
    if wanted_lot:
        lot = StockLot.objects.filter(package=package, lot_number=wanted_lot).first()
        if lot is None:
            raise ScanRefused(
                "unknown_lot",
                f"Lot {wanted_lot} of {ndc} was never received into stock; receive it "
                "first, or use a bottle from stock.",
                ndc=ndc,
                lot=wanted_lot,
            )
    else:
        lot = _fefo_lot([package], quantity=quantity, until=until)
        if lot is None:
            raise ScanRefused(
                "insufficient_stock",
                f"No usable lot of {ndc} is in stock (available, and not expiring before {until}).",
                ndc=ndc,
            )
    if parsed and parsed.expiry is not None:
        # The date printed on the bottle counts as much as the one recorded at receipt.
        if parsed.expiry <= timezone.localdate():
            raise ScanRefused(
                "lot_expired",
                f"This bottle expired on {parsed.expiry}.",
                ndc=ndc,
                lot=lot.lot_number,
            )
        if parsed.expiry <= until:
            raise ScanRefused(
                "lot_expires_too_soon",
                f"This bottle expires on {parsed.expiry}, before the patient finishes this "
                f"supply ({until}); use a later-dated bottle.",
                ndc=ndc,
                lot=lot.lot_number,
            )
    try:
        allocation = dispense_from_lot(
            lot,
            quantity=quantity,
            by=by,
            reference=fill.stock_reference,
            usable_until=until,
            reason=f"Rx {prescription.rx_number} fill {fill.fill_number}",
        )
    except StockError as error:
        raise ScanRefused(error.code, error.detail, ndc=ndc, lot=lot.lot_number) from None

    now = timezone.now()
    lot = allocation.lot
    fill.dispensed_package = package
    fill.dispensed_ndc = ndc
    fill.dispensed_quantity = quantity
    fill.stock_lot = lot
    fill.lot_number = lot.lot_number
    fill.expiry = lot.expiry
    fill.serial_number = (parsed.serial if parsed else "")[:40]
    fill.filled_by = by
    fill.filled_at = now
    update_fields = list(DISPENSED_FIELDS)
    FillScan.objects.create(
        fill=fill,
        step=FillScan.Step.FILL,
        raw=raw[:200],
        is_accepted=True,
        scanned_ndc=ndc,
        lot_number=lot.lot_number,
        by=by,
    )
    reason = f"Filled: {quantity.normalize():f} from {ndc} lot {lot.lot_number}"
    if is_partial:
        remainder = _split_remainder(fill, filled=quantity, by=by)
        update_fields += ["quantity", "days_supply"]
        reason += (
            f"; partial fill, {remainder.quantity.normalize():f} to follow as fill {remainder.pk}"
        )
    _move(fill, to=S.PV2, by=by, reason=reason, update_fields=update_fields)
    queue_rx_label(fill)
    if is_partial:
        queue_rx_label(remainder)  # verified at PV1 with the first part: it needs a label
    return fill


def _split_remainder(fill: Fill, *, filled: Decimal, by: User) -> Fill:
    """Split a partial fill: this fill keeps what was filled; the rest becomes a new fill
    (same number, ``partial_of`` this one) in a new order of the patient, on hold as out
    of stock until a technician releases it to the fill queue."""
    total = fill.quantity
    rest = total - filled
    days = fill.days_supply
    filled_days = max(1, int(days * filled / total)) if days else None
    remainder = Fill.objects.create(
        prescription=fill.prescription,
        order=Order.objects.create(patient_id=fill.order.patient_id) if fill.order else None,
        fill_number=fill.fill_number,
        partial_of=fill,
        status=S.ON_HOLD,
        held_from_status=S.FILL,
        quantity=rest,
        days_supply=max(1, days - filled_days) if days else None,
        requested_via="partial_fill",
        priority=fill.priority,
        promised_on=fill.promised_on,
        is_cold_chain=fill.is_cold_chain,
        # PV1 verified the prescription for the whole quantity.
        pv1_by=fill.pv1_by,
        pv1_at=fill.pv1_at,
    )
    note = (
        f"Remainder of fill {fill.pk}: {filled.normalize():f} of {total.normalize():f} "
        f"filled, {rest.normalize():f} short"
    )
    FillEvent.objects.create(
        fill=remainder,
        from_status="",
        to_status=S.ON_HOLD,
        reason_code=HoldReason.OUT_OF_STOCK,
        reason=note,
        actor=by,
    )
    FillHold.objects.create(
        fill=remainder,
        reason_code=HoldReason.OUT_OF_STOCK,
        note=note,
        from_status=S.FILL,
        placed_by=by,
    )
    fill.quantity = filled
    fill.days_supply = filled_days
    return remainder


# --------------------------------------------------------------------------- PV2


def _check_not_filler(fill: Fill, by: User) -> None:
    if fill.filled_by_id == by.pk:
        raise WorkflowError(
            "own_fill",
            f"You filled {_describe(fill, start=False)}: another pharmacist must verify it.",
            403,
        )


def _check_label_scan(fill: Fill, raw: str) -> None:
    code = raw.strip().upper()
    if code == fill.label_code:
        return
    other = Fill.objects.filter(label_code=code).select_related("prescription").first()
    if other is not None:
        raise ScanRefused(
            "wrong_vial",
            f"This is the label of {_describe(other, start=False)}, not of "
            f"{_describe(fill, start=False)}: check the vial in your hand.",
        )
    raise ScanRefused(
        "label_mismatch",
        f"{raw!r} is not the label of {_describe(fill, start=False)}: scan the barcode on the "
        "vial label.",
    )


def _check_stock_scan(fill: Fill, raw: str) -> tuple[str, str]:
    package, parsed = _read_scan(raw)
    if package.pk != fill.dispensed_package_id:
        raise ScanRefused(
            "stock_mismatch",
            f"This bottle is {package.package_ndc}; the fill was filled from {fill.dispensed_ndc}.",
            ndc=package.package_ndc,
        )
    if parsed and parsed.lot and parsed.lot != fill.lot_number:
        raise ScanRefused(
            "lot_mismatch",
            f"This bottle is lot {parsed.lot}; the fill was filled from lot {fill.lot_number}.",
            ndc=package.package_ndc,
            lot=parsed.lot,
        )
    return package.package_ndc, fill.lot_number


def approve_pv2(fill: Fill, *, by: User, scan: str, stock_scan: str = "") -> Fill:
    """A pharmacist who did not fill it verifies the filled product: scans the vial
    label's barcode (this fill's ``label_code``) and, optionally, the stock bottle again
    (its package, and lot when the scan carries one, must be those dispensed). Records
    the pharmacist and time; the fill is ready to pack.

    Raises WorkflowError: not at PV2, not a pharmacist, the filler (``own_fill``), claimed
    by someone else, no scan; and ScanRefused, recorded as a refused PV2 scan, for another
    fill's label (``wrong_vial``), an unknown code, or a stock bottle that does not match.
    """
    raw = (scan or "").strip()
    if not raw:
        raise WorkflowError("scan_required", "Scan the vial label's barcode to verify.", 400)
    stock_raw = (stock_scan or "").strip()
    current = raw
    try:
        with transaction.atomic():
            fill = _lock(fill)
            _check_move(fill, to=S.READY_TO_PACK, by=by, expected_from=S.PV2)
            _check_not_filler(fill, by)
            _check_label_scan(fill, raw)
            scans = [FillScan(fill=fill, step=FillScan.Step.PV2, raw=raw[:200],
                              is_accepted=True, by=by)]  # fmt: skip
            if stock_raw:
                current = stock_raw
                ndc, lot = _check_stock_scan(fill, stock_raw)
                scans.append(
                    FillScan(fill=fill, step=FillScan.Step.PV2, raw=stock_raw[:200],
                             is_accepted=True, scanned_ndc=ndc, lot_number=lot, by=by)
                )  # fmt: skip
            FillScan.objects.bulk_create(scans)
            fill.pv2_by = by
            fill.pv2_at = timezone.now()
            return _move(
                fill, to=S.READY_TO_PACK, by=by, reason="PV2 approved",
                update_fields=["pv2_by", "pv2_at"],
            )  # fmt: skip
    except ScanRefused as refused:
        _record_refused_scan(fill, FillScan.Step.PV2, current, refused, by=by)
        raise


def reject_pv2(fill: Fill, *, by: User, reason: str, discrepancy_kind: str = "") -> Fill:
    """A pharmacist (not the filler) sends a filled product back to the fill step.

    In one transaction: the dispensed units go back to their lot (a RETURN ledger row),
    a Discrepancy is recorded (``discrepancy_kind``, by default a PV2 mismatch) linked to
    that return, the dispensed product is cleared from the fill, and the fill moves back
    to the fill queue. Raises WorkflowError: reason missing or unknown kind (400), not at
    PV2, not a pharmacist, the filler, claimed by someone else.
    """
    reason = _required_text(reason, "reason")
    kind = discrepancy_kind or Discrepancy.Kind.PV2_MISMATCH
    if kind not in Discrepancy.Kind.values:
        raise WorkflowError(
            "invalid_discrepancy_kind",
            f"{kind!r} is not a kind of discrepancy; use one of "
            f"{', '.join(Discrepancy.Kind.values)}.",
            400,
        )
    with transaction.atomic():
        fill = _lock(fill)
        _check_move(fill, to=S.FILL, by=by, expected_from=S.PV2)
        _check_not_filler(fill, by)
        update_fields, returned = _undo_dispensing(fill, by=by, reason=f"Rejected at PV2: {reason}")
        Discrepancy.objects.create(
            fill=fill, kind=kind, description=reason, found_by=by, stock_movement=returned
        )
        fill = _move(
            fill,
            to=S.FILL,
            by=by,
            reason=f"PV2 rejected: {reason}",
            reason_code=kind,
            update_fields=update_fields,
        )
        # The label printed the product that went back to stock; the next fill's scan
        # makes it again, and until then the current label must not name that lot.
        queue_rx_label(fill)
        return fill


# --------------------------------------------------------------------------- holds


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
    note = (note or "").strip()
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
        _move(
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
    note = (note or "").strip()
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
        return _move(
            fill,
            to=back_to,
            by=by,
            reason="Released from hold" + (f": {note}" if note else ""),
            reason_code=reason_code,
            update_fields=["held_from_status"],
        )


# --------------------------------------------------------------------------- discrepancies


def record_discrepancy(
    fill: Fill, *, by: User, kind: str, description: str, stock_movement=None
) -> Discrepancy:
    """Record something found wrong with a fill (a wrong count, a damaged bottle...), with
    the stock movement it caused if any; it stays open until resolved. Raises
    WorkflowError: unknown kind or no description (400), not a technician or pharmacist."""
    if kind not in Discrepancy.Kind.values:
        raise WorkflowError(
            "invalid_discrepancy_kind",
            f"{kind!r} is not a kind of discrepancy; use one of "
            f"{', '.join(Discrepancy.Kind.values)}.",
            400,
        )
    description = _required_text(description, "description")
    if by.role not in (Role.TECHNICIAN, Role.PHARMACIST):
        raise WorkflowError(
            "role_not_allowed",
            f"A {by.role_label.lower()} does not record discrepancies on fills.",
            403,
        )
    return Discrepancy.objects.create(
        fill_id=fill.pk,
        kind=kind,
        description=description,
        found_by=by,
        stock_movement=stock_movement,
    )


def resolve_discrepancy(discrepancy: Discrepancy, *, by: User, resolution: str) -> Discrepancy:
    """A pharmacist or manager writes how a discrepancy was settled. Locks it, so two
    people cannot both resolve it. Raises WorkflowError: no resolution (400), role, or
    already resolved."""
    resolution = _required_text(resolution, "resolution")
    if by.role not in (Role.PHARMACIST, Role.MANAGER):
        raise WorkflowError(
            "role_not_allowed",
            f"A {by.role_label.lower()} cannot resolve discrepancies; a pharmacist does.",
            403,
        )
    with transaction.atomic():
        discrepancy = (
            Discrepancy.objects.select_for_update(of=("self",))
            .select_related("resolved_by")
            .get(pk=discrepancy.pk)
        )
        if not discrepancy.is_open:
            raise WorkflowError(
                "already_resolved",
                f"This discrepancy was resolved by {_name(discrepancy.resolved_by)} on "
                f"{timezone.localtime(discrepancy.resolved_at):%Y-%m-%d %H:%M}.",
            )
        discrepancy.resolution = resolution
        discrepancy.resolved_by = by
        discrepancy.resolved_at = timezone.now()
        discrepancy.save(update_fields=["resolution", "resolved_by", "resolved_at"])
    return discrepancy
