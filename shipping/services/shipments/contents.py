"""What goes in a package (the order's fills, and for a reship the first package's
fills that were not replaced) and how the packaging rules' plan is written on the
shipment."""

from datetime import date

from orders.models import Fill
from shipping.carriers import configured_carriers
from shipping.models import Shipment
from shipping.services.rules import PackagingPlan, packaging_plan
from shipping.services.shipments.helpers import F


def shipment_fills(shipment: Shipment) -> list[Fill]:
    """The fills whose vials go in this package, oldest first: the order's active fills;
    for a reship, its own order's fills (replacements) and the first package's fills
    that were not replaced (product that came back)."""
    fills = list(
        Fill.objects.filter(order_id=shipment.order_id)
        .exclude(status=F.CANCELLED)
        .select_related("prescription__product")
        .order_by("pk")
    )
    if shipment.reship_of_id is None:
        return fills
    original = shipment.reship_of
    own = fills if shipment.order_id != original.order_id else []
    replaced = {fill.replacement_of_id for fill in own}
    kept = [fill for fill in shipment_fills(original) if fill.pk not in replaced]
    return sorted(own + kept, key=lambda fill: fill.pk)


def _plan(fills: list[Fill], *, today: date) -> PackagingPlan:
    return packaging_plan(
        fills, today=today, carriers=[carrier.code for carrier in configured_carriers()]
    )


def _apply_plan(shipment: Shipment, plan: PackagingPlan) -> list[str]:
    shipment.is_cold_chain = plan.is_cold_chain
    shipment.is_controlled = plan.is_controlled
    shipment.packaging = plan.packaging
    shipment.cold_packs = plan.cold_packs
    shipment.signature_required = plan.signature_required
    shipment.instructions = plan.instructions
    shipment.service = plan.service
    shipment.carrier = plan.service.carrier if plan.service else ""
    shipment.ship_on = plan.ship_on
    return [
        "is_cold_chain",
        "is_controlled",
        "packaging",
        "cold_packs",
        "signature_required",
        "instructions",
        "service",
        "carrier",
        "ship_on",
    ]
