"""The shipping side effects delivered by real Celery worker processes through the outbox,
with nothing else called: packing over the API gets its label bought and its documents
made; the "shipped" e-mail goes out once even when Redis was down at the hand-over; and a
worker killed at the worst moment (after EasyPost sold the label, after the mail server
took the e-mail) leaves one label bought, and an e-mail sent again under the same
Message-ID (SMTP cannot be exactly-once; mail programs fold the copy)."""

import socketserver
import threading
import time
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pytest

from orders.tests.factories import another_staff
from outbox.models import OutboxMessage
from outbox.tasks import deliver_due_side_effects_task, deliver_side_effect_task
from pharmacy.models import Role
from shipping.models import Carrier, CarrierService, Shipment, ShippingDocument
from shipping.services.shipments import hand_over_to_carrier
from shipping.tests.factories import (
    labelled_shipment,
    order_awaiting_packing,
    side_effects,
)
from shipping.tests.test_carriers import RecordedEasyPost
from shipping.tests.workers import (
    give_back_unacknowledged_messages,
    kill,
    run_out_the_claims,
    wait_for,
    wait_until_all_acknowledged,
    wait_until_delivered,
    wait_until_the_queue_is_empty,
)

pytestmark = pytest.mark.worker

LABEL = ShippingDocument.Kind.LABEL
SLIP = ShippingDocument.Kind.PACKING_SLIP


def wait_until(what: str, check, timeout: float = 90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.1)
    pytest.fail(f"{what}: not after {timeout} s; see test-artifacts/celery-worker.log")


def labelled(shipment: Shipment):
    shipment.refresh_from_db()
    return shipment if shipment.status == Shipment.Status.LABELLED else None


def pack_over_the_api(client, shipment: Shipment):
    """Every vial of the shipment scanned, 8 oz: the packing station's request."""
    codes = list(shipment.order.fills.values_list("label_code", flat=True))
    return client.post(
        f"/api/v1/shipments/{shipment.pk}/pack/",
        {"entry": "scanned", "scans": codes, "weight_oz": "8"},
        format="json",
    )


def mail_files(folder: Path) -> list[Path]:
    return sorted(folder.iterdir()) if folder.exists() else []


# --------------------------------------------------------------------------- packing


def test_packing_over_the_api_gets_the_label_bought_and_the_documents_made(
    celery_worker_process, api_technician
):
    shipment = Shipment.objects.get(order=order_awaiting_packing())

    response = pack_over_the_api(api_technician, shipment)
    assert (response.status_code, response.json()["status"]) == (200, "packed")

    wait_until("the package labelled", lambda: labelled(shipment))
    label, slip = wait_for(LABEL, shipment), wait_for(SLIP, shipment)
    assert shipment.tracking_number.startswith("LCL")
    assert [bytes(label.pdf[:5]), bytes(slip.pdf[:5])] == [b"%PDF-", b"%PDF-"]
    for message in OutboxMessage.objects.filter(target_id=shipment.pk):
        wait_until_delivered(message)
    assert sorted(OutboxMessage.objects.values_list("kind", flat=True)) == [
        "shipping.buy_label",
        "shipping.documents",  # the packing slip, when the shipment was made
        "shipping.documents",  # the label, when it was bought
    ]


# --------------------------------------------------------------------------- the e-mail


def test_redis_down_at_the_hand_over_the_email_goes_out_once_after_it_is_back(
    start_celery_worker, monkeypatch, tmp_path
):
    from kombu.exceptions import OperationalError  # noqa: PLC0415

    maildir = tmp_path / "mail"
    shipment = labelled_shipment()

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to the broker. Connection refused.")

    # The web process cannot reach Redis at the hand-over: nothing is queued.
    monkeypatch.setattr(deliver_side_effect_task, "apply_async", broker_down)
    assert hand_over_to_carrier([shipment], by=another_staff(Role.TECHNICIAN)) == 1
    monkeypatch.undo()
    [message] = side_effects("shipping.shipped_email")
    assert message.status == "pending"

    # Redis is back, a worker runs, and beat sends its sweep: the e-mail goes out, once.
    start_celery_worker(EMAIL_URL=f"file:{maildir}")
    time.sleep(1)
    assert mail_files(maildir) == []  # nothing was queued for it
    deliver_due_side_effects_task.delay()
    deliver_due_side_effects_task.delay()  # the next sweep finds nothing to send
    wait_until_delivered(message)
    wait_until_the_queue_is_empty()

    [sent] = mail_files(maildir)
    email = message_from_bytes(sent.read_bytes(), policy=default)
    shipment.refresh_from_db()
    assert shipment.tracking_number in email.get_content()
    assert email["Message-ID"].startswith(f"<shipped-{shipment.pk}.outbox-{message.pk}.")
    assert shipment.patient_notified_at is not None


