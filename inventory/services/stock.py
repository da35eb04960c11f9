"""Stock: every change of a lot's quantity, each with its ledger row in the same transaction.

Rules every function here keeps (DESIGN.md section 7, "Nothing lost"):
- rows are locked with SELECT ... FOR UPDATE in primary-key order, so two transactions
  that touch the same lots always queue in the same order and never deadlock;
- quantities change in SQL (F() expressions, or for dispensing the database functions
  ``inventory_take_stock`` and ``inventory_allocate`` of migrations 0006 and 0007), never
  read-modify-write in Python;
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

from django.db import DEFAULT_DB_ALIAS, connection, transaction
from django.db.models import F
from django.utils import timezone

from inventory.models import Package, StockLot, StockMovement
from inventory.services.reorder import queue_reorder_alert_emails


class StockError(Exception):
    """A stock operation refused; ``code`` is stable, ``detail`` a sentence for people."""

    def __init__(self, code: str, detail: str):
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class Allocation:
    """Units taken from one lot for one dispensing, with the id of the ledger row
    (StockMovement) that took them."""

    lot: StockLot
    quantity: Decimal
    movement_id: int


def _check_quantity(quantity: Decimal) -> Decimal:
    quantity = Decimal(quantity)
    if quantity <= 0:
        raise StockError(
            "invalid_quantity", f"The quantity must be more than zero, not {quantity}."
        )
    return quantity


def _run_stock_function(call: str, args: list, *, product_ids, by, reference: str, reason: str):
    """The rows of ``SELECT * FROM <call>``, a stock function of the migrations (its own
    arguments, then the ones they share)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT * FROM {call}",
            [*args, sorted(set(product_ids)), StockMovement.Kind.DISPENSE, reason, reference,
             by.pk if by else None, timezone.now(), StockLot.Status.AVAILABLE,
             timezone.localdate()],
        )  # fmt: skip
        return cursor.fetchall()


def _allocations(rows, lots: dict) -> list[Allocation]:
    """The Allocations of a stock function's rows; the e-mails of the reorder alerts it
    raised queued for after commit.

    Rows: ('movement', ledger row id, lot id, quantity taken, units left) per lot and
    ('alert', reorder alert id, -, -, -) per alert. Each Allocation's lot is the one in
    ``lots`` (id -> StockLot) where given, else one that knows its units left and loads
    its other fields on first use."""
    allocations, alert_ids = [], []
    for kind, row_id, lot_id, quantity, units_left in rows:
        if kind == "alert":
            alert_ids.append(row_id)
            continue
        lot = lots.get(lot_id) or StockLot.from_db(
            DEFAULT_DB_ALIAS, ["id", "quantity_on_hand"], [lot_id, units_left]
        )
        lot.quantity_on_hand = units_left
        allocations.append(Allocation(lot=lot, quantity=quantity, movement_id=row_id))
    queue_reorder_alert_emails(alert_ids)
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

    It is one call of the database function ``inventory_allocate`` (migration 0007): it
    locks, chooses, decrements, writes the ledger rows and raises the reorder alerts, so
    called outside a transaction it is one statement committed on its own, and inside
    one it is part of it. The allocations come in (expiry, lot) order.
    """
    quantity = _check_quantity(quantity)
    rows = _run_stock_function(
        "inventory_allocate(%s::bigint[], %s::numeric, %s::date, %s::bigint[], "
        "%s, %s, %s, %s, %s, %s, %s)",
        [[package.pk for package in packages], quantity, usable_until],
        product_ids={package.product_id for package in packages},
        by=by, reference=reference, reason=reason,
    )  # fmt: skip
    if rows and rows[0][0] == "short":
        available = rows[0][4]
        raise StockError(
            "insufficient_stock",
            f"Only {available.normalize():f} usable units are in stock; "
            f"{quantity.normalize():f} are needed.",
        )
    return _allocations(rows, {})


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
        rows = _run_stock_function(
            "inventory_take_stock(%s::bigint[], %s::numeric[], %s::bigint[], "
            "%s, %s, %s, %s, %s, %s, %s)",
            [[lot.pk], [quantity]],
            product_ids=[lot.package.product_id],
            by=by, reference=reference, reason=reason,
        )  # fmt: skip
        (allocation,) = _allocations(rows, {lot.pk: lot})
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
