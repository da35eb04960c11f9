"""Controlled substances: the perpetual inventory per NDC and lot, and the biennial
inventory computed from the ledger as of a moment (21 CFR 1304.11)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from inventory.models import DEASchedule
from inventory.services.counts import biennial_inventory, controlled_perpetual_inventory
from inventory.services.stock import dispense_from_lot
from inventory.tests.factories import PackageFactory, StockLotFactory

TODAY = timezone.localdate()
EXPIRY = TODAY + timedelta(days=300)


@pytest.fixture
def stock(db):
    oxycodone = PackageFactory(
        package_ndc="70030-001-01", product__product_ndc="70030-001",
        product__proprietary_name="Oxycodone HCl", product__dosage_form="TABLET",
        product__dea_schedule=DEASchedule.CII, quantity=100, unit="TABLET",
    )  # fmt: skip
    alprazolam = PackageFactory(
        package_ndc="70040-001-01", product__product_ndc="70040-001",
        product__proprietary_name="Alprazolam", product__dea_schedule=DEASchedule.CIV,
        quantity=500, unit="TABLET",
    )  # fmt: skip
    statin = PackageFactory(package_ndc="70050-001-01", product__product_ndc="70050-001")
    return {
        "ox1": StockLotFactory(package=oxycodone, lot_number="OX1", expiry=EXPIRY,
                               quantity_on_hand=250),
        "ox2": StockLotFactory(package=oxycodone, lot_number="OX2", expiry=EXPIRY,
                               quantity_on_hand=40),
        "ox_empty": StockLotFactory(package=oxycodone, lot_number="OX0", expiry=EXPIRY),
        "al1": StockLotFactory(package=alprazolam, lot_number="AL1", expiry=EXPIRY,
                               quantity_on_hand=1000),
        "statin": StockLotFactory(package=statin, lot_number="ST1", expiry=EXPIRY,
                                  quantity_on_hand=90),
    }  # fmt: skip


def test_the_perpetual_inventory_lists_controlled_lots_in_stock(stock):
    lots = list(controlled_perpetual_inventory())

    assert [(lot.lot_number, lot.quantity_on_hand) for lot in lots] == [
        ("OX1", 250),
        ("OX2", 40),
        ("AL1", 1000),
    ]
    assert [lot.lot_number for lot in controlled_perpetual_inventory(schedule="CIV")] == ["AL1"]
    assert "OX0" in [lot.lot_number for lot in controlled_perpetual_inventory(include_empty=True)]


def test_the_biennial_inventory_is_the_ledger_as_of_a_moment(stock, pharmacist):
    before_fill = timezone.now()
    dispense_from_lot(stock["ox1"], quantity=Decimal(30), by=pharmacist, reference="fill:1",
                      usable_until=TODAY)  # fmt: skip

    then = biennial_inventory(as_of=before_fill)
    now = biennial_inventory(as_of=timezone.now())

    assert [(row.lot_number, row.on_hand) for row in then.schedule_ii] == [
        ("OX1", 250),
        ("OX2", 40),
    ]
    assert [(row.lot_number, row.on_hand) for row in now.schedule_ii] == [
        ("OX1", 220),
        ("OX2", 40),
    ]
    row = now.schedule_ii[0]
    assert (row.full_packages, row.loose_units, row.units_per_package) == (2, 20, 100)
    assert [
        (row.schedule, row.lot_number, row.full_packages) for row in now.schedules_iii_to_v
    ] == [("CIV", "AL1", 2)]
    # Nothing non-controlled, nothing from before anything was received.
    assert {row.package_ndc for row in now.rows} == {"70030-001-01", "70040-001-01"}
    assert biennial_inventory(as_of=before_fill - timedelta(days=1)).rows == []


@pytest.mark.parametrize(("role", "expected"), [("technician", 403), ("pharmacist", 200),
                                                ("manager", 200)])  # fmt: skip
def test_who_sees_the_controlled_inventory(request, stock, role, expected):
    client = request.getfixturevalue(f"client_{role}")

    assert client.get("/catalogue/stock/controlled/").status_code == expected
    assert client.get("/catalogue/stock/controlled/biennial/").status_code == expected


def test_the_perpetual_inventory_page(client_pharmacist, stock):
    html = client_pharmacist.get("/catalogue/stock/controlled/").content.decode()

    assert "Schedule II" in html
    assert "Schedule IV" in html
    assert "OX1" in html
    assert "AL1" in html
    assert "ST1" not in html
    assert '70030-001-01 in all</th><td class="numeric"><strong>290</strong>' in html


def test_the_biennial_report_page_prints_the_registrant_and_the_moment(
    client_manager, stock, settings
):
    settings.PHARMACY_DEA = "FR1234563"
    today = TODAY.isoformat()

    close = client_manager.get(f"/catalogue/stock/controlled/biennial/?date={today}&taken_at=close")
    opening = client_manager.get(
        f"/catalogue/stock/controlled/biennial/?date={today}&taken_at=opening"
    )
    bad = client_manager.get("/catalogue/stock/controlled/biennial/?date=someday&taken_at=close")

    html = close.content.decode()
    assert "FR1234563" in html
    assert f"{today}, taken at the close of business" in html
    assert "OX1" in html
    assert "AL1" in html
    # At the opening of today nothing had been received yet.
    assert opening.content.decode().count("None on hand.") == 2
    assert bad.status_code == 400
