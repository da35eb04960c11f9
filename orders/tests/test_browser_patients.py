"""One record per patient in a real Chromium (issue 13): a search for "hernandez" finds
María Hernández; creating her again warns of the record on file and needs a confirmation;
a pharmacist then merges the two records from the patient's page."""

import pytest
from playwright.sync_api import expect

from pharmacy.models import Patient
from pharmacy.tests.factories import HERNANDEZ_BORN, hernandez_patient
from pharmacy.tests.second_factor import sign_in_in_browser

pytestmark = pytest.mark.browser

BORN = HERNANDEZ_BORN


@pytest.fixture
def maria(transactional_db):
    return hernandez_patient()


def test_a_search_for_hernandez_finds_hernandez(page, screenshot, technician, maria):
    sign_in_in_browser(page, technician.username)
    page.goto("/patients/")

    page.get_by_label("Patient").fill("hernandez")
    page.get_by_role("button", name="Find").click()

    expect(page.get_by_role("link", name="Hernández, María")).to_be_visible()
    expect(page.get_by_role("cell", name="77 Oak Street, Columbus, OH 43215")).to_be_visible()
    screenshot("patient-search-hernandez")

    page.get_by_label("Patient").fill("h")
    page.get_by_role("button", name="Find").click()
    expect(page.get_by_test_id("search-error")).to_contain_text("Type at least 2 characters")


def test_a_duplicate_warning_then_a_merge(page, screenshot, pharmacist, maria):
    sign_in_in_browser(page, pharmacist.username)
    page.goto("/patients/new/")
    page.get_by_label("First name").fill("Maria")
    page.get_by_label("Last name").fill("Hernandes")
    page.get_by_label("Date of birth").fill(BORN.isoformat())
    page.locator("#id_address-line1").fill("9 Elm Street")
    page.locator("#id_address-city").fill("Dayton")
    page.locator("#id_address-state").fill("OH")
    page.locator("#id_address-postal_code").fill("45402")
    page.get_by_role("button", name="Save").click()

    warning = page.get_by_test_id("possible-duplicates")
    expect(warning).to_contain_text("María Hernández")
    expect(warning).to_contain_text("same date of birth and a similar name")
    expect(warning.get_by_role("link", name="María Hernández")).to_have_attribute(
        "href", f"/patients/{maria.pk}/"
    )
    screenshot("patient-duplicate-warning")
    assert Patient.objects.count() == 1

    page.get_by_test_id("confirm-not-duplicate").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Maria Hernandes")
    second = Patient.objects.exclude(pk=maria.pk).get()

    page.get_by_test_id("merge-link").click()
    page.get_by_label("Find the other record").fill("hernandez")
    page.get_by_role("button", name="Find").click()
    page.get_by_role("link", name="Compare").click()
    expect(page.get_by_test_id(f"merge-record-{maria.pk}")).to_contain_text("77 Oak Street")
    expect(page.get_by_test_id(f"merge-record-{second.pk}")).to_contain_text("9 Elm Street")
    page.get_by_test_id(f"keep-{maria.pk}").check()
    page.get_by_test_id("confirm-merge").check()
    screenshot("patient-merge-side-by-side")
    page.get_by_test_id("merge-submit").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("María Hernández")
    expect(page.get_by_text(f"Record #{second.pk} merged into #{maria.pk}")).to_be_visible()
    screenshot("patient-merged")
    second.refresh_from_db()
    assert second.merged_into == maria
    assert maria.addresses.count() == 2
