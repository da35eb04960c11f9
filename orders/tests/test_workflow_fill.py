"""The fill step: the suggested FEFO lot, the stock bottle's scan matched against the
verified product, every refusal recorded, and partial fills split off."""

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils import timezone

from inventory.models import Package, StockLot, StockMovement
from inventory.ndc import GROUP_SEPARATOR, gtin14_from_ndc, upc_from_ndc
from inventory.tests.factories import PackageFactory, StockLotFactory
from orders.models import Fill, FillHold, FillScan, Prescription
from orders.services.workflow import (
    WorkflowError,
    fill_with_scan,
    release_fill,
    suggest_lot,
    usable_until,
)
from orders.tests.factories import datamatrix, fill_at, stocked_package, stocked_prescription
from outbox.models import OutboxMessage

pytestmark = pytest.mark.django_db

S = Fill.Status
TODAY = timezone.localdate()


def days(n: int):
    return TODAY + timedelta(days=n)


@dataclass
class Station:
    """Lipitor 10 mg tablets, bottles of 30, lot L-MAIN of 300 units on the shelf, and a
    fill of 30 tablets for 30 days waiting to be filled."""

    package: Package
    lot: StockLot
    fill: Fill

    @property
    def prescription(self) -> Prescription:
        return self.fill.prescription


@pytest.fixture
def station(db) -> Station:
    package = stocked_package(units=0)
    lot = StockLotFactory(package=package, lot_number="L-MAIN", quantity_on_hand=300)
    prescription = stocked_prescription(product=package.product, prescribed_ndc=package.ndc11)
    return Station(package, lot, fill_at(S.FILL, prescription=prescription))


def ledger_matches_stock() -> bool:
    return all(
        (lot.movements.aggregate(total=Sum("quantity_change"))["total"] or 0)
        == lot.quantity_on_hand
        for lot in StockLot.objects.all()
    )


def unchanged(station: Station) -> tuple:
    station.fill.refresh_from_db()
    fill = station.fill
    return (
        fill.status,
        fill.quantity,
        fill.dispensed_quantity,
        fill.stock_lot_id,
        fill.filled_by_id,
        fill.events.count(),
        Fill.objects.count(),
        StockMovement.objects.count(),
        sum(StockLot.objects.values_list("quantity_on_hand", flat=True)),
    )


# --------------------------------------------------------------------------- suggested lot


def test_the_suggested_lot_is_the_first_expiring_usable_one_holding_the_fill(station):
    early = StockLotFactory(package=station.package, expiry=days(100), quantity_on_hand=40)
    StockLotFactory(package=station.package, expiry=days(90), quantity_on_hand=10)  # too few
    StockLotFactory(package=station.package, expiry=days(30), quantity_on_hand=90)  # too soon
    StockLotFactory(
        package=station.package, expiry=days(60), quantity_on_hand=90, status="quarantined"
    )
    StockLotFactory(package=stocked_package(units=0), expiry=days(50), quantity_on_hand=90)

    assert suggest_lot(station.fill) == early


def test_without_a_lot_holding_the_fill_the_fullest_is_suggested(station):
    StockLot.objects.filter(pk=station.lot.pk).update(status="recalled")
    fuller = StockLotFactory(package=station.package, expiry=days(300), quantity_on_hand=25)
    StockLotFactory(package=station.package, expiry=days(100), quantity_on_hand=12)

    assert suggest_lot(station.fill) == fuller


def test_nothing_is_suggested_without_usable_stock(station):
    StockLot.objects.filter(pk=station.lot.pk).update(status="quarantined")

    assert suggest_lot(station.fill) is None


def test_a_lot_must_outlast_the_supply_by_the_margin(station, settings):
    StockLot.objects.filter(pk=station.lot.pk).update(status="quarantined")
    lot = StockLotFactory(package=station.package, expiry=days(35), quantity_on_hand=30)

    settings.DISPENSE_EXPIRY_MARGIN_DAYS = 7
    assert usable_until(station.fill) == days(37)
    assert suggest_lot(station.fill) is None
    settings.DISPENSE_EXPIRY_MARGIN_DAYS = 0
    assert suggest_lot(station.fill) == lot


def test_without_substitution_only_the_prescribed_package_is_suggested(station):
    Prescription.objects.filter(pk=station.prescription.pk).update(substitutions_allowed=False)
    StockLot.objects.filter(pk=station.lot.pk).update(status="quarantined")
    other_size = PackageFactory(product=station.package.product, quantity=90)
    StockLotFactory(package=other_size, quantity_on_hand=300)
    station.fill.refresh_from_db()

    assert suggest_lot(station.fill) is None
    Prescription.objects.filter(pk=station.prescription.pk).update(substitutions_allowed=True)
    station.fill.refresh_from_db()
    assert suggest_lot(station.fill).package == other_size


