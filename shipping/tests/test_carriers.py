"""Carriers: the built-in local carrier's tracking numbers (check digit, no network), and
the EasyPost adapter through the official client against EasyPost's recorded responses,
served by a local HTTP server (the only thing standing in for the outside world): the
label bought once however often its purchase is delivered, a carrier's failure tried
again by the outbox, and a purchase that failed for good asked for again."""

import json
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from orders.tests.factories import another_staff
from outbox.models import OutboxMessage
from outbox.services import deliver_side_effect
from pharmacy.models import Role
from shipping.carriers import (
    CarrierError,
    EasyPostCarrier,
    LocalCarrier,
    carrier_for,
    configured_carriers,
    hmac_hex,
    luhn_check_digit,
)
from shipping.models import Carrier, CarrierService, Shipment
from shipping.services.shipments import (
    ShippingError,
    ensure_shipments_for_ready_orders,
    label_purchase_problem,
    pack_shipment,
    retry_label_purchase,
)
from shipping.tests.factories import deliver_side_effects, ready_order, side_effects

RECORDED = Path(__file__).parent / "easypost"


def recorded(name: str) -> dict:
    return json.loads((RECORDED / name).read_text())


# --------------------------------------------------------------------------- local carrier


def test_the_luhn_check_digit():
    assert luhn_check_digit("7992739871") == "3"  # the textbook example
    assert luhn_check_digit("00000000000") == "0"


def test_local_tracking_numbers_carry_a_check_digit_and_are_the_same_on_a_retry():
    number = LocalCarrier.tracking_number_for(1234)

    assert number == "LCL00000001234" + luhn_check_digit("00000001234")
    assert len(number) == 15
    assert LocalCarrier().is_tracking_number(number)
    assert LocalCarrier.tracking_number_for(1234) == number


@pytest.mark.parametrize(
    "text",
    [
        "",
        "LCL0000000123",  # too short
        "LCL000000012345",  # too long... by one digit, the check digit wrong
        "XYZ000000012344",
        "lcl00000001234x",
        "9405500105442285876350",
    ],
)
def test_the_validator_refuses_what_is_no_local_tracking_number(text):
    assert not LocalCarrier().is_tracking_number(text)


def test_a_single_mistyped_digit_is_caught():
    number = LocalCarrier.tracking_number_for(987654)
    body = number[3:]
    for position in range(len(body)):
        wrong = str((int(body[position]) + 1) % 10)
        typo = "LCL" + body[:position] + wrong + body[position + 1 :]
        assert not LocalCarrier().is_tracking_number(typo), typo


def test_without_credentials_only_the_built_in_carrier_is_offered(settings):
    settings.EASYPOST_API_KEY = ""

    assert [carrier.code for carrier in configured_carriers()] == [Carrier.LOCAL]
    settings.EASYPOST_API_KEY = "EZTK_test"
    assert [carrier.code for carrier in configured_carriers()] == [Carrier.LOCAL, Carrier.EASYPOST]
    with pytest.raises(KeyError):
        carrier_for("pigeon")


def test_webhook_signatures_are_the_hex_hmac_of_the_body(settings):
    settings.LOCAL_CARRIER_WEBHOOK_SECRET = "s3cret-local"
    settings.EASYPOST_WEBHOOK_SECRET = "s3cret-easypost"
    body = b'{"x": 1}'

    assert LocalCarrier().verify_signature(body, hmac_hex("s3cret-local", body))
    assert LocalCarrier().verify_signature(body, hmac_hex("s3cret-local", body).upper())
    assert not LocalCarrier().verify_signature(body, hmac_hex("other", body))
    assert not LocalCarrier().verify_signature(body, "")
    easypost = EasyPostCarrier()
    assert easypost.verify_signature(body, hmac_hex("s3cret-easypost", body))
    # EasyPost's own header format.
    assert easypost.verify_signature(body, "hmac-sha256-hex=" + hmac_hex("s3cret-easypost", body))
    assert not easypost.verify_signature(body, "hmac-sha256-hex=" + hmac_hex("x", body))
    settings.EASYPOST_WEBHOOK_SECRET = ""
    assert not easypost.verify_signature(body, hmac_hex("", body))


