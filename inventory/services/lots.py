"""Lot status: quarantine, recall, release, expiry; and the recall trace.

A status change moves a lot's units in or out of available stock without changing its
quantity on hand: the units stay on the shelf (in the quarantine or expired bin) until
they are destroyed or returned, which is a ledger row (DESTRUCTION, or an adjustment).
So the ledger keeps summing to the quantity on hand, and "available stock" is always the
units of AVAILABLE, unexpired lots (``StockLotQuerySet.available``). Each change is a
StockLotStatusChange row written in the same transaction; taking units out of available
stock checks the reorder point.

Locks: the lots, in primary-key order, then (through ``check_reorder_point``) the
products' reorder rules, the same order as ``inventory.services.stock``.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import DecimalField, F, Max, Min, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce

from inventory.models import (
    STOCK_LOT_MOVES,
    StockLot,
    StockLotStatusChange,
    StockMovement,
)
from inventory.ndc import is_product_ndc, normalize_ndc_input
from inventory.services.reorder import check_reorder_point
from lib.text import checked_free_text

Status = StockLot.Status


class LotStatusError(Exception):
    """A lot status change refused; ``code`` is stable, ``detail`` a sentence for people."""

    def __init__(self, code: str, detail: str):
        super().__init__(detail)
        self.code = code
        self.detail = detail


def lots_for_ndc(ndc: str, lot_number: str = "") -> QuerySet:
    """Lots of a product NDC (0002-3227: every package) or of one package NDC (hyphenated
    10-digit or plain 11-digit), optionally of one manufacturer lot number.

    Raises ``inventory.ndc.InvalidNDCError`` when the text is no NDC.
    """
    ndc = ndc.strip()
    if is_product_ndc(ndc):
        lots = StockLot.objects.filter(package__product__product_ndc=ndc)
    else:
        lots = StockLot.objects.filter(package__ndc11=normalize_ndc_input(ndc))
    if lot_number.strip():
        lots = lots.filter(lot_number__iexact=lot_number.strip())
    return lots


def _change_status(
    lots: QuerySet, *, to: str, by, reason: str, strict: bool, only_from: tuple = ()
) -> list[StockLot]:
    """Move the lots to ``to`` (from a status in ``only_from``, when given). ``strict``
    (one lot named by a person): refuse a move the table does not allow; otherwise
    (every lot of an NDC, the expiry sweep) skip it."""
    reason, problem = checked_free_text(reason, "reason")
    if problem:
        raise LotStatusError("invalid_reason", problem)
    if not reason:
        raise LotStatusError("reason_required", "Give the reason for the change.")
    changed: list[StockLot] = []
    lowered_products: set[int] = set()
    with transaction.atomic():
        locked = list(lots.select_for_update(of=("self",)).select_related("package").order_by("pk"))
        past_expiry = set()
        if to == Status.AVAILABLE:
            past_expiry = set(lots.past_expiry().values_list("pk", flat=True))
        for lot in locked:
            target = to
            if target == Status.AVAILABLE and lot.pk in past_expiry:
                target = Status.EXPIRED  # released, but past its date: it cannot go back
            allowed = target in STOCK_LOT_MOVES[lot.status]
            if not allowed or (only_from and lot.status not in only_from):
                if strict:
                    raise LotStatusError(
                        f"lot_{lot.status}",
                        f"Lot {lot.lot_number} is {lot.get_status_display().lower()}; it "
                        f"cannot become {Status(to).label.lower()}.",
                    )
                continue
            StockLotStatusChange.objects.create(
                lot=lot, from_status=lot.status, to_status=target, reason=reason, actor=by
            )
            if lot.status == Status.AVAILABLE:
                # By status, not ``available()``: a lot past its date left available stock
                # at midnight with no reorder check, so moving it to EXPIRED runs one.
                lowered_products.add(lot.package.product_id)
            lot.status, lot.status_reason = target, reason[:255]
            lot.save(update_fields=["status", "status_reason"])
            changed.append(lot)
        check_reorder_point(lowered_products)
    return changed


def _one(lot: StockLot) -> QuerySet:
    return StockLot.objects.filter(pk=lot.pk)


def quarantine_lot(lot: StockLot, *, by, reason: str) -> StockLot:
    """Set a lot aside (suspected damage, a possible recall, a temperature excursion): it
    cannot be allocated or dispensed until released. Raises LotStatusError."""
    return _change_status(_one(lot), to=Status.QUARANTINED, by=by, reason=reason, strict=True)[0]


def recall_lot(lot: StockLot, *, by, reason: str) -> StockLot:
    """Recall a lot: never dispensed again (final). Raises LotStatusError."""
    return _change_status(_one(lot), to=Status.RECALLED, by=by, reason=reason, strict=True)[0]


def release_lot(lot: StockLot, *, by, reason: str) -> StockLot:
    """Put a quarantined lot back into available stock; a lot past its expiry date becomes
    expired instead. Raises LotStatusError for a lot that is not quarantined."""
    return _change_status(
        _one(lot),
        to=Status.AVAILABLE,
        by=by,
        reason=reason,
        strict=True,
        only_from=(Status.QUARANTINED,),
    )[0]


def quarantine_ndc(ndc: str, *, by, reason: str, lot_number: str = "") -> list[StockLot]:
    """Quarantine every available lot of a product or package NDC (optionally one lot
    number across the product's packages). Returns the lots changed."""
    return _change_status(
        lots_for_ndc(ndc, lot_number), to=Status.QUARANTINED, by=by, reason=reason, strict=False
    )


def recall_ndc(ndc: str, *, by, reason: str, lot_number: str = "") -> list[StockLot]:
    """Recall every lot of a product or package NDC that is not recalled yet (optionally
    one lot number). Returns the lots changed."""
    return _change_status(
        lots_for_ndc(ndc, lot_number), to=Status.RECALLED, by=by, reason=reason, strict=False
    )


# --------------------------------------------------------------------------- expiry


@dataclass(frozen=True)
class ExpiryReport:
    """``expired``: lots the sweep moved out of available stock; ``expiring``: available
    lots with units that expire within the warning window (flagged, nothing changed)."""

    expired: list[StockLot]
    expiring: list[StockLot]


def expiring_lots(*, today: date, window_days: int) -> QuerySet:
    """Lots of available stock on ``today`` (``StockLotQuerySet.available``) with units,
    that expire within the window."""
    return (
        StockLot.objects.available(today=today)
        .filter(quantity_on_hand__gt=0, expiry__lte=today + timedelta(days=window_days))
        .select_related("package__product")
        .order_by("expiry", "pk")
    )


def expire_lots(*, today: date, window_days: int) -> ExpiryReport:
    """The daily sweep: move available lots whose expiry date has come (on or before
    today: a lot is not dispensed on its expiry day) to EXPIRED, and list the lots that
    expire within ``window_days``. Quarantined lots keep their status (they are out of
    available stock already; releasing one past its date expires it).

    The units stay on the expired lots until destroyed (no ledger row here).
    """
    expired = _change_status(
        StockLot.objects.filter(status=Status.AVAILABLE).past_expiry(today=today),
        to=Status.EXPIRED,
        by=None,
        reason="Past its expiry date (daily expiry sweep).",
        strict=False,
    )
    return ExpiryReport(
        expired=expired, expiring=list(expiring_lots(today=today, window_days=window_days))
    )


# --------------------------------------------------------------------------- recall trace


@dataclass(frozen=True)
class LotTrace:
    """The lots an NDC and lot number name, and who received their units.

    ``dispensings`` has one row per lot and ledger ``reference`` (``fill:123``): units
    dispensed, units returned to stock and the net units still out, from one grouped
    query over the ledger. When fills exist, the orders app turns each reference into its
    fill, patient and shipment.
    """

    lots: list[StockLot]
    dispensings: QuerySet


def trace_lot(ndc: str, lot_number: str) -> LotTrace:
    """Every dispensing of a manufacturer lot, oldest first.

    ``ndc`` is a package NDC (hyphenated 10-digit or 11-digit) or a product NDC (the
    lot number across all its packages). Raises InvalidNDCError for text that is no NDC.
    """
    lots = lots_for_ndc(ndc, lot_number)
    return LotTrace(
        lots=list(lots.select_related("package").order_by("pk")),
        dispensings=dispensings_of(lots),
    )


def dispensings_of(lots: QuerySet) -> QuerySet:
    """Dispense and return-to-stock rows of the lots, summed per lot and reference: one
    query over the ledger (the lots are a subquery of it)."""
    kinds = [StockMovement.Kind.DISPENSE, StockMovement.Kind.RETURN_TO_STOCK]
    units = DecimalField(max_digits=12, decimal_places=3)
    zero = Value(Decimal(0), output_field=units)
    return (
        StockMovement.objects.filter(lot__in=lots.values("pk"), kind__in=kinds)
        .exclude(reference="")
        .values("reference", "lot_id", "lot__lot_number", "lot__package__package_ndc")
        .annotate(
            dispensed=Coalesce(
                -Sum("quantity_change", filter=Q(kind=StockMovement.Kind.DISPENSE)), zero
            ),
            returned=Coalesce(
                Sum("quantity_change", filter=Q(kind=StockMovement.Kind.RETURN_TO_STOCK)), zero
            ),
            first_dispensed_at=Min("occurred_at", filter=Q(kind=StockMovement.Kind.DISPENSE)),
            last_movement_at=Max("occurred_at"),
        )
        .annotate(quantity=F("dispensed") - F("returned"))
        .filter(dispensed__gt=0)
        .order_by("first_dispensed_at", "reference")
    )