# --------------------------------------------------------------------------- filled


def test_a_datamatrix_fills_from_the_lot_it_names_with_its_serial(station, technician):
    # Expiring first: the lot the station suggests (a later one asks for a reason).
    first = station.lot.expiry - timedelta(days=30)
    scanned = StockLotFactory(
        package=station.package, lot_number="B-777", expiry=first, quantity_on_hand=60
    )
    scan = datamatrix(station.package, lot="B-777", expiry=first, serial="SN000123")

    filled = fill_with_scan(station.fill, by=technician, scan=scan, quantity=Decimal(30))

    fill = Fill.objects.get(pk=station.fill.pk)
    assert filled.status == fill.status == S.PV2
    assert (
        fill.dispensed_package, fill.dispensed_ndc, fill.dispensed_quantity, fill.stock_lot,
        fill.lot_number, fill.expiry, fill.serial_number, fill.filled_by,
    ) == (
        station.package, station.package.package_ndc, 30, scanned, "B-777", first,
        "SN000123", technician,
    )  # fmt: skip
    assert timezone.now() - fill.filled_at < timedelta(seconds=5)
    scanned.refresh_from_db()
    assert scanned.quantity_on_hand == 30
    movement = StockMovement.objects.get(kind="dispense")
    assert (movement.lot, movement.quantity_change, movement.reference, movement.actor) == (
        scanned,
        -30,
        f"fill:{fill.pk}",
        technician,
    )
    assert ledger_matches_stock()
    recorded = FillScan.objects.get()
    assert (recorded.step, recorded.raw, recorded.is_accepted, recorded.refusal_code) == (
        "fill",
        scan,
        True,
        "",
    )
    assert (recorded.scanned_ndc, recorded.lot_number, recorded.by) == (
        station.package.package_ndc,
        "B-777",
        technician,
    )
    event = fill.events.latest("pk")
    assert (event.from_status, event.to_status, event.actor) == (S.FILL, S.PV2, technician)
    assert event.reason == f"Filled: 30 from {station.package.package_ndc} lot B-777"
    # The label now names the lot: made again, recorded with the move.
    assert list(OutboxMessage.objects.values_list("kind", "target_id")) == [
        ("orders.rx_label", fill.pk)
    ]


def test_a_upc_carries_no_lot_so_the_lot_is_typed_and_recorded_as_typed(station, technician):
    upc = upc_from_ndc(station.package.package_ndc)
    before = unchanged(station)

    with pytest.raises(WorkflowError) as refused:
        fill_with_scan(station.fill, by=technician, scan=upc, quantity=30)

    # Never a guessed lot on the record: a recall would trust it.
    assert (refused.value.code, refused.value.status) == ("lot_required", 400)
    assert unchanged(station) == before
    fill_with_scan(station.fill, by=technician, scan=upc, quantity=30, lot_number="L-MAIN")
    fill = Fill.objects.get(pk=station.fill.pk)
    assert (fill.stock_lot, fill.lot_number, fill.lot_entered_by_hand) == (
        station.lot,
        "L-MAIN",
        True,
    )
    assert fill.events.latest("pk").reason == (
        f"Filled: 30 from {station.package.package_ndc} lot L-MAIN (lot typed by hand)"
    )


@pytest.mark.parametrize("form", ["hyphenated", "ndc11", "ndc10 digits"])
def test_a_typed_ndc_fills(station, technician, form):
    code = {
        "hyphenated": station.package.package_ndc,
        "ndc11": station.package.ndc11,
        "ndc10 digits": station.package.ndc10,
    }[form]

    fill_with_scan(station.fill, by=technician, scan=code, quantity="30", lot_number="L-MAIN")

    fill = Fill.objects.get(pk=station.fill.pk)
    assert (fill.dispensed_ndc, fill.lot_entered_by_hand) == (station.package.package_ndc, True)


def test_the_lot_typed_beside_a_upc_is_the_one_taken(station, technician):
    chosen = StockLotFactory(package=station.package, lot_number="TYPED", quantity_on_hand=30)

    fill_with_scan(
        station.fill,
        by=technician,
        scan=upc_from_ndc(station.package.package_ndc),
        quantity=30,
        lot_number="TYPED",
    )

    chosen.refresh_from_db()
    assert chosen.quantity_on_hand == 0
    assert Fill.objects.get(pk=station.fill.pk).stock_lot == chosen


