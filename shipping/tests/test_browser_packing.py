"""Packing in a real Chromium with a real Celery worker: a packer scans the packing slip,
scans a vial of another order first (stopped, the message on screen, nothing put in the
package), then every vial, weighs and closes the package; the worker buys its label from
the carrier and makes the PDF, and the station shows it labelled with the label to print.
Also a wave of labels printed with its progress bar, and the list that refreshes itself
without wiping what is being typed."""

import pytest
from playwright.sync_api import expect

from orders.models import Fill
from orders.tests.test_browser_workflow import sign_in
from pharmacy.tests.scanner import scan as scan_code
from shipping.models import CarrierService, LabelBatch, Shipment, ShippingDocument
from shipping.services.shipments import ensure_shipments_for_ready_orders
from shipping.tests.factories import (
    CarrierServiceFactory,
    labelled_shipment,
    order_awaiting_packing,
    ready_order,
)

pytestmark = pytest.mark.browser

# The worker buys the label and renders it after the commit; the station polls every 2
# seconds.
WORKER_TIMEOUT_MS = 30_000


@pytest.fixture(autouse=True)
def local_services(transactional_db):
    """The built-in carrier's service levels of migration 0002: a transactional test
    empties every table after it, so a browser test that runs after another needs them
    made again (get or create: the first one still has them)."""
    CarrierServiceFactory(
        code="OVERNIGHT", name="Courier overnight", transit_days=1, delivers_saturday=True
    )
    CarrierServiceFactory(code="TWO_DAY", name="Courier 2-day", transit_days=2)
    CarrierServiceFactory(
        code="GROUND", name="Ground 3-day", transit_days=3, allows_cold_chain=False
    )


def test_a_packer_packs_an_order_by_scanning_and_the_label_prints(
    page, screenshot, transactional_db, technician, celery_worker_process
):
    order = ready_order(fills=2)
    stray = ready_order().fills.get()  # a vial of another patient's order
    ensure_shipments_for_ready_orders()
    shipment = Shipment.objects.get(order=order)
    vials = list(order.fills.select_related("prescription").order_by("pk"))

    # The packing slip's barcode opens the package.
    sign_in(page, technician.username)
    page.goto("/shipping/pack/")
    slip = page.locator("#id_code")
    expect(slip).to_be_focused()
    slip.fill(shipment.package_code)
    slip.press("Enter")
    expect(page.get_by_test_id("package-code")).to_have_text(shipment.package_code)
    expect(page.get_by_test_id("packing-instructions")).to_contain_text(
        "Use a standard padded mailer."
    )
    expect(page.get_by_test_id("vial")).to_have_count(2)
    scan = page.locator("#vial-scan")
    expect(scan).to_be_focused()
    close = page.get_by_role("button", name="Close the package")
    expect(close).to_be_disabled()
    screenshot("packing-station")

    # A vial of another order: a hard stop, on screen; it is not put in the package.
    scan_code(scan, stray.label_code)
    stop = page.get_by_test_id("scan-message")
    expect(stop).to_be_visible()
    expect(stop).to_contain_text(
        f"Stop. The vial {stray.label_code} is not part of this order. Put it aside"
    )
    expect(scan).to_be_focused()
    expect(scan).to_have_value("")
    expect(page.locator("#close-form input[name=scans]")).to_have_count(0)
    expect(page.get_by_test_id("scan-progress")).to_contain_text("0 of 2 vials scanned.")
    screenshot("packing-station-wrong-vial")

    # Every vial of the order, then the weight: the package closes.
    for number, vial in enumerate(vials, start=1):
        scan_code(scan, vial.label_code.lower())  # a scanner in lower case still reads
        expect(page.locator(f'tr[data-label-code="{vial.label_code}"]')).to_have_class("scanned")
        expect(page.get_by_test_id("scan-progress")).to_contain_text(f"{number} of 2")
    expect(stop).to_contain_text("Every vial is in: weigh the package.")
    weight = page.get_by_label("Weight (oz)")
    expect(weight).to_be_focused()
    expect(close).to_be_disabled()
    weight.fill("14.5")
    expect(close).to_be_enabled()
    screenshot("packing-station-every-vial")
    weight.press("Enter")

    expect(page.locator(".messages")).to_contain_text(f"{shipment.package_code} closed (14.5 oz).")
    assert set(order.fills.values_list("status", flat=True)) == {Fill.Status.PACKED}
    assert stray.order.fills.get().status == Fill.Status.READY_TO_PACK

    # The worker buys the label and makes its PDF; the station shows it labelled, with
    # the label to print.
    status = page.get_by_test_id("label-status")
    expect(page.get_by_test_id("print-label")).to_be_visible(timeout=WORKER_TIMEOUT_MS)
    expect(page.get_by_test_id("label-state")).to_have_text("Labelled")
    shipment.refresh_from_db()
    assert shipment.status == Shipment.Status.LABELLED
    expect(status).to_contain_text(shipment.tracking_number)
    screenshot("packing-station-labelled")
    href = page.get_by_test_id("print-label").get_attribute("href")
    assert href == f"/api/v1/shipments/{shipment.pk}/label.pdf"
    label = page.request.get(href)
    assert label.status == 200
    assert label.headers["content-type"] == "application/pdf"
    assert label.body().startswith(b"%PDF-")
    current = ShippingDocument.objects.filter(shipment=shipment, is_current=True)
    assert sorted(current.values_list("kind", flat=True)) == ["label", "packing_slip"]
    # The next slip can be scanned straight away.
    expect(page.locator("#id_code")).to_be_focused()

    # The record: where it went, what is inside, what happened.
    page.goto(f"/shipping/{shipment.pk}/")
    expect(page.get_by_test_id("events")).to_contain_text("Packed → Labelled")
    expect(page.get_by_test_id("documents")).to_contain_text("Carrier label (4x6 in)")
    screenshot("shipment-record")


