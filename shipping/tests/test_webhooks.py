"""POST /api/v1/shipping/events/{carrier}/: signed by HMAC-SHA256, kept once per event id,
never moving a package backwards; bad requests are refused with nothing written and
nothing told to a caller who could not sign."""

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from orders.tests.factories import another_staff
from pharmacy.models import Role
from shipping.carriers import LocalCarrier, hmac_hex
from shipping.models import (
    CarrierEvent,
    CarrierService,
    DeliveryException,
    Shipment,
    ShipmentEvent,
)
from shipping.services.shipments import hand_over_to_carrier
from shipping.tests.factories import labelled_shipment
from shipping.tests.test_carriers import recorded

pytestmark = pytest.mark.django_db

S = Shipment.Status
URL = "/api/v1/shipping/events/local/"
SECRET = "local-webhook-secret-for-the-tests-0123456789"
BAD_STATUS = "status must be one of in_transit, out_for_delivery, delivered, exception, returned."
# The carrier's times fall after the package was labelled and handed over (now), as they
# do for a real package: the shipment's events are listed in the carrier's time order.
# They stay within the day of clock skew the webhook allows (hour 14 is the latest used).
START = (timezone.now() + timedelta(hours=6)).replace(minute=0, second=0, microsecond=0)


def at(hour: int) -> datetime:
    """Hour ``hour`` of the carrier's day, in UTC."""
    return (START + timedelta(hours=hour)).astimezone(UTC)


def when(hour: int) -> str:
    """The same as the carrier writes it."""
    return at(hour).strftime("%Y-%m-%dT%H:%M:%SZ")


NO_OFFSET = "occurred_at must be an ISO 8601 time with its UTC offset."
BAD_SIGNATURE = {
    "error": "invalid_signature",
    "detail": "The X-Signature header is missing or does not match the body.",
}


@pytest.fixture(autouse=True)
def secrets(settings):
    settings.LOCAL_CARRIER_WEBHOOK_SECRET = SECRET
    settings.EASYPOST_WEBHOOK_SECRET = ""


@pytest.fixture
def shipment():
    """A package handed to the local carrier."""
    shipment = labelled_shipment()
    hand_over_to_carrier([shipment], by=another_staff(Role.TECHNICIAN))
    shipment.refresh_from_db()
    return shipment


def event(shipment, status="in_transit", event_id="evt-1", at: str | None = None, **more):
    return {
        "event_id": event_id,
        "tracking_number": shipment.tracking_number,
        "status": status,
        "occurred_at": at or when(0),
        "detail": more.pop("detail", "Scanned at the depot"),
        **more,
    }


def post(body, *, signature: str | None = "sign", url: str = URL, secret: str = SECRET):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {}
    if signature == "sign":
        headers["HTTP_X_SIGNATURE"] = hmac_hex(secret, raw)
    elif signature is not None:
        headers["HTTP_X_SIGNATURE"] = signature
    return Client().post(url, data=raw, content_type="application/json", **headers)


def written() -> tuple[int, int, int]:
    return (
        CarrierEvent.objects.count(),
        ShipmentEvent.objects.count(),
        DeliveryException.objects.count(),
    )


def test_a_signed_event_moves_the_package_with_the_carriers_time(shipment):
    body = event(shipment)

    response = post(body)

    assert response.status_code == 200
    assert response.json() == {"event_id": "evt-1", "outcome": "applied", "replay": False}
    shipment.refresh_from_db()
    assert shipment.status == S.IN_TRANSIT
    kept = CarrierEvent.objects.get()
    assert (kept.carrier, kept.tracking_number, kept.shipment, kept.outcome, kept.status) == (
        "local",
        shipment.tracking_number,
        shipment,
        "applied",
        "in_transit",
    )
    assert json.loads(kept.body) == body
    last = shipment.events.last()
    assert (last.from_status, last.to_status, last.carrier_event, last.actor) == (
        S.HANDED_TO_CARRIER,
        S.IN_TRANSIT,
        kept,
        None,
    )
    assert last.occurred_at.isoformat() == at(0).isoformat()
    assert last.detail == "Local delivery: Scanned at the depot"