def test_another_package_of_the_product_is_fine_when_substitution_is_allowed(station, technician):
    bigger = stocked_package(product=station.package.product, units=500)
    lot = StockLot.objects.get(package=bigger)

    fill_with_scan(
        station.fill,
        by=technician,
        scan=datamatrix(bigger, lot=lot.lot_number, expiry=lot.expiry),
        quantity=30,
        rotation_reason="" if lot.expiry <= station.lot.expiry else "Opened bottle first",
    )

    assert Fill.objects.get(pk=station.fill.pk).dispensed_package == bigger


# --------------------------------------------------------------------------- refused


def _wrong_check_digit(code: str) -> str:
    return code[:-1] + str((int(code[-1]) + 1) % 10)


def _partly_readable(package) -> str:
    """A DataMatrix whose GTIN reads but whose expiry (month 13) does not."""
    return f"]d201{gtin14_from_ndc(package.package_ndc)}10L-MAIN{GROUP_SEPARATOR}17271399"


def _other_product_scan(station, **product):
    return upc_from_ndc(stocked_package(**product).package_ndc)


REFUSALS = {
    # name: (how to set up and what to scan -> (scan, quantity, extra arguments), code, status)
    "garbage": (lambda s: ("hello world", 30, {}), "scan_unreadable", 400),
    "bad check digit": (
        lambda s: (_wrong_check_digit(upc_from_ndc(s.package.package_ndc)), 30, {}),
        "scan_unreadable",
        400,
    ),
    "unknown product": (lambda s: (upc_from_ndc("99999-999-99"), 30, {}), "unknown_product", 409),
    "another drug": (
        lambda s: (
            _other_product_scan(s, name="Zoloft", generic="sertraline", ingredient="Sertraline",
                                strength="50"),
            30, {},
        ),
        "wrong_drug",
        409,
    ),
    "another strength": (
        lambda s: (_other_product_scan(s, strength="40"), 30, {}),
        "wrong_strength",
        409,
    ),
    "another form": (
        lambda s: (_other_product_scan(s, dosage_form="CAPSULE"), 30, {}),
        "wrong_strength",
        409,
    ),
    "same drug, another product": (
        lambda s: (_other_product_scan(s, name="", generic="atorvastatin calcium"), 30, {}),
        "other_product",
        409,
    ),
    "another package without substitution": (
        lambda s: (
            Prescription.objects.filter(pk=s.prescription.pk).update(substitutions_allowed=False)
            and upc_from_ndc(stocked_package(product=s.package.product).package_ndc),
            30, {},
        ),
        "substitution_not_allowed",
        409,
    ),
    "expired lot": (
        lambda s: (
            StockLotFactory(package=s.package, lot_number="EXP", status="expired",
                            quantity_on_hand=50)
            and datamatrix(s.package, lot="EXP"),
            30, {},
        ),
        "lot_expired",
        409,
    ),
    "expiry date on the bottle passed": (
        lambda s: (datamatrix(s.package, lot="L-MAIN", expiry=days(-3)), 30, {}),
        "lot_expired",
        409,
    ),
    "quarantined lot": (
        lambda s: (
            StockLot.objects.filter(pk=s.lot.pk).update(status="quarantined")
            and datamatrix(s.package, lot="L-MAIN"),
            30, {},
        ),
        "lot_quarantined",
        409,
    ),
    "recalled lot": (
        lambda s: (
            StockLot.objects.filter(pk=s.lot.pk).update(status="recalled")
            and upc_from_ndc(s.package.package_ndc),
            30, {"lot_number": "L-MAIN"},
        ),
        "lot_recalled",
        409,
    ),
    "lot expiring before the supply ends": (
        lambda s: (
            StockLotFactory(package=s.package, lot_number="SOON", expiry=days(20),
                            quantity_on_hand=50)
            and upc_from_ndc(s.package.package_ndc),
            30, {"lot_number": "SOON"},
        ),
        "lot_expires_too_soon",
        409,
    ),
    "bottle expiring before the supply ends": (
        lambda s: (datamatrix(s.package, lot="L-MAIN", expiry=days(20)), 30, {}),
        "lot_expires_too_soon",
        409,
    ),
    "datamatrix read only in part": (
        lambda s: (_partly_readable(s.package), 30, {}),
        "lot_unreadable",
        409,
    ),
    "lot never received": (
        lambda s: (datamatrix(s.package, lot="NEVER-SEEN"), 30, {}),
        "unknown_lot",
        409,
    ),
    "scanned lot is not the typed one": (
        lambda s: (datamatrix(s.package, lot="L-MAIN"), 30, {"lot_number": "OTHER"}),
        "lot_mismatch",
        409,
    ),
    "short stock in the scanned lot": (
        lambda s: (
            StockLotFactory(package=s.package, lot_number="LOW", quantity_on_hand=10)
            and datamatrix(s.package, lot="LOW"),
            30, {},
        ),
        "insufficient_stock",
        409,
    ),
    "a upc carries no lot and none was typed": (
        lambda s: (upc_from_ndc(s.package.package_ndc), 30, {}),
        "lot_required",
        400,
    ),
    "a count missing": (
        lambda s: (datamatrix(s.package, lot="L-MAIN"), None, {}),
        "quantity_required",
        400,
    ),
    "half a tablet": (
        lambda s: (datamatrix(s.package, lot="L-MAIN"), "29.5", {}),
        "fractional_count",
        409,
    ),
    "more than prescribed": (
        lambda s: (upc_from_ndc(s.package.package_ndc), 31, {}),
        "quantity_over_prescribed",
        409,
    ),
    "zero": (lambda s: (upc_from_ndc(s.package.package_ndc), 0, {}), "invalid_quantity", 409),
    "negative": (
        lambda s: (upc_from_ndc(s.package.package_ndc), -5, {}),
        "invalid_quantity",
        409,
    ),
    "not a number": (
        lambda s: (upc_from_ndc(s.package.package_ndc), "thirty", {}),
        "invalid_quantity",
        400,
    ),
    "a miscount is not a partial fill": (
        lambda s: (upc_from_ndc(s.package.package_ndc), 29, {}),
        "short_count",
        409,
    ),
    "partial while a lot holds it all": (
        lambda s: (upc_from_ndc(s.package.package_ndc), 20, {"partial": True}),
        "stock_not_short",
        409,
    ),
}  # fmt: skip