def test_a_wave_of_labels_prints_with_a_progress_bar(
    page, screenshot, transactional_db, technician, celery_worker_process
):
    shipments = [labelled_shipment() for _ in range(3)]

    sign_in(page, technician.username)
    page.goto("/shipping/labels/")
    expect(page.get_by_test_id("printable-row")).to_have_count(3)
    expect(page.locator("input[name=shipments]:checked")).to_have_count(3)
    page.get_by_role("button", name="Print the ticked labels").click()

    expect(page.get_by_role("heading", name="Label wave")).to_be_visible()
    expect(page.get_by_test_id("batch-progress")).to_be_visible()
    screenshot("label-batch-progress")
    expect(page.get_by_test_id("batch-finished")).to_be_visible(timeout=WORKER_TIMEOUT_MS)
    expect(page.get_by_test_id("batch-count")).to_have_text("3 of 3")
    expect(page.locator("progress")).to_have_attribute("value", "3")
    screenshot("label-batch-finished")
    batch = LabelBatch.objects.get()
    assert set(batch.shipments.all()) == set(shipments)
    merged = page.request.get(page.get_by_test_id("batch-pdf").get_attribute("href"))
    assert merged.status == 200
    assert merged.body().startswith(b"%PDF-")


def test_the_list_refreshes_without_wiping_what_is_typed(
    page, screenshot, transactional_db, technician
):
    order_awaiting_packing()
    page.clock.install()
    sign_in(page, technician.username)
    page.goto("/shipping/list/awaiting_packing/")
    expect(page.get_by_test_id("shipment-row")).to_have_count(1)
    field = page.locator("#slip-code")
    expect(field).to_be_focused()
    field.press_sequentially("PKG-12")

    order_awaiting_packing()
    page.clock.run_for(11_000)

    expect(page.get_by_test_id("shipment-row")).to_have_count(2)
    expect(field).to_have_value("PKG-12")
    expect(field).to_be_focused()
    screenshot("shipments-awaiting-packing")


def test_a_manager_keeps_the_rules_services_and_holidays(
    page, screenshot, transactional_db, manager
):
    sign_in(page, manager.username)
    page.goto("/manager/")
    page.get_by_role("link", name="Packaging rules").click()
    page.get_by_label("Cold packs per transit day").fill("3")
    page.get_by_role("button", name="Save the rules").click()
    expect(page.locator(".messages")).to_contain_text("Packaging rules saved")
    page.locator("#id_holiday-day").fill("2030-12-25")
    page.get_by_role("textbox", name="Holiday:").fill("Christmas Day")
    page.get_by_role("button", name="Add").click()
    expect(page.get_by_test_id("holiday-row")).to_contain_text("Christmas Day")
    overnight = CarrierService.objects.get(carrier="local", code="OVERNIGHT")
    page.get_by_label("OVERNIGHT delivers on Saturday", exact=True).uncheck()
    page.locator(f'tr[data-service="{overnight.pk}"]').get_by_role("button", name="Save").click()
    expect(page.locator(".messages")).to_contain_text("Courier overnight saved.")
    screenshot("shipping-rules")
    overnight.refresh_from_db()
    assert not overnight.delivers_saturday
