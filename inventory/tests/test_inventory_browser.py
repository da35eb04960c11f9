"""Receiving and counting in a real Chromium, the way a technician with a keyboard-wedge
scanner does it: the scanner types into the focused field and ends with Enter."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from inventory.models import CycleCount, DEASchedule, PurchaseOrder, StockLot, StockMovement
from inventory.ndc import upc_from_ndc
from inventory.services.counts import start_cycle_count
from inventory.services.receiving import create_purchase_order
from inventory.tests.factories import PackageFactory, StockLotFactory, SupplierFactory
from inventory.tests.test_receiving import datamatrix
from inventory.tests.test_stock_allocation import ledger_matches_stock
from pharmacy.tests.second_factor import sign_in_in_browser

pytestmark = pytest.mark.browser

EXPIRY = timezone.localdate() + timedelta(days=400)


def sign_in(page, user):
    sign_in_in_browser(page, user.username)


def scan(page, text: str):
    """What a scanner does: type the code into whatever has focus, then Enter."""
    page.keyboard.insert_text(text)
    page.keyboard.press("Enter")


def focused_is_scan_field(page) -> bool:
    return page.evaluate("document.activeElement.hasAttribute('data-scan')")


@pytest.fixture
def delivery(db, manager):
    lipitor = PackageFactory(
        package_ndc="0071-0155-23", product__product_ndc="0071-0155",
        product__proprietary_name="Lipitor", product__nonproprietary_name="atorvastatin calcium",
        quantity=90, unit="TABLET", description="90 TABLET in 1 BOTTLE (0071-0155-23)",
    )  # fmt: skip
    oxycodone = PackageFactory(
        package_ndc="0406-0512-01", product__product_ndc="0406-0512",
        product__proprietary_name="Oxycodone and Acetaminophen",
        product__dea_schedule=DEASchedule.CII, quantity=100, unit="TABLET",
    )  # fmt: skip
    order = create_purchase_order(
        SupplierFactory(name="Cardinal Health"),
        lines=[(lipitor, 3), (oxycodone, 1)],
        by=manager,
        number="PO-2001",
    )
    return {"order": order, "lipitor": lipitor, "oxycodone": oxycodone}


def test_a_technician_receives_a_delivery_by_scanning(page, screenshot, technician, delivery):
    order = delivery["order"]
    sign_in(page, technician)
    page.goto(f"/catalogue/stock/receiving/?purchase_order={order.pk}")
    assert focused_is_scan_field(page)
    assert "Still to come" in page.get_by_test_id("order-lines").inner_text()

    rows = page.get_by_test_id("receiving-row")
    scan(page, datamatrix("0071-0155-23", lot="LP2207", expiry=EXPIRY, serial="SN0001"))
    expect(rows).to_have_count(1)
    assert "Added 0071-0155-23" in page.get_by_test_id("scan-status").inner_text()
    assert focused_is_scan_field(page)
    assert page.locator("#id_scan").input_value() == ""

    # The second bottle of the same lot adds to its line at once.
    scan(page, datamatrix("0071-0155-23", lot="LP2207", expiry=EXPIRY, serial="SN0002"))
    expect(page.get_by_test_id("row-packages")).to_have_value("2")
    assert rows.count() == 1
    assert "SN0001, SN0002" in rows.first.get_by_test_id("row-serials").inner_text()

    # A mistyped code is said in the status line; nothing is added and focus stays.
    scan(page, "0071-0155-99")
    expect(page.get_by_test_id("scan-status")).to_have_class(re.compile(r"\berror\b"))
    assert "No package in the catalogue" in page.get_by_test_id("scan-status").inner_text()
    assert rows.count() == 1
    assert focused_is_scan_field(page)

    # A bottle's UPC carries no lot: the technician types it in the new line.
    scan(page, upc_from_ndc("0406-0512-01"))
    expect(rows).to_have_count(2)
    page.get_by_label("Lot of 0406-0512-01").fill("OX7781")
    page.get_by_label("Expiry of 0406-0512-01").fill(EXPIRY.isoformat())
    screenshot("receiving-scanned")

    page.get_by_role("button", name="Receive the delivery").click()

    page.wait_for_url("**/catalogue/stock/receipts/*/")
    assert "Received 3 packages in 2 lots." in page.locator(".messages").inner_text()
    lines = page.get_by_test_id("receipt-lines").inner_text()
    assert "LP2207" in lines
    assert "SN0001, SN0002" in lines
    assert "OX7781" in lines
    screenshot("receiving-receipt")
    assert StockLot.objects.get(lot_number="LP2207").quantity_on_hand == 180
    assert StockLot.objects.get(lot_number="OX7781").quantity_on_hand == 100
    order.refresh_from_db()
    assert order.status == PurchaseOrder.Status.PARTIALLY_RECEIVED
    assert ledger_matches_stock()


def test_a_blind_count_with_a_variance_is_approved_by_the_manager(
    page, screenshot, technician, manager
):
    package = PackageFactory(
        package_ndc="0071-0155-23", product__product_ndc="0071-0155",
        product__proprietary_name="Lipitor", quantity=90, unit="TABLET",
    )  # fmt: skip
    lot = StockLotFactory(package=package, lot_number="LP2207", location="B-07",
                          expiry=EXPIRY, quantity_on_hand=173)  # fmt: skip
    StockLotFactory(package=package, lot_number="LP2301", location="B-07",
                    expiry=EXPIRY + timedelta(days=60), quantity_on_hand=90)  # fmt: skip

    sign_in(page, technician)
    page.goto("/catalogue/stock/counts/")
    page.get_by_label("Bin").fill("B-07")
    page.get_by_role("button", name="Start the count").click()
    page.wait_for_url("**/catalogue/stock/counts/*/")
    # Blind: the lots are listed, what the ledger holds is not.
    table = page.get_by_test_id("count-lines").inner_text()
    assert "LP2207" in table
    assert "173" not in page.content()
    screenshot("count-blind")

    # Scan the bottle: the cursor lands in its line; type the count, Enter.
    assert focused_is_scan_field(page)
    scan(page, datamatrix("0071-0155-23", lot="LP2207", expiry=EXPIRY))
    page.wait_for_url("**?line=*")
    expect(page.locator("input[data-focus]")).to_be_focused()
    page.keyboard.type("171")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Lot LP2207 counted.")
    assert focused_is_scan_field(page)

    scan(page, datamatrix("0071-0155-23", lot="LP2301", expiry=EXPIRY + timedelta(days=60)))
    expect(page.locator("input[data-focus]")).to_be_focused()
    page.keyboard.type("90")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Lot LP2301 counted.")
    assert page.get_by_test_id("count-progress").inner_text() == "2 of 2 lots counted."
    page.get_by_role("button", name="Submit the count for approval").click()
    page.wait_for_selector("text=is submitted for approval")

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, manager)
    page.goto("/catalogue/stock/counts/")
    page.get_by_role("link", name=f"Count {CycleCount.objects.get().pk}").click()
    report = page.get_by_test_id("variance-report")
    row = report.locator("[data-testid=variance-line][data-lot=LP2207]")
    assert row.inner_text().split("\t")[4:7] == ["173", "171", "-2"]
    assert "1 lot differs from the ledger: 2 units short, 0 over." in (
        page.get_by_test_id("variance-summary").inner_text()
    )
    screenshot("count-variance-report")

    page.get_by_role("button", name="Approve and post corrections").click()

    page.wait_for_selector("text=is approved; 1 correction posted.")
    assert "posted" in row.inner_text()
    screenshot("count-approved")
    lot.refresh_from_db()
    assert lot.quantity_on_hand == 171
    correction = StockMovement.objects.get(kind="count_correction")
    assert (correction.quantity_change, correction.actor) == (-2, manager)
    assert ledger_matches_stock()


def test_a_count_for_a_lot_that_does_not_exist_is_said(page, technician):
    package = PackageFactory(package_ndc="0071-0155-23", product__product_ndc="0071-0155")
    lot = StockLotFactory(package=package, lot_number="LP2207", location="B-07",
                          expiry=EXPIRY, quantity_on_hand=90)  # fmt: skip
    count = start_cycle_count(by=technician, lots=[lot])
    sign_in(page, technician)
    page.goto(f"/catalogue/stock/counts/{count.pk}/")

    scan(page, datamatrix("0071-0155-23", lot="NOSUCH", expiry=EXPIRY))

    page.wait_for_selector("text=There is no lot NOSUCH of 0071-0155-23 in stock")
    assert focused_is_scan_field(page)


def test_the_pharmacist_prints_the_biennial_inventory(page, screenshot, pharmacist, delivery):
    StockLotFactory(package=delivery["oxycodone"], lot_number="OX7781", location="VAULT",
                    expiry=EXPIRY, quantity_on_hand=230)  # fmt: skip
    sign_in(page, pharmacist)
    page.goto("/catalogue/stock/controlled/")
    assert "OX7781" in page.get_by_test_id("controlled-CII").inner_text()
    screenshot("controlled-perpetual")

    page.get_by_role("button", name="Show the inventory").click()

    page.wait_for_url("**/controlled/biennial/?*")
    rows = page.get_by_test_id("biennial-cii").inner_text()
    assert "OX7781" in rows
    assert "2\t30\t230" in rows  # two full bottles of 100, 30 loose, 230 in all
    page.emulate_media(media="print")
    assert not page.locator(".topbar").is_visible()
    screenshot("controlled-biennial-print")