@pytest.mark.parametrize(("setup", "code", "status"), REFUSALS.values(), ids=REFUSALS.keys())
def test_each_refusal_is_recorded_and_changes_nothing_else(
    station, technician, setup, code, status
):
    scan, quantity, extra = setup(station)
    station.fill.refresh_from_db()
    before = unchanged(station)

    with pytest.raises(WorkflowError) as refused:
        fill_with_scan(station.fill, by=technician, scan=scan, quantity=quantity, **extra)

    assert (refused.value.code, refused.value.status) == (code, status)
    assert unchanged(station) == before
    assert OutboxMessage.objects.count() == 0
    assert ledger_matches_stock()
    recorded = FillScan.objects.get()
    assert (recorded.fill, recorded.step, recorded.raw, recorded.is_accepted) == (
        station.fill,
        "fill",
        scan.strip(),
        False,
    )
    assert (recorded.refusal_code, recorded.message, recorded.by) == (
        code,
        refused.value.detail,
        technician,
    )


def test_a_wrong_drug_is_named_in_plain_words(station, technician):
    zoloft = stocked_package(
        name="Zoloft", generic="sertraline", ingredient="Sertraline", strength="50"
    )

    with pytest.raises(WorkflowError) as refused:
        fill_with_scan(station.fill, by=technician, scan=zoloft.package_ndc, quantity=30)

    assert refused.value.detail == (
        f"Wrong drug: this bottle is Zoloft (sertraline) 50 mg tablet (NDC "
        f"{zoloft.package_ndc}); the prescription is for Lipitor (atorvastatin calcium) "
        "10 mg tablet. Put it back."
    )
    assert FillScan.objects.get().scanned_ndc == zoloft.package_ndc


def test_an_empty_scan_is_bad_input_and_not_a_scan(station, technician):
    before = unchanged(station)

    with pytest.raises(WorkflowError) as refused:
        fill_with_scan(station.fill, by=technician, scan="   ", quantity=30)

    assert (refused.value.code, refused.value.status) == ("scan_required", 400)
    assert unchanged(station) == before
    assert not FillScan.objects.exists()


@pytest.mark.parametrize("status", [S.PV1, S.PV2, S.SHIPPED])
def test_a_fill_not_waiting_to_be_filled_is_refused_without_a_scan_record(technician, status):
    fill = fill_at(status)
    package = fill.prescription.product.packages.get()

    with pytest.raises(WorkflowError) as refused:
        fill_with_scan(fill, by=technician, scan=package.package_ndc, quantity=30)

    assert refused.value.code == "wrong_status"
    assert Fill.objects.get(pk=fill.pk).status == status
    assert not FillScan.objects.exists()


