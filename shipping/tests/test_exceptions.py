"""Delivery exceptions and reships: a record with a resolution; a reship is a new shipment
linked to the first, with replacement fills (new order, same fill number) where the
product must be replaced, made through the normal fill workflow and stock."""

from datetime import timedelta

import pytest
from django.utils import timezone

from inventory.models import StockLot
from orders.models import Fill, FillEvent, Order, Prescription
from orders.services.workflow import approve_pv2, fill_with_scan
from orders.tests.factories import another_staff, datamatrix
from pharmacy.models import PatientAddress, Role
from shipping.models import DeliveryException, Shipment
from shipping.services.shipments import (
    ShippingError,
    ensure_shipments_for_ready_orders,
    hand_over_to_carrier,
    pack_shipment,
    report_delivery_exception,
    resolve_delivery_exception,
    shipment_fills,
)
from shipping.tests.factories import deliver_side_effects, labelled_shipment, ready_order

pytestmark = pytest.mark.django_db

S = Shipment.Status
K = DeliveryException.Kind


@pytest.fixture
def technician_():
    return another_staff(Role.TECHNICIAN)


@pytest.fixture
def pharmacist_():
    return another_staff(Role.PHARMACIST)


def on_its_way(order=None) -> Shipment:
    shipment = labelled_shipment(order)
    hand_over_to_carrier([shipment], by=another_staff(Role.TECHNICIAN))
    shipment.refresh_from_db()
    return shipment


def reported(shipment, kind, *, by=None) -> DeliveryException:
    return report_delivery_exception(
        shipment, by=by or another_staff(Role.TECHNICIAN), kind=kind, description="Patient called"
    )


# --------------------------------------------------------------------------- reporting


def test_a_lost_package_is_reported_and_the_shipment_is_in_exception(technician_):
    shipment = on_its_way()

    problem = report_delivery_exception(
        shipment, by=technician_, kind=K.LOST, description="No scan for 5 days"
    )

    shipment.refresh_from_db()
    assert shipment.status == S.EXCEPTION
    assert (problem.kind, problem.reported_by, problem.is_open, problem.carrier_event) == (
        K.LOST,
        technician_,
        True,
        None,
    )
    last = shipment.events.last()
    assert (last.to_status, last.actor, last.detail) == (
        S.EXCEPTION,
        technician_,
        "Lost: No scan for 5 days",
    )


def test_a_return_moves_the_package_to_returned(technician_):
    shipment = on_its_way()

    reported(shipment, K.RETURNED)

    shipment.refresh_from_db()
    assert shipment.status == S.RETURNED


def test_damage_found_after_delivery_reopens_a_delivered_package():
    shipment = on_its_way()
    shipment.status = S.DELIVERED
    shipment.save(update_fields=["status"])

    reported(shipment, K.DAMAGED)

    shipment.refresh_from_db()
    assert shipment.status == S.EXCEPTION


def test_a_second_problem_on_a_package_in_exception_is_recorded_without_a_move():
    shipment = on_its_way()
    reported(shipment, K.DAMAGED)
    events = shipment.events.count()

    reported(shipment, K.TEMPERATURE)

    assert DeliveryException.objects.filter(shipment=shipment).count() == 2
    assert shipment.events.count() == events


def test_a_package_not_yet_handed_over_has_no_delivery_exception(technician_):
    shipment = labelled_shipment()

    with pytest.raises(ShippingError) as refused:
        reported(shipment, K.DAMAGED)

    assert refused.value.code == "not_handed_over"
    assert not DeliveryException.objects.exists()


