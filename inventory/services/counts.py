"""Adjustments, cycle counts and the controlled-substance inventories.

Every change of stock here follows the rules of ``inventory.services.stock`` (row locks
in primary-key order, F() arithmetic, a ledger row in the same transaction, the reorder
point checked after the lots are locked when available units go down).

Controlled substances (21 CFR 1304): schedule II stock is counted exactly, and any
schedule II adjustment or count variance is signed by a pharmacist with a witness; the
biennial inventory (21 CFR 1304.11(c)) is computed from the ledger as of a moment.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.db.models import F, Q, Sum
from django.utils import timezone

from inventory.models import (
    ADJUSTMENT_MOVEMENT_KINDS,
    CYCLE_COUNT_MOVES,
    AdjustmentReason,
    CycleCount,
    CycleCountLine,
    DEASchedule,
    Package,
    StockLot,
    StockMovement,
)
from inventory.services.reorder import check_reorder_point
from inventory.services.stock import StockError

# Whoever may verify prescriptions is a pharmacist (pharmacy.roles); inventory reads the
# permission name only, never the pharmacy app.
PHARMACIST_PERMISSION = "pharmacy.verify_prescriptions"
APPROVER_PERMISSION = "inventory.change_cyclecount"
CONTROLLED_SCHEDULES = (DEASchedule.CII, DEASchedule.CIII, DEASchedule.CIV, DEASchedule.CV)
# Units that are measured rather than counted; every other unit (tablet, capsule, each,
# patch ...) is whole.
MEASURED_UNITS = frozenset({"ml", "l", "g", "gm", "kg", "mg", "mcg", "oz"})
# 21 CFR 1304.11(e)(3)(ii): an opened container of a schedule III-V substance holding
# more than 1,000 tablets or capsules is counted exactly.
ESTIMATE_LIMIT = 1000


# --------------------------------------------------------------------------- shared checks


def is_schedule_ii(package: Package) -> bool:
    return package.product.dea_schedule == DEASchedule.CII


def units_are_whole(package: Package) -> bool:
    """Whether the package's unit is counted (tablets, capsules, each) rather than measured."""
    return package.unit.strip().lower() not in MEASURED_UNITS


def check_units(value: object, package: Package, *, signed: bool = False) -> Decimal:
    """A quantity of the package's dispensing units as a Decimal.

    Refuses text that is not a number, more than three decimals, a negative number
    (unless ``signed``) and a fraction of a whole unit (half a tablet). Zero is allowed;
    callers that need a change refuse it themselves.
    """
    try:
        quantity = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise StockError("invalid_quantity", f"{value!r} is not a quantity.") from None
    if not quantity.is_finite():
        raise StockError("invalid_quantity", f"{value!r} is not a quantity.")
    if quantity < 0 and not signed:
        raise StockError("invalid_quantity", f"A quantity cannot be negative ({quantity}).")
    if quantity != quantity.quantize(Decimal("0.001")):
        raise StockError("invalid_quantity", f"{quantity} has more than three decimals.")
    if units_are_whole(package) and quantity != quantity.to_integral_value():
        unit = (package.unit or "unit").lower()
        raise StockError(
            "fractional_quantity",
            f"{package.package_ndc} is counted in whole units ({unit}): {quantity} is not a "
            "whole number.",
        )
    return quantity


def require_pharmacist(user, *, why: str) -> None:
    if not user.has_perm(PHARMACIST_PERMISSION):
        raise StockError("pharmacist_required", f"{why} needs a pharmacist.")


def require_witness(witness, *, by, why: str) -> None:
    """A witness is another active member of staff than the person acting."""
    if witness is None:
        raise StockError(
            "witness_required", f"{why} needs a witness: another member of staff signs for it."
        )
    if witness.pk == by.pk:
        raise StockError("witness_is_actor", "The witness must be someone other than you.")
    if not witness.is_active:
        raise StockError("witness_inactive", f"{witness} cannot witness: the account is inactive.")


def _number(quantity: Decimal) -> str:
    return f"{quantity.normalize():f}"


