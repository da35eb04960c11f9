"""Rx labels made by a real Celery worker process on real Redis, through the outbox: a PV1
approval over the API gets its label with no further call, byte for byte the label this
process renders; an approval whose broker was down at the commit gets it from the sweep;
a label whose first two writes fail is made on the third attempt. One label each time."""

import pytest

from orders.models import Fill, RxLabel
from orders.services.labels import render_rx_label_pdf, rx_label_data
from orders.tests.factories import fill_at
from outbox.registry import deliverer
from outbox.services import deliver_side_effect
from outbox.tests.delivery import (
    deliver_through_failures,
    record_with_the_broker_down,
    refused_inserts,
    side_effect,
    sweep_now,
    wait_until_delivered,
)

pytestmark = pytest.mark.worker

APPROVE_PV1 = """
from orders.models import Fill
from orders.services.workflow import approve_pv1
from pharmacy.models import User
approve_pv1(Fill.objects.get(pk={fill}), by=User.objects.get(pk={user}), overrides=[])
print("done")
"""


def approve_over_the_api(api_pharmacist, fill: Fill) -> None:
    response = api_pharmacist.post(
        f"/api/v1/fills/{fill.pk}/pv1/", {"decision": "approve"}, format="json"
    )
    assert (response.status_code, response.json()["status"]) == (200, "fill")


def test_a_pv1_approval_gets_its_label_from_the_worker_once(celery_worker_process, api_pharmacist):
    fill = fill_at(Fill.Status.PV1)

    approve_over_the_api(api_pharmacist, fill)

    message = wait_until_delivered(side_effect("orders.rx_label", fill.pk))
    assert (message.attempts, message.last_error) == (1, "")
    label = RxLabel.objects.get(fill=fill, is_current=True)
    # Another process rendered it; the same data give the same bytes here.
    assert bytes(label.pdf) == render_rx_label_pdf(rx_label_data(fill))
    # Delivered again (a duplicate task; a sweep after a worker died before marking it
    # done): still the one label.
    assert deliver_side_effect(message.pk) is False
    deliverer("orders.rx_label")(message)
    assert list(RxLabel.objects.all()) == [label]


def test_a_label_whose_broker_was_down_at_the_commit_is_made_by_the_sweep(
    celery_worker_process, pharmacist
):
    fill = fill_at(Fill.Status.PV1)

    message = record_with_the_broker_down(
        APPROVE_PV1.format(fill=fill.pk, user=pharmacist.pk),
        kind="orders.rx_label",
        target_id=fill.pk,
    )
    assert not RxLabel.objects.exists()

    sweep_now()

    message = wait_until_delivered(message)
    assert (message.attempts, message.last_error) == (1, "")
    assert RxLabel.objects.filter(fill=fill, is_current=True).count() == 1


def test_a_label_whose_first_two_writes_fail_is_made_on_the_third_attempt(
    celery_worker_process, api_pharmacist
):
    fill = fill_at(Fill.Status.PV1)

    with refused_inserts(RxLabel._meta.db_table, times=2):
        approve_over_the_api(api_pharmacist, fill)
        message = deliver_through_failures(side_effect("orders.rx_label", fill.pk))

    assert (message.status, message.attempts, message.last_error) == ("delivered", 3, "")
    assert RxLabel.objects.filter(fill=fill, is_current=True).count() == 1
