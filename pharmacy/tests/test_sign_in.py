"""Sign-in, sign-out, lockout after failed attempts, idle and absolute session limits."""

import time

import pytest
from django.conf import settings

from pharmacy.middleware import SESSION_STARTED_KEY
from pharmacy.models import AuditEvent
from pharmacy.tests.factories import STAFF_PASSWORD
from pharmacy.tests.second_factor import current_code, give_authenticator


def sign_in(client, username, password, *, address="127.0.0.1"):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=address)


def signed_in_seconds_ago(client, seconds: float) -> None:
    """Make the client's session one that signed in ``seconds`` ago."""
    client.get("/technician/")
    session = client.session
    session[SESSION_STARTED_KEY] = time.time() - seconds
    session.save()


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


def test_failures_from_one_address_never_lock_the_account_elsewhere(client, technician):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "tech", "wrong-password", address="203.0.113.66")

    locked = sign_in(client, "tech", STAFF_PASSWORD, address="203.0.113.66")
    elsewhere = sign_in(client, "tech", STAFF_PASSWORD, address="10.0.0.5")

    assert locked.status_code == 429
    assert elsewhere.status_code == 302
    assert client.get("/technician/").status_code == 200


def test_too_many_failures_from_one_address_pause_its_sign_ins(settings, client, technician):
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 3
    for username in ["alice", "bob", "carol"]:
        assert sign_in(client, username, "guess", address="203.0.113.66").status_code == 200

    refused = sign_in(client, "tech", STAFF_PASSWORD, address="203.0.113.66")
    elsewhere = sign_in(client, "tech", STAFF_PASSWORD, address="10.0.0.5")

    assert refused.status_code == 429
    assert "Too many sign-ins from this network failed" in refused.content.decode()
    # Nothing was tried for the refused attempt: no audit row, no axes attempt.
    assert list(AuditEvent.objects.values_list("action", "actor_username")) == [
        ("login", "tech"),
        ("login_failed", "carol"),
        ("login_failed", "bob"),
        ("login_failed", "alice"),
    ]
    assert elsewhere.status_code == 302


def test_successful_sign_ins_do_not_count_against_the_address(settings, client, technician):
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 2
    for _ in range(3):
        assert sign_in(client, "tech", STAFF_PASSWORD).status_code == 302
        client.post("/logout/")

    assert sign_in(client, "tech", "wrong-password").status_code == 200
    assert sign_in(client, "tech", STAFF_PASSWORD).status_code == 302


def test_failed_sign_ins_from_one_address_write_a_capped_number_of_audit_rows(settings, client, db):
    settings.LOGIN_FAILURE_AUDIT_LIMIT = 3
    for number in range(6):
        sign_in(client, f"guess{number}", "guess", address="203.0.113.66")
    sign_in(client, "someone", "guess", address="10.0.0.5")

    rows = list(
        AuditEvent.objects.order_by("id").values_list("actor_username", "ip_address", "summary")
    )
    assert rows == [
        ("guess0", "203.0.113.66", ""),
        ("guess1", "203.0.113.66", ""),
        ("guess2", "203.0.113.66", ""),
        (
            "guess3",
            "203.0.113.66",
            "3 failed sign-ins from this address this hour: further failures from it are "
            "not recorded until the hour ends",
        ),
        ("someone", "10.0.0.5", ""),
    ]


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
    signed_in_seconds_ago(client_technician, 12 * 3600 + 1)

    response = client_technician.get("/technician/")

    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/technician/"  # and back after signing in
    assert client_technician.get("/technician/").status_code == 302


def test_a_session_younger_than_twelve_hours_goes_on(client_technician):
    signed_in_seconds_ago(client_technician, 11 * 3600)

    assert client_technician.get("/technician/").status_code == 200


def test_the_absolute_limit_holds_whatever_headers_a_request_carries(client_technician):
    signed_in_seconds_ago(client_technician, 12 * 3600 + 1)

    page = client_technician.get("/technician/", HTTP_AUTHORIZATION="Token made-up")

    assert page.status_code == 302
    assert page["Location"] == "/login/?next=/technician/"
    assert client_technician.get("/technician/").status_code == 302


def test_an_api_request_on_an_expired_session_is_answered_as_signed_out(client_technician):
    signed_in_seconds_ago(client_technician, 12 * 3600 + 1)

    response = client_technician.get("/api/v1/fills/", HTTP_AUTHORIZATION="Bearer whatever")

    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"
    assert client_technician.get("/technician/").status_code == 302


def test_a_token_request_is_not_ended_by_the_session_limit(api_technician):
    assert api_technician.get("/api/v1/fills/").status_code == 200


@pytest.mark.parametrize("password", ["short", "password123", "1234567890123"])
def test_weak_passwords_are_refused(db, password):
    from pharmacy.services import StaffError, create_staff  # noqa: PLC0415

    with pytest.raises(StaffError):
        create_staff("newtech", role="technician", password=password)
