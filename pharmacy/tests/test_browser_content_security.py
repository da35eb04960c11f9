"""The Content-Security-Policy in a real Chromium: each role's main pages (and the pages
whose script or style moved to our static files) load without one violation, and what
moved still works."""

from urllib.parse import urlsplit

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from inventory.services.counts import start_cycle_count
from inventory.tests.factories import StockLotFactory
from orders.models import Fill
from orders.tests.factories import fill_at
from pharmacy.tests.factories import PatientFactory
from pharmacy.tests.second_factor import sign_in_in_browser

pytestmark = pytest.mark.browser

# Reported by the page itself for every blocked load or inline script/style.
RECORD_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


@pytest.fixture
def violations(page):
    """Every CSP violation of the test: the pages' own reports and Chromium's console
    messages (which also cover frames, the PDF viewer's included)."""
    found = []
    page.add_init_script(RECORD_VIOLATIONS)
    page.on(
        "console",
        lambda message: (
            found.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )

    def check(path: str) -> list[str]:
        response = page.goto(path)
        assert response.status == 200, path
        # The page itself, not a sign-in step it was sent to instead.
        assert urlsplit(page.url).path == urlsplit(path).path, page.url
        page.wait_for_load_state("networkidle")
        return found + page.evaluate("window.cspViolations")

    return check


def sign_in(page, user):
    sign_in_in_browser(page, user.username)
    expect(page.get_by_test_id("current-user")).to_be_visible()


def test_the_technicians_pages_break_no_rule(page, violations, transactional_db, technician):
    patient = PatientFactory()
    count = start_cycle_count(by=technician, lots=[StockLotFactory()])
    sign_in(page, technician)

    for path in [
        "/technician/",
        "/intake/",
        "/fills/queue/fill/",
        f"/patients/{patient.pk}/",
        "/intake/new/",
        "/catalogue/stock/receiving/",
        f"/catalogue/stock/counts/{count.pk}/",
        "/shipping/labels/",
    ]:
        assert violations(path) == [], path


def test_the_pharmacists_pages_break_no_rule(page, violations, transactional_db, pharmacist):
    fill = fill_at(Fill.Status.PV2)
    sign_in(page, pharmacist)

    for path in [
        "/pharmacist/",
        "/fills/queue/pv2/",
        "/catalogue/stock/reorder-alerts/",
        f"/catalogue/stock/controlled/biennial/?date={timezone.localdate():%Y-%m-%d}&taken_at=close",
    ]:
        assert violations(path) == [], path
    # PV2 shows the Rx label inline, its own document in a srcdoc frame: its stylesheet
    # and fonts load under the page's policy, which loosens nothing for it.
    assert violations(f"/fills/{fill.pk}/pv2/") == []
    expect(page.locator("iframe.label-preview")).to_be_visible()
    label = page.frame_locator("iframe.label-preview")
    expect(label.locator(".drug")).to_contain_text("atorvastatin calcium 10 mg", ignore_case=True)
    # The label's own CSS applies inside the frame (bold, upper-case drug line) and not
    # to the page around it.
    assert label.locator(".drug").evaluate("e => getComputedStyle(e).textTransform") == (
        "uppercase"
    )


def test_the_managers_pages_break_no_rule(page, violations, transactional_db, manager):
    sign_in(page, manager)

    for path in [
        "/manager/",
        "/audit/",
        "/catalogue/stock/reorder-rules/",
        "/catalogue/stock/purchase-orders/",
        "/shipping/rules/",
        "/side-effects/",
    ]:
        assert violations(path) == [], path


def test_the_sign_in_page_and_the_api_documentation_break_no_rule(
    page, violations, transactional_db
):
    assert violations("/login/") == []
    assert violations("/api/docs/") == []
    # Swagger UI started from its own script file and read the schema.
    expect(page.get_by_text("Mail-order pharmacy API")).to_be_visible()
