"""Each role signs in with a real Chromium and sees its home page; errors are shown plainly."""

import pytest
from django.conf import settings

from pharmacy.tests.factories import STAFF_PASSWORD, PatientFactory
from pharmacy.tests.second_factor import pass_second_factor_in_browser

pytestmark = pytest.mark.browser


def sign_in(page, username, password):
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


# The navigation's visible links (each queue with its count, the areas; the rarer ones
# wait under "More"), as pharmacy/tests/test_roles.py lists them per role.
@pytest.mark.parametrize(
    ("role", "heading", "nav"),
    [
        (
            "technician",
            "Technician work",
            ["Home", "Intake", "Fill", "Pack", "Holds", "Exceptions", "Patients", "Shipping"],
        ),
        (
            "pharmacist",
            "Pharmacist verification",
            [
                "Home",
                *["Intake", "PV1", "Fill", "PV2", "Pack", "Holds", "Exceptions"],
                *["Patients", "Shipping"],
            ],
        ),
        ("manager", "Dashboard", ["Home", "Exceptions", "Dashboard", "Shipping"]),
    ],
)
def test_each_role_signs_in_and_sees_its_home(request, page, screenshot, role, heading, nav):
    user = request.getfixturevalue(role)
    PatientFactory.create_batch(2)

    sign_in(page, user.username, STAFF_PASSWORD)
    pass_second_factor_in_browser(page, user.username)

    assert page.get_by_role("heading", level=1).inner_text() == heading
    visible_labels = page.locator("nav[aria-label=Main] a:visible").evaluate_all(
        "links => links.map((link) => link.firstChild.textContent.trim())"
    )
    assert visible_labels == nav
    assert (
        f"{user.get_full_name()} · {role.title()}"
        in page.get_by_test_id("current-user").inner_text()
    )
    screenshot(f"home-{role}")


def test_manager_dashboard_counts_are_real(page, manager, technician, pharmacist):
    PatientFactory.create_batch(4)

    sign_in(page, manager.username, STAFF_PASSWORD)
    pass_second_factor_in_browser(page, manager.username)

    staff = page.get_by_test_id("staff-counts").inner_text()
    assert "1\nTechnicians" in staff
    assert "1\nPharmacists" in staff
    assert "1\nManagers" in staff
    assert "4\nPatients" in page.get_by_test_id("record-counts").inner_text()


def test_a_wrong_password_shows_the_error(page, screenshot, technician):
    sign_in(page, technician.username, "not-my-password")

    error = page.get_by_test_id("login-error")
    assert "That username and password do not match" in error.inner_text()
    assert page.url.endswith("/login/")
    screenshot("login-wrong-password")


def test_the_lockout_shows_its_message(page, screenshot, technician):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(page, technician.username, "not-my-password")

    sign_in(page, technician.username, STAFF_PASSWORD)

    assert "This account is locked after too many failed sign-in attempts" in (
        page.get_by_test_id("lockout-message").inner_text()
    )
    screenshot("login-locked-out")


def test_signing_out_returns_to_sign_in(page, pharmacist):
    sign_in(page, pharmacist.username, STAFF_PASSWORD)
    pass_second_factor_in_browser(page, pharmacist.username)

    page.get_by_role("button", name="Sign out").click()

    assert page.get_by_role("heading", level=1).inner_text() == "Sign in"
    assert "You are signed out." in page.locator(".messages").inner_text()
