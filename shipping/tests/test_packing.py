"""Packing by scan: every vial of the order scanned, nothing from elsewhere, a sane weight;
then the fills are packed and the label's purchase is recorded in the outbox with them; a
worker buys it (local carrier: a tracking number with a check digit) and records the
documents. Every refusal leaves everything as it was, with nothing recorded."""

from datetime import date
from decimal import Decimal

import pytest

from orders.models import Fill, FillEvent
from orders.services.workflow import hold_fill
from orders.tests.factories import another_staff
from outbox.models import OutboxMessage
from outbox.services import deliver_side_effect
from pharmacy.models import Role
from shipping.carriers import LocalCarrier
from shipping.models import CarrierService, Shipment
from shipping.services.shipments import (
    ShippingError,
    ensure_shipments_for_ready_orders,
    pack_shipment,
    purchase_label,
    transition_shipment,
)
from shipping.tests.factories import deliver_side_effects, ready_order, side_effects

pytestmark = pytest.mark.django_db

S = Shipment.Status
MONDAY = date(2026, 11, 30)
SATURDAY = date(2026, 12, 5)


def shipment_of(order) -> Shipment:
    ensure_shipments_for_ready_orders()
    return Shipment.objects.get(order=order)


def codes(order) -> list[str]:
    return list(order.fills.order_by("pk").values_list("label_code", flat=True))


def snapshot(shipment: Shipment):
    """Everything packing could change, to assert a refusal changed nothing."""
    shipment.refresh_from_db()
    fills = Fill.objects.filter(order=shipment.order_id).order_by("pk")
    return (
        shipment.status,
        shipment.weight_oz,
        shipment.tracking_number,
        shipment.events.count(),
        [fill.status for fill in fills],
        FillEvent.objects.filter(fill__order=shipment.order_id).count(),
        len(side_effects("shipping.buy_label")),
    )


@pytest.fixture
def packer():
    return another_staff(Role.TECHNICIAN)


def test_a_complete_scan_packs_and_records_the_label_purchase_with_it(
    packer, django_capture_on_commit_callbacks
):
    order = ready_order(fills=2)
    shipment = shipment_of(order)
    first, second = codes(order)
    documents_before = len(side_effects("shipping.documents"))

    with django_capture_on_commit_callbacks() as callbacks:
        packed = pack_shipment(
            shipment,
            by=packer,
            # The packing slip, a vial read twice by the scanner, lower case typed by hand.
            scans=[shipment.package_code, first, first, second.lower()],
            weight_oz=Decimal("12.5"),
            today=MONDAY,
            entry="scanned",
        )

    assert len(callbacks) == 1  # the label's purchase, queued after commit
    [purchase] = side_effects("shipping.buy_label")
    assert (purchase.target_id, purchase.payload, purchase.dedupe_key, purchase.status) == (
        shipment.pk,
        {"packing": 1},
        f"shipping.buy_label:{shipment.pk}:1",
        "pending",
    )
    assert shipment.package_code in purchase.description
    packed.refresh_from_db()
    assert (packed.status, packed.weight_oz, packed.packed_by, packed.carrier) == (
        S.PACKED,
        Decimal("12.5"),
        packer,
        "local",
    )
    assert packed.tracking_number == ""  # the worker buys it
    assert packed.service.code == "GROUND"  # room temperature: the slowest service
    assert packed.packed_at is not None
    assert set(order.fills.values_list("status", flat=True)) == {Fill.Status.PACKED}
    assert (
        FillEvent.objects.filter(
            fill__order=order, to_status=Fill.Status.PACKED, actor=packer
        ).count()
        == 2
    )

    # What the worker does with it: the label bought, the package labelled, its documents.
    assert deliver_side_effect(purchase.pk) is True

    packed.refresh_from_db()
    assert packed.status == S.LABELLED
    assert packed.tracking_number == LocalCarrier.tracking_number_for(packed.pk)
    assert LocalCarrier().is_tracking_number(packed.tracking_number)
    assert [(e.from_status, e.to_status, e.actor) for e in packed.events.all()] == [
        ("", S.AWAITING_PACKING, None),
        (S.AWAITING_PACKING, S.PACKED, packer),
        (S.PACKED, S.LABELLED, packer),
    ]
    assert len(side_effects("shipping.documents", target_id=packed.pk)) == documents_before + 1


def test_a_label_purchase_delivered_again_buys_nothing_more(packer):
    order = ready_order()
    shipment = shipment_of(order)
    pack_shipment(shipment, by=packer, scans=codes(order), weight_oz=10, entry="scanned")
    [purchase] = side_effects("shipping.buy_label")
    deliver_side_effect(purchase.pk)
    documents = len(side_effects("shipping.documents"))
    # The worker died after the label was stored and before the message was marked: the
    # sweep delivers it again.
    OutboxMessage.objects.filter(pk=purchase.pk).update(status="pending", claimed_until=None)

    assert deliver_side_effect(purchase.pk) is True

    shipment.refresh_from_db()
    assert shipment.tracking_number == LocalCarrier.tracking_number_for(shipment.pk)
    assert shipment.events.filter(to_status=S.LABELLED).count() == 1
    assert len(side_effects("shipping.documents")) == documents
    assert purchase_label(shipment) == shipment  # labelled: nothing to buy


