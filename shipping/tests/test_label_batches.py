"""Label batches: a wave of carrier labels printed together, counted shipment by shipment
for the browser's progress bar, merged into one PDF; safe to run twice or to resume after
a worker died; and one batch printed by a real Celery worker."""

import datetime
import io
import time

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from pypdf import PdfReader

from orders.tests.test_rx_label import pdf_text
from shipping.models import LabelBatch, Shipment, ShippingDocument
from shipping.services import documents
from shipping.services.documents import (
    batches,
    current_document,
    generate_shipping_label,
    label_batch_progress,
    print_label_batch,
    queue_label_batch,
    shipments_without_label,
    start_label_batch,
    storage,
)
from shipping.services.shipments import ShippingError
from shipping.tasks import generate_missing_shipping_documents_task, print_label_batch_task
from shipping.tests.factories import ShipmentFactory, labelled_shipment

pytestmark = pytest.mark.django_db

LABEL = ShippingDocument.Kind.LABEL


@pytest.fixture
def queued(monkeypatch):
    """The tasks queued after commit, as (task name, arguments), instead of the broker."""
    sent = []
    monkeypatch.setattr(
        batches, "send_task_fast", lambda task, args, what="": sent.append((task.name, args))
    )
    return sent


def page_texts(pdf: bytes) -> list[str]:
    return [" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf)).pages]


def test_starting_a_batch_records_it_and_queues_the_print_after_commit(
    technician, django_capture_on_commit_callbacks, queued
):
    shipments = [labelled_shipment() for _ in range(3)]

    with django_capture_on_commit_callbacks(execute=True):
        batch = start_label_batch([*shipments, shipments[0]], by=technician)

    assert (batch.total, batch.done, batch.failed, batch.finished_at, batch.pdf) == (
        3,
        0,
        0,
        None,
        None,
    )
    assert batch.created_by == technician
    assert set(batch.shipments.all()) == set(shipments)
    assert queued == [("shipping.tasks.print_label_batch_task", (batch.pk,))]
    assert label_batch_progress(batch) == {
        "total": 3,
        "done": 0,
        "failed": 0,
        "percent": 0,
        "finished": False,
    }


def test_a_batch_with_a_package_not_labelled_is_refused_and_nothing_recorded(technician, queued):
    labelled = labelled_shipment()
    waiting = ShipmentFactory()

    with pytest.raises(ShippingError) as refused:
        start_label_batch([labelled, waiting], by=technician)

    assert refused.value.code == "label_not_ready"
    assert refused.value.extra == {"package_codes": [waiting.package_code]}
    assert waiting.package_code in refused.value.detail
    assert not LabelBatch.objects.exists()
    assert queued == []


def test_an_empty_batch_is_refused(technician):
    with pytest.raises(ShippingError) as refused:
        start_label_batch([], by=technician)

    assert (refused.value.code, refused.value.status) == ("no_shipments", 400)
    assert not LabelBatch.objects.exists()


def test_a_user_without_a_role_cannot_start_a_batch():
    nobody = get_user_model().objects.create_user("former-clerk", password="x")

    with pytest.raises(ShippingError) as refused:
        start_label_batch([labelled_shipment()], by=nobody)

    assert (refused.value.code, refused.value.status) == ("role_not_allowed", 403)
    assert not LabelBatch.objects.exists()


def test_printing_a_batch_makes_each_label_counts_it_and_merges_them_in_order(technician, queued):
    shipments = [labelled_shipment() for _ in range(4)]
    batch = start_label_batch(shipments, by=technician)

    printed = print_label_batch(batch)

    assert (printed.total, printed.done, printed.failed) == (4, 4, 0)
    assert printed.finished_at is not None
    assert label_batch_progress(batch)["percent"] == 100
    assert label_batch_progress(batch)["finished"] is True
    pages = page_texts(bytes(printed.pdf))
    assert len(pages) == 4
    for page, shipment in zip(pages, sorted(shipments, key=lambda s: s.pk), strict=True):
        assert f"Package {shipment.package_code}" in page
    assert all(
        (box.width, box.height) == (288, 432)
        for box in (page.mediabox for page in PdfReader(io.BytesIO(bytes(printed.pdf))).pages)
    )
    assert ShippingDocument.objects.filter(kind=LABEL, is_current=True).count() == 4


def test_a_batch_reuses_current_labels_and_renders_only_the_missing(
    technician, queued, monkeypatch
):
    shipments = [labelled_shipment() for _ in range(3)]
    existing = generate_shipping_label(shipments[1])
    rendered = []
    render = documents.render_shipping_label_pdf
    monkeypatch.setattr(
        storage,
        "LABEL",
        storage._DocumentKind(
            LABEL, storage._check_label, lambda data: rendered.append(data) or render(data)
        ),
    )
    batch = start_label_batch(shipments, by=technician)

    print_label_batch(batch)

    assert sorted(data["package_code"] for data in rendered) == sorted(
        [shipments[0].package_code, shipments[2].package_code]
    )
    assert current_document(shipments[1], LABEL) == existing
    assert ShippingDocument.objects.count() == 3


def test_a_batch_printed_twice_counts_and_stores_each_label_once(technician, queued):
    shipments = [labelled_shipment() for _ in range(3)]
    batch = start_label_batch(shipments, by=technician)

    first = print_label_batch(batch)
    second = print_label_batch(batch)

    assert (second.done, second.failed, second.finished_at) == (3, 0, first.finished_at)
    assert bytes(second.pdf) == bytes(first.pdf)
    assert ShippingDocument.objects.count() == 3


def test_a_batch_whose_worker_died_midway_resumes_where_it_stopped(technician, queued, monkeypatch):
    shipments = sorted((labelled_shipment() for _ in range(4)), key=lambda s: s.pk)
    batch = start_label_batch(shipments, by=technician)
    # The dead worker had made and counted the first two labels.
    for shipment in shipments[:2]:
        generate_shipping_label(shipment)
    LabelBatch.objects.filter(pk=batch.pk).update(done=2)
    rendered = []
    render = documents.render_shipping_label_pdf
    monkeypatch.setattr(
        storage,
        "LABEL",
        storage._DocumentKind(
            LABEL, storage._check_label, lambda data: rendered.append(data) or render(data)
        ),
    )

    printed = print_label_batch_task(batch.pk)

    assert printed == {"total": 4, "done": 4, "failed": 0, "percent": 100, "finished": True}
    assert [data["package_code"] for data in rendered] == [s.package_code for s in shipments[2:]]
    batch.refresh_from_db()
    assert len(PdfReader(io.BytesIO(bytes(batch.pdf))).pages) == 4


def test_a_count_is_moved_only_by_the_run_standing_at_that_shipment(technician, queued):
    shipments = [labelled_shipment() for _ in range(2)]
    batch = start_label_batch(shipments, by=technician)

    # Two runs both reach the first shipment: only one counts it.
    assert batches._count(batch.pk, 0, "done") is True
    assert batches._count(batch.pk, 0, "done") is False
    assert batches._count(batch.pk, 1, "failed") is True
    batch.refresh_from_db()
    assert (batch.done, batch.failed) == (1, 1)


def test_a_package_unpacked_after_the_batch_started_is_counted_failed_and_left_out(
    technician, queued
):
    kept, unpacked = sorted((labelled_shipment() for _ in range(2)), key=lambda s: s.pk)
    batch = start_label_batch([kept, unpacked], by=technician)
    # A pharmacist sent it back to packing: its label is void.
    Shipment.objects.filter(pk=unpacked.pk).update(
        status=Shipment.Status.AWAITING_PACKING, tracking_number=""
    )

    printed = print_label_batch(batch)

    assert (printed.done, printed.failed, printed.finished_at is not None) == (1, 1, True)
    assert list(shipments_without_label(batch)) == [unpacked]
    [page] = page_texts(bytes(printed.pdf))
    assert kept.package_code in page
    assert label_batch_progress(batch) == {
        "total": 2,
        "done": 1,
        "failed": 1,
        "percent": 100,
        "finished": True,
    }


def test_the_catch_up_task_finishes_a_batch_left_unfinished(technician, queued):
    shipments = [labelled_shipment() for _ in range(2)]
    batch = start_label_batch(shipments, by=technician)
    recent = start_label_batch([labelled_shipment()], by=technician)
    LabelBatch.objects.filter(pk=batch.pk).update(
        created_at=timezone.now() - datetime.timedelta(minutes=10)
    )
    # Its shipments are labelled long ago, so the label catch-up would take them too:
    # the batch makes them itself first here.
    Shipment.objects.filter(pk__in=[s.pk for s in shipments]).update(
        status_changed_at=timezone.now()
    )

    generate_missing_shipping_documents_task()

    batch.refresh_from_db()
    recent.refresh_from_db()
    assert (batch.done, batch.finished_at is not None) == (2, True)
    assert (recent.done, recent.finished_at) == (0, None)


def test_queue_label_batch_sends_nothing_before_commit(
    technician, queued, django_capture_on_commit_callbacks
):
    batch = LabelBatch.objects.create(created_by=technician, total=0)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        queue_label_batch(batch)

    assert queued == []
    [callback] = callbacks
    callback()
    assert queued == [("shipping.tasks.print_label_batch_task", (batch.pk,))]


# --------------------------------------------------------------------------- a real worker


@pytest.mark.worker
def test_a_real_worker_prints_a_batch_with_its_progress(celery_worker_process, technician):
    shipments = [labelled_shipment() for _ in range(5)]

    batch = start_label_batch(shipments, by=technician)  # no transaction: queued at once

    deadline = time.monotonic() + 90
    seen = []
    while time.monotonic() < deadline:
        progress = label_batch_progress(batch)
        seen.append(progress["done"])
        if progress["finished"]:
            break
        time.sleep(0.05)
    else:
        pytest.fail(f"the worker did not finish the batch: {label_batch_progress(batch)}")
    assert progress == {"total": 5, "done": 5, "failed": 0, "percent": 100, "finished": True}
    assert seen == sorted(seen)  # the bar only moves forward
    batch.refresh_from_db()
    pages = page_texts(bytes(batch.pdf))
    in_order = sorted(shipments, key=lambda s: s.pk)
    assert len(pages) == 5
    assert all(
        f"Package {shipment.package_code}" in page
        for page, shipment in zip(pages, in_order, strict=True)
    )
    assert ShippingDocument.objects.filter(kind=LABEL, is_current=True).count() == 5
    assert all(shipment.tracking_number[:4] in pdf_text(bytes(batch.pdf)) for shipment in shipments)