def find_lot(package: Package, lot_number: str) -> StockLot:
    """The lot of that number of that package; StockError ``unknown_lot`` if there is none."""
    lot = (
        StockLot.objects.select_related("package__product")
        .filter(package=package, lot_number=lot_number.strip())
        .first()
    )
    if lot is None:
        raise StockError(
            "unknown_lot",
            f"There is no lot {lot_number.strip() or '(blank)'} of {package.package_ndc} in "
            "stock: check the lot number on the label, or receive it first.",
        )
    return lot


# --------------------------------------------------------------------------- adjustments


def adjust_stock(
    lot: StockLot,
    *,
    reason: str,
    quantity_change: object,
    by,
    note: str,
    witness=None,
) -> StockMovement:
    """Change a lot's stock by hand for a coded reason, with a note and a ledger row.

    Damaged, expired and destroyed stock leaves the shelf (a negative change); a count
    correction goes either way. A destruction is witnessed by someone else; any
    schedule II adjustment is made by a pharmacist with a witness. Locks the lot.
    Raises StockError for a missing note or witness, a wrong sign, a fraction of a
    whole unit, or more removed than the lot holds; nothing is written then.
    """
    try:
        reason = AdjustmentReason(reason)
    except ValueError:
        raise StockError("invalid_reason", f"{reason!r} is not an adjustment reason.") from None
    note = (note or "").strip()
    if not note:
        raise StockError("note_required", "Say what happened in the note.")
    package = Package.objects.select_related("product").get(pk=lot.package_id)
    change = check_units(quantity_change, package, signed=True)
    if change == 0:
        raise StockError("invalid_quantity", "An adjustment changes the quantity: zero does not.")
    if change > 0 and reason != AdjustmentReason.COUNT_CORRECTION:
        raise StockError(
            "adjustment_must_remove",
            f"{reason.label} stock leaves the shelf: the change must be negative.",
        )
    if reason == AdjustmentReason.DESTRUCTION:
        require_witness(witness, by=by, why="A destruction")
    if is_schedule_ii(package):
        require_pharmacist(by, why="A schedule II adjustment")
        require_witness(witness, by=by, why="A schedule II adjustment")

    with transaction.atomic():
        locked = StockLot.objects.select_for_update(of=("self",)).get(pk=lot.pk)
        if locked.quantity_on_hand + change < 0:
            raise StockError(
                "insufficient_stock",
                f"Lot {locked.lot_number} holds {_number(locked.quantity_on_hand)} units; "
                f"{_number(-change)} cannot be removed.",
            )
        StockLot.objects.filter(pk=lot.pk).update(quantity_on_hand=F("quantity_on_hand") + change)
        movement = StockMovement.objects.create(
            lot=locked,
            kind=ADJUSTMENT_MOVEMENT_KINDS[reason],
            quantity_change=change,
            reason=note[:255],
            actor=by,
            witness=witness,
        )
        if change < 0:
            check_reorder_point([package.product_id])
        lot.quantity_on_hand = locked.quantity_on_hand + change
        return movement


# --------------------------------------------------------------------------- cycle counts


def _lock_count(count: CycleCount, *, to_status: str | None = None) -> CycleCount:
    locked = CycleCount.objects.select_for_update().get(pk=count.pk)
    if to_status is not None and to_status not in CYCLE_COUNT_MOVES[locked.status]:
        raise StockError(
            f"count_{locked.status}",
            f"Count {locked.pk} is {locked.get_status_display().lower()}; it cannot be "
            f"{CycleCount.Status(to_status).label.lower()}.",
        )
    return locked


