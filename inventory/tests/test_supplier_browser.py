"""Suppliers in a real Chromium: a manager on a fresh installation adds the first supplier
from the keyboard, corrects a mistyped e-mail, and finds it in the list."""

import pytest
from playwright.sync_api import expect

from inventory.models import Supplier
from inventory.tests.test_reorder_browser import sign_in

pytestmark = pytest.mark.browser


def test_a_manager_adds_the_first_supplier_from_the_keyboard(page, screenshot, manager):
    sign_in(page, manager)
    page.get_by_text("More", exact=True).click()  # the navigation's rarer areas
    page.get_by_role("link", name="Inventory").click()
    page.get_by_role("link", name="Suppliers Who we buy from").click()
    assert "Add the first one to receive stock." in page.get_by_test_id("suppliers").inner_text()
    page.get_by_test_id("new-supplier").click()

    # The cursor starts in the name; Tab moves on, Enter saves.
    expect(page.get_by_label("Name")).to_be_focused()
    page.keyboard.type("Cardinal Health")
    page.keyboard.press("Tab")
    page.keyboard.type("CAH-0042")
    page.keyboard.press("Tab")
    page.keyboard.type("orders at cardinal")
    page.keyboard.press("Enter")

    error = page.get_by_test_id("error-email")
    assert error.inner_text() == "'orders at cardinal' is not an e-mail address."
    screenshot("supplier-form-error")
    assert Supplier.objects.count() == 0
    expect(page.get_by_label("E-mail")).to_be_focused()  # the field to correct
    page.keyboard.press("Control+A")
    page.keyboard.type("orders@cardinal.example")
    page.keyboard.press("Enter")
    page.wait_for_url("**/catalogue/stock/suppliers/")

    rows = page.get_by_test_id("supplier")
    assert rows.count() == 1
    assert "Cardinal Health is added." in page.get_by_role("status").inner_text()
    assert "orders@cardinal.example" in rows.first.inner_text()
    screenshot("suppliers")
    supplier = Supplier.objects.get()
    assert (supplier.name, supplier.account_number, supplier.email, supplier.is_active) == (
        "Cardinal Health",
        "CAH-0042",
        "orders@cardinal.example",
        True,
    )