@pytest.mark.parametrize(
    ("kind", "description", "code"),
    [
        ("stolen", "x", "invalid_kind"),
        (K.LOST, "  ", "description_required"),
        # An override that would show "left at door" reversed on screens and reports.
        (K.LOST, "\u202erood ta tfel", "invalid_description"),
        (K.LOST, "Box torn\x00", "invalid_description"),
    ],
)
def test_bad_reports_are_400(technician_, kind, description, code):
    shipment = on_its_way()

    with pytest.raises(ShippingError) as refused:
        report_delivery_exception(shipment, by=technician_, kind=kind, description=description)

    assert (refused.value.code, refused.value.status) == (code, 400)
    shipment.refresh_from_db()
    assert (shipment.status, DeliveryException.objects.count()) == (S.HANDED_TO_CARRIER, 0)


# --------------------------------------------------------------------------- resolving


def test_a_resolution_is_written_by_a_pharmacist_or_manager_once(technician_):
    problem = reported(on_its_way(), K.OTHER)
    manager = another_staff(Role.MANAGER)

    with pytest.raises(ShippingError) as refused:
        resolve_delivery_exception(problem, by=technician_, resolution="Called the patient")
    assert (refused.value.code, refused.value.status) == ("role_not_allowed", 403)
    with pytest.raises(ShippingError) as refused:
        resolve_delivery_exception(problem, by=manager, resolution=" ")
    assert (refused.value.code, refused.value.status) == ("resolution_required", 400)

    resolved = resolve_delivery_exception(problem, by=manager, resolution="Found by neighbour")

    assert (resolved.resolution, resolved.resolved_by, resolved.is_open, resolved.reship) == (
        "Found by neighbour",
        manager,
        False,
        None,
    )
    with pytest.raises(ShippingError) as refused:
        resolve_delivery_exception(problem, by=manager, resolution="Again")
    assert refused.value.code == "already_resolved"


def test_a_returned_package_is_reshipped_as_it_came_back_to_the_current_address():
    shipment = on_its_way(ready_order(fills=2))
    problem = reported(shipment, K.RETURNED)
    patient = shipment.order.patient
    PatientAddress.objects.filter(patient=patient).update(line1="77 New Street")
    manager = another_staff(Role.MANAGER)

    resolved = resolve_delivery_exception(
        problem, by=manager, resolution="Wrong address; patient gave the new one", reship=True
    )

    reship = resolved.reship
    assert (reship.order, reship.reship_of, reship.status, reship.ship_to_line1) == (
        shipment.order,
        shipment,
        S.AWAITING_PACKING,
        "77 New Street",
    )
    assert reship.events.get().detail == (
        f"Reship of package {shipment.package_code} (returned to the pharmacy)"
    )
    # The vials that came back are packed again; their fills stay shipped.
    contents = shipment_fills(reship)
    assert contents == shipment_fills(shipment)
    packer = another_staff(Role.TECHNICIAN)
    packed = pack_shipment(
        reship,
        by=packer,
        scans=[fill.label_code for fill in contents],
        weight_oz=8,
        entry="scanned",
    )
    deliver_side_effects()  # the label bought by the worker
    packed.refresh_from_db()
    assert packed.status == S.LABELLED
    assert hand_over_to_carrier([packed], by=packer) == 1
    assert set(Fill.objects.filter(order=shipment.order).values_list("status", flat=True)) == {
        Fill.Status.SHIPPED
    }