def start_cycle_count(
    *,
    by,
    lots: Iterable[StockLot] | None = None,
    location: str = "",
    package: Package | None = None,
    controlled_only: bool = False,
    note: str = "",
) -> CycleCount:
    """A blind count of the given lots, or of the lots in stock that match the filters
    (a bin, a package NDC, controlled substances only).

    Locks the lots in primary-key order and takes their quantity on hand as the expected
    quantity. A lot is in at most one open count, so a shortage is corrected once.
    Raises StockError when nothing matches or a lot is being counted already.
    """
    location = location.strip()
    given = list(lots) if lots is not None else None
    selected = StockLot.objects.all()
    scope = []
    if given is not None:
        selected = selected.filter(pk__in=[lot.pk for lot in given])
        scope.append(f"{len(given)} chosen lot{'s' if len(given) != 1 else ''}")
    else:
        selected = selected.filter(quantity_on_hand__gt=0)
    if location:
        selected = selected.filter(location__iexact=location)
        scope.append(f"bin {location}")
    if package is not None:
        selected = selected.filter(package=package)
        scope.append(f"NDC {package.package_ndc}")
    if controlled_only:
        selected = selected.filter(package__product__dea_schedule__in=CONTROLLED_SCHEDULES)
        scope.append("controlled substances")

    with transaction.atomic():
        locked = list(selected.order_by("pk").select_for_update(of=("self",)))
        if not locked:
            raise StockError("nothing_to_count", "No lot in stock matches; nothing to count.")
        busy = (
            CycleCountLine.objects.filter(lot__in=locked, count__in=CycleCount.objects.open())
            .select_related("lot")
            .order_by("count_id")
        )
        if busy:
            first = busy[0]
            raise StockError(
                "lot_already_being_counted",
                f"Lot {first.lot.lot_number} is being counted in count {first.count_id}: "
                "finish or cancel that count first.",
            )
        count = CycleCount.objects.create(
            scope=", ".join(scope) or "all lots in stock", note=note[:255], created_by=by
        )
        CycleCountLine.objects.bulk_create(
            CycleCountLine(count=count, lot=lot, expected_quantity=lot.quantity_on_hand)
            for lot in locked
        )
        return count


def record_count(
    count: CycleCount,
    *,
    lot: StockLot,
    counted_quantity: object,
    by,
    is_estimate: bool = False,
) -> CycleCountLine:
    """What the counter found for one lot of an open count (again, to correct a miscount).

    Takes the lot's quantity on hand now as the expected quantity (locks the count, then
    the lot), so what moved since the count started is no variance. Schedule II is
    counted exactly, and so is a schedule III-V package of more than 1,000 units
    (21 CFR 1304.11(e)(3)). Raises StockError for a lot not in the count, a negative
    quantity, a fraction of a whole unit, or a count that is not open.
    """
    with transaction.atomic():
        count = _lock_count(count)
        if count.status != CycleCount.Status.COUNTING:
            raise StockError(
                f"count_{count.status}",
                f"Count {count.pk} is {count.get_status_display().lower()}: no more counting.",
            )
        line = count.lines.select_related("lot__package__product").filter(lot_id=lot.pk).first()
        if line is None:
            raise StockError(
                "lot_not_in_count",
                f"Lot {lot.lot_number} of {lot.package.package_ndc} is not part of count "
                f"{count.pk}; count only the lots listed.",
            )
        package = line.lot.package
        quantity = check_units(counted_quantity, package)
        if is_estimate:
            schedule = package.product.dea_schedule
            if schedule == DEASchedule.CII:
                raise StockError(
                    "exact_count_required",
                    "Schedule II is counted exactly (21 CFR 1304.11(e)(3)(i)): no estimates.",
                )
            if schedule and package.quantity is not None and package.quantity > ESTIMATE_LIMIT:
                raise StockError(
                    "exact_count_required",
                    f"A container of more than {ESTIMATE_LIMIT} units is counted exactly "
                    "(21 CFR 1304.11(e)(3)(ii)).",
                )
        on_hand = (
            StockLot.objects.select_for_update(of=("self",))
            .values_list("quantity_on_hand", flat=True)
            .get(pk=line.lot_id)
        )
        line.expected_quantity = on_hand
        line.counted_quantity = quantity
        line.is_estimate = is_estimate
        line.counted_by = by
        line.counted_at = timezone.now()
        line.save(
            update_fields=[
                "expected_quantity", "counted_quantity", "is_estimate", "counted_by", "counted_at"
            ]
        )  # fmt: skip
        return line


