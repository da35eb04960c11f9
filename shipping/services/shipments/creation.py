"""Making shipments: an order's shipment, awaiting packing, is made once the order is
ready to pack, never by a read.

The fill workflow records the side effect ``shipping.create_shipment`` (``outbox``; by
name: ``orders`` cannot import us) in the transaction of the move that leaves an order
ready to pack: PV2 approval of its last fill, a release from hold back to ready to pack,
the cancellation of the last fill that was not ready; ``shipping/effects.py`` delivers it
here. ``ensure_shipments_for_ready_orders`` is the catch-up Celery beat runs every 30 s
for the shipments no side effect made: two pharmacists approving an order's last two
fills at the same instant (each sees the other's fill still at PV2), an order ready again
after its side effect was delivered, and orders blocked by an address corrected since
(the patient's record is in ``pharmacy``, which cannot call us). Each new shipment is
inserted on its own, guarded by the unique constraint ``one_shipment_per_order``, because
the address check and the packaging rules run in Python: the side effect and the
catch-up racing make it once.
"""

from dataclasses import dataclass, field
from datetime import date

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Prefetch
from django.utils import timezone

from orders.models import Order
from orders.services.workflow import orders_ready_to_pack
from pharmacy.models import User
from shipping.models import Shipment, ShipmentEvent
from shipping.services.shipments.addresses import validate_ship_to_address
from shipping.services.shipments.contents import _apply_plan, _plan, shipment_fills
from shipping.services.shipments.helpers import F, S, ShippingError, _record_documents


def ready_orders_without_shipment():
    """Orders with at least one fill, every active one ready to pack, and no shipment
    yet (a reship's order has one from the start)."""
    shipped = Shipment.objects.filter(order=OuterRef("pk"))
    return orders_ready_to_pack().exclude(Exists(shipped)).order_by("pk")


@dataclass(frozen=True)
class BlockedOrder:
    """An order ready to ship whose shipment cannot be made, and why."""

    order: Order
    code: str
    detail: str
    problems: list[str] = field(default_factory=list)


def _ready_orders_with_addresses():
    return (
        ready_orders_without_shipment()
        .select_related("patient")
        .prefetch_related(Prefetch("patient__addresses"))
    )


def _make_shipment(order: Order, *, today: date) -> Shipment | None:
    """The ready order's shipment, made now; None when its address cannot be shipped to
    or another process made it meanwhile."""
    try:
        snapshot = validate_ship_to_address(order.patient)
    except ShippingError:
        return None  # listed by blocked_orders until the address is corrected
    return _create_shipment(order, snapshot, today=today)


def create_shipment_for_order(order: Order) -> Shipment | None:
    """Make the order's shipment, awaiting packing, with the patient's address as it is
    now: what the fill workflow queues once the order's last fill passed PV2. Returns it,
    or None when there is nothing to make: the order is not (or no longer) ready to
    pack, already has its shipment, or its address cannot be shipped to (then
    ``blocked_orders`` lists it until the address is corrected, and the catch-up makes
    it). Idempotent: the unique constraint ``one_shipment_per_order`` makes a shipment
    made twice at once one. Raises nothing of its own."""
    ready = _ready_orders_with_addresses().filter(pk=order.pk).first()
    if ready is None:
        return None
    return _make_shipment(ready, today=timezone.localdate())


def ensure_shipments_for_ready_orders() -> int:
    """The catch-up (Celery beat): make the shipment (awaiting packing) of every order
    whose last fill passed PV2 and has none, and returns how many were made. Reaching
    ready to pack queues each order's own ``create_shipment_for_order``; this makes the
    ones whose task never came and those of orders whose address was corrected since
    they were blocked. Cheap and idempotent: one query when there is nothing new; each
    shipment is guarded by the unique constraint, so a process racing us makes it once.
    An order whose address cannot be shipped to gets none (``blocked_orders``).
    """
    today = timezone.localdate()
    return sum(
        _make_shipment(order, today=today) is not None for order in _ready_orders_with_addresses()
    )


def blocked_orders() -> list[BlockedOrder]:
    """Orders ready to ship that cannot be: the patient's address cannot be shipped to.
    Shown as "cannot ship" with the reason until the address is corrected."""
    blocked = []
    for order in _ready_orders_with_addresses():
        try:
            validate_ship_to_address(order.patient)
        except ShippingError as error:
            blocked.append(
                BlockedOrder(order, error.code, error.detail, error.extra.get("problems", []))
            )
    return blocked


def _create_shipment(
    order: Order,
    snapshot: dict,
    *,
    today: date,
    reship_of: Shipment | None = None,
    detail: str = "",
    by: User | None = None,
) -> Shipment | None:
    shipment = Shipment(order=order, reship_of=reship_of, **snapshot)
    fills = (
        shipment_fills(shipment)
        if reship_of
        else list(order.fills.exclude(status=F.CANCELLED).select_related("prescription__product"))
    )
    _apply_plan(shipment, _plan(fills, today=today))
    try:
        with transaction.atomic():
            shipment.save()
            ShipmentEvent.objects.create(
                shipment=shipment,
                from_status="",
                to_status=S.AWAITING_PACKING,
                detail=detail or "Every fill of the order passed PV2.",
                actor=by,
                occurred_at=timezone.now(),
            )
            _record_documents(shipment)  # the packing slip, printed before packing
    except IntegrityError:
        if reship_of is not None:
            raise
        return None  # made by another process meanwhile (one_shipment_per_order)
    return shipment
