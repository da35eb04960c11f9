"""Rx labels made by a real Celery worker process on real Redis: queued after commit, made
once however often the task runs, and byte for byte the label this process renders."""

import time

import pytest

from orders.models import Fill, RxLabel
from orders.services.labels import queue_rx_label, render_rx_label_pdf, rx_label_data
from orders.tasks import generate_rx_label_task
from orders.tests.factories import fill_at

pytestmark = pytest.mark.worker


def wait_for_label(fill: Fill, timeout: float = 60) -> RxLabel:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        label = RxLabel.objects.filter(fill=fill, is_current=True).first()
        if label is not None:
            return label
        time.sleep(0.2)
    pytest.fail(f"the worker made no label for fill {fill.pk} in {timeout} s")


def test_the_worker_makes_the_queued_label_once(celery_worker_process):
    fill = fill_at(Fill.Status.PV2)

    # No transaction is open: the task is queued at once, as after a service's commit.
    queue_rx_label(fill)
    label = wait_for_label(fill)

    # Another process rendered it; the same data give the same bytes here.
    assert bytes(label.pdf) == render_rx_label_pdf(rx_label_data(fill))

    # The task again (a retry, a duplicate message): still the one label.
    assert generate_rx_label_task.delay(fill.pk).get(timeout=60) == label.pk
    assert list(RxLabel.objects.all()) == [label]