def test_a_lost_package_has_every_fill_replaced_in_a_new_order(pharmacist_):
    order = ready_order(fills=2)
    shipment = on_its_way(order)
    first, second = shipment_fills(shipment)
    refills_before = first.prescription.refills_remaining()
    problem = reported(shipment, K.LOST)

    with pytest.raises(ShippingError) as refused:
        resolve_delivery_exception(
            problem, by=pharmacist_, resolution="Lost", reship=True, replace_fills=[first.pk]
        )
    assert (refused.value.code, refused.value.extra["missing"]) == (
        "replacement_required",
        [second.pk],
    )

    resolved = resolve_delivery_exception(
        problem,
        by=pharmacist_,
        resolution="Carrier confirmed the loss; replaced",
        reship=True,
        replace_fills=[first, second],
    )

    reship = resolved.reship
    assert reship.order != order
    assert reship.order.patient == order.patient
    assert reship.reship_of == shipment
    replacements = list(reship.order.fills.order_by("pk"))
    assert [
        (r.replacement_of, r.prescription, r.fill_number, r.status, r.pv1_by, r.priority)
        for r in replacements
    ] == [
        (f, f.prescription, f.fill_number, Fill.Status.FILL, f.pv1_by, Fill.Priority.URGENT)
        for f in (first, second)
    ]
    assert FillEvent.objects.get(fill=replacements[0]).reason == (
        f"Replaces fill {first.pk} (lost in package {shipment.package_code}); the PV1 of fill "
        f"{first.pk} stands"
    )
    assert shipment_fills(reship) == replacements
    assert first.prescription.refills_remaining() == refills_before  # no refill used
    # The new order already has its shipment: no second one is made when it is ready.
    assert ensure_shipments_for_ready_orders() == 0


def test_replacement_fills_go_through_the_fill_workflow_and_the_reship_ships_them(pharmacist_):
    order = ready_order()
    shipment = on_its_way(order)
    (original,) = shipment_fills(shipment)
    problem = reported(shipment, K.LOST)
    reship = resolve_delivery_exception(
        problem, by=pharmacist_, resolution="Lost", reship=True, replace_fills=[original]
    ).reship
    (replacement,) = reship.order.fills.all()
    packer = another_staff(Role.TECHNICIAN)
    with pytest.raises(ShippingError) as refused:
        pack_shipment(
            reship, by=packer, scans=[replacement.label_code], weight_oz=5, entry="scanned"
        )
    assert refused.value.code == "fills_not_ready"

    lot = StockLot.objects.get(pk=original.stock_lot_id)
    on_hand = lot.quantity_on_hand
    fill_with_scan(
        replacement,
        by=packer,
        scan=datamatrix(lot.package, lot=lot.lot_number, expiry=lot.expiry),
        quantity=replacement.quantity,
    )
    lot.refresh_from_db()
    assert lot.quantity_on_hand == on_hand - replacement.quantity  # stock taken at the fill step
    approve_pv2(replacement, by=pharmacist_, scan=replacement.label_code, entry="scanned")

    packed = pack_shipment(
        reship, by=packer, scans=[replacement.label_code], weight_oz=5, entry="scanned"
    )
    deliver_side_effects()  # the label bought by the worker
    packed.refresh_from_db()
    assert packed.status == S.LABELLED
    hand_over_to_carrier([packed], by=packer)

    replacement.refresh_from_db()
    assert replacement.status == Fill.Status.SHIPPED


def test_after_a_temperature_excursion_the_refrigerated_fills_are_replaced_the_rest_ride_along(
    pharmacist_,
):
    order = ready_order(fills=2, cold_chain=True)
    shipment = on_its_way(order)
    cold, warm = shipment_fills(shipment)
    assert cold.is_cold_chain
    assert not warm.is_cold_chain
    problem = reported(shipment, K.TEMPERATURE)

    with pytest.raises(ShippingError) as refused:
        resolve_delivery_exception(
            problem, by=pharmacist_, resolution="x", reship=True, replace_fills=[warm.pk]
        )
    assert refused.value.extra["missing"] == [cold.pk]

    reship = resolve_delivery_exception(
        problem, by=pharmacist_, resolution="Warm on arrival", reship=True, replace_fills=[cold]
    ).reship

    (replacement,) = reship.order.fills.all()
    assert (replacement.replacement_of, replacement.is_cold_chain) == (cold, True)
    assert shipment_fills(reship) == sorted([replacement, warm], key=lambda fill: fill.pk)
    assert reship.is_cold_chain
    assert reship.packaging == Shipment.Packaging.INSULATED