def submit_cycle_count(count: CycleCount, *, by) -> CycleCount:
    """Hand a finished count over for approval. Raises StockError while lots are uncounted."""
    with transaction.atomic():
        locked = _lock_count(count, to_status=CycleCount.Status.SUBMITTED)
        uncounted = list(
            locked.lines.filter(counted_quantity__isnull=True).values_list(
                "lot__lot_number", flat=True
            )
        )
        if uncounted:
            raise StockError(
                "lines_not_counted",
                f"{len(uncounted)} lot{'s are' if len(uncounted) != 1 else ' is'} not counted "
                f"yet: {', '.join(uncounted[:10])}.",
            )
        count.status = locked.status = CycleCount.Status.SUBMITTED
        count.submitted_by, count.submitted_at = by, timezone.now()
        count.save(update_fields=["status", "submitted_by", "submitted_at"])
        return count


def cancel_cycle_count(count: CycleCount, *, by) -> CycleCount:
    """Drop a count that is not approved; nothing is posted."""
    with transaction.atomic():
        _lock_count(count, to_status=CycleCount.Status.CANCELLED)
        count.status = CycleCount.Status.CANCELLED
        count.cancelled_by, count.cancelled_at = by, timezone.now()
        count.save(update_fields=["status", "cancelled_by", "cancelled_at"])
        return count


def variance_lines(count: CycleCount) -> list[CycleCountLine]:
    """The lines whose exact count differs from the ledger (estimates post nothing)."""
    return [
        line
        for line in count.lines.select_related("lot__package__product")
        if line.variance and not line.is_estimate
    ]


def approve_cycle_count(count: CycleCount, *, by, witness=None, note: str = "") -> CycleCount:
    """Approve a submitted count and post each exact variance as a COUNT_CORRECTION row.

    The approver is a manager or pharmacist who counted none of it; a schedule II
    variance needs a pharmacist approver and a witness. Locks the count, then the lots
    in primary-key order; each correction is added with F() to the stock as it is now.
    Raises StockError (nothing posted) when a rule is not met or a correction would
    take a lot below zero.
    """
    if not by.has_perm(APPROVER_PERMISSION):
        raise StockError("approver_required", "A manager or a pharmacist approves counts.")
    with transaction.atomic():
        locked = _lock_count(count, to_status=CycleCount.Status.APPROVED)
        lines = list(locked.lines.select_related("lot__package__product"))
        if any(line.counted_by_id == by.pk for line in lines):
            raise StockError(
                "approver_counted",
                "You counted lots of this count: another manager or pharmacist approves it.",
            )
        corrections = [line for line in lines if line.variance and not line.is_estimate]
        if any(is_schedule_ii(line.lot.package) for line in corrections):
            require_pharmacist(by, why="A schedule II count variance")
            require_witness(witness, by=by, why="A schedule II count variance")
        elif witness is not None:
            require_witness(witness, by=by, why="This count")

        on_hand = dict(
            StockLot.objects.filter(pk__in=[line.lot_id for line in corrections])
            .order_by("pk")
            .select_for_update(of=("self",))
            .values_list("pk", "quantity_on_hand")
        )
        for line in corrections:
            if on_hand[line.lot_id] + line.variance < 0:
                raise StockError(
                    "correction_below_zero",
                    f"Lot {line.lot.lot_number} holds {_number(on_hand[line.lot_id])} units now; "
                    f"a correction of {_number(line.variance)} would take it below zero. "
                    "Cancel this count and count the lot again.",
                )
        for line in sorted(corrections, key=lambda line: line.lot_id):
            StockLot.objects.filter(pk=line.lot_id).update(
                quantity_on_hand=F("quantity_on_hand") + line.variance
            )
            line.correction = StockMovement.objects.create(
                lot_id=line.lot_id,
                kind=StockMovement.Kind.COUNT_CORRECTION,
                quantity_change=line.variance,
                reason=(
                    f"Cycle count {locked.pk}: counted {_number(line.counted_quantity)}, "
                    f"expected {_number(line.expected_quantity)}"
                ),
                reference=locked.reference,
                actor=by,
                witness=witness,
            )
            line.save(update_fields=["correction"])
        check_reorder_point(
            {line.lot.package.product_id for line in corrections if line.variance < 0}
        )

        count.status = CycleCount.Status.APPROVED
        count.approved_by, count.approved_at, count.witness = by, timezone.now(), witness
        if note.strip():
            count.note = note.strip()[:255]
        count.save(update_fields=["status", "approved_by", "approved_at", "witness", "note"])
        return count


