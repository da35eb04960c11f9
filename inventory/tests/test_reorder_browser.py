"""Reorder alerts in a real Chromium: a manager sets a rule, and an alert raised by a fill
shows up on the dashboard and the alerts page without a reload."""

from decimal import Decimal

import pytest
from django.utils import timezone

from inventory.models import ReorderAlert, ReorderRule
from inventory.services.stock import dispense_from_lot
from inventory.tests.factories import PackageFactory, StockLotFactory, SupplierFactory
from outbox.models import OutboxMessage
from pharmacy.tests.second_factor import sign_in_in_browser

pytestmark = pytest.mark.browser

# htmx polls every 5 seconds; allow two rounds and some.
POLL_TIMEOUT_MS = 15_000


def sign_in(page, user):
    sign_in_in_browser(page, user.username)


def stock_with_rule(name: str, *, units: int = 110):
    package = PackageFactory(
        product__proprietary_name=name, product__nonproprietary_name=name.lower(), quantity=30
    )
    ReorderRule.objects.create(
        product=package.product,
        reorder_point=100,
        reorder_quantity=300,
        preferred_supplier=SupplierFactory(name="Cardinal Health", lead_time_days=2),
    )
    return StockLotFactory(package=package, quantity_on_hand=units)


def fill(lot, technician, quantity=20):
    dispense_from_lot(
        lot,
        quantity=Decimal(quantity),
        by=technician,
        reference="fill:1",
        usable_until=timezone.localdate(),
    )


def test_a_reorder_alert_arrives_on_the_dashboard_and_is_dealt_with(
    page, screenshot, manager, technician
):
    lisinopril = stock_with_rule("Lisinopril")
    metformin = stock_with_rule("Metformin")
    sign_in(page, manager)
    page.get_by_role("link", name="Dashboard").click()
    card = page.get_by_test_id("open-reorder-alerts")
    assert card.locator(".number").inner_text() == "0"

    fill(lisinopril, technician)  # 90 left, below 100: raised while the page is open

    card.locator(".number", has_text="1").wait_for(timeout=POLL_TIMEOUT_MS)
    screenshot("manager-dashboard-reorder-alert")
    card.get_by_role("link", name="Open reorder alerts").click()

    rows = page.get_by_test_id("reorder-alert")
    assert rows.count() == 1
    assert "Lisinopril" in rows.first.inner_text()
    assert "10 × " in rows.first.inner_text()
    assert "from Cardinal Health" in rows.first.inner_text()

    fill(metformin, technician, quantity=15)  # a second product crosses: a new row appears
    page.get_by_test_id("reorder-alert").filter(has_text="Metformin").wait_for(
        timeout=POLL_TIMEOUT_MS
    )
    screenshot("reorder-alerts")

    lisinopril_row = page.get_by_test_id("reorder-alert").filter(has_text="Lisinopril")
    lisinopril_row.get_by_role("button", name="Acknowledge").click()
    assert "Acknowledged the alert for Lisinopril" in page.get_by_role("status").inner_text()
    assert "Acknowledged" in lisinopril_row.get_by_test_id("alert-status").inner_text()

    metformin_row = page.get_by_test_id("reorder-alert").filter(has_text="Metformin")
    metformin_row.get_by_placeholder("PO number").fill("PO 1001")
    metformin_row.get_by_role("button", name="Close").click()

    assert page.get_by_test_id("reorder-alert").count() == 1
    assert dict(ReorderAlert.objects.values_list("product__proprietary_name", "status")) == {
        "Lisinopril": "acknowledged",
        "Metformin": "closed",
    }
    # Each alert's e-mail recorded with its fill (no worker runs in this test).
    assert sorted(
        OutboxMessage.objects.filter(kind="inventory.reorder_email").values_list(
            "target_id", flat=True
        )
    ) == sorted(ReorderAlert.objects.values_list("pk", flat=True))


def test_a_manager_sets_a_reorder_rule_in_the_browser(page, screenshot, manager):
    lot = StockLotFactory(
        package=PackageFactory(product__proprietary_name="Atorvastatin", quantity=90),
        quantity_on_hand=450,
    )
    SupplierFactory(name="McKesson", lead_time_days=3)
    sign_in(page, manager)
    page.goto("/catalogue/stock/reorder-rules/")

    form = page.get_by_test_id("reorder-rule-form")
    form.get_by_label("Product or package NDC").fill(lot.package.package_ndc)
    form.get_by_label("Reorder point").fill("180")
    form.get_by_label("Reorder quantity").fill("540")
    form.get_by_label("Preferred supplier").select_option(label="McKesson")
    form.get_by_role("button", name="Save rule").click()

    assert "reorder below 180 units" in page.get_by_role("status").inner_text()
    row = page.get_by_test_id("reorder-rule")
    assert row.count() == 1
    cells = row.locator("td").all_inner_texts()
    assert cells[1:8] == ["450", "180", "540", "—", lot.package.package_ndc, "McKesson", "3 d"]
    screenshot("reorder-rules")
