"""API throttles: callers without credentials per address, everyone else per user, and
the tighter scopes; a throttled request is a JSON 429 with Retry-After, and a cache
that cannot be reached throttles nothing."""

import pytest
from rest_framework.test import APIClient

from orders.models import Fill
from orders.tests.factories import PrescriptionFactory

WEBHOOK = "/api/v1/shipping/events/local/"


@pytest.fixture
def throttle_rates(settings):
    """``throttle_rates(user="3/min")`` sets some rates for the test, the others kept."""

    def set_rates(**rates: str) -> None:
        framework = settings.REST_FRAMEWORK
        settings.REST_FRAMEWORK = {
            **framework,
            "DEFAULT_THROTTLE_RATES": {**framework["DEFAULT_THROTTLE_RATES"], **rates},
        }

    return set_rates


def _assert_throttled(response, *, window_seconds: int = 60):
    assert response.status_code == 429
    body = response.json()
    assert body["error"] == "throttled"
    seconds = int(response["Retry-After"])
    assert 1 <= seconds <= window_seconds
    unit = "second" if seconds == 1 else "seconds"
    assert body["detail"] == f"Request was throttled. Expected available in {seconds} {unit}."


def test_a_user_past_their_rate_is_told_when_to_come_back(
    throttle_rates, api_technician, api_pharmacist
):
    throttle_rates(user="3/min")

    answers = [api_technician.get("/api/v1/fills/").status_code for _ in range(3)]
    throttled = api_technician.get("/api/v1/fills/")

    assert answers == [200, 200, 200]
    _assert_throttled(throttled)
    # Per user: another user's requests are their own.
    assert api_pharmacist.get("/api/v1/fills/").status_code == 200


def test_callers_without_credentials_are_throttled_per_address(throttle_rates, db):
    throttle_rates(anon="2/min")
    client = APIClient()

    answers = [
        client.post(WEBHOOK, b"{}", content_type="application/json", REMOTE_ADDR="203.0.113.9")
        for _ in range(3)
    ]
    elsewhere = client.post(WEBHOOK, b"{}", content_type="application/json", REMOTE_ADDR="10.0.0.7")

    assert [answer.status_code for answer in answers[:2]] == [401, 401]
    _assert_throttled(answers[2])
    assert elsewhere.status_code == 401


def test_refill_requests_have_their_own_tighter_rate(throttle_rates, api_technician):
    throttle_rates(refill_request="2/hour")
    prescription = PrescriptionFactory()
    body = {"rx_number": prescription.rx_number, "date_of_birth": "1900-01-01"}

    answers = [
        api_technician.post("/api/v1/refill-requests/", body, format="json") for _ in range(3)
    ]

    assert [answer.status_code for answer in answers[:2]] == [404, 404]
    _assert_throttled(answers[2], window_seconds=3600)
    assert Fill.objects.count() == 0
    # The scope is the refill endpoint's alone.
    assert api_technician.get("/api/v1/fills/").status_code == 200


def test_every_rate_comes_from_the_environment(settings):
    assert settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] == {
        "anon": "60/min",
        "user": "2000/min",
        "refill_request": "600/hour",
        "identity_check": "60/hour",
    }


def test_without_the_cache_nothing_is_throttled(settings, throttle_rates, api_technician):
    throttle_rates(user="1/min")
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "unix:///nonexistent/redis.sock",
        }
    }

    answers = [api_technician.get("/api/v1/fills/").status_code for _ in range(3)]

    assert answers == [200, 200, 200]
