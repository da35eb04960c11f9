"""What the shipping tests with real Celery workers share: waiting for the worker,
killing it, and doing what time would do for a dead worker (its Celery message given
back after the visibility timeout, its claim on an outbox message run out)."""

import signal
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from kombu import Connection

from outbox.models import OutboxMessage
from shipping.models import Shipment, ShippingDocument
from shipping.services.documents import current_document


def wait_for(kind: str, shipment: Shipment, timeout: float = 90) -> ShippingDocument:
    """The shipment's current document of ``kind`` once a worker stored it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        document = current_document(shipment, kind)
        if document is not None:
            return document
        time.sleep(0.1)
    pytest.fail(f"no {kind} of shipment {shipment.pk} after {timeout} s")


def wait_until_delivered(message: OutboxMessage, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message.refresh_from_db()
        if message.status == OutboxMessage.Status.DELIVERED:
            return
        time.sleep(0.1)
    pytest.fail(f"side effect {message.pk} not delivered after {timeout} s: {message.last_error}")


def kill(worker) -> None:
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)


def broker():
    """A connection to the tests' broker that sees every unacknowledged message as
    overdue: ``restore_visible`` on it does what Redis does after the visibility timeout."""
    return Connection(settings.CELERY_BROKER_URL, transport_options={"visibility_timeout": 0})


def unacknowledged() -> int:
    with broker() as conn:
        channel = conn.default_channel
        return channel.client.hlen(channel.unacked_key)


def give_back_unacknowledged_messages() -> None:
    with broker() as conn:
        conn.default_channel.qos.restore_visible(num=100)


def wait_until_all_acknowledged(timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while unacknowledged() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert unacknowledged() == 0


def wait_until_the_queue_is_empty(timeout: float = 60) -> None:
    """Every task sent so far taken and finished by a worker."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with broker() as conn:
            channel = conn.default_channel
            waiting = channel.client.llen("celery") + channel.client.hlen(channel.unacked_key)
        if not waiting:
            return
        time.sleep(0.1)
    pytest.fail(f"tasks still waiting after {timeout} s")


def run_out_the_claims() -> None:
    """What ``OUTBOX_CLAIM_SECONDS`` does for a worker that died: its claims run out."""
    OutboxMessage.objects.filter(claimed_until__isnull=False).update(
        claimed_until=timezone.now() - timedelta(seconds=1)
    )
