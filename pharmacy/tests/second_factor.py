"""The second sign-in factor as tests meet it: an authenticator app for a staff member, the
code it shows, a test client's session that passed the factor, and passing it in Chromium
after the password (setting the app up first when the person has none), and the whole
sign-in in Chromium."""

import time
from base64 import b32decode
from urllib.parse import urlsplit

from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from pharmacy.access import must_pass_second_factor
from pharmacy.models import User
from pharmacy.tests.factories import STAFF_PASSWORD


def give_authenticator(user: User) -> TOTPDevice:
    """The user's authenticator app, set up now if they have none (a random secret)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    return device or TOTPDevice.objects.create(user=user, name="Authenticator app")


def code_at(key: bytes, step: int) -> str:
    """The 6-digit code an authenticator app with this secret shows at time step ``step``."""
    totp = TOTP(key)
    totp.drift = step - totp.t()
    return f"{totp.token():06d}"


def _next_usable_step(last_used_step: int, tolerance: int = 1) -> int:
    """The earliest time step whose code the server accepts now: a code passes once, so
    after one was used a later step's code is needed (the server accepts the next step's
    too); when even that was used, wait for the clock."""
    while True:
        now = TOTP(b"").t()
        step = max(now, last_used_step + 1)
        if step <= now + tolerance:
            return step
        time.sleep(0.5)


def current_code(device: TOTPDevice) -> str:
    """A code that ``device`` accepts now (and never accepted before)."""
    device.refresh_from_db()
    return code_at(device.bin_key, _next_usable_step(device.last_t, device.tolerance))


def pass_second_factor(client: Client, user: User) -> Client:
    """Mark the client's session as having passed the second factor with the user's app,
    as the sign-in's second step leaves it (django-otp's ``login``)."""
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = give_authenticator(user).persistent_id
    session.save()
    return client


def signed_in_client(user: User, client: Client | None = None) -> Client:
    """A client signed in as ``user``, past the second factor when they must pass it."""
    client = client or Client()
    client.force_login(user)
    if must_pass_second_factor(user):
        pass_second_factor(client, user)
    return client


def _path(url: str) -> str:
    return urlsplit(url).path


def pass_second_factor_in_browser(page, username: str) -> None:
    """After the password was sent on the sign-in page: enter the code of the person's
    app, or set one up (reading the key from the page, as a phone would scan it) and go
    on past the recovery codes. Returns once the page is past the sign-in pages."""
    from playwright.sync_api import expect  # noqa: PLC0415 (only browser tests need it)

    page.wait_for_url(lambda url: _path(url) != "/login/")
    if _path(page.url) == "/login/authenticator/":
        secret = page.get_by_test_id("setup-secret").inner_text().replace(" ", "")
        page.get_by_label("Code from the app").fill(code_at(b32decode(secret), TOTP(b"").t()))
        page.get_by_role("button", name="Confirm").click()
        expect(page.get_by_test_id("recovery-codes")).to_be_visible()
        page.get_by_role("link", name="Continue").click()
    elif _path(page.url) == "/login/code/":
        device = TOTPDevice.objects.get(user__username=username, confirmed=True)
        page.get_by_label("Code").fill(current_code(device))
        page.get_by_role("button", name="Continue").click()
    page.wait_for_url(lambda url: not _path(url).startswith("/login/"))


def sign_in_in_browser(page, username: str, password: str = STAFF_PASSWORD) -> None:
    """Sign in on the sign-in page as a person would: the password, then the second
    factor when their role asks for one. Returns once the page is past the sign-in pages."""
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    pass_second_factor_in_browser(page, username)
