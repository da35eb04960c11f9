"""Shipping labels made by real Celery worker processes on real Redis through the
outbox: recorded with the change, made once however often they are delivered, and made
exactly once when the worker making them is killed with SIGKILL in the middle of the
label.

A killed worker leaves two things behind. Its claim on the outbox message runs out after
``OUTBOX_CLAIM_SECONDS`` (two minutes); the tests run it out themselves. Its Celery
message stays unacknowledged in Redis until the visibility timeout (10 minutes) passes;
the tests put it back in the queue themselves, as Redis would, and send the sweep beat
sends. Run them on a Redis database of their own (REDIS_URL ...?db=N): a killed worker
leaves its message behind.
"""

import threading
import time

import pytest
from django.db import connection, transaction

from outbox.tasks import deliver_due_side_effects_task
from shipping.models import Shipment, ShippingDocument
from shipping.services.documents import (
    current_document,
    packing_slip_data,
    record_shipping_documents,
    render_packing_slip_pdf,
    render_shipping_label_pdf,
    shipping_label_data,
)
from shipping.tests.factories import labelled_shipment, side_effects
from shipping.tests.workers import (
    give_back_unacknowledged_messages,
    kill,
    run_out_the_claims,
    unacknowledged,
    wait_for,
    wait_until_all_acknowledged,
    wait_until_delivered,
)

pytestmark = pytest.mark.worker

LABEL = ShippingDocument.Kind.LABEL
SLIP = ShippingDocument.Kind.PACKING_SLIP


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


def test_the_worker_makes_the_recorded_documents_once(celery_worker_process):
    shipment = labelled_shipment()

    # No transaction is open: recorded and queued at once, as after the label's commit.
    record_shipping_documents(shipment)
    label = wait_for(LABEL, shipment)
    slip = wait_for(SLIP, shipment)
    [first] = side_effects("shipping.documents")
    wait_until_delivered(first)

    # Recorded again (another change asking for them): still the same two documents.
    record_shipping_documents(shipment)
    wait_until_delivered(side_effects("shipping.documents")[1])
    assert (current_document(shipment, LABEL), current_document(shipment, SLIP)) == (label, slip)
    assert_exactly_one_label_and_one_slip(shipment)


def test_a_worker_killed_after_rendering_before_storing_leaves_exactly_one_label(
    start_celery_worker,
):
    from pharmacy.celery import app  # noqa: PLC0415

    app.control.purge()
    shipment = labelled_shipment()
    doomed = start_celery_worker()

    # Hold the shipment's row (from another connection, so the documents can be recorded
    # and queued meanwhile): the worker renders the label, then waits for the lock to
    # store it. Kill it there, with the PDF made and nothing stored.
    held, release = threading.Event(), threading.Event()

    def hold_the_shipment_row():
        try:
            with transaction.atomic():
                Shipment.objects.select_for_update().get(pk=shipment.pk)
                held.set()
                release.wait(120)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_shipment_row)
    holder.start()
    try:
        assert held.wait(30)
        record_shipping_documents(shipment)
        deadline = time.monotonic() + 60
        while not backends_waiting_for_a_lock():
            assert time.monotonic() < deadline, "the worker never reached the label's lock"
            assert doomed.poll() is None, "the worker died on its own"
            time.sleep(0.05)
        kill(doomed)
    finally:
        release.set()
        holder.join(30)
    assert not ShippingDocument.objects.exists()
    assert unacknowledged() == 1  # the message waits for its visibility timeout
    [recorded] = side_effects("shipping.documents")
    assert (recorded.status, recorded.attempts) == ("pending", 1)
    assert recorded.is_claimed  # by the dead worker, until its claim runs out

    # A new worker; the claim runs out; the dead worker's message comes back (as after
    # the visibility timeout) and beat's sweep runs: one of them delivers it.
    start_celery_worker()
    run_out_the_claims()
    give_back_unacknowledged_messages()
    deliver_due_side_effects_task.delay()
    wait_until_delivered(recorded)

    assert_exactly_one_label_and_one_slip(shipment)
    recorded.refresh_from_db()
    assert recorded.attempts == 2
    wait_until_all_acknowledged()


def test_a_worker_killed_while_rendering_leaves_exactly_one_label(start_celery_worker):
    from pharmacy.celery import app  # noqa: PLC0415

    app.control.purge()
    shipment = labelled_shipment()
    doomed = start_celery_worker()

    record_shipping_documents(shipment)
    # The worker took the message; its first label loads WeasyPrint and the fonts, then
    # renders: kill it a moment later, in the middle of that.
    deadline = time.monotonic() + 60
    while not unacknowledged():
        assert time.monotonic() < deadline, "the worker never took the task"
        time.sleep(0.01)
    time.sleep(0.3)
    kill(doomed)
    assert unacknowledged() == 1  # killed before the task finished
    [recorded] = side_effects("shipping.documents")
    assert recorded.status == "pending"

    start_celery_worker()
    run_out_the_claims()
    give_back_unacknowledged_messages()
    deliver_due_side_effects_task.delay()
    wait_until_delivered(recorded)

    assert_exactly_one_label_and_one_slip(shipment)
    wait_until_all_acknowledged()
