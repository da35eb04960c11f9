"""An order's shipment is made when the order becomes ready to pack, never by a read.

The fill workflow queues ``create_shipment_for_order_task`` (by its registered name:
orders cannot import shipping) after the commit of the move that leaves an order ready to
pack; the task makes that order's shipment; the beat's catch-up only makes the ones whose
task never came. No page or API read makes or changes a shipment.
"""

import time

import pytest
from kombu.exceptions import OperationalError

from orders.models import Fill
from orders.services.workflow import (
    ORDER_READY_TASK,
    approve_pv2,
    release_fill,
    transition_fill,
)
from orders.services.workflow import helpers as workflow_helpers
from orders.tests.factories import another_staff, fill_at, stocked_prescription
from pharmacy.celery import app
from pharmacy.models import Role
from shipping.models import Shipment, ShipmentEvent, ShippingDocument
from shipping.services.shipments import blocked_orders, create_shipment_for_order
from shipping.tasks import create_shipment_for_order_task
from shipping.tests.factories import ready_order, shippable_patient

S = Shipment.Status


def order_with_last_fill_at(status: str, **fields):
    """A ready order of one fill ready to pack, plus one more fill at ``status``."""
    patient = shippable_patient()
    order = ready_order(patient=patient)
    prescription = stocked_prescription(patient=patient)
    last = fill_at(status, prescription=prescription, order=order, **fields)
    return order, last


@pytest.fixture
def queued(monkeypatch) -> list[int]:
    """The order ids the workflow hands to the broker, recorded instead of sent."""
    sent = []
    monkeypatch.setattr(workflow_helpers, "_send_order_ready_task", sent.append)
    return sent


# --------------------------------------------------------------------------- scheduling


@pytest.mark.django_db
def test_pv2_approval_of_the_last_fill_queues_the_shipment_after_commit(
    django_capture_on_commit_callbacks, queued
):
    order, last = order_with_last_fill_at(Fill.Status.PV2)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        approve_pv2(last, by=another_staff(Role.PHARMACIST), scan=last.label_code)

    assert queued == []  # nothing before the commit
    [callback] = callbacks
    callback()
    assert queued == [order.pk]
    assert not Shipment.objects.exists()  # the worker makes it


@pytest.mark.django_db
def test_pv2_approval_of_a_fill_that_is_not_the_last_queues_nothing(
    django_capture_on_commit_callbacks,
):
    patient = shippable_patient()
    order = ready_order(patient=patient, fills=2, status=Fill.Status.PV2)
    first, _second = order.fills.order_by("pk")

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        approve_pv2(first, by=another_staff(Role.PHARMACIST), scan=first.label_code)

    assert callbacks == []
    first.refresh_from_db()
    assert first.status == Fill.Status.READY_TO_PACK


@pytest.mark.django_db
def test_a_release_from_hold_back_to_ready_to_pack_queues_the_shipment(
    django_capture_on_commit_callbacks, queued
):
    order, held = order_with_last_fill_at(Fill.Status.ON_HOLD, held_from=Fill.Status.READY_TO_PACK)

    with django_capture_on_commit_callbacks(execute=True):
        release_fill(held, by=another_staff(Role.PHARMACIST), note="Patient confirmed")

    assert queued == [order.pk]


@pytest.mark.django_db
def test_cancelling_the_last_fill_not_ready_queues_the_shipment_of_the_rest(
    django_capture_on_commit_callbacks, queued
):
    order, waiting = order_with_last_fill_at(Fill.Status.PV1)

    with django_capture_on_commit_callbacks(execute=True):
        transition_fill(
            waiting, to=Fill.Status.CANCELLED, by=another_staff(Role.PHARMACIST), reason="Duplicate"
        )

    assert queued == [order.pk]


@pytest.mark.django_db
def test_cancelling_every_fill_of_an_order_queues_nothing(django_capture_on_commit_callbacks):
    fill = fill_at(Fill.Status.PV1)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        transition_fill(
            fill, to=Fill.Status.CANCELLED, by=another_staff(Role.PHARMACIST), reason="Duplicate"
        )

    assert callbacks == []