def test_an_easypost_tracker_event_is_read_onto_our_statuses():
    body = json.dumps(recorded("event_tracker_updated.json")).encode()

    update = EasyPostCarrier().parse_event(body)

    assert (update.event_id, update.tracking_number, update.status, update.detail) == (
        "evt_7b3c21a4e5f6",
        "9405500105442285876350",
        "in_transit",
        "Arrived at USPS Regional Facility",
    )
    assert update.occurred_at.isoformat() == "2026-12-01T09:10:00+00:00"


def test_easypost_events_that_are_not_about_tracking_are_ignored():
    event = recorded("event_tracker_updated.json") | {"description": "batch.updated"}

    assert EasyPostCarrier().parse_event(json.dumps(event).encode()) is None


# --------------------------------------------------------------------------- EasyPost server


class RecordedEasyPost:
    """A local HTTP server answering as EasyPost did; keeps the requests it got. Like
    EasyPost, it remembers a shipment bought: reading it back shows the label. With
    ``hold_buy`` cleared, a purchase is recorded as bought and its answer held back until
    the event is set (the caller dies waiting)."""

    def __init__(self):
        self.requests: list[dict] = []
        self.answers = {
            "create": (201, recorded("shipment_created.json")),
            "buy": (200, recorded("shipment_bought.json")),
        }
        self.bought = False
        self.hold_buy = threading.Event()
        self.hold_buy.set()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, status: int, answer: dict) -> None:
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _record(self, kind: str, body: dict) -> None:
                server.requests.append(
                    {
                        "kind": kind,
                        "path": self.path,
                        "body": body,
                        "auth": self.headers.get("Authorization"),
                    }
                )

            def do_GET(self):
                self._record("retrieve", {})
                shipment = "shipment_bought.json" if server.bought else "shipment_created.json"
                self._answer(200, recorded(shipment))

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                kind = "buy" if self.path.endswith("/buy") else "create"
                self._record(kind, body)
                status, answer = server.answers[kind]
                if kind == "buy" and status == 200:
                    server.bought = True
                    server.hold_buy.wait(60)
                self._answer(status, answer)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v2"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def kinds(self) -> list[str]:
        return [request["kind"] for request in self.requests]

    def close(self):
        self.hold_buy.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def easypost(settings):
    server = RecordedEasyPost()
    settings.EASYPOST_API_KEY = "EZTK_test_key"
    settings.EASYPOST_API_BASE = server.url
    yield server
    server.close()


@pytest.fixture
def easypost_only(db):
    """The local carrier's services off: packing must buy from EasyPost."""
    CarrierService.objects.filter(carrier=Carrier.LOCAL).update(is_active=False)


def shipment_with(order, code: str) -> Shipment:
    ensure_shipments_for_ready_orders()
    shipment = Shipment.objects.get(order=order)
    shipment.service = CarrierService.objects.get(carrier=Carrier.EASYPOST, code=code)
    shipment.carrier = Carrier.EASYPOST
    shipment.weight_oz = Decimal("12.5")
    return shipment


@pytest.mark.django_db
def test_easypost_buys_the_rate_of_the_chosen_service(easypost):
    shipment = shipment_with(ready_order(controlled=True), "USPS:Priority")
    shipment.signature_required = True
    shipment.is_controlled = True

    remembered = []

    label = EasyPostCarrier().buy_label(shipment, remember=remembered.append)

    assert (label.tracking_number, label.carrier_shipment_id) == (
        "9405500105442285876350",
        "shp_5a1e0c7d2b8f4e9aa0c3d6e1f2a3b4c5",
    )
    assert remembered == ["shp_5a1e0c7d2b8f4e9aa0c3d6e1f2a3b4c5"]  # before the purchase
    assert label.label_url.endswith("label.pdf")
    create, buy = easypost.requests
    assert create["auth"] == "Bearer EZTK_test_key"
    sent = create["body"]["shipment"]
    assert sent["reference"] == shipment.package_code
    assert sent["parcel"] == {"weight": 12.5}
    assert sent["options"]["delivery_confirmation"] == "ADULT_SIGNATURE"
    assert (sent["to_address"]["zip"], sent["from_address"]["street1"]) == (
        shipment.ship_to_postal_code,
        "1200 Commerce Drive",
    )
    assert buy["path"] == "/v2/shipments/shp_5a1e0c7d2b8f4e9aa0c3d6e1f2a3b4c5/buy"
    assert buy["body"] == {"rate": {"id": "rate_usps_priority_02"}}


