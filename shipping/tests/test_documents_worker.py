"""Shipping labels made by real Celery worker processes on real Redis: queued after the
label is bought, made once however often the task runs, and made exactly once when the
worker making it is killed with SIGKILL in the middle of the label.

A killed worker's message stays unacknowledged in Redis until the visibility timeout
(10 minutes) passes; the tests then put it back in the queue themselves, as Redis would,
instead of waiting. Run them on a Redis database of their own (REDIS_URL ...?db=N): a
killed worker leaves its message behind.
"""

import signal
import time

import pytest
from django.conf import settings
from django.db import connection, transaction
from kombu import Connection

from shipping.models import Shipment, ShippingDocument
from shipping.services.documents import (
    current_document,
    packing_slip_data,
    queue_shipping_documents,
    render_packing_slip_pdf,
    render_shipping_label_pdf,
    shipping_label_data,
)
from shipping.tasks import (
    generate_missing_shipping_documents_task,
    generate_shipping_documents_task,
)
from shipping.tests.factories import labelled_shipment

pytestmark = pytest.mark.worker

LABEL = ShippingDocument.Kind.LABEL
SLIP = ShippingDocument.Kind.PACKING_SLIP


def wait_for(kind: str, shipment: Shipment, timeout: float = 90) -> ShippingDocument:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        document = current_document(shipment, kind)
        if document is not None:
            return document
        time.sleep(0.1)
    pytest.fail(f"no {kind} of shipment {shipment.pk} after {timeout} s")


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


def backends_waiting_for_a_lock() -> int:
    with connection.cursor() as cursor:
        # Inside a transaction PostgreSQL keeps showing its first snapshot of the activity.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def assert_exactly_one_label_and_one_slip(shipment: Shipment) -> None:
    [label] = ShippingDocument.objects.filter(shipment=shipment, kind=LABEL)
    [slip] = ShippingDocument.objects.filter(shipment=shipment, kind=SLIP)
    assert (label.is_current, slip.is_current) == (True, True)
    # Rendered by another process; the same data give the same bytes here.
    assert bytes(label.pdf) == render_shipping_label_pdf(shipping_label_data(shipment))
    assert bytes(slip.pdf) == render_packing_slip_pdf(packing_slip_data(shipment))


def test_the_worker_makes_the_queued_documents_once(celery_worker_process):
    shipment = labelled_shipment()

    # No transaction is open: the task is queued at once, as after the label's commit.
    queue_shipping_documents(shipment)
    label = wait_for(LABEL, shipment)
    slip = wait_for(SLIP, shipment)

    # The task again (a retry, a duplicate message): still the same two documents.
    assert generate_shipping_documents_task.delay(shipment.pk).get(timeout=60) == {
        "label": label.pk,
        "packing_slip": slip.pk,
    }
    assert_exactly_one_label_and_one_slip(shipment)


def kill(worker) -> None:
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)


def test_a_worker_killed_after_rendering_before_storing_leaves_exactly_one_label(
    start_celery_worker,
):
    from pharmacy.celery import app  # noqa: PLC0415

    app.control.purge()
    shipment = labelled_shipment()
    doomed = start_celery_worker()

    # Hold the shipment's row: the worker renders the label, then waits for the lock to
    # store it. Kill it there, with the PDF made and nothing stored.
    with transaction.atomic():
        Shipment.objects.select_for_update().get(pk=shipment.pk)
        generate_shipping_documents_task.delay(shipment.pk)
        deadline = time.monotonic() + 60
        while not backends_waiting_for_a_lock():
            assert time.monotonic() < deadline, "the worker never reached the label's lock"
            assert doomed.poll() is None, "the worker died on its own"
            time.sleep(0.05)
        kill(doomed)
    assert not ShippingDocument.objects.exists()
    assert unacknowledged() == 1  # the message waits for its visibility timeout

    # A new worker; the dead worker's message comes back (as after the visibility
    # timeout) and runs there; then the task again and the catch-up, for good measure.
    start_celery_worker()
    give_back_unacknowledged_messages()
    label = wait_for(LABEL, shipment)
    wait_for(SLIP, shipment)
    assert generate_shipping_documents_task.delay(shipment.pk).get(timeout=60)["label"] == label.pk
    assert generate_missing_shipping_documents_task.delay().get(timeout=60) == 0

    assert_exactly_one_label_and_one_slip(shipment)
    assert unacknowledged() == 0


def test_a_worker_killed_while_rendering_leaves_exactly_one_label(start_celery_worker):
    from pharmacy.celery import app  # noqa: PLC0415

    app.control.purge()
    shipment = labelled_shipment()
    doomed = start_celery_worker()

    generate_shipping_documents_task.delay(shipment.pk)
    # The worker took the message; its first label loads WeasyPrint and the fonts, then
    # renders: kill it a moment later, in the middle of that.
    deadline = time.monotonic() + 60
    while not unacknowledged():
        assert time.monotonic() < deadline, "the worker never took the task"
        time.sleep(0.01)
    time.sleep(0.3)
    kill(doomed)
    assert unacknowledged() == 1  # killed before the task finished

    start_celery_worker()
    give_back_unacknowledged_messages()
    wait_for(LABEL, shipment)
    generate_shipping_documents_task.delay(shipment.pk).get(timeout=60)

    assert_exactly_one_label_and_one_slip(shipment)
    assert unacknowledged() == 0