def test_a_replay_answers_200_and_changes_nothing(shipment):
    post(event(shipment))
    before = written()

    again = post(event(shipment, detail="the same event, sent again"))

    assert again.status_code == 200
    assert again.json() == {"event_id": "evt-1", "outcome": "applied", "replay": True}
    assert written() == before


def test_a_late_event_never_moves_a_package_backwards(shipment):
    assert post(event(shipment, "delivered", "evt-2", when(14))).json()["outcome"] == "applied"

    late = post(event(shipment, "in_transit", "evt-1", when(0)))

    assert (late.status_code, late.json()["outcome"]) == (200, "stale")
    shipment.refresh_from_db()
    assert (shipment.status, shipment.delivered_at.isoformat()) == (
        S.DELIVERED,
        at(14).isoformat(),
    )
    assert CarrierEvent.objects.count() == 2  # the late event is kept
    assert list(shipment.events.values_list("to_status", flat=True)) == [
        S.LABELLED,
        S.HANDED_TO_CARRIER,
        S.DELIVERED,
    ]


def test_an_older_event_after_an_exception_is_stale_a_newer_one_applies(shipment):
    post(event(shipment, "exception", "evt-3", when(3), detail="Damaged"))

    older = post(event(shipment, "in_transit", "evt-2", when(1)))
    newer = post(event(shipment, "in_transit", "evt-4", when(9)))

    assert (older.json()["outcome"], newer.json()["outcome"]) == ("stale", "applied")
    shipment.refresh_from_db()
    assert shipment.status == S.IN_TRANSIT


def test_out_for_delivery_keeps_a_package_in_transit(shipment):
    post(event(shipment))

    response = post(event(shipment, "out_for_delivery", "evt-2", when(2)))

    assert response.json()["outcome"] == "no_change"
    shipment.refresh_from_db()
    assert (shipment.status, shipment.events.count()) == (S.IN_TRANSIT, 3)


def test_an_exception_event_opens_a_delivery_exception(shipment):
    response = post(event(shipment, "exception", detail="Box crushed in transit"))

    assert response.json()["outcome"] == "applied"
    shipment.refresh_from_db()
    assert shipment.status == S.EXCEPTION
    (problem,) = DeliveryException.objects.all()
    assert (problem.shipment, problem.kind, problem.description, problem.is_open) == (
        shipment,
        DeliveryException.Kind.OTHER,
        "Local delivery reported: Box crushed in transit",
        True,
    )
    assert problem.carrier_event == CarrierEvent.objects.get()
    # A second exception event moves nothing and opens nothing more.
    post(event(shipment, "exception", "evt-2", when(1)))
    assert DeliveryException.objects.count() == 1


def test_a_returned_event_returns_the_package_with_a_record_to_resolve(shipment):
    post(event(shipment, "returned", detail="Refused by recipient"))

    shipment.refresh_from_db()
    assert shipment.status == S.RETURNED
    assert DeliveryException.objects.get().kind == DeliveryException.Kind.RETURNED


def test_an_event_before_the_hand_over_moves_nothing():
    labelled = labelled_shipment()

    response = post(event(labelled))

    assert response.json()["outcome"] == "not_handed_over"
    labelled.refresh_from_db()
    assert (labelled.status, labelled.events.count()) == (S.LABELLED, 1)


# --------------------------------------------------------------------------- refused


@pytest.mark.parametrize("signature", [None, "", "0" * 64, "not-hex", "sign-with-another-secret"])
def test_unsigned_and_wrongly_signed_events_get_the_same_401(shipment, signature):
    before = written()
    body = event(shipment)
    if signature == "sign-with-another-secret":
        signature = hmac_hex("another-secret", json.dumps(body).encode())

    response = post(body, signature=signature)

    assert (response.status_code, response.json()) == (401, BAD_SIGNATURE)
    assert written() == before
    shipment.refresh_from_db()
    assert shipment.status == S.HANDED_TO_CARRIER


