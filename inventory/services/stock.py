"""Stock: every change of a lot's quantity, each with its ledger row in the same transaction.

Rules every function here keeps (DESIGN.md section 7, "Nothing lost"):
- rows are locked with SELECT ... FOR UPDATE in primary-key order, so two transactions
  that touch the same lots always queue in the same order and never deadlock;
- quantities change in SQL with F() expressions, never read-modify-write in Python;
- the database refuses a negative quantity on hand (CheckConstraint), and the ledger
  (StockMovement) is append-only (a trigger, ``inventory/database/``), so for every lot
  the ledger sums to the quantity;
- which lots may be dispensed is ``StockLotQuerySet.dispensable``, the one definition
  the fill station's suggestion also uses; ``dispense_from_lot`` checks the locked lot
  against it and names the condition it fails;
- every call that lowers available units checks the products' reorder points once, in
  the same transaction, after the lots are locked (``inventory.services.reorder``: it
  locks the ReorderRule rows last).

Dispensing is plain ORM, as every other write: the fill station picks one lot (the one
scanned, else the first-expiring-first suggestion) and ``dispense_from_lot`` takes from it.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import transaction
from django.db.models import F

from inventory.models import StockLot, StockMovement
from inventory.services.reorder import check_reorder_point


class StockError(Exception):
    """A stock operation refused; ``code`` is stable, ``detail`` a sentence for people."""

    def __init__(self, code: str, detail: str):
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class Allocation:
    """Units taken from one lot for one dispensing, with the ledger row (StockMovement)
    that took them."""

    lot: StockLot
    quantity: Decimal
    movement: StockMovement


def _check_quantity(quantity: Decimal) -> Decimal:
    quantity = Decimal(quantity)
    if quantity <= 0:
        raise StockError(
            "invalid_quantity", f"The quantity must be more than zero, not {quantity}."
        )
    return quantity


def _refusal(lot: StockLot, *, quantity: Decimal, usable_until: date) -> StockError:
    """The StockError for a lot that failed ``lot.dispensing_refusal``, the condition of
    ``StockLotQuerySet.dispensable`` the database found it fails: only the words are
    chosen here, never whether the lot may be dispensed."""
    number = lot.lot_number
    if lot.dispensing_refusal == "status":
        return StockError(
            f"lot_{lot.status}",
            f"Lot {number} is {lot.get_status_display().lower()}"
            + (f" ({lot.status_reason})" if lot.status_reason else "")
            + "; it cannot be dispensed.",
        )
    if lot.dispensing_refusal == "expired":
        return StockError("lot_expired", f"Lot {number} expired on {lot.expiry}.")
    if lot.dispensing_refusal == "expires_too_soon":
        return StockError(
            "lot_expires_too_soon",
            f"Lot {number} expires on {lot.expiry}, before the patient finishes this supply "
            f"({usable_until}); use a later-dated lot.",
        )
    return StockError(
        "insufficient_stock",
        f"Lot {number} holds {lot.quantity_on_hand.normalize():f} units; "
        f"{quantity.normalize():f} are needed.",
    )


def dispense_from_lot(
    lot: StockLot,
    *,
    quantity: Decimal,
    by,
    reference: str,
    usable_until: date,
    reason: str = "",
) -> Allocation:
    """Take ``quantity`` units from the one lot a technician scanned (or was suggested).

    The fill step's stock write (``orders.services.workflow.fill_with_scan``). Locks the
    lot, checks it with ``StockLotQuerySet.dispensable`` (evaluated by the locking query
    itself), decrements it and appends its ledger row, then checks the product's reorder
    point (which locks its ReorderRule row). Raises StockError with the reason and takes
    nothing when the lot is quarantined, recalled or expired, expires before
    ``usable_until``, or holds too few units.
    """
    quantity = _check_quantity(quantity)
    with transaction.atomic():
        lot = (
            StockLot.objects.select_for_update(of=("self",))
            .select_related("package")
            .with_dispensing_refusal(usable_until=usable_until, quantity=quantity)
            .get(pk=lot.pk)
        )
        if lot.dispensing_refusal is not None:
            raise _refusal(lot, quantity=quantity, usable_until=usable_until)
        StockLot.objects.filter(pk=lot.pk).update(quantity_on_hand=F("quantity_on_hand") - quantity)
        lot.quantity_on_hand -= quantity  # the row is locked: this is what the UPDATE left
        movement = StockMovement.objects.create(
            lot=lot,
            kind=StockMovement.Kind.DISPENSE,
            quantity_change=-quantity,
            reference=reference,
            reason=reason,
            actor=by,
        )
        check_reorder_point([lot.package.product_id])
    return Allocation(lot=lot, quantity=quantity, movement=movement)


def return_to_stock(
    lot: StockLot, *, quantity: Decimal, by, reference: str, reason: str
) -> StockMovement:
    """Put dispensed units back on their lot (a fill rejected at PV2, say), with a ledger row."""
    quantity = _check_quantity(quantity)
    with transaction.atomic():
        StockLot.objects.filter(pk=lot.pk).update(quantity_on_hand=F("quantity_on_hand") + quantity)
        return StockMovement.objects.create(
            lot=lot,
            kind=StockMovement.Kind.RETURN_TO_STOCK,
            quantity_change=quantity,
            reference=reference,
            reason=reason,
            actor=by,
        )
