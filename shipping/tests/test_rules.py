"""The packaging rules: cold chain (box, cold packs, services, the no-weekend calendar),
controlled substances (plain box, signature, services), both, and the instructions."""

from datetime import date

import pytest

from inventory.models import DEASchedule, Product, Storage
from orders.models import Fill, Prescription
from shipping.models import Carrier, CarrierHoliday, CarrierService, Shipment, ShippingRules
from shipping.services.rules import packaging_plan
from shipping.tests.factories import CarrierServiceFactory

pytestmark = pytest.mark.django_db

# A week of November/December 2026.
MONDAY = date(2026, 11, 30)
TUESDAY = date(2026, 12, 1)
WEDNESDAY = date(2026, 12, 2)
THURSDAY = date(2026, 12, 3)
FRIDAY = date(2026, 12, 4)
SATURDAY = date(2026, 12, 5)
NEXT_MONDAY = date(2026, 12, 7)


def fill(*, cold: bool = False, schedule: str = DEASchedule.NONE, storage=None) -> Fill:
    """An unsaved fill: all the rules read is its flags, product storage and schedule."""
    product = Product(storage=storage or Storage.ROOM_TEMPERATURE)
    return Fill(
        prescription=Prescription(product=product, dea_schedule=schedule), is_cold_chain=cold
    )


@pytest.fixture(autouse=True)
def only_test_services(db):
    """The migration's services off: each test says which services exist."""
    CarrierService.objects.update(is_active=False)


def service(code: str, days: int, **flags) -> CarrierService:
    return CarrierServiceFactory(code=code, name=code.title(), transit_days=days, **flags)


def overnight(**flags):
    return service("overnight", 1, **flags)


def two_day(**flags):
    return service("two_day", 2, **flags)


def ground(**flags):
    return service("ground", 3, allows_cold_chain=False, **flags)


# --------------------------------------------------------------------------- cold chain calendar


@pytest.mark.parametrize(
    ("today", "ship_on"),
    [
        (MONDAY, MONDAY),
        (WEDNESDAY, WEDNESDAY),  # Thursday, Friday in transit
        (THURSDAY, NEXT_MONDAY),  # Friday, Saturday: would sit over the weekend
        (FRIDAY, NEXT_MONDAY),
        (SATURDAY, NEXT_MONDAY),  # no pick-up on weekends
    ],
)
def test_a_two_day_refrigerated_package_never_sits_in_transit_over_a_weekend(today, ship_on):
    two_day()

    plan = packaging_plan([fill(cold=True)], today=today)

    assert plan.ship_on == ship_on
    assert [s.code for s in plan.services] == ["two_day"]


def test_overnight_on_a_friday_waits_for_monday_unless_the_service_delivers_saturday():
    overnight()
    assert packaging_plan([fill(cold=True)], today=FRIDAY).ship_on == NEXT_MONDAY

    CarrierService.objects.filter(code="overnight").update(delivers_saturday=True)
    assert packaging_plan([fill(cold=True)], today=FRIDAY).ship_on == FRIDAY


def test_a_carrier_holiday_in_the_transit_days_moves_the_ship_day():
    two_day()
    CarrierHoliday.objects.create(day=THURSDAY, name="Holiday")

    # Tuesday -> Wed, Thu (holiday); Wednesday -> Thu; Thursday is no pick-up day;
    # Friday -> Saturday. Monday is the first day that works.
    assert packaging_plan([fill(cold=True)], today=TUESDAY).ship_on == NEXT_MONDAY
    # Monday: Tuesday and Wednesday in transit, the holiday after delivery.
    assert packaging_plan([fill(cold=True)], today=MONDAY).ship_on == MONDAY


def test_a_holiday_of_another_carrier_does_not_count():
    two_day()
    CarrierHoliday.objects.create(day=THURSDAY, carrier=Carrier.EASYPOST, name="Their holiday")

    assert packaging_plan([fill(cold=True)], today=TUESDAY).ship_on == TUESDAY


def test_a_holiday_is_no_pickup_day_for_any_package():
    ground()
    CarrierHoliday.objects.create(day=MONDAY, name="Holiday")

    plan = packaging_plan([fill()], today=MONDAY)

    assert plan.ship_on == TUESDAY


def test_room_temperature_packages_ship_on_the_next_pickup_day_whatever_the_transit():
    ground()

    assert packaging_plan([fill()], today=THURSDAY).ship_on == THURSDAY
    assert packaging_plan([fill()], today=SATURDAY).ship_on == NEXT_MONDAY


def test_the_weekend_rule_can_be_switched_off_by_the_manager():
    two_day()
    ShippingRules.objects.filter(pk=1).update(no_weekend_transit_for_cold_chain=False)

    assert packaging_plan([fill(cold=True)], today=THURSDAY).ship_on == THURSDAY


# --------------------------------------------------------------------------- cold chain packaging


def test_refrigerated_items_go_insulated_with_cold_packs_sized_for_the_transit():
    two_day()

    plan = packaging_plan([fill(cold=True), fill()], today=MONDAY)

    assert (plan.packaging, plan.cold_packs, plan.signature_required, plan.is_cold_chain) == (
        Shipment.Packaging.INSULATED,
        4,  # 2 per day x 2 days, above the minimum of 2
        False,
        True,
    )