def test_a_vial_of_another_order_stops_the_packing_naming_it(packer):
    order = ready_order(fills=2)
    other = ready_order()
    shipment = shipment_of(order)
    stranger = other.fills.get()
    before = snapshot(shipment)

    with pytest.raises(ShippingError) as refused:
        pack_shipment(
            shipment,
            by=packer,
            scans=[*codes(order), stranger.label_code],
            weight_oz=10,
            entry="scanned",
        )

    assert (refused.value.code, refused.value.status, refused.value.extra["fill"]) == (
        "wrong_vial",
        409,
        stranger.pk,
    )
    assert refused.value.detail == (
        f"This vial is fill {stranger.pk} (Rx {stranger.prescription.rx_number}) of order "
        f"{other.pk}, not of this package (order {order.pk}): take it out."
    )
    assert snapshot(shipment) == before


def test_a_missing_vial_means_the_package_cannot_close(packer):
    order = ready_order(fills=3)
    shipment = shipment_of(order)
    fills = list(order.fills.order_by("pk"))
    before = snapshot(shipment)

    with pytest.raises(ShippingError) as refused:
        pack_shipment(
            shipment, by=packer, scans=[fills[0].label_code], weight_oz=10, entry="scanned"
        )

    assert (refused.value.code, refused.value.extra["missing"]) == (
        "vials_missing",
        [fills[1].pk, fills[2].pk],
    )
    assert refused.value.detail.startswith("2 vials not scanned yet: fill ")
    assert refused.value.detail.endswith(
        "The package cannot be closed until every vial is scanned."
    )
    assert snapshot(shipment) == before


def test_an_unknown_code_is_refused_in_plain_words(packer):
    order = ready_order()
    shipment = shipment_of(order)
    before = snapshot(shipment)

    with pytest.raises(ShippingError) as refused:
        pack_shipment(
            shipment, by=packer, scans=[*codes(order), "NOTAVIAL"], weight_oz=10, entry="scanned"
        )

    assert (refused.value.code, refused.value.status, refused.value.detail) == (
        "unknown_code",
        400,
        "'NOTAVIAL' is not the label of any vial: scan the barcode on the vial label.",
    )
    assert snapshot(shipment) == before


def test_another_packages_slip_is_refused(packer):
    order, other = ready_order(), ready_order()
    shipment = shipment_of(order)
    other_shipment = Shipment.objects.get(order=other)

    with pytest.raises(ShippingError) as refused:
        pack_shipment(
            shipment,
            by=packer,
            scans=[other_shipment.package_code, *codes(order)],
            weight_oz=10,
            entry="scanned",
        )

    assert refused.value.code == "wrong_packing_slip"
    assert shipment.events.count() == 1


@pytest.mark.parametrize(
    ("weight", "code"),
    [
        (None, "weight_required"),
        ("", "weight_required"),
        ("abc", "invalid_weight"),
        ("0", "invalid_weight"),
        ("-3", "invalid_weight"),
        ("1200.1", "invalid_weight"),
        ("10.25", "invalid_weight"),
        ("NaN", "invalid_weight"),
    ],
)
def test_the_weight_is_required_and_sane(packer, weight, code):
    order = ready_order()
    shipment = shipment_of(order)
    before = snapshot(shipment)

    with pytest.raises(ShippingError) as refused:
        pack_shipment(shipment, by=packer, scans=codes(order), weight_oz=weight, entry="scanned")

    assert (refused.value.code, refused.value.status) == (code, 400)
    assert snapshot(shipment) == before


def test_the_heaviest_package_allowed_is_1200_ounces(packer):
    order = ready_order()
    shipment = shipment_of(order)

    packed = pack_shipment(
        shipment, by=packer, scans=codes(order), weight_oz="1200", entry="scanned"
    )

    assert (packed.status, packed.weight_oz) == (S.PACKED, Decimal(1200))


@pytest.mark.parametrize("scans", [[], ["  ", ""], "ABC"])
def test_no_scans_is_refused(packer, scans):
    shipment = shipment_of(ready_order())

    with pytest.raises(ShippingError) as refused:
        pack_shipment(shipment, by=packer, scans=scans, weight_oz=10, entry="scanned")

    assert (refused.value.code, refused.value.status) == ("scans_required", 400)


def test_a_fill_held_after_the_shipment_was_made_holds_the_packing(packer):
    order = ready_order(fills=2)
    shipment = shipment_of(order)
    held = order.fills.order_by("pk").last()
    hold_fill(held, by=another_staff(Role.PHARMACIST), reason_code="patient_request")
    before = snapshot(shipment)

    with pytest.raises(ShippingError) as refused:
        pack_shipment(shipment, by=packer, scans=codes(order), weight_oz=10, entry="scanned")

    assert (refused.value.code, refused.value.extra["waiting"]) == ("fills_not_ready", [held.pk])
    assert snapshot(shipment) == before


