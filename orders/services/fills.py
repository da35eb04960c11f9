"""Making fills: ``create_fill``, the one way a fill comes to exist (a new prescription's
first fill, a refill, a partial fill's remainder, a reship's replacement), and the number
of a prescription's next refill.

It sits below both intake and the workflow (each makes fills; the workflow moves them
afterwards), so neither has to import the other for it.
"""

from datetime import date
from decimal import Decimal

from django.db.models import Max

from inventory.models import Storage
from orders.models import Fill, FillEvent, FillHold, HoldReason, Order, Prescription
from pharmacy.models import User

__all__ = ["create_fill", "next_fill_number"]


def create_fill(
    prescription: Prescription,
    *,
    by: User | None,
    order: Order | None,
    status: str,
    reason: str,
    requested_via: str,
    quantity: Decimal,
    days_supply: int | None,
    fill_number: int = 0,
    partial_of: Fill | None = None,
    replacement_of: Fill | None = None,
    reason_code: str = "",
    held_from_status: str = "",
    priority: int = Fill.Priority.NORMAL,
    promised_on: date | None = None,
) -> Fill:
    """Create a fill of the prescription, in ``order``, at ``status``, with the FillEvent
    that starts its history (from nothing to ``status``, ``reason``, ``reason_code``).
    Every fill is made here: a new prescription's first fill, a refill, the remainder of
    a partial fill (``partial_of``) and a reship's replacement (``replacement_of``); from
    then on its status moves only through ``orders.services.workflow``.

    A remainder or a replacement completes or replaces one dispensing: it takes that
    fill's number, cold-chain flag and PV1 (the pharmacist verified the prescription
    for the whole quantity). A fill that starts on hold (``held_from_status``, the step a
    release sends it to) gets its open FillHold, with ``reason_code`` (a HoldReason) and
    ``reason`` as its note, placed by ``by``. Writes in the caller's transaction.

    Raises ValueError for a programming error: a hold without a hold reason, the step to
    return to or the person placing it.
    """
    original = partial_of or replacement_of
    if original is not None:
        fill_number = original.fill_number
        is_cold_chain = original.is_cold_chain
    else:
        is_cold_chain = (
            prescription.product is not None
            and prescription.product.storage == Storage.REFRIGERATED
        )
    on_hold = status == Fill.Status.ON_HOLD
    if on_hold and not (held_from_status and reason_code in HoldReason.values and by):
        raise ValueError("A fill made on hold needs the step it is held at, a hold reason and by.")
    fill = Fill.objects.create(
        prescription=prescription,
        order=order,
        fill_number=fill_number,
        partial_of=partial_of,
        replacement_of=replacement_of,
        status=status,
        held_from_status=held_from_status if on_hold else "",
        quantity=quantity,
        days_supply=days_supply,
        requested_via=requested_via,
        priority=priority,
        promised_on=promised_on,
        is_cold_chain=is_cold_chain,
        pv1_by_id=original.pv1_by_id if original else None,
        pv1_at=original.pv1_at if original else None,
    )
    FillEvent.objects.create(
        fill=fill,
        from_status="",
        to_status=status,
        reason=reason[:255],
        reason_code=reason_code,
        actor=by,
    )
    if on_hold:
        FillHold.objects.create(
            fill=fill,
            reason_code=reason_code,
            note=reason,
            from_status=held_from_status,
            placed_by=by,
        )
    return fill


def next_fill_number(prescription: Prescription) -> int:
    """The number of the prescription's next refill (its fills are numbered from 0)."""
    return (prescription.fills.aggregate(n=Max("fill_number"))["n"] or 0) + 1