def test_cold_packs_never_fall_below_the_minimum():
    overnight()
    ShippingRules.objects.filter(pk=1).update(cold_packs_minimum=3, cold_packs_per_transit_day=1)

    assert packaging_plan([fill(cold=True)], today=MONDAY).cold_packs == 3


def test_a_product_stored_cold_counts_as_refrigerated_even_unflagged():
    overnight()

    plan = packaging_plan([fill(storage=Storage.FROZEN)], today=MONDAY)

    assert plan.is_cold_chain
    assert plan.packaging == Shipment.Packaging.INSULATED


def test_only_cold_chain_services_within_the_maximum_transit_carry_refrigerated_items():
    overnight()
    two_day()
    service("slow_cold", 3, allows_cold_chain=True)
    service("fast_warm", 1, allows_cold_chain=False)

    plan = packaging_plan([fill(cold=True)], today=MONDAY)

    assert [s.code for s in plan.services] == ["overnight", "two_day"]  # fastest first
    assert plan.cold_packs == 2


def test_no_cold_chain_service_is_a_refusal_the_packer_sees():
    ground()

    plan = packaging_plan([fill(cold=True)], today=MONDAY)

    assert plan.services == []
    assert plan.ship_on is None
    assert plan.refusals == [
        "No active carrier service carries refrigerated items in at most 2 days in transit."
    ]
    assert plan.instructions[-1].startswith("Cannot ship: No active carrier service")


def test_room_temperature_packages_take_the_slowest_service_first():
    overnight()
    two_day()
    ground()

    plan = packaging_plan([fill()], today=MONDAY)

    assert [s.code for s in plan.services] == ["ground", "two_day", "overnight"]
    assert (plan.packaging, plan.cold_packs) == (Shipment.Packaging.STANDARD, 0)


# --------------------------------------------------------------------------- controlled


def test_controlled_substances_go_plain_with_a_signature_by_allowed_services_only():
    service("no_controlled", 1, allows_controlled=False)
    service("no_signature", 2, offers_signature=False)
    ground()

    plan = packaging_plan([fill(schedule=DEASchedule.CII), fill()], today=MONDAY)

    assert (plan.packaging, plan.signature_required, plan.is_controlled) == (
        Shipment.Packaging.PLAIN,
        True,
        True,
    )
    assert [s.code for s in plan.services] == ["ground"]


def test_the_signature_and_the_plain_box_follow_the_managers_rules():
    ground()
    service("no_signature", 2, offers_signature=False)
    ShippingRules.objects.filter(pk=1).update(
        controlled_requires_signature=False, controlled_plain_packaging=False
    )

    plan = packaging_plan([fill(schedule=DEASchedule.CIV)], today=MONDAY)

    assert (plan.packaging, plan.signature_required) == (Shipment.Packaging.STANDARD, False)
    assert [s.code for s in plan.services] == ["ground", "no_signature"]


def test_no_service_for_controlled_substances_is_a_refusal():
    service("no_controlled", 1, allows_controlled=False)

    plan = packaging_plan([fill(schedule=DEASchedule.CII)], today=MONDAY)

    assert plan.refusals == [
        "No active carrier service allows controlled substances with a signature on delivery."
    ]


def test_refrigerated_and_controlled_together_go_in_a_plain_insulated_box():
    overnight()
    two_day(allows_controlled=False)

    plan = packaging_plan([fill(cold=True, schedule=DEASchedule.CIII)], today=MONDAY)

    assert (plan.packaging, plan.cold_packs, plan.signature_required) == (
        Shipment.Packaging.INSULATED_PLAIN,
        2,
        True,
    )
    assert [s.code for s in plan.services] == ["overnight"]


# --------------------------------------------------------------------------- instructions, carriers


def test_the_instructions_say_it_all_in_plain_sentences():
    two_day()

    plan = packaging_plan([fill(cold=True, schedule=DEASchedule.CII)], today=THURSDAY)

    assert plan.instructions == [
        "Use a plain insulated box with 4 cold packs (2 days in transit): no pharmacy name, "
        "logo or drug name may show on the outside (controlled substance).",
        "Take the refrigerated items out of the refrigerator only when the box is ready, and "
        "close it at once.",
        "Ship on Monday 2026-12-07 by Two_Day: the package must never sit in transit over a "
        "weekend or a carrier holiday.",
        "A signature is required on delivery: the label carries the mark.",
        "Scan the packing slip, then every vial's label (1 vial); put the packing slip inside "
        "the package.",
    ]


def test_a_standard_package_gets_a_mailer():
    ground()

    plan = packaging_plan([fill(), fill()], today=MONDAY)

    assert plan.instructions == [
        "Use a standard padded mailer.",
        "Scan the packing slip, then every vial's label (2 vials); put the packing slip inside "
        "the package.",
    ]


def test_only_the_carriers_given_are_offered():
    service("local_ground", 3)
    CarrierServiceFactory(carrier=Carrier.EASYPOST, code="UPS:TestGround", transit_days=3)

    plan = packaging_plan([fill()], today=MONDAY, carriers=[Carrier.LOCAL])

    assert [s.code for s in plan.services] == ["local_ground"]
    both = packaging_plan([fill()], today=MONDAY)
    assert [s.code for s in both.services] == ["local_ground", "UPS:TestGround"]  # local first