def test_damage_needs_the_damaged_fills_named(pharmacist_):
    problem = reported(on_its_way(), K.DAMAGED)

    with pytest.raises(ShippingError) as refused:
        resolve_delivery_exception(problem, by=pharmacist_, resolution="x", reship=True)

    assert refused.value.code == "replacement_required"


def test_only_a_pharmacist_replaces_product_and_only_in_a_reship(pharmacist_):
    shipment = on_its_way()
    problem = reported(shipment, K.LOST)
    (fill,) = shipment_fills(shipment)

    with pytest.raises(ShippingError) as refused:
        resolve_delivery_exception(
            problem,
            by=another_staff(Role.MANAGER),
            resolution="x",
            reship=True,
            replace_fills=[fill],
        )
    assert (refused.value.code, refused.value.status) == ("role_not_allowed", 403)
    with pytest.raises(ShippingError) as refused:
        resolve_delivery_exception(problem, by=pharmacist_, resolution="x", replace_fills=[fill])
    assert (refused.value.code, refused.value.status) == ("reship_required", 400)


def test_a_fill_that_was_not_in_the_package_is_refused(pharmacist_):
    problem = reported(on_its_way(), K.LOST)
    elsewhere = ready_order().fills.get()

    with pytest.raises(ShippingError) as refused:
        resolve_delivery_exception(
            problem, by=pharmacist_, resolution="x", reship=True, replace_fills=[elsewhere]
        )

    assert (refused.value.code, refused.value.status) == ("not_in_package", 400)


def nothing_written(problem) -> tuple:
    problem.refresh_from_db()
    return (
        problem.is_open,
        Shipment.objects.count(),
        Order.objects.count(),
        Fill.objects.count(),
    )


def test_an_expired_prescription_is_not_dispensed_again_and_nothing_is_written(pharmacist_):
    shipment = on_its_way()
    (fill,) = shipment_fills(shipment)
    problem = reported(shipment, K.LOST)
    Prescription.objects.filter(pk=fill.prescription_id).update(
        expires_on=timezone.localdate() - timedelta(days=1)
    )
    before = nothing_written(problem)

    with pytest.raises(ShippingError) as refused:
        resolve_delivery_exception(
            problem, by=pharmacist_, resolution="x", reship=True, replace_fills=[fill]
        )

    assert refused.value.code == "prescription_not_valid"
    assert f"Rx {fill.prescription.rx_number} is expired since" in refused.value.detail
    assert nothing_written(problem) == before


def test_a_reship_to_an_address_that_cannot_be_shipped_to_writes_nothing(pharmacist_):
    shipment = on_its_way()
    (fill,) = shipment_fills(shipment)
    problem = reported(shipment, K.LOST)
    PatientAddress.objects.filter(patient=shipment.order.patient).update(postal_code="999")
    before = nothing_written(problem)

    with pytest.raises(ShippingError) as refused:
        resolve_delivery_exception(
            problem, by=pharmacist_, resolution="x", reship=True, replace_fills=[fill]
        )

    assert refused.value.code == "address_invalid"
    assert nothing_written(problem) == before


def test_a_package_is_reshipped_once_and_only_when_it_is_not_on_its_way(pharmacist_):
    shipment = on_its_way()
    first = reported(shipment, K.RETURNED)
    second = reported(shipment, K.OTHER)
    resolve_delivery_exception(first, by=pharmacist_, resolution="Reship", reship=True)

    with pytest.raises(ShippingError) as refused:
        resolve_delivery_exception(second, by=pharmacist_, resolution="Again", reship=True)
    assert refused.value.code == "already_reshipped"

    moving = on_its_way()
    problem = reported(moving, K.OTHER)
    Shipment.objects.filter(pk=moving.pk).update(status=S.IN_TRANSIT)
    with pytest.raises(ShippingError) as refused:
        resolve_delivery_exception(problem, by=pharmacist_, resolution="x", reship=True)
    assert refused.value.code == "not_reshippable"