def test_a_body_changed_after_signing_is_refused(shipment):
    raw = json.dumps(event(shipment)).encode()
    signature = hmac_hex(SECRET, raw)
    tampered = raw.replace(b"in_transit", b"delivered")

    response = post(tampered, signature=signature)

    assert (response.status_code, response.json()) == (401, BAD_SIGNATURE)
    assert written() == (0, 2, 0)


def test_nothing_about_tracking_numbers_is_told_before_the_signature_passes(shipment):
    unknown = event(shipment) | {"tracking_number": LocalCarrier.tracking_number_for(999999)}

    assert post(unknown, signature=None).json() == BAD_SIGNATURE
    assert post(b"not json", signature="bad").json() == BAD_SIGNATURE


@pytest.mark.parametrize(
    ("body", "code", "detail"),
    [
        (b"{not json", "malformed_json", "The body is not JSON."),
        (b"\xff\xfe", "malformed_json", "The body is not JSON."),
        (b"[1, 2]", "malformed_event", "The body must be a JSON object."),
        ({"status": "in_transit"}, "malformed_event", "event_id must be a non-empty string."),
        ("status:teleported", "malformed_event", BAD_STATUS),
        ("occurred_at:yesterday", "malformed_event", NO_OFFSET),
        ("occurred_at:2026-12-01T09:00:00", "malformed_event", NO_OFFSET),
        ("event_id:", "malformed_event", "event_id must be a non-empty string."),
        ("event_id:" + "x" * 101, "malformed_event", "event_id is longer than 100 characters."),
    ],
)  # fmt: skip
def test_a_malformed_event_is_a_400_with_nothing_written(shipment, body, code, detail):
    if isinstance(body, str):
        key, value = body.split(":", 1)
        body = event(shipment) | {key: value}
    before = written()

    response = post(body)

    assert (response.status_code, response.json()) == (400, {"error": code, "detail": detail})
    assert written() == before


def test_an_unknown_tracking_number_is_404_after_the_signature(shipment):
    unknown = event(shipment) | {"tracking_number": LocalCarrier.tracking_number_for(999999)}

    response = post(unknown)

    assert (response.status_code, response.json()) == (
        404,
        {
            "error": "unknown_tracking_number",
            "detail": "No package of ours has this tracking number.",
        },
    )
    assert written() == (0, 2, 0)


def test_a_tracking_number_with_a_wrong_check_digit_is_422(shipment):
    number = shipment.tracking_number
    typo = number[:-1] + str((int(number[-1]) + 1) % 10)

    response = post(event(shipment) | {"tracking_number": typo})

    assert (response.status_code, response.json()["error"]) == (422, "invalid_tracking_number")
    assert written() == (0, 2, 0)


def test_an_unknown_carrier_is_404(shipment):
    response = post(event(shipment), url="/api/v1/shipping/events/pigeon/")

    assert (response.status_code, response.json()["error"]) == (404, "unknown_carrier")


def test_a_carrier_without_a_secret_accepts_nothing(shipment):
    body = recorded("event_tracker_updated.json")

    response = post(body, url="/api/v1/shipping/events/easypost/", secret="")

    assert (response.status_code, response.json()) == (401, BAD_SIGNATURE)


def test_a_huge_body_is_refused_before_it_is_read(shipment):
    response = post(b"{" + b" " * 70_000 + b"}")

    assert response.status_code == 413
    assert written() == (0, 2, 0)


def test_only_post_is_served():
    assert Client().get(URL).status_code == 405