@pytest.mark.django_db
def test_no_rate_for_the_service_buys_nothing(easypost):
    shipment = shipment_with(ready_order(), "FedEx:FEDEX_2_DAY")

    remembered = []

    with pytest.raises(CarrierError) as refused:
        EasyPostCarrier().buy_label(shipment, remember=remembered.append)

    assert refused.value.code == "no_rate"
    assert easypost.kinds() == ["create"]
    assert remembered == []


@pytest.mark.django_db
def test_an_easypost_refusal_is_a_carrier_error(easypost):
    easypost.answers["create"] = (402, recorded("error_payment.json"))
    shipment = shipment_with(ready_order(), "USPS:Priority")

    with pytest.raises(CarrierError) as refused:
        EasyPostCarrier().buy_label(shipment, remember=pytest.fail)

    assert refused.value.code == "carrier_refused"
    assert "Insufficient funds" in refused.value.detail


@pytest.mark.django_db
def test_a_purchase_repeated_after_easypost_sold_the_label_reads_it_back(easypost):
    # The worker died after EasyPost answered the purchase, before our row was updated;
    # the EasyPost shipment's id was kept before buying.
    easypost.bought = True
    shipment = shipment_with(ready_order(), "USPS:Priority")
    shipment.carrier_shipment_id = "shp_5a1e0c7d2b8f4e9aa0c3d6e1f2a3b4c5"

    label = EasyPostCarrier().buy_label(shipment, remember=pytest.fail)

    assert label.tracking_number == "9405500105442285876350"
    assert easypost.kinds() == ["retrieve"]  # nothing made or bought again
    assert easypost.requests[0]["path"] == "/v2/shipments/shp_5a1e0c7d2b8f4e9aa0c3d6e1f2a3b4c5"


@pytest.mark.django_db
def test_a_purchase_repeated_before_easypost_sold_the_label_buys_the_kept_shipment(easypost):
    shipment = shipment_with(ready_order(), "USPS:Priority")
    shipment.carrier_shipment_id = "shp_5a1e0c7d2b8f4e9aa0c3d6e1f2a3b4c5"

    label = EasyPostCarrier().buy_label(shipment, remember=pytest.fail)

    assert label.tracking_number == "9405500105442285876350"
    assert easypost.kinds() == ["retrieve", "buy"]
    assert easypost.requests[1]["body"] == {"rate": {"id": "rate_usps_priority_02"}}


def packed_for_easypost(order, packer) -> Shipment:
    ensure_shipments_for_ready_orders()
    shipment = Shipment.objects.get(order=order)
    codes = list(order.fills.values_list("label_code", flat=True))
    return pack_shipment(shipment, by=packer, scans=codes, weight_oz="12.5", entry="scanned")


@pytest.mark.django_db
def test_packing_queues_the_label_and_the_worker_buys_it_from_easypost(easypost, easypost_only):
    packed = packed_for_easypost(ready_order(), another_staff(Role.TECHNICIAN))
    assert (packed.status, packed.carrier, packed.service.code) == (
        Shipment.Status.PACKED,
        Carrier.EASYPOST,
        "UPS:Ground",  # room temperature: the slowest EasyPost service
    )
    assert easypost.requests == []  # nothing bought inside the packing

    [purchase] = side_effects("shipping.buy_label")
    assert deliver_side_effect(purchase.pk) is True

    packed.refresh_from_db()
    assert (packed.status, packed.tracking_number, packed.carrier_shipment_id) == (
        Shipment.Status.LABELLED,
        "9405500105442285876350",
        "shp_5a1e0c7d2b8f4e9aa0c3d6e1f2a3b4c5",
    )
    assert easypost.kinds() == ["create", "buy"]
    assert easypost.requests[-1]["body"] == {"rate": {"id": "rate_ups_ground_04"}}