@pytest.mark.django_db
def test_a_broker_failure_when_queueing_is_logged_not_raised(monkeypatch, caplog):
    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to the broker. Connection refused.")

    monkeypatch.setattr(workflow_helpers.current_app, "send_task", broker_down)

    assert workflow_helpers._send_order_ready_task(12345) is False
    assert f"Could not queue {ORDER_READY_TASK}(12345,) (is the broker down?)" in caplog.text


def test_the_task_orders_queues_by_name_is_the_shipping_task():
    assert ORDER_READY_TASK in app.tasks
    assert create_shipment_for_order_task.name == ORDER_READY_TASK


# --------------------------------------------------------------------------- the task


@pytest.mark.django_db
def test_the_task_makes_the_shipment_once_after_pv2(django_capture_on_commit_callbacks):
    order, last = order_with_last_fill_at(Fill.Status.PV2)
    with django_capture_on_commit_callbacks(execute=False):
        approve_pv2(last, by=another_staff(Role.PHARMACIST), scan=last.label_code)

    made = create_shipment_for_order_task(order.pk)

    shipment = Shipment.objects.get(order=order)
    assert made == shipment.pk
    assert (shipment.status, shipment.ship_to_name) == (S.AWAITING_PACKING, order.patient.full_name)
    assert list(ShipmentEvent.objects.values_list("from_status", "to_status", "detail")) == [
        ("", S.AWAITING_PACKING, "Every fill of the order passed PV2.")
    ]
    assert create_shipment_for_order_task(order.pk) is None  # run again: nothing more
    assert Shipment.objects.count() == 1


@pytest.mark.django_db
def test_making_the_shipment_queues_its_packing_slip(django_capture_on_commit_callbacks):
    order = ready_order()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        shipment = create_shipment_for_order(order)

    assert shipment is not None
    assert len(callbacks) == 1  # the documents task, after commit
    assert not ShippingDocument.objects.exists()


@pytest.mark.django_db
def test_the_task_makes_nothing_for_an_order_not_ready_blocked_or_gone():
    not_ready, _last = order_with_last_fill_at(Fill.Status.PV2)
    blocked = ready_order(patient=shippable_patient(postal_code="4321"))

    assert create_shipment_for_order_task(not_ready.pk) is None
    assert create_shipment_for_order_task(blocked.pk) is None
    assert create_shipment_for_order_task(999999) is None

    assert not Shipment.objects.exists()
    assert [row.order for row in blocked_orders()] == [blocked]


# --------------------------------------------------------------------------- reads


@pytest.mark.django_db
def test_no_shipping_page_or_api_read_makes_a_shipment(client_technician, api_technician):
    ready = ready_order()
    ready_order(patient=shippable_patient(state="QQ"))  # blocked
    lists = [f"/shipping/list/{status}/" for status in S.values]
    reads = [
        *((client_technician, url) for url in lists),
        *((client_technician, f"{url}rows/") for url in lists),
        (client_technician, "/shipping/cannot-ship/"),
        (client_technician, "/shipping/pack/"),
        (client_technician, "/shipping/labels/"),
        (api_technician, "/api/v1/shipments/"),
        (api_technician, f"/api/v1/shipments/?order={ready.pk}"),
        (api_technician, "/api/v1/shipments/blocked/"),
        (api_technician, f"/api/v1/orders/{ready.pk}/"),
    ]

    answers = {url: client.get(url).status_code for client, url in reads}

    assert answers == dict.fromkeys(answers, 200)
    assert not Shipment.objects.exists()
    assert not ShipmentEvent.objects.exists()


# --------------------------------------------------------------------------- a real worker


@pytest.mark.worker
def test_pv2_approved_over_the_api_makes_the_shipment_within_seconds(
    celery_worker_process, api_pharmacist
):
    order, last = order_with_last_fill_at(Fill.Status.PV2)

    response = api_pharmacist.post(
        f"/api/v1/fills/{last.pk}/pv2/",
        {"decision": "approve", "scan": last.label_code},
        format="json",
    )
    assert response.status_code == 200

    deadline = time.monotonic() + 10
    while not Shipment.objects.filter(order=order).exists():
        assert time.monotonic() < deadline, "no shipment 10 s after PV2 approval"
        time.sleep(0.1)
    assert Shipment.objects.get(order=order).status == S.AWAITING_PACKING