# --------------------------------------------------------------------------- controlled


def controlled_perpetual_inventory(*, schedule: str = "", include_empty: bool = False):
    """The lots of controlled substances with their quantity on hand (the perpetual
    inventory kept by the ledger), by schedule, product, NDC and lot."""
    schedules = [schedule] if schedule else CONTROLLED_SCHEDULES
    lots = StockLot.objects.filter(package__product__dea_schedule__in=schedules)
    if not include_empty:
        lots = lots.filter(quantity_on_hand__gt=0)
    return lots.select_related("package__product").order_by(
        "package__product__dea_schedule",
        "package__product__proprietary_name",
        "package__package_ndc",
        "lot_number",
    )


@dataclass(frozen=True)
class InventoryRow:
    """One lot in the biennial inventory: units on hand and whole commercial containers."""

    schedule: str
    product: str
    dosage_form: str
    strength: str
    package_ndc: str
    description: str
    units_per_package: Decimal | None
    unit: str
    lot_number: str
    expiry: object
    on_hand: Decimal

    @property
    def full_packages(self) -> int | None:
        if not self.units_per_package:
            return None
        return int(self.on_hand // self.units_per_package)

    @property
    def loose_units(self) -> Decimal | None:
        if not self.units_per_package:
            return None
        return self.on_hand - self.full_packages * self.units_per_package


@dataclass(frozen=True)
class BiennialInventory:
    """The controlled-substance inventory as of a moment (21 CFR 1304.11(c)), schedule II
    listed apart from III-V as 1304.04(f) asks."""

    as_of: datetime
    rows: Sequence[InventoryRow]

    @property
    def schedule_ii(self) -> list[InventoryRow]:
        return [row for row in self.rows if row.schedule == DEASchedule.CII]

    @property
    def schedules_iii_to_v(self) -> list[InventoryRow]:
        return [row for row in self.rows if row.schedule != DEASchedule.CII]


def biennial_inventory(*, as_of: datetime) -> BiennialInventory:
    """Controlled stock on hand at ``as_of``, per NDC and lot, summed from the ledger
    (every movement up to that moment), so it can be taken for any past date too."""
    totals = dict(
        StockMovement.objects.filter(
            occurred_at__lte=as_of,
            lot__package__product__dea_schedule__in=CONTROLLED_SCHEDULES,
        )
        .values("lot")
        .annotate(on_hand=Sum("quantity_change"))
        .filter(~Q(on_hand=0))
        .values_list("lot", "on_hand")
    )
    lots = StockLot.objects.filter(pk__in=totals).select_related("package__product")
    rows = []
    for lot in lots.prefetch_related("package__product__strengths__ingredient"):
        product = lot.package.product
        rows.append(
            InventoryRow(
                schedule=product.dea_schedule,
                product=product.display_name,
                dosage_form=product.dosage_form,
                strength="; ".join(
                    f"{s.ingredient.name} {s.strength} {s.strength_unit}".strip()
                    for s in product.strengths.all()
                ),
                package_ndc=lot.package.package_ndc,
                description=lot.package.description,
                units_per_package=lot.package.quantity,
                unit=lot.package.unit,
                lot_number=lot.lot_number,
                expiry=lot.expiry,
                on_hand=totals[lot.pk],
            )
        )
    rows.sort(key=lambda row: (row.schedule, row.product.lower(), row.package_ndc, row.lot_number))
    return BiennialInventory(as_of=as_of, rows=rows)