@pytest.mark.django_db
def test_a_carrier_failure_leaves_the_package_packed_and_the_outbox_tries_again(
    easypost, easypost_only
):
    packer = another_staff(Role.TECHNICIAN)
    easypost.answers["create"] = (402, recorded("error_payment.json"))
    shipment = packed_for_easypost(ready_order(), packer)
    [purchase] = side_effects("shipping.buy_label")

    assert deliver_side_effect(purchase.pk) is False

    purchase.refresh_from_db()
    assert (purchase.status, purchase.attempts) == ("pending", 1)
    assert purchase.last_error.startswith(
        f"shipping.services.shipments.helpers.ShippingError: Package {shipment.package_code} "
        "is packed, but EasyPost did not sell the label: EasyPost did not sell the label:"
    )
    assert "Insufficient funds" in purchase.last_error
    shipment.refresh_from_db()
    assert (shipment.status, shipment.tracking_number) == (Shipment.Status.PACKED, "")
    problem = label_purchase_problem(shipment)
    assert problem.startswith(f"Package {shipment.package_code} is packed, but EasyPost")
    assert problem.endswith("Trying again by itself (attempt 2 next).")

    # The account is topped up; the back-off has passed.
    easypost.answers["create"] = (201, recorded("shipment_created.json"))
    OutboxMessage.objects.filter(pk=purchase.pk).update(next_attempt_at=purchase.created_at)
    deliver_side_effects()

    shipment.refresh_from_db()
    assert (shipment.status, shipment.tracking_number) == (
        Shipment.Status.LABELLED,
        "9405500105442285876350",
    )
    assert [e.to_status for e in shipment.events.all()][-2:] == ["packed", "labelled"]
    assert label_purchase_problem(shipment) == ""


@pytest.mark.django_db
def test_a_refusal_for_good_waits_for_a_person_who_asks_for_the_label_again(
    easypost, easypost_only
):
    packer = another_staff(Role.TECHNICIAN)
    shipment = packed_for_easypost(ready_order(), packer)
    # The rules chose a service EasyPost offers no rate for on this package.
    Shipment.objects.filter(pk=shipment.pk).update(
        service=CarrierService.objects.get(carrier=Carrier.EASYPOST, code="FedEx:FEDEX_2_DAY")
    )
    [purchase] = side_effects("shipping.buy_label")

    deliver_side_effect(purchase.pk)

    purchase.refresh_from_db()
    assert (purchase.status, purchase.attempts) == ("failed", 1)
    assert "EasyPost offered no FedEx 2Day rate" in purchase.last_error
    assert label_purchase_problem(shipment).endswith(
        "Not tried again until someone asks for the label again."
    )

    # The service is put right; the packer asks for the label again.
    Shipment.objects.filter(pk=shipment.pk).update(
        service=CarrierService.objects.get(carrier=Carrier.EASYPOST, code="UPS:Ground")
    )
    retry_label_purchase(shipment, by=packer)
    purchase.refresh_from_db()
    assert (purchase.status, purchase.retried_by) == ("pending", packer)
    deliver_side_effects()

    shipment.refresh_from_db()
    assert (shipment.status, shipment.tracking_number) == (
        Shipment.Status.LABELLED,
        "9405500105442285876350",
    )
    assert len(side_effects("shipping.buy_label")) == 1


@pytest.mark.django_db
def test_the_label_is_asked_for_again_only_while_the_package_waits_for_it(easypost, easypost_only):
    shipment = packed_for_easypost(ready_order(), another_staff(Role.TECHNICIAN))

    with pytest.raises(ShippingError) as refused:
        retry_label_purchase(shipment, by=another_staff(Role.MANAGER))
    assert (refused.value.code, refused.value.status) == ("role_not_allowed", 403)

    Shipment.objects.filter(pk=shipment.pk).update(status=Shipment.Status.AWAITING_PACKING)
    with pytest.raises(ShippingError) as refused:
        retry_label_purchase(shipment, by=another_staff(Role.TECHNICIAN))
    assert refused.value.code == "wrong_status"
    [purchase] = side_effects("shipping.buy_label")
    assert (purchase.status, purchase.retried_by) == ("pending", None)


@pytest.mark.django_db
def test_easypost_without_a_key_is_not_used(settings, easypost_only):
    settings.EASYPOST_API_KEY = ""
    order = ready_order()
    ensure_shipments_for_ready_orders()
    shipment = Shipment.objects.get(order=order)

    with pytest.raises(ShippingError) as refused:
        pack_shipment(
            shipment,
            by=another_staff(Role.TECHNICIAN),
            scans=list(order.fills.values_list("label_code", flat=True)),
            weight_oz=10,
            entry="scanned",
        )

    assert refused.value.code == "no_service"
    shipment.refresh_from_db()
    assert shipment.status == Shipment.Status.AWAITING_PACKING