def test_a_manager_does_not_pack(packer):
    order = ready_order()
    shipment = shipment_of(order)

    with pytest.raises(ShippingError) as refused:
        pack_shipment(
            shipment,
            by=another_staff(Role.MANAGER),
            scans=codes(order),
            weight_oz=10,
            entry="scanned",
        )

    assert (refused.value.code, refused.value.status) == ("role_not_allowed", 403)


def test_a_package_is_packed_once(packer):
    order = ready_order()
    shipment = shipment_of(order)
    pack_shipment(shipment, by=packer, scans=codes(order), weight_oz=10, entry="scanned")

    with pytest.raises(ShippingError) as refused:
        pack_shipment(shipment, by=packer, scans=codes(order), weight_oz=10, entry="scanned")

    assert refused.value.code == "wrong_status"
    assert refused.value.detail == (
        f"Package {shipment.package_code} is packed, not awaiting packing."
    )
    assert len(side_effects("shipping.buy_label")) == 1


def test_a_refrigerated_package_is_packed_on_its_ship_day_only(packer):
    order = ready_order(cold_chain=True)
    shipment = shipment_of(order)
    before = snapshot(shipment)

    with pytest.raises(ShippingError) as refused:
        pack_shipment(
            shipment, by=packer, scans=codes(order), weight_oz=30, today=SATURDAY, entry="scanned"
        )

    assert (refused.value.code, refused.value.extra["ship_on"]) == ("not_ship_day", "2026-12-07")
    assert snapshot(shipment) == before

    packed = pack_shipment(
        shipment, by=packer, scans=codes(order), weight_oz=30, today=MONDAY, entry="scanned"
    )

    assert (packed.status, packed.packaging, packed.ship_on) == (
        S.PACKED,
        Shipment.Packaging.INSULATED,
        MONDAY,
    )
    assert packed.service.code == "OVERNIGHT"  # refrigerated: the fastest service
    assert packed.cold_packs == 2


def test_a_controlled_package_goes_plain_with_a_signature(packer):
    order = ready_order(fills=2, controlled=True)
    shipment = shipment_of(order)

    packed = pack_shipment(
        shipment, by=packer, scans=codes(order), weight_oz=9, today=MONDAY, entry="scanned"
    )

    assert (packed.packaging, packed.signature_required, packed.is_controlled) == (
        Shipment.Packaging.PLAIN,
        True,
        True,
    )
    assert packed.service.allows_controlled


def test_no_service_the_rules_allow_refuses_the_packing(packer):
    order = ready_order(cold_chain=True)
    shipment = shipment_of(order)
    CarrierService.objects.filter(allows_cold_chain=True).update(is_active=False)
    before = snapshot(shipment)

    with pytest.raises(ShippingError) as refused:
        pack_shipment(
            shipment, by=packer, scans=codes(order), weight_oz=30, today=MONDAY, entry="scanned"
        )

    assert refused.value.code == "no_service"
    assert "refrigerated" in refused.value.detail
    assert snapshot(shipment) == before


def test_a_package_sent_back_to_packing_is_packed_again_with_its_packed_fills(packer):
    order = ready_order(fills=2)
    shipment = shipment_of(order)
    pack_shipment(shipment, by=packer, scans=codes(order), weight_oz=10, entry="scanned")
    deliver_side_effects()
    transition_shipment(
        shipment, to=S.AWAITING_PACKING, by=another_staff(Role.PHARMACIST), detail="Torn box"
    )

    packed = pack_shipment(shipment, by=packer, scans=codes(order), weight_oz=11, entry="scanned")
    deliver_side_effects()

    packed.refresh_from_db()
    assert (packed.status, packed.weight_oz) == (S.LABELLED, Decimal(11))
    assert packed.tracking_number == LocalCarrier.tracking_number_for(packed.pk)
    assert set(order.fills.values_list("status", flat=True)) == {Fill.Status.PACKED}
    assert [m.dedupe_key for m in side_effects("shipping.buy_label")] == [
        f"shipping.buy_label:{shipment.pk}:1",
        f"shipping.buy_label:{shipment.pk}:2",
    ]


def test_a_purchase_of_a_packing_sent_back_before_it_was_delivered_buys_nothing(packer):
    order = ready_order()
    shipment = shipment_of(order)
    pack_shipment(shipment, by=packer, scans=codes(order), weight_oz=10, entry="scanned")
    transition_shipment(
        shipment, to=S.AWAITING_PACKING, by=another_staff(Role.PHARMACIST), detail="Wrong box"
    )
    pack_shipment(shipment, by=packer, scans=codes(order), weight_oz=12, entry="scanned")
    first, second = side_effects("shipping.buy_label")

    assert deliver_side_effect(first.pk) is True  # the first packing's: nothing to buy
    shipment.refresh_from_db()
    assert (shipment.status, shipment.tracking_number) == (S.PACKED, "")

    assert deliver_side_effect(second.pk) is True
    shipment.refresh_from_db()
    assert (shipment.status, shipment.weight_oz) == (S.LABELLED, Decimal(12))
    assert shipment.events.filter(to_status=S.LABELLED).count() == 1
