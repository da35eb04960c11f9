"""Label batches: a wave of carrier labels printed together, counted shipment by shipment
for the browser's progress bar, merged into one PDF; recorded in the outbox with the
batch, printed by its worker in slices, safe to run twice or to resume after a worker
died; and one batch printed by a real Celery worker."""

import io
import time
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from pypdf import PdfReader

from orders.tests.test_rx_label import pdf_text
from outbox.models import OutboxMessage
from outbox.services import deliver_due_side_effects
from shipping.models import LabelBatch, Shipment, ShippingDocument
from shipping.services import documents
from shipping.services.documents import (
    batches,
    current_document,
    generate_shipping_label,
    label_batch_progress,
    print_label_batch,
    shipments_without_label,
    start_label_batch,
    storage,
)
from shipping.services.shipments import ShippingError
from shipping.tests.factories import (
    ShipmentFactory,
    deliver_side_effects,
    labelled_shipment,
    side_effects,
)

pytestmark = pytest.mark.django_db

LABEL = ShippingDocument.Kind.LABEL


def page_texts(pdf: bytes) -> list[str]:
    return [" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf)).pages]


def test_starting_a_batch_records_it_and_its_printing_in_the_outbox(
    technician, django_capture_on_commit_callbacks
):
    shipments = [labelled_shipment() for _ in range(3)]

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
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
    [printing] = side_effects("shipping.label_batch")
    assert (printing.target_id, printing.dedupe_key, printing.status) == (
        batch.pk,
        f"shipping.label_batch:{batch.pk}:0",
        "pending",
    )
    assert len(callbacks) == 1  # its delivery queued once the batch commits
    assert label_batch_progress(batch) == {
        "total": 3,
        "done": 0,
        "failed": 0,
        "percent": 0,
        "finished": False,
    }


def test_a_batch_with_a_package_not_labelled_is_refused_and_nothing_recorded(technician):
    labelled = labelled_shipment()
    waiting = ShipmentFactory()

    with pytest.raises(ShippingError) as refused:
        start_label_batch([labelled, waiting], by=technician)

    assert refused.value.code == "label_not_ready"
    assert refused.value.extra == {"package_codes": [waiting.package_code]}
    assert waiting.package_code in refused.value.detail
    assert not LabelBatch.objects.exists()
    assert side_effects("shipping.label_batch") == []


def test_an_empty_batch_is_refused(technician):
    with pytest.raises(ShippingError) as refused:
        start_label_batch([], by=technician)

    assert (refused.value.code, refused.value.status) == ("no_shipments", 400)
    assert not LabelBatch.objects.exists()
    assert side_effects("shipping.label_batch") == []


def test_a_user_without_a_role_cannot_start_a_batch():
    nobody = get_user_model().objects.create_user("former-clerk", password="x")

    with pytest.raises(ShippingError) as refused:
        start_label_batch([labelled_shipment()], by=nobody)

    assert (refused.value.code, refused.value.status) == ("role_not_allowed", 403)
    assert not LabelBatch.objects.exists()


def test_printing_a_batch_makes_each_label_counts_it_and_merges_them_in_order(technician):
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


def test_a_batch_reuses_current_labels_and_renders_only_the_missing(technician, monkeypatch):
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


def test_a_batch_printed_twice_counts_and_stores_each_label_once(technician):
    shipments = [labelled_shipment() for _ in range(3)]
    batch = start_label_batch(shipments, by=technician)

    first = print_label_batch(batch)
    second = print_label_batch(batch)

    assert (second.done, second.failed, second.finished_at) == (3, 0, first.finished_at)
    assert bytes(second.pdf) == bytes(first.pdf)
    assert ShippingDocument.objects.count() == 3


def test_a_batch_whose_worker_died_midway_resumes_where_it_stopped(technician, monkeypatch):
    shipments = sorted((labelled_shipment() for _ in range(4)), key=lambda s: s.pk)
    batch = start_label_batch(shipments, by=technician)
    # The dead worker had made and counted the first two labels.
    for shipment in shipments[:2]:
        generate_shipping_label(shipment)
    LabelBatch.objects.filter(pk=batch.pk).update(done=2)
    # Its claim on the printing ran out: the sweep delivers it again.
    OutboxMessage.objects.filter(kind="shipping.label_batch").update(
        claimed_until=timezone.now() - timedelta(seconds=1), attempts=1
    )
    rendered = []
    render = documents.render_shipping_label_pdf
    monkeypatch.setattr(
        storage,
        "LABEL",
        storage._DocumentKind(
            LABEL, storage._check_label, lambda data: rendered.append(data) or render(data)
        ),
    )

    assert deliver_due_side_effects() == 1

    assert label_batch_progress(batch) == {
        "total": 4,
        "done": 4,
        "failed": 0,
        "percent": 100,
        "finished": True,
    }
    assert [data["package_code"] for data in rendered] == [s.package_code for s in shipments[2:]]
    batch.refresh_from_db()
    assert len(PdfReader(io.BytesIO(bytes(batch.pdf))).pages) == 4


def test_a_count_is_moved_only_by_the_run_standing_at_that_shipment(technician):
    shipments = [labelled_shipment() for _ in range(2)]
    batch = start_label_batch(shipments, by=technician)

    # Two runs both reach the first shipment: only one counts it.
    assert batches._count(batch.pk, 0, "done") is True
    assert batches._count(batch.pk, 0, "done") is False
    assert batches._count(batch.pk, 1, "failed") is True
    batch.refresh_from_db()
    assert (batch.done, batch.failed) == (1, 1)


def test_a_package_unpacked_after_the_batch_started_is_counted_failed_and_left_out(technician):
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


def test_a_long_wave_is_printed_in_slices_each_recording_the_next(technician):
    shipments = sorted((labelled_shipment() for _ in range(3)), key=lambda s: s.pk)
    batch = start_label_batch(shipments, by=technician)

    # No time at all: one label a slice, then the rest is left to the next message.
    sliced = print_label_batch(batch, seconds=0)

    assert (sliced.done, sliced.failed, sliced.finished_at) == (1, 0, None)
    assert [m.dedupe_key for m in side_effects("shipping.label_batch")] == [
        f"shipping.label_batch:{batch.pk}:0",
        f"shipping.label_batch:{batch.pk}:1",
    ]
    assert label_batch_progress(batch)["percent"] == 33


def test_the_outbox_prints_a_batch_to_the_end_and_a_second_delivery_changes_nothing(
    technician, settings
):
    settings.CELERY_TASK_SOFT_TIME_LIMIT = 0  # a slice of no time: one label a delivery
    shipments = sorted((labelled_shipment() for _ in range(3)), key=lambda s: s.pk)
    batch = start_label_batch(shipments, by=technician)

    assert deliver_side_effects() == 3

    batch.refresh_from_db()
    assert (batch.done, batch.failed, batch.finished_at is not None) == (3, 0, True)
    assert len(PdfReader(io.BytesIO(bytes(batch.pdf))).pages) == 3
    printings = side_effects("shipping.label_batch")
    assert [m.status for m in printings] == ["delivered"] * 3
    # A printing delivered again (its worker died before marking it): nothing more.
    OutboxMessage.objects.filter(pk=printings[1].pk).update(status="pending")
    assert deliver_side_effects() == 1
    again = LabelBatch.objects.get(pk=batch.pk)
    assert (again.done, again.finished_at, bytes(again.pdf)) == (
        3,
        batch.finished_at,
        bytes(batch.pdf),
    )
    assert ShippingDocument.objects.count() == 3


def test_the_printing_of_a_batch_that_does_not_exist_waits_for_a_person(technician):
    batch = start_label_batch([labelled_shipment()], by=technician)
    [printing] = side_effects("shipping.label_batch")
    OutboxMessage.objects.filter(pk=printing.pk).update(target_id=batch.pk + 1000)

    assert deliver_due_side_effects() == 0

    printing.refresh_from_db()
    assert (printing.status, printing.last_error) == (
        "failed",
        f"outbox.registry.PermanentFailure: Label batch {batch.pk + 1000} does not exist.",
    )


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
