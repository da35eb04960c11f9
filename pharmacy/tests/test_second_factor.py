"""The second sign-in factor (issue 12): pharmacists and managers pass it (a code from their
authenticator app, or a recovery code) before any page but the sign-in's own; setting the
app up; the throttle after wrong codes; a manager's reset."""

import time
from binascii import unhexlify

import pytest
from django.test import Client
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from pharmacy.models import AuditEvent, Role
from pharmacy.services import (
    SecondFactorError,
    StaffError,
    enroll_authenticator,
    new_authenticator_key,
    reset_second_factor,
    verify_second_factor,
)
from pharmacy.tests.factories import STAFF_PASSWORD, make_staff
from pharmacy.tests.second_factor import (
    code_at,
    current_code,
    give_authenticator,
    signed_in_client,
)
from pharmacy.views import SETUP_KEY_SESSION_KEY

PV1_QUEUE = "/fills/queue/pv1/"


def password_only(user) -> Client:
    """A client past the password step only, as the sign-in form leaves it."""
    client = Client()
    assert client.post("/login/", {"username": user.username, "password": STAFF_PASSWORD})[
        "Location"
    ]
    return client


def current_step() -> int:
    from django_otp.oath import TOTP  # noqa: PLC0415

    return TOTP(b"").t()


# --------------------------------------------------------------------------- the rule


def test_until_the_code_a_pharmacist_reaches_no_page_and_no_api(pharmacist):
    client = password_only(pharmacist)

    page = client.get(PV1_QUEUE)
    posted = client.post("/patients/new/", {"first_name": "X"})
    api = client.get("/api/v1/fills/?status=pv1")
    htmx = client.get(PV1_QUEUE + "rows/", HTTP_HX_REQUEST="true")

    assert (page.status_code, page["Location"]) == (
        302,
        "/login/code/?next=%2Ffills%2Fqueue%2Fpv1%2F",
    )
    assert (posted.status_code, posted["Location"]) == (302, "/login/code/")
    assert api.status_code == 403
    assert api.json()["error"] == "second_factor_required"
    assert (htmx.status_code, htmx["HX-Redirect"]) == (
        204,
        "/login/code/?next=%2Ffills%2Fqueue%2Fpv1%2Frows%2F",
    )
    assert client.get("/health/").status_code in (200, 503)
    code_page = client.get("/login/code/")
    assert (code_page.status_code, code_page.context["navigation"]) == (200, {})


def test_after_the_code_the_pharmacist_reaches_pv1(pharmacist):
    client = password_only(pharmacist)
    password_session = client.session.session_key

    response = client.post(
        "/login/code/", {"code": current_code(give_authenticator(pharmacist)), "next": PV1_QUEUE}
    )

    assert (response.status_code, response["Location"]) == (302, PV1_QUEUE)
    assert client.get(PV1_QUEUE).status_code == 200
    assert client.session.session_key != password_session


def test_a_manager_must_pass_it_before_any_management_page(manager):
    client = password_only(manager)

    assert client.get("/manager/access/")["Location"].startswith("/login/code/")
    assert client.get("/audit/")["Location"].startswith("/login/code/")


def test_a_technician_without_an_app_is_not_asked(technician):
    client = password_only(technician)

    assert client.get("/technician/").status_code == 200


def test_a_technician_who_set_up_an_app_is_asked_for_its_code(technician):
    give_authenticator(technician)
    client = password_only(technician)

    assert client.get("/technician/")["Location"] == "/login/code/?next=%2Ftechnician%2F"


def test_a_superuser_passes_it_too(admin_user):
    client = Client()
    client.force_login(admin_user)

    assert client.get("/admin/")["Location"].startswith("/login/code/")
    assert signed_in_client(admin_user).get("/admin/").status_code == 200


def test_the_next_address_must_be_on_this_site(pharmacist):
    client = password_only(pharmacist)

    response = client.post(
        "/login/code/",
        {"code": current_code(give_authenticator(pharmacist)), "next": "https://evil.example/"},
    )

    assert response["Location"] == "/"


# --------------------------------------------------------------------------- codes


def test_a_wrong_code_is_refused_plainly_and_audited(pharmacist):
    client = password_only(pharmacist)
    device = give_authenticator(pharmacist)
    wrong = f"{(int(current_code(device)) + 1) % 1_000_000:06d}"

    response = client.post("/login/code/", {"code": wrong})

    assert response.status_code == 200
    assert "That code is not right." in response.content.decode()
    assert client.get(PV1_QUEUE).status_code == 302
    assert AuditEvent.objects.filter(
        action="login_failed", actor=pharmacist, summary="Second sign-in step: code refused"
    ).exists()


def test_wrong_codes_in_a_row_make_the_person_wait(pharmacist):
    device = give_authenticator(pharmacist)
    right = current_code(device)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    with pytest.raises(SecondFactorError, match="That code is not right"):
        verify_second_factor(pharmacist, code=wrong)

    with pytest.raises(SecondFactorError, match="Too many wrong codes in a row. Wait 1 second "):
        verify_second_factor(pharmacist, code=right)

    device.refresh_from_db()
    assert device.throttling_failure_count == 1
    time.sleep(1.1)  # django-otp's throttle: 1 second after one wrong code
    assert verify_second_factor(pharmacist, code=right) == device


def test_a_code_passes_once(pharmacist):
    device = give_authenticator(pharmacist)
    code = current_code(device)
    verify_second_factor(pharmacist, code=code)

    with pytest.raises(SecondFactorError, match="That code is not right"):
        verify_second_factor(pharmacist, code=code)


