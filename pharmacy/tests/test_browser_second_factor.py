"""The second sign-in factor in a real Chromium (issue 12): a new pharmacist sets up their
authenticator app at first sign-in and keeps the recovery codes, signs in again with the
app's code and reaches PV1; a wrong code is refused plainly; a recovery code works once; a
manager resets the pharmacist's factor and they set the app up again."""

import time
from base64 import b32decode

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from pharmacy.models import AuditEvent, Role
from pharmacy.tests.factories import STAFF_PASSWORD, make_staff
from pharmacy.tests.second_factor import (
    code_at,
    current_code,
    pass_second_factor_in_browser,
)

pytestmark = pytest.mark.browser


def enter_password(page, username: str) -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def enter_code(page, code: str) -> None:
    page.get_by_label("Code").fill(code)
    page.get_by_role("button", name="Continue").click()


def sign_out(page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")


def test_a_pharmacist_sets_up_the_app_signs_in_with_codes_and_a_manager_resets_it(
    page, screenshot, transactional_db, manager
):
    pharmacist = make_staff("riya", Role.PHARMACIST, first_name="Riya", last_name="Patel")

    # First sign-in: the password, then setting up the app (as a phone scans the key).
    enter_password(page, "riya")
    expect(page.get_by_role("heading", level=1)).to_have_text("Set up your authenticator app")
    expect(page.get_by_test_id("setup-qr").locator("svg")).to_be_visible()
    screenshot("second-factor-setup")
    key = b32decode(page.get_by_test_id("setup-secret").inner_text().replace(" ", ""))
    page.get_by_label("Code from the app").fill("123")
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_test_id("code-error")).to_contain_text("That code does not match.")
    page.get_by_label("Code from the app").fill(code_at(key, int(time.time()) // 30))
    page.get_by_role("button", name="Confirm").click()
    codes = page.get_by_test_id("recovery-codes").locator("code").all_inner_texts()
    assert len(codes) == 10
    screenshot("second-factor-recovery-codes")
    page.get_by_role("link", name="Continue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Pharmacist verification")
    sign_out(page)

    # Signing in again asks the app's code; a wrong one is refused in plain words.
    enter_password(page, "riya")
    expect(page.get_by_role("heading", level=1)).to_have_text("Enter your code")
    device = TOTPDevice.objects.get(user=pharmacist)
    right = current_code(device)
    enter_code(page, f"{(int(right) + 1) % 1_000_000:06d}")
    expect(page.get_by_test_id("code-error")).to_contain_text("That code is not right.")
    screenshot("second-factor-wrong-code")
    time.sleep(1.1)  # django-otp makes the person wait a second after a wrong code
    enter_code(page, right)
    page.goto("/fills/queue/pv1/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("PV1")
    sign_out(page)

    # A recovery code stands in for the phone once, and not twice.
    enter_password(page, "riya")
    enter_code(page, codes[0])
    expect(page.locator(".messages")).to_contain_text("Recovery code accepted; 9 left.")
    sign_out(page)
    enter_password(page, "riya")
    enter_code(page, codes[0])
    expect(page.get_by_test_id("code-error")).to_contain_text("it was used already")
    page.get_by_role("button", name="Sign out").click()

    # A manager resets the factor (audited); the pharmacist then sets the app up again.
    enter_password(page, manager.username)
    pass_second_factor_in_browser(page, manager.username)
    page.get_by_role("link", name="Sign-in and API tokens").click()
    row = page.get_by_test_id("staff-row-riya")
    expect(row.get_by_test_id("second-factor")).to_contain_text("9 recovery codes left")
    row.get_by_role("button", name="Reset second factor").click()
    expect(page.locator(".messages")).to_contain_text("riya's second factor was reset")
    expect(page.get_by_test_id("staff-row-riya").get_by_test_id("second-factor")).to_contain_text(
        "Not set up yet"
    )
    screenshot("staff-access")
    assert AuditEvent.objects.filter(
        action="delete", actor=manager, object_id=str(pharmacist.pk)
    ).exists()
    sign_out(page)
    enter_password(page, "riya")
    expect(page.get_by_role("heading", level=1)).to_have_text("Set up your authenticator app")
