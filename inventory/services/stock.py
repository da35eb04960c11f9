"""Stock: every change of a lot's quantity, each with its ledger row in the same transaction.

Rules every function here keeps (DESIGN.md section 7, "Nothing lost"):
- rows are locked with SELECT ... FOR UPDATE in primary-key order, so two transactions
  that touch the same lots always queue in the same order and never deadlock;
- quantities change in SQL (F() expressions, or for dispensing the database function
  ``inventory_take_stock`` of migration 0006), never read-modify-write in Python;
- the database refuses a negative quantity on hand (CheckConstraint), and the ledger
  (StockMovement) is append-only, so for every lot the ledger sums to the quantity;
- every call that lowers available units checks the products' reorder points once, in
  the same transaction, after the lots are locked (``inventory.services.reorder``: it
  locks the ReorderRule rows last).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from inventory.models import Package, StockLot, StockMovement
from inventory.services.reorder import raise_reorder_alerts


class StockError(Exception):
    """A stock operation refused; ``code`` is stable, ``detail`` a sentence for people."""

    def __init__(self, code: str, detail: str):
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class Allocation:
    """Units taken from one lot for one dispensing, with the ledger row that took them."""

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


# StockLotQuerySet.dispensable() locked in primary-key order, as plain SQL: compiling the
# ORM query cost more than running it on this hot path (test_stock_allocation checks
# that both select the same lots).
_LOCK_DISPENSABLE_SQL = f"""
SELECT * FROM {StockLot._meta.db_table}
WHERE package_id = ANY(%(packages)s) AND status = %(available)s
  AND quantity_on_hand > 0 AND expiry > %(usable_until)s
ORDER BY id
FOR UPDATE
"""


def _take(
    takes: list[tuple[StockLot, Decimal]], *, product_ids, by, reference: str, reason: str
) -> list[Allocation]:
    """Take these units from these locked lots, write their ledger rows and raise the
    reorder alerts of products that fell below their point, in one round trip."""
    now = timezone.now()
    with connection.cursor() as cursor:
        # The database function of migration 0006: decrement, ledger rows, reorder rules
        # locked and counted, with plans PostgreSQL keeps (see its docstring).
        cursor.execute(
            "SELECT * FROM inventory_take_stock(%s::bigint[], %s::numeric[], %s::bigint[], "
            "%s, %s, %s, %s, %s, %s, %s)",
            [[lot.pk for lot, _ in takes], [quantity for _, quantity in takes],
             sorted(set(product_ids)), StockMovement.Kind.DISPENSE, reason, reference,
             by.pk if by else None, now, StockLot.Status.AVAILABLE, timezone.localdate()],
        )  # fmt: skip
        rows = cursor.fetchall()
    movement_of_lot = {lot_id: row_id for kind, row_id, lot_id, _, _ in rows if kind == "movement"}
    allocations = []
    for lot, quantity in takes:
        movement = StockMovement(
            pk=movement_of_lot[lot.pk], lot=lot, kind=StockMovement.Kind.DISPENSE,
            quantity_change=-quantity, reason=reason, reference=reference, actor=by,
            occurred_at=now,
        )  # fmt: skip
        lot.quantity_on_hand -= quantity
        allocations.append(Allocation(lot=lot, quantity=quantity, movement=movement))
    raise_reorder_alerts(
        {row_id: left for kind, row_id, _, point, left in rows if kind == "rule" and left < point}
    )
    return allocations


def allocate_for_dispensing(
    packages: Sequence[Package],
    *,
    quantity: Decimal,
    by,
    reference: str,
    usable_until: date,
    reason: str = "",
) -> list[Allocation]:
    """Take ``quantity`` units from the lots of these packages, first-expiring first.

    Skips lots that are quarantined, recalled, expired or that expire on or before
    ``usable_until`` (the day the patient will finish the supply). Locks every candidate
    lot in primary-key order before choosing. Raises StockError ``insufficient_stock``
    (nothing taken) when the usable lots together hold less than asked.
    """
    quantity = _check_quantity(quantity)
    with transaction.atomic():
        lots = list(
            StockLot.objects.raw(
                _LOCK_DISPENSABLE_SQL,
                {"packages": [package.pk for package in packages],
                 "available": StockLot.Status.AVAILABLE, "usable_until": usable_until},
            )
        )  # fmt: skip
        available = sum((lot.quantity_on_hand for lot in lots), Decimal(0))
        if available < quantity:
            raise StockError(
                "insufficient_stock",
                f"Only {available.normalize():f} usable units are in stock; "
                f"{quantity.normalize():f} are needed.",
            )
        takes = []
        remaining = quantity
        for lot in sorted(lots, key=lambda lot: (lot.expiry, lot.pk)):
            take = min(lot.quantity_on_hand, remaining)
            takes.append((lot, take))
            remaining -= take
            if remaining == 0:
                break
        return _take(
            takes,
            product_ids={package.product_id for package in packages},
            by=by,
            reference=reference,
            reason=reason,
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
    """Take ``quantity`` units from the one lot a technician scanned.

    Raises StockError with the reason and takes nothing when the lot is quarantined,
    recalled or expired, expires before ``usable_until``, or holds too few units.
    """
    quantity = _check_quantity(quantity)
    with transaction.atomic():
        lot = (
            StockLot.objects.select_for_update(of=("self",))
            .select_related("package")
            .get(pk=lot.pk)
        )
        if lot.status != StockLot.Status.AVAILABLE:
            raise StockError(
                f"lot_{lot.status}",
                f"Lot {lot.lot_number} is {lot.get_status_display().lower()}"
                + (f" ({lot.status_reason})" if lot.status_reason else "")
                + "; it cannot be dispensed.",
            )
        if lot.expiry <= timezone.localdate():
            raise StockError("lot_expired", f"Lot {lot.lot_number} expired on {lot.expiry}.")
        if lot.expiry <= usable_until:
            raise StockError(
                "lot_expires_too_soon",
                f"Lot {lot.lot_number} expires on {lot.expiry}, before the patient finishes "
                f"this supply ({usable_until}); use a later-dated lot.",
            )
        if lot.quantity_on_hand < quantity:
            raise StockError(
                "insufficient_stock",
                f"Lot {lot.lot_number} holds {lot.quantity_on_hand.normalize():f} units; "
                f"{quantity.normalize():f} are needed.",
            )
        (allocation,) = _take(
            [(lot, quantity)],
            product_ids=[lot.package.product_id],
            by=by,
            reference=reference,
            reason=reason,
        )
        return allocation


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
