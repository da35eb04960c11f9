"""The catalogue in a real Chromium: scan into the search box, land on the product."""

import pytest
from playwright.sync_api import expect

from inventory.models import Storage
from inventory.ndc import GROUP_SEPARATOR as GS
from inventory.ndc import gtin14_from_ndc, upc_from_ndc
from inventory.tests.factories import IngredientFactory, PackageFactory, ProductIngredientFactory
from pharmacy.tests.second_factor import sign_in_in_browser

pytestmark = pytest.mark.browser


@pytest.fixture
def strattera(db):
    package = PackageFactory(
        product__product_ndc="0002-3227",
        product__proprietary_name="Strattera",
        product__nonproprietary_name="atomoxetine hydrochloride",
        package_ndc="0002-3227-30",
        description="30 CAPSULE in 1 BOTTLE (0002-3227-30)",
    )
    ProductIngredientFactory(
        product=package.product, ingredient=IngredientFactory(name="Atomoxetine"), strength="10"
    )
    return package.product


def sign_in(page, user):
    sign_in_in_browser(page, user.username)


def test_technician_scans_a_bottle_and_lands_on_its_product(
    page, screenshot, technician, strattera
):
    sign_in(page, technician)
    page.get_by_text("More", exact=True).click()  # the navigation's rarer areas
    page.get_by_role("link", name="Catalogue").click()
    screenshot("catalogue-search")

    # The scanner types into whatever has focus and ends with Enter: nothing is clicked.
    page.keyboard.type(upc_from_ndc("0002-3227-30"))
    page.keyboard.press("Enter")

    page.wait_for_url("**/catalogue/0002-3227/?package=0002-3227-30")
    assert page.get_by_role("heading", level=1).inner_text() == (
        "Strattera (atomoxetine hydrochloride)"
    )
    assert "0002-3227-30" in page.locator("tr.highlight").inner_text()
    screenshot("catalogue-product")


def test_a_datamatrix_with_group_separators_finds_the_package(page, technician, strattera):
    sign_in(page, technician)
    page.goto("/catalogue/")
    # The search box takes the focus as the page settles; the scanner types into it then.
    expect(page.locator("#id_q")).to_be_focused()
    gtin = gtin14_from_ndc("0002-3227-30")
    page.keyboard.insert_text(f"]d201{gtin}17270200" + f"10A123B{GS}21SN0001")
    page.keyboard.press("Enter")
    page.wait_for_url("**/catalogue/0002-3227/?package=0002-3227-30")


def test_pharmacist_marks_a_product_refrigerated(page, screenshot, pharmacist, strattera):
    sign_in(page, pharmacist)
    page.goto("/catalogue/0002-3227/")

    page.get_by_label("Change storage").select_option(Storage.REFRIGERATED)
    page.get_by_role("button", name="Save storage").click()

    assert page.get_by_test_id("storage").inner_text() == "Refrigerated (2-8 °C)"
    strattera.refresh_from_db()
    assert strattera.storage == Storage.REFRIGERATED
    screenshot("catalogue-storage-set")