def test_a_manager_does_not_fill(station, manager):
    before = unchanged(station)

    with pytest.raises(WorkflowError) as refused:
        fill_with_scan(station.fill, by=manager, scan=station.package.package_ndc, quantity=30)

    assert (refused.value.code, refused.value.status) == ("role_not_allowed", 403)
    assert unchanged(station) == before
    assert not FillScan.objects.exists()


# --------------------------------------------------------------------------- partial fills


def test_a_partial_fill_ships_what_there_is_and_holds_the_rest(station, technician):
    StockLot.objects.filter(pk=station.lot.pk).update(status="quarantined")
    StockLotFactory(package=station.package, lot_number="LAST", quantity_on_hand=20)
    order = station.fill.order
    remaining_refills = station.prescription.refills_remaining()

    filled = fill_with_scan(
        station.fill,
        by=technician,
        scan=datamatrix(station.package, lot="LAST"),
        quantity=20,
        partial=True,
    )

    fill = Fill.objects.get(pk=filled.pk)
    assert (fill.status, fill.quantity, fill.dispensed_quantity, fill.days_supply) == (
        S.PV2,
        20,
        20,
        20,
    )
    assert fill.order == order
    remainder = fill.remainders.get()
    assert (
        remainder.status,
        remainder.held_from_status,
        remainder.quantity,
        remainder.days_supply,
        remainder.fill_number,
        remainder.prescription,
        remainder.requested_via,
    ) == (S.ON_HOLD, S.FILL, 10, 10, fill.fill_number, fill.prescription, "partial_fill")
    assert remainder.order != order
    assert remainder.order.patient == order.patient
    assert list(remainder.order.fills.all()) == [remainder]
    hold = remainder.holds.get()
    assert (hold.reason_code, hold.from_status, hold.placed_by, hold.released_at) == (
        "out_of_stock",
        S.FILL,
        technician,
        None,
    )
    assert hold.note == f"Remainder of fill {fill.pk}: 20 of 30 filled, 10 short"
    assert list(remainder.events.values_list("from_status", "to_status", "reason_code")) == [
        ("", S.ON_HOLD, "out_of_stock")
    ]
    assert fill.events.latest("pk").reason == (
        f"Filled: 20 from {station.package.package_ndc} lot LAST; partial fill, 10 to follow "
        f"as fill {remainder.pk}"
    )
    # One dispensing split in two: no refill is used up by the remainder.
    assert station.prescription.refills_remaining() == remaining_refills
    assert order.status == "in_progress"
    assert remainder.order.status == "on_hold"
    # Both need a label: the remainder was verified at PV1 with the first part.
    assert sorted(OutboxMessage.objects.values_list("kind", "target_id")) == [
        ("orders.rx_label", fill.pk),
        ("orders.rx_label", remainder.pk),
    ]


def test_the_remainder_is_filled_when_stock_arrives(station, technician):
    StockLot.objects.filter(pk=station.lot.pk).update(status="quarantined")
    StockLotFactory(package=station.package, lot_number="LAST", quantity_on_hand=20)
    fill_with_scan(
        station.fill,
        by=technician,
        scan=station.package.package_ndc,
        quantity=20,
        partial=True,
        lot_number="LAST",
    )
    remainder = Fill.objects.get(partial_of=station.fill)
    StockLotFactory(package=station.package, lot_number="NEW", quantity_on_hand=100)

    release_fill(remainder, by=technician, note="Delivery arrived")
    with pytest.raises(WorkflowError, match="more than this fill's 10"):
        fill_with_scan(
            remainder,
            by=technician,
            scan=station.package.package_ndc,
            quantity=20,
            lot_number="NEW",
        )
    fill_with_scan(
        remainder, by=technician, scan=station.package.package_ndc, quantity=10, lot_number="NEW"
    )

    remainder.refresh_from_db()
    assert (remainder.status, remainder.lot_number, remainder.dispensed_quantity) == (
        S.PV2,
        "NEW",
        10,
    )
    assert FillHold.objects.get(fill=remainder).release_note == "Delivery arrived"
    assert ledger_matches_stock()


def test_a_partly_read_datamatrix_fills_with_the_lot_typed_beside_it(station, technician):
    fill_with_scan(
        station.fill,
        by=technician,
        scan=_partly_readable(station.package),
        quantity=30,
        lot_number="L-MAIN",
    )

    assert Fill.objects.get(pk=station.fill.pk).stock_lot == station.lot
