"""Sign-in, sign-out, lockout after failed attempts, idle and absolute session limits."""

import time

import pytest
from django.conf import settings

from pharmacy.middleware import SESSION_STARTED_KEY
from pharmacy.models import AuditEvent
from pharmacy.tests.factories import STAFF_PASSWORD
from pharmacy.tests.second_factor import current_code, give_authenticator


def sign_in(client, username, password):
    return client.post("/login/", {"username": username, "password": password})


def test_signing_in_lands_on_the_role_home_and_is_audited(client, technician):
    response = sign_in(client, "tech", STAFF_PASSWORD)

    assert response.status_code == 302
    assert client.get(response["Location"])["Location"] == "/technician/"
    assert list(AuditEvent.objects.values_list("action", "actor_username")) == [("login", "tech")]


def test_a_pharmacist_lands_on_their_home_after_the_code_of_their_app(client, pharmacist):
    response = sign_in(client, "pharm", STAFF_PASSWORD)
    held = client.get(response["Location"])
    code = client.post(held["Location"], {"code": current_code(give_authenticator(pharmacist))})

    assert (response.status_code, held["Location"]) == (302, "/login/code/?next=%2F")
    assert (code.status_code, code["Location"]) == (302, "/")
    assert client.get("/")["Location"] == "/pharmacist/"
    assert client.get("/pharmacist/").status_code == 200
    assert list(AuditEvent.objects.values_list("action", "actor_username", "summary")) == [
        ("login", "pharm", "Second sign-in step passed with the authenticator app"),
        ("login", "pharm", ""),
    ]


def test_a_wrong_password_says_so_and_is_audited(client, pharmacist):
    response = sign_in(client, "pharm", "not-the-password")

    assert response.status_code == 200
    assert "That username and password do not match" in response.content.decode()
    assert list(AuditEvent.objects.values_list("action", "actor_username", "actor")) == [
        ("login_failed", "pharm", None)
    ]


def test_five_failures_lock_the_account_even_for_the_right_password(client, pharmacist):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "pharm", "wrong-password")

    response = sign_in(client, "pharm", STAFF_PASSWORD)

    assert response.status_code == 429
    assert (
        "This account is locked after too many failed sign-in attempts" in response.content.decode()
    )
    assert client.get("/pharmacist/").status_code == 302  # still signed out


def test_signing_out_ends_the_session(client_technician):
    response = client_technician.post("/logout/")

    assert response.status_code == 302
    assert client_technician.get("/technician/").status_code == 302
    assert AuditEvent.objects.filter(action="logout").count() == 1


def test_sign_out_is_post_only(client_technician):
    assert client_technician.get("/logout/").status_code == 405


def test_idle_limit_is_fifteen_minutes_renewed_on_each_request():
    assert settings.SESSION_COOKIE_AGE == 15 * 60
    assert settings.SESSION_SAVE_EVERY_REQUEST is True


def test_a_session_older_than_twelve_hours_is_ended(client_technician):
    client_technician.get("/technician/")
    session = client_technician.session
    session[SESSION_STARTED_KEY] = time.time() - 12 * 3600 - 1
    session.save()

    response = client_technician.get("/technician/")

    assert response.status_code == 302
    assert response["Location"] == "/login/"
    assert client_technician.get("/technician/").status_code == 302


def test_a_session_younger_than_twelve_hours_goes_on(client_technician):
    client_technician.get("/technician/")
    session = client_technician.session
    session[SESSION_STARTED_KEY] = time.time() - 11 * 3600
    session.save()

    assert client_technician.get("/technician/").status_code == 200


@pytest.mark.parametrize("password", ["short", "password123", "1234567890123"])
def test_weak_passwords_are_refused(db, password):
    from pharmacy.services import StaffError, create_staff  # noqa: PLC0415

    with pytest.raises(StaffError):
        create_staff("newtech", role="technician", password=password)