def test_a_recovery_code_works_once(db):
    pharmacist = make_staff("newpharm", Role.PHARMACIST)
    key = new_authenticator_key()
    _, codes = enroll_authenticator(
        pharmacist, key=key, code=code_at(unhexlify(key), current_step())
    )
    first = password_only(pharmacist)
    second = password_only(pharmacist)

    used = first.post("/login/code/", {"code": codes[0].upper()}, follow=True)
    again = second.post("/login/code/", {"code": codes[0]})

    assert "Recovery code accepted; 9 left." in used.content.decode()
    assert first.get(PV1_QUEUE).status_code == 200
    assert "That is not one of your recovery codes, or it was used already." in (
        again.content.decode()
    )
    assert second.get(PV1_QUEUE).status_code == 302
    assert StaticToken.objects.filter(device__user=pharmacist).count() == 9


# --------------------------------------------------------------------------- setting it up


def test_a_pharmacist_without_an_app_sets_one_up_then_sees_the_recovery_codes_once(db):
    pharmacist = make_staff("newpharm", Role.PHARMACIST)
    client = password_only(pharmacist)

    held = client.get(PV1_QUEUE)
    sent_on = client.get(held["Location"])
    setup = client.get(sent_on["Location"])
    key = client.session[SETUP_KEY_SESSION_KEY]
    right = code_at(unhexlify(key), current_step())
    wrong = client.post(sent_on["Location"], {"code": f"{(int(right) + 1) % 1_000_000:06d}"})
    nothing_written = (TOTPDevice.objects.count(), StaticDevice.objects.count())
    confirmed = client.post(sent_on["Location"], {"code": code_at(unhexlify(key), current_step())})
    shown = client.get(confirmed["Location"])
    shown_again = client.get(confirmed["Location"])

    assert sent_on["Location"] == "/login/authenticator/?next=%2Ffills%2Fqueue%2Fpv1%2F"
    assert setup.status_code == 200
    assert "<svg" in setup.content.decode()
    assert setup.context["secret"].replace(" ", "") in setup.context["address"]
    assert "That code does not match." in wrong.content.decode()
    assert nothing_written == (0, 0)
    assert confirmed["Location"] == "/login/recovery-codes/?next=%2Ffills%2Fqueue%2Fpv1%2F"
    assert len(shown.context["codes"]) == 10
    assert all(code in shown.content.decode() for code in shown.context["codes"])
    assert shown_again.context["codes"] is None
    assert client.get(PV1_QUEUE).status_code == 200
    device = TOTPDevice.objects.get(user=pharmacist)
    assert (device.key, device.confirmed) == (key, True)
    assert StaticToken.objects.filter(device__user=pharmacist).count() == 10
    assert AuditEvent.objects.filter(
        action="create", actor=pharmacist, object_type="otp_totp.TOTPDevice"
    ).exists()


def test_opening_the_setup_page_writes_no_device(db):
    pharmacist = make_staff("newpharm", Role.PHARMACIST)
    client = password_only(pharmacist)

    client.get("/login/authenticator/")
    client.get("/login/authenticator/")

    assert TOTPDevice.objects.count() == 0


def test_a_password_alone_cannot_replace_someones_app(pharmacist):
    client = password_only(pharmacist)

    response = client.get("/login/authenticator/")
    key = new_authenticator_key()
    with pytest.raises(SecondFactorError, match="set up an authenticator app already"):
        enroll_authenticator(pharmacist, key=key, code=code_at(unhexlify(key), current_step()))

    assert response["Location"] == "/login/code/?next=%2F"
    assert TOTPDevice.objects.filter(user=pharmacist).count() == 1


# --------------------------------------------------------------------------- reset


def test_a_manager_resets_a_pharmacists_factor_and_they_set_it_up_again(
    client_manager, manager, pharmacist
):
    pharmacist_client = signed_in_client(pharmacist)
    assert pharmacist_client.get(PV1_QUEUE).status_code == 200

    response = client_manager.post(
        f"/manager/access/{pharmacist.pk}/reset-second-factor/", follow=True
    )

    assert "second factor was reset: they set up an authenticator app again" in (
        response.content.decode()
    )
    assert not TOTPDevice.objects.filter(user=pharmacist).exists()
    assert not StaticDevice.objects.filter(user=pharmacist).exists()
    audit = AuditEvent.objects.get(action="delete")
    assert (audit.actor, audit.object_type, audit.object_id) == (
        manager,
        "pharmacy.User",
        str(pharmacist.pk),
    )
    # Their session that passed with the deleted app is held again, and sent to set one up.
    held = pharmacist_client.get(PV1_QUEUE)
    assert held["Location"] == "/login/code/?next=%2Ffills%2Fqueue%2Fpv1%2F"
    assert pharmacist_client.get(held["Location"])["Location"] == (
        "/login/authenticator/?next=%2Ffills%2Fqueue%2Fpv1%2F"
    )


def test_only_a_manager_may_reset(pharmacist, technician):
    give_authenticator(technician)

    with pytest.raises(StaffError, match="Only a manager can reset"):
        reset_second_factor(technician, by=pharmacist)

    assert TOTPDevice.objects.filter(user=technician).exists()
    assert not AuditEvent.objects.exists()


def test_a_technician_whose_app_was_reset_goes_on_without_one(technician, manager):
    device = give_authenticator(technician)
    client = password_only(technician)
    assert client.get("/technician/").status_code == 302
    client.post("/login/code/", {"code": current_code(device)})
    reset_second_factor(technician, by=manager)

    held = client.get("/technician/")
    released = client.get(held["Location"])

    assert held["Location"] == "/login/code/?next=%2Ftechnician%2F"
    assert released["Location"] == "/technician/"
    assert client.get("/technician/").status_code == 200
