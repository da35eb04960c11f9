"""The shipping part of `manage.py seed_demo`: orders ready to pack, shipments in every
status, a cold-chain order, a controlled one, delivery exceptions and reships, all made
through the services; seeding again creates nothing."""

import io
from collections import Counter

import pytest
from django.core.management import call_command

from inventory.models import StockLot
from orders.models import Fill, Order, Prescription
from shipping.demo import SCENARIOS, seed_demo
from shipping.models import CarrierEvent, DeliveryException, Shipment, ShipmentEvent
from shipping.services.shipments import blocked_orders, shipment_fills

pytestmark = pytest.mark.django_db

S = Shipment.Status


def seed() -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def demo_shipment(key: str) -> Shipment:
    prescription = Prescription.objects.get(prescriber_order_number=key)
    return Shipment.objects.get(order__fills__prescription=prescription, reship_of=None)


def test_the_demo_has_shipments_in_every_status():
    output = seed()

    assert set(Shipment.objects.values_list("status", flat=True)) == set(S.values)
    assert Prescription.objects.filter(
        prescriber_order_number__startswith="DEMO-SHIP-"
    ).count() == (len(SCENARIOS))
    assert "Demo shipments:" in output
    assert blocked_orders() == []
    # Every order whose fills are ready to pack has its shipment.
    for fill in Fill.objects.filter(status=Fill.Status.READY_TO_PACK):
        assert Shipment.objects.filter(order=fill.order).exists()


def test_the_cold_chain_order_waits_to_be_packed_with_its_instructions():
    seed()

    shipment = demo_shipment("DEMO-SHIP-0002")

    assert (shipment.status, shipment.is_cold_chain, shipment.packaging) == (
        S.AWAITING_PACKING,
        True,
        Shipment.Packaging.INSULATED,
    )
    assert shipment.cold_packs >= 2
    assert shipment.service.allows_cold_chain
    assert shipment.instructions[0].startswith("Use an insulated box with")


def test_the_controlled_order_is_packed_plain_with_a_signature():
    seed()

    shipment = demo_shipment("DEMO-SHIP-0003")

    assert (
        shipment.status,
        shipment.is_controlled,
        shipment.packaging,
        shipment.signature_required,
        shipment.tracking_number,
    ) == (S.PACKED, True, Shipment.Packaging.PLAIN, True, "")
    assert {fill.status for fill in shipment_fills(shipment)} == {Fill.Status.PACKED}


def test_tracking_came_through_the_signed_webhook():
    seed()

    delivered = demo_shipment("DEMO-SHIP-0007")

    assert delivered.status == S.DELIVERED
    assert list(
        CarrierEvent.objects.filter(shipment=delivered).values_list("status", "outcome")
    ) == [("in_transit", "applied"), ("out_for_delivery", "no_change"), ("delivered", "applied")]
    assert (
        ShipmentEvent.objects.filter(shipment=delivered, carrier_event__isnull=False).count() == 2
    )


def test_delivery_exceptions_open_returned_and_lost_with_their_reships():
    seed()

    damaged = demo_shipment("DEMO-SHIP-0008")
    returned = demo_shipment("DEMO-SHIP-0009")
    lost = demo_shipment("DEMO-SHIP-0010")

    (open_problem,) = DeliveryException.objects.filter(resolved_at=None)
    assert (open_problem.shipment, open_problem.carrier_event is not None) == (damaged, True)
    assert damaged.status == S.EXCEPTION
    back = returned.reships.get()
    assert (returned.status, back.status, back.order) == (
        S.RETURNED,
        S.AWAITING_PACKING,
        returned.order,
    )
    again = lost.reships.get()
    (replacement,) = again.order.fills.all()
    assert (lost.status, again.status, replacement.status) == (
        S.EXCEPTION,
        S.AWAITING_PACKING,
        Fill.Status.FILL,
    )
    assert replacement.replacement_of == lost.order.fills.get()
    assert again.order != lost.order


def test_the_demo_keeps_the_stock_ledger_whole_and_seeds_once():
    seed()
    counts = (
        Shipment.objects.count(),
        ShipmentEvent.objects.count(),
        CarrierEvent.objects.count(),
        Fill.objects.count(),
        Order.objects.count(),
    )

    output = seed()

    assert (
        Shipment.objects.count(),
        ShipmentEvent.objects.count(),
        CarrierEvent.objects.count(),
        Fill.objects.count(),
        Order.objects.count(),
    ) == counts
    assert "Demo data already complete; nothing new loaded." in output
    for lot in StockLot.objects.all():
        assert sum(lot.movements.values_list("quantity_change", flat=True)) == lot.quantity_on_hand


def test_the_shipping_demo_alone_returns_what_it_created():
    call_command("seed_demo", stdout=io.StringIO())

    assert seed_demo(stdout=io.StringIO()) == {
        "shipping prescriptions": 0,
        "shipping scenarios": 0,
    }
    assert Counter(s.status for s in Shipment.objects.filter(reship_of__isnull=False)) == {
        S.AWAITING_PACKING: 2
    }
