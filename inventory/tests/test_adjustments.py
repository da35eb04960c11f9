"""Adjustments by hand: coded reasons with a note, witnesses, schedule II rules, and the
page a technician uses with a scanner."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from inventory.models import DEASchedule, StockLot, StockMovement
from inventory.services.counts import adjust_stock
from inventory.services.stock import StockError
from inventory.tests.factories import PackageFactory, StockLotFactory
from inventory.tests.test_receiving import datamatrix
from inventory.tests.test_stock_allocation import ledger_matches_stock
from pharmacy.models import Role
from pharmacy.tests.factories import STAFF_PASSWORD, make_staff

EXPIRY = timezone.localdate() + timedelta(days=300)


@pytest.fixture
def lot(db):
    package = PackageFactory(package_ndc="70010-101-30", product__product_ndc="70010-101")
    return StockLotFactory(package=package, lot_number="A1", expiry=EXPIRY, quantity_on_hand=30)


@pytest.fixture
def oxycodone_lot(db):
    package = PackageFactory(
        package_ndc="70030-001-01",
        product__product_ndc="70030-001",
        product__dea_schedule=DEASchedule.CII,
        quantity=100,
        unit="TABLET",
    )
    return StockLotFactory(package=package, lot_number="OX1", expiry=EXPIRY, quantity_on_hand=100)


@pytest.fixture
def second_technician(db):
    return make_staff("tech2", Role.TECHNICIAN, first_name="Theo", last_name="Second")


def ledger_of(lot) -> list[tuple]:
    return list(lot.movements.values_list("kind", "quantity_change", "reason", "actor", "witness"))


def test_damaged_stock_leaves_the_shelf_with_its_note(lot, technician):
    movement = adjust_stock(
        lot, reason="damaged", quantity_change=-4, by=technician, note="Bottle dropped"
    )

    lot.refresh_from_db()
    assert lot.quantity_on_hand == 26
    assert (movement.kind, movement.quantity_change, movement.reason) == (
        "damage",
        -4,
        "Bottle dropped",
    )
    assert movement.actor == technician
    assert ledger_matches_stock()


@pytest.mark.parametrize(
    ("reason", "kind"), [("expired", "expiry"), ("count_correction", "count_correction")]
)
def test_each_reason_is_its_own_kind_of_ledger_row(lot, technician, reason, kind):
    adjust_stock(lot, reason=reason, quantity_change="-2", by=technician, note="Shelf check")

    assert lot.movements.last().kind == kind


def test_a_count_correction_may_add_stock(lot, technician):
    adjust_stock(lot, reason="count_correction", quantity_change="+3", by=technician, note="Found")

    lot.refresh_from_db()
    assert lot.quantity_on_hand == 33
    assert ledger_matches_stock()


@pytest.mark.parametrize(
    ("fields", "code", "message"),
    [
        ({"reason": "damaged", "quantity_change": 2}, "adjustment_must_remove",
         "Damaged stock leaves the shelf: the change must be negative."),
        ({"reason": "damaged", "quantity_change": 0}, "invalid_quantity",
         "An adjustment changes the quantity: zero does not."),
        ({"reason": "damaged", "quantity_change": "-1.5"}, "fractional_quantity",
         "70010-101-30 is counted in whole units (capsule): -1.5 is not a whole number."),
        ({"reason": "damaged", "quantity_change": "lots"}, "invalid_quantity",
         "'lots' is not a quantity."),
        ({"reason": "damaged", "quantity_change": -31}, "insufficient_stock",
         "Lot A1 holds 30 units; 31 cannot be removed."),
        ({"reason": "damaged", "quantity_change": -1, "note": "  "}, "note_required",
         "Say what happened in the note."),
        ({"reason": "stolen", "quantity_change": -1}, "invalid_reason",
         "'stolen' is not an adjustment reason."),
        ({"reason": "destruction", "quantity_change": -1}, "witness_required",
         "A destruction needs a witness: another member of staff signs for it."),
    ],
)  # fmt: skip
def test_bad_adjustments_are_refused_and_write_nothing(lot, technician, fields, code, message):
    fields = {"note": "Checked", **fields}

    with pytest.raises(StockError) as refused:
        adjust_stock(lot, by=technician, **fields)

    assert (refused.value.code, refused.value.detail) == (code, message)
    lot.refresh_from_db()
    assert lot.quantity_on_hand == 30
    assert lot.movements.count() == 1  # the receipt


def test_measured_units_may_be_fractional(technician):
    package = PackageFactory(quantity=10, unit="mL")
    lot = StockLotFactory(package=package, quantity_on_hand=10)

    adjust_stock(lot, reason="damaged", quantity_change="-2.5", by=technician, note="Leaked")

    lot.refresh_from_db()
    assert lot.quantity_on_hand == Decimal("7.5")


def test_a_destruction_is_witnessed_by_someone_else(lot, technician, second_technician):
    with pytest.raises(StockError, match="The witness must be someone other than you."):
        adjust_stock(lot, reason="destruction", quantity_change=-30, by=technician,
                     note="Reverse distributor", witness=technician)  # fmt: skip

    adjust_stock(lot, reason="destruction", quantity_change=-30, by=technician,
                 note="Reverse distributor", witness=second_technician)  # fmt: skip

    assert ledger_of(lot)[-1] == (
        "destruction",
        -30,
        "Reverse distributor",
        technician.pk,
        second_technician.pk,
    )


def test_schedule_ii_adjustments_need_a_pharmacist_and_a_witness(
    oxycodone_lot, technician, pharmacist
):
    with pytest.raises(StockError) as by_technician:
        adjust_stock(oxycodone_lot, reason="damaged", quantity_change=-1, by=technician,
                     note="Crushed", witness=pharmacist)  # fmt: skip
    with pytest.raises(StockError) as unwitnessed:
        adjust_stock(oxycodone_lot, reason="damaged", quantity_change=-1, by=pharmacist,
                     note="Crushed")  # fmt: skip

    assert by_technician.value.code == "pharmacist_required"
    assert by_technician.value.detail == "A schedule II adjustment needs a pharmacist."
    assert unwitnessed.value.code == "witness_required"
    assert oxycodone_lot.movements.count() == 1

    adjust_stock(oxycodone_lot, reason="damaged", quantity_change=-1, by=pharmacist,
                 note="Crushed", witness=technician)  # fmt: skip

    oxycodone_lot.refresh_from_db()
    assert oxycodone_lot.quantity_on_hand == 99
    assert ledger_of(oxycodone_lot)[-1] == ("damage", -1, "Crushed", pharmacist.pk, technician.pk)


# --------------------------------------------------------------------------- the page


def test_a_technician_scans_a_bottle_and_records_damage(client_technician, lot):
    response = client_technician.post(
        "/catalogue/stock/adjustments/",
        {
            "scan": datamatrix("70010-101-30", lot="A1", expiry=EXPIRY),
            "reason": "damaged",
            "quantity_change": "-5",
            "note": "Water damage",
        },
    )

    assert response.status_code == 302
    assert response["Location"] == f"/catalogue/stock/lots/{lot.pk}/"
    lot.refresh_from_db()
    assert lot.quantity_on_hand == 25
    assert ledger_matches_stock()


def test_the_page_signs_a_destruction_with_the_witness_password(
    client_technician, lot, second_technician
):
    fields = {
        "lot": lot.pk,
        "reason": "destruction",
        "quantity_change": "-30",
        "note": "Expired, to the reverse distributor",
        "witness_username": "tech2",
    }

    wrong = client_technician.post(
        "/catalogue/stock/adjustments/", {**fields, "witness_password": "not-it"}
    )
    right = client_technician.post(
        "/catalogue/stock/adjustments/", {**fields, "witness_password": STAFF_PASSWORD}
    )

    assert wrong.status_code == 400
    assert "The witness&#x27;s username and password do not match." in wrong.content.decode()
    assert right.status_code == 302
    assert ledger_of(lot)[-1][-1] == second_technician.pk
    assert StockLot.objects.get(pk=lot.pk).quantity_on_hand == 0


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"scan": datamatrix("70010-101-30", lot="NOPE", expiry=EXPIRY)},
         "There is no lot NOPE of 70010-101-30 in stock"),
        ({"scan": "70010-101-30"}, "Type the lot number: this code does not carry it."),
        ({"scan": "70010-999-30", "lot_number": "A1"},
         "No package in the catalogue has NDC 70010-999-30."),
        ({"scan": "300000000000"}, "wrong check digit"),
        ({"scan": "70010-101-30", "lot_number": "A1", "quantity_change": "-0.5"},
         "is not a whole number"),
    ],
)  # fmt: skip
def test_the_page_says_what_is_wrong_and_writes_nothing(client_technician, lot, fields, message):
    before = StockMovement.objects.count()
    data = {"reason": "damaged", "quantity_change": "-1", "note": "Checked", **fields}

    response = client_technician.post("/catalogue/stock/adjustments/", data)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert StockMovement.objects.count() == before


@pytest.mark.parametrize(("role", "expected"), [("technician", 200), ("pharmacist", 200),
                                                ("manager", 403)])  # fmt: skip
def test_who_may_adjust(request, lot, role, expected):
    client = request.getfixturevalue(f"client_{role}")

    assert client.get(f"/catalogue/stock/adjustments/?lot={lot.pk}").status_code == expected
