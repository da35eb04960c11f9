"""The client's address comes from our own proxies only: the audit trail, the sign-in
lockout and the API throttles all read it the same way (lib.client_ip)."""

import pytest
from axes.models import AccessAttempt
from django.test import RequestFactory

from lib.client_ip import client_ip
from pharmacy.models import AuditEvent
from pharmacy.tests.factories import PatientFactory


def _request(remote: str = "10.0.0.9", forwarded: str | None = None):
    headers = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **headers)


def test_without_trusted_proxies_the_forwarded_header_is_ignored(settings):
    settings.TRUSTED_PROXY_COUNT = 0

    assert client_ip(_request("10.0.0.9", "6.6.6.6")) == "10.0.0.9"


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        # The client wrote "6.6.6.6" itself; Caddy appended the address it saw.
        (1, "6.6.6.6, 203.0.113.7", "203.0.113.7"),
        (1, "203.0.113.7", "203.0.113.7"),
        # A CDN in front of Caddy: the client is the second entry from the right.
        (2, "6.6.6.6, 203.0.113.7, 198.51.100.2", "203.0.113.7"),
        # Fewer entries than proxies: the leftmost was still written by one of ours.
        (2, "203.0.113.7", "203.0.113.7"),
        (1, "2001:db8::1", "2001:db8::1"),
    ],
)
def test_behind_trusted_proxies_the_client_is_counted_from_the_right(
    settings, proxies, forwarded, expected
):
    settings.TRUSTED_PROXY_COUNT = proxies

    assert client_ip(_request("10.0.0.9", forwarded)) == expected


def test_a_request_that_did_not_pass_the_proxies_is_its_remote_address(settings):
    settings.TRUSTED_PROXY_COUNT = 1

    assert client_ip(_request("10.0.0.9")) == "10.0.0.9"
    assert client_ip(_request("10.0.0.9", "not-an-address")) == "10.0.0.9"


def test_the_audit_trail_records_the_address_our_proxy_saw(settings, client_technician):
    settings.TRUSTED_PROXY_COUNT = 1
    patient = PatientFactory()

    response = client_technician.get(
        f"/patients/{patient.pk}/",
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7",
    )

    assert response.status_code == 200
    assert AuditEvent.objects.get().ip_address == "203.0.113.7"


def test_the_audit_trail_ignores_a_forwarded_header_without_a_trusted_proxy(
    client_technician,
):
    patient = PatientFactory()

    client_technician.get(
        f"/patients/{patient.pk}/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6"
    )

    assert AuditEvent.objects.get().ip_address == "10.0.0.2"


def test_the_lockout_counts_the_address_our_proxy_saw(settings, client, pharmacist):
    settings.TRUSTED_PROXY_COUNT = 1

    client.post(
        "/login/",
        {"username": "pharm", "password": "wrong-password"},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7",
    )

    assert list(AccessAttempt.objects.values_list("username", "ip_address")) == [
        ("pharm", "203.0.113.7")
    ]