def test_an_easypost_event_signed_its_own_way_moves_the_package(settings):
    settings.EASYPOST_WEBHOOK_SECRET = "easypost-secret"
    shipment = labelled_shipment(
        service=CarrierService.objects.get(carrier="easypost", code="USPS:Priority"),
        tracking_number="9405500105442285876350",
    )
    hand_over_to_carrier([shipment], by=another_staff(Role.TECHNICIAN))
    raw = json.dumps(recorded("event_tracker_updated.json")).encode()

    response = Client().post(
        "/api/v1/shipping/events/easypost/",
        data=raw,
        content_type="application/json",
        HTTP_X_HMAC_SIGNATURE="hmac-sha256-hex=" + hmac_hex("easypost-secret", raw),
    )

    assert response.json() == {
        "event_id": "evt_7b3c21a4e5f6",
        "outcome": "applied",
        "replay": False,
    }
    shipment.refresh_from_db()
    assert shipment.status == S.IN_TRANSIT


@pytest.mark.django_db(transaction=True)
def test_the_same_event_delivered_twice_at_once_is_kept_once():
    shipment = labelled_shipment()
    hand_over_to_carrier([shipment], by=another_staff(Role.TECHNICIAN))
    shipment.refresh_from_db()
    raw = json.dumps(event(shipment)).encode()
    barrier = threading.Barrier(2)
    answers = []

    def deliver():
        try:
            barrier.wait()
            answers.append(post(raw).json())
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(answer["replay"] for answer in answers) == [False, True]
    assert CarrierEvent.objects.count() == 1
    assert shipment.events.filter(to_status=S.IN_TRANSIT).count() == 1


@pytest.mark.parametrize("field", ["event_id", "detail"])
def test_a_signed_event_with_a_nul_character_is_a_400_with_nothing_written(shipment, field):
    before = written()

    response = post(event(shipment) | {field: "evt\u0000-1"})

    assert (response.status_code, response.json()) == (
        400,
        {
            "error": "malformed_event",
            "detail": "The event contains a NUL character (\\u0000); nothing was kept.",
        },
    )
    assert written() == before
    shipment.refresh_from_db()
    assert shipment.status == S.HANDED_TO_CARRIER


def test_an_event_id_reused_for_another_tracking_number_is_refused(shipment):
    other = labelled_shipment()
    hand_over_to_carrier([other], by=another_staff(Role.TECHNICIAN))
    post(event(shipment))
    before = written()

    response = post(event(other))

    assert (response.status_code, response.json()) == (
        409,
        {
            "error": "event_id_reused",
            "detail": "Event 'evt-1' was received before for another tracking number, status "
            "or time; nothing was changed. Send each event under an id of its own.",
        },
    )
    assert written() == before
    other.refresh_from_db()
    assert other.status == S.HANDED_TO_CARRIER


def test_an_event_id_reused_for_another_status_is_refused_too(shipment):
    post(event(shipment))

    response = post(event(shipment, "delivered"))

    assert (response.status_code, response.json()["error"]) == (409, "event_id_reused")
    shipment.refresh_from_db()
    assert shipment.status == S.IN_TRANSIT


@pytest.mark.parametrize(
    "occurred_at",
    [
        (timezone.now() + timedelta(hours=25)).isoformat(),
        "2099-01-01T09:00:00Z",
        "9999-12-31T23:00:00-12:00",  # not even a time in UTC
    ],
)
def test_an_event_dated_more_than_a_day_ahead_is_a_400(shipment, occurred_at):
    before = written()

    response = post(event(shipment, at=occurred_at))

    assert (response.status_code, response.json()["error"]) == (400, "malformed_event")
    assert "occurred_at" in response.json()["detail"]
    assert written() == before


def test_an_event_a_few_hours_ahead_is_kept_a_carrier_clock_may_run_fast(shipment):
    response = post(event(shipment, at=(timezone.now() + timedelta(hours=23)).isoformat()))

    assert (response.status_code, response.json()["outcome"]) == (200, "applied")


def test_a_body_over_64_kib_is_a_413_before_it_is_read(shipment):
    body = json.dumps(event(shipment) | {"detail": "x" * 70_000}).encode()

    response = post(body)

    assert (response.status_code, response.json()["error"]) == (413, "too_large")
    assert written() == (0, 2, 0)