class HoldingSMTPServer(socketserver.ThreadingTCPServer):
    """A mail server that keeps every e-mail it is given. While ``answer`` is clear it
    takes the whole e-mail and then says nothing: the sender waits for the "250 OK" that
    would tell it the e-mail was taken (and dies waiting)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self):
        self.received: list[bytes] = []
        self.answer = threading.Event()
        self.taken = threading.Event()
        super().__init__(("127.0.0.1", 0), _SMTPHandler)
        self.port = self.server_address[1]
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def close(self):
        self.answer.set()
        self.shutdown()
        self.server_close()


class _SMTPHandler(socketserver.StreamRequestHandler):
    def reply(self, line: str) -> None:
        self.wfile.write(f"{line}\r\n".encode())

    def handle(self):
        self.reply("220 localhost ESMTP")
        while line := self.rfile.readline():
            command = line.strip().upper()
            if command == b"DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                data = []
                while (part := self.rfile.readline()) not in (b".\r\n", b""):
                    data.append(part[1:] if part.startswith(b"..") else part)
                self.server.received.append(b"".join(data))
                self.server.taken.set()
                self.server.answer.wait(120)
                self.reply("250 OK")
            elif command == b"QUIT":
                self.reply("221 Bye")
                return
            else:  # EHLO, MAIL FROM, RCPT TO, RSET, NOOP
                self.reply("250 localhost")


@pytest.fixture
def smtp():
    server = HoldingSMTPServer()
    yield server
    server.close()


def test_a_worker_killed_after_the_mail_server_took_the_email_sends_it_again_same_id(
    start_celery_worker, smtp
):
    from pharmacy.celery import app  # noqa: PLC0415

    app.control.purge()
    doomed = start_celery_worker(EMAIL_URL=f"smtp://127.0.0.1:{smtp.port}")
    shipment = labelled_shipment()

    hand_over_to_carrier([shipment], by=another_staff(Role.TECHNICIAN))
    assert smtp.taken.wait(60), "the worker never sent the e-mail"
    kill(doomed)  # the mail server has the e-mail; the worker never heard it was taken
    smtp.answer.set()

    [message] = side_effects("shipping.shipped_email")
    shipment.refresh_from_db()
    assert (message.status, shipment.patient_notified_at) == ("pending", None)

    start_celery_worker(EMAIL_URL=f"smtp://127.0.0.1:{smtp.port}")
    run_out_the_claims()
    give_back_unacknowledged_messages()
    deliver_due_side_effects_task.delay()
    wait_until_delivered(message)

    first, second = (message_from_bytes(data, policy=default) for data in smtp.received)
    assert first["Message-ID"] == second["Message-ID"]
    assert first["Message-ID"].startswith(f"<shipped-{shipment.pk}.outbox-{message.pk}.")
    assert first.get_content() == second.get_content()
    shipment.refresh_from_db()
    assert shipment.patient_notified_at is not None
    wait_until_all_acknowledged()


# --------------------------------------------------------------------------- EasyPost


@pytest.fixture
def easypost_holding_the_purchase(settings):
    """EasyPost (recorded answers) as the only carrier, holding back its answer to a
    purchase it has made."""
    server = RecordedEasyPost()
    server.hold_buy.clear()
    settings.EASYPOST_API_KEY = "EZTK_test_key"
    settings.EASYPOST_API_BASE = server.url
    CarrierService.objects.filter(carrier=Carrier.LOCAL).update(is_active=False)
    yield server
    server.close()


def test_a_worker_killed_after_easypost_sold_the_label_leaves_one_label_bought(
    start_celery_worker, easypost_holding_the_purchase, api_technician
):
    from pharmacy.celery import app  # noqa: PLC0415

    easypost = easypost_holding_the_purchase
    carrier_env = {"EASYPOST_API_KEY": "EZTK_test_key", "EASYPOST_API_BASE": easypost.url}
    app.control.purge()
    doomed = start_celery_worker(**carrier_env)
    shipment = Shipment.objects.get(order=order_awaiting_packing())

    response = pack_over_the_api(api_technician, shipment)
    assert (response.status_code, response.json()["carrier"]) == (200, "easypost")

    # EasyPost sold the label; its answer never reaches the worker, which dies.
    wait_until("EasyPost sold the label", lambda: easypost.kinds() == ["create", "buy"])
    kill(doomed)
    easypost.hold_buy.set()
    shipment.refresh_from_db()
    assert (shipment.status, shipment.tracking_number, shipment.carrier_shipment_id) == (
        Shipment.Status.PACKED,
        "",
        "shp_5a1e0c7d2b8f4e9aa0c3d6e1f2a3b4c5",  # kept before the purchase
    )

    start_celery_worker(**carrier_env)
    run_out_the_claims()
    give_back_unacknowledged_messages()
    deliver_due_side_effects_task.delay()

    wait_until("the package labelled", lambda: labelled(shipment))
    assert shipment.tracking_number == "9405500105442285876350"
    assert easypost.kinds() == ["create", "buy", "retrieve"]  # read back, not bought again
    wait_for(LABEL, shipment)
    assert shipment.events.filter(to_status=Shipment.Status.LABELLED).count() == 1
    wait_until_all_acknowledged()
