"""The fill workflow in a real Chromium: a pharmacist passes PV1, a technician fills with
a scan (a wrong bottle first, stopped with the message on screen), another person passes
PV2 scanning the vial label, and the label PDF is there. Also: the queue's refresh never
wipes what is being typed."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from inventory.models import StockLot
from inventory.ndc import upc_from_ndc
from orders.models import DurOverride, Fill, FillScan
from orders.tests.factories import DurAlertFactory, datamatrix, fill_at, stocked_package
from pharmacy.drug_checks import invalidate_interaction_index
from pharmacy.models import Role
from pharmacy.tests.factories import make_staff
from pharmacy.tests.scanner import scan as scan_code
from pharmacy.tests.scanner import type_by_hand
from pharmacy.tests.second_factor import sign_in_in_browser

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def fresh_interaction_index():
    invalidate_interaction_index()
    yield
    invalidate_interaction_index()


@pytest.fixture
def second_pharmacist(transactional_db):
    return make_staff("pharm2", Role.PHARMACIST, first_name="Rita", last_name="Second")


def sign_in(page, username):
    sign_in_in_browser(page, username)
    expect(page.get_by_test_id("current-user")).to_be_visible()


def sign_out(page):
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("Username")).to_be_visible()


def open_from_queue(page, queue: str, rx_number: str):
    page.goto(f"/fills/queue/{queue}/")
    row = page.get_by_test_id("queue-row").filter(has_text=rx_number)
    row.get_by_role("button", name="Claim and open").click()
    expect(page.get_by_test_id("rx-number")).to_have_text(rx_number)


def test_pv1_then_a_scanned_fill_then_pv2_by_someone_else_with_the_label(
    page, screenshot, transactional_db, technician, pharmacist, second_pharmacist
):
    fill = fill_at(Fill.Status.PV1)
    alert = DurAlertFactory(fill=fill)
    rx_number = fill.prescription.rx_number
    lot = StockLot.objects.get(package__product=fill.prescription.product)
    right_bottle = datamatrix(lot.package, lot=lot.lot_number, expiry=lot.expiry)
    wrong_bottle = upc_from_ndc(
        stocked_package(name="Zocor", generic="simvastatin", ingredient="Simvastatin").package_ndc
    )

    # PV1: the pharmacist gives the allergy alert a coded reason and approves.
    sign_in(page, pharmacist.username)
    open_from_queue(page, "pv1", rx_number)
    expect(page.get_by_test_id("entered")).to_contain_text("Lipitor (atorvastatin calcium)")
    expect(page.get_by_test_id("dur-alert-allergy")).to_contain_text("allergic to Penicillin")
    page.get_by_role("button", name="Approve PV1").click()
    expect(page.get_by_test_id("work-error")).to_contain_text(
        "1 drug-check alert has no override reason"
    )
    page.get_by_label("Override reason for the allergy alert").select_option("previously_tolerated")
    screenshot("pv1")
    page.get_by_role("button", name="Approve PV1").click()
    expect(page.locator(".messages")).to_contain_text(f"Rx {rx_number} passed PV1.")
    assert DurOverride.objects.get().alert_id == alert.pk
    sign_out(page)

    # Fill: the scan field has the focus; a wrong bottle is a hard stop, on screen.
    sign_in(page, technician.username)
    open_from_queue(page, "fill", rx_number)
    expect(page.get_by_test_id("suggested-lot")).to_contain_text(lot.lot_number)
    scan = page.locator("#id_scan")
    expect(scan).to_be_focused()
    # The count first (a person counts, then scans), then the wrong bottle.
    type_by_hand(page.get_by_label("Count"), "30", enter=False)
    scan_code(scan, wrong_bottle)
    stop = page.get_by_test_id("work-error")
    expect(stop).to_contain_text("Wrong drug: this bottle is Zocor (simvastatin)")
    expect(page.locator("#id_scan")).to_be_focused()
    expect(page.locator("#id_scan")).to_have_value("")
    screenshot("fill-station-wrong-bottle")
    fill.refresh_from_db()
    assert (fill.status, fill.dispensed_quantity) == (Fill.Status.FILL, None)
    assert FillScan.objects.get().refusal_code == "wrong_drug"

    # The count typed stays; the lot comes from the DataMatrix.
    expect(page.get_by_label("Count")).to_have_value("30")
    scan_code(page.locator("#id_scan"), right_bottle, enter=False)
    screenshot("fill-station")
    page.locator("#id_scan").press("Enter")
    expect(page.locator(".messages")).to_contain_text(
        f"Rx {rx_number} filled: 30 tablets from lot {lot.lot_number}; it waits for PV2."
    )
    fill.refresh_from_db()
    assert (fill.status, fill.filled_by) == (Fill.Status.PV2, technician)
    sign_out(page)

    # PV2 by a pharmacist who did not fill it: scan the vial label.
    sign_in(page, second_pharmacist.username)
    open_from_queue(page, "pv2", rx_number)
    expect(page.get_by_test_id("filled-lot")).to_have_text(lot.lot_number)
    expect(page.get_by_test_id("filled-quantity")).to_have_text("30 tablets")
    label = page.request.get(f"/api/v1/fills/{fill.pk}/label.pdf")
    assert label.status == 200
    assert label.headers["content-type"] == "application/pdf"
    assert label.body().startswith(b"%PDF-")
    screenshot("pv2")
    # The scanner's burst ends with its Enter: a vial code typed by hand would be stopped.
    scan_code(page.locator("#id_scan"), fill.label_code)
    expect(page.locator(".messages")).to_contain_text(f"Rx {rx_number} passed PV2: ready to pack.")
    fill.refresh_from_db()
    assert (fill.status, fill.pv2_by) == (Fill.Status.READY_TO_PACK, second_pharmacist)


def test_the_pharmacist_who_filled_is_refused_at_pv2(page, transactional_db, pharmacist):
    fill = fill_at(Fill.Status.PV2, filled_by=pharmacist)

    sign_in(page, pharmacist.username)
    page.goto(f"/fills/{fill.pk}/pv2/")

    expect(page.get_by_test_id("pv2-refused")).to_contain_text("Another pharmacist must verify it")
    expect(page.locator("#id_scan")).to_have_count(0)


def test_the_queue_refreshes_without_wiping_what_is_typed(
    page, screenshot, transactional_db, technician
):
    first = fill_at(Fill.Status.FILL)
    page.clock.install()
    sign_in(page, technician.username)
    page.goto("/fills/queue/fill/")
    rows = page.get_by_test_id("queue-row")
    expect(rows).to_have_count(1)
    field = page.locator("#queue-code")
    expect(field).to_be_focused()
    field.press_sequentially("10000")

    later = fill_at(Fill.Status.FILL)
    Fill.objects.filter(pk=later.pk).update(created_at=timezone.now())
    page.clock.run_for(11_000)

    expect(rows).to_have_count(2)
    expect(page.get_by_test_id("fill-queue")).to_contain_text(later.prescription.rx_number)
    expect(field).to_have_value("10000")
    expect(field).to_be_focused()
    field.press_sequentially("42")
    expect(field).to_have_value("1000042")
    screenshot("fill-queue")
    assert first.prescription.rx_number in page.get_by_test_id("fill-queue").inner_text()
