"""An order's shipment is made when the order becomes ready to pack, never by a read.

The fill workflow records a ``shipping.create_shipment`` side effect (``outbox``; by its
kind, a string: orders cannot import shipping), one per order, in the transaction of the
move that leaves an order ready to pack; a worker delivers it with
``shipping.effects.deliver_order_shipment``; the beat's catch-up only makes the ones no
side effect made. No page or API read makes or changes a shipment.
"""

import pytest
from django.db import transaction

from orders.models import Fill
from orders.services.workflow import (
    ORDER_READY_EFFECT,
    approve_pv2,
    hold_fill,
    release_fill,
    transition_fill,
)
from orders.tests.factories import another_staff, fill_at, stocked_prescription
from outbox.models import OutboxMessage
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
from pharmacy.models import Role
from shipping.effects import deliver_order_shipment
from shipping.models import Shipment, ShipmentEvent, ShippingDocument
from shipping.services.shipments import blocked_orders, create_shipment_for_order
from shipping.tests.factories import ready_order, shippable_patient

S = Shipment.Status


def order_with_last_fill_at(status: str, **fields):
    """A ready order of one fill ready to pack, plus one more fill at ``status``."""
    patient = shippable_patient()
    order = ready_order(patient=patient)
    prescription = stocked_prescription(patient=patient)
    last = fill_at(status, prescription=prescription, order=order, **fields)
    return order, last


def recorded() -> list[tuple]:
    """Every side effect recorded so far: kind, target, dedupe key, status."""
    return list(OutboxMessage.objects.values_list("kind", "target_id", "dedupe_key", "status"))


def shipment_effect(order) -> tuple:
    return ("shipping.create_shipment", order.pk, f"shipping.create_shipment:order:{order.pk}")


# --------------------------------------------------------------------------- recording


@pytest.mark.django_db
def test_pv2_approval_of_the_last_fill_records_the_shipment_in_its_transaction(
    django_capture_on_commit_callbacks,
):
    order, last = order_with_last_fill_at(Fill.Status.PV2)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        approve_pv2(last, by=another_staff(Role.PHARMACIST), scan=last.label_code, entry="scanned")

    assert recorded() == [(*shipment_effect(order), "pending")]
    assert len(callbacks) == 1  # its delivery, queued only after commit
    assert not Shipment.objects.exists()  # the worker makes it


@pytest.mark.django_db
def test_an_approval_that_rolls_back_records_nothing():
    order, last = order_with_last_fill_at(Fill.Status.PV2)

    def failing_request():
        with transaction.atomic():
            approve_pv2(
                last, by=another_staff(Role.PHARMACIST), scan=last.label_code, entry="scanned"
            )
            raise RuntimeError("the request failed after the approval")

    with pytest.raises(RuntimeError):
        failing_request()

    assert recorded() == []
    last.refresh_from_db()
    assert last.status == Fill.Status.PV2


@pytest.mark.django_db
def test_pv2_approval_of_a_fill_that_is_not_the_last_records_nothing(
    django_capture_on_commit_callbacks,
):
    patient = shippable_patient()
    order = ready_order(patient=patient, fills=2, status=Fill.Status.PV2)
    first, _second = order.fills.order_by("pk")

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        approve_pv2(
            first, by=another_staff(Role.PHARMACIST), scan=first.label_code, entry="scanned"
        )

    assert callbacks == []
    assert recorded() == []
    first.refresh_from_db()
    assert first.status == Fill.Status.READY_TO_PACK


@pytest.mark.django_db
def test_a_release_from_hold_back_to_ready_to_pack_records_the_shipment():
    order, held = order_with_last_fill_at(Fill.Status.ON_HOLD, held_from=Fill.Status.READY_TO_PACK)

    release_fill(held, by=another_staff(Role.PHARMACIST), note="Patient confirmed")

    assert recorded() == [(*shipment_effect(order), "pending")]


@pytest.mark.django_db
def test_cancelling_the_last_fill_not_ready_records_the_shipment_of_the_rest():
    order, waiting = order_with_last_fill_at(Fill.Status.PV1)

    transition_fill(
        waiting, to=Fill.Status.CANCELLED, by=another_staff(Role.PHARMACIST), reason="Duplicate"
    )

    assert recorded() == [(*shipment_effect(order), "pending")]


@pytest.mark.django_db
def test_cancelling_every_fill_of_an_order_records_nothing(django_capture_on_commit_callbacks):
    fill = fill_at(Fill.Status.PV1)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        transition_fill(
            fill, to=Fill.Status.CANCELLED, by=another_staff(Role.PHARMACIST), reason="Duplicate"
        )

    assert callbacks == []
    assert recorded() == []


@pytest.mark.django_db
def test_an_order_ready_again_keeps_its_one_side_effect():
    order, last = order_with_last_fill_at(Fill.Status.PV2)
    pharmacist = another_staff(Role.PHARMACIST)
    approve_pv2(last, by=pharmacist, scan=last.label_code, entry="scanned")
    hold_fill(Fill.objects.get(pk=last.pk), by=pharmacist, reason_code="patient_request")

    release_fill(Fill.objects.get(pk=last.pk), by=pharmacist, note="Patient confirmed")

    assert recorded() == [(*shipment_effect(order), "pending")]


def test_the_kind_orders_records_is_delivered_by_shipping():
    assert ORDER_READY_EFFECT == "shipping.create_shipment"
    assert deliverer(ORDER_READY_EFFECT) is deliver_order_shipment


# --------------------------------------------------------------------------- delivery


@pytest.mark.django_db
def test_delivering_it_makes_the_shipment_once():
    order, last = order_with_last_fill_at(Fill.Status.PV2)
    approve_pv2(last, by=another_staff(Role.PHARMACIST), scan=last.label_code, entry="scanned")
    message = side_effect("shipping.create_shipment", order.pk)

    assert deliver_side_effect(message.pk) is True

    shipment = Shipment.objects.get(order=order)
    assert (shipment.status, shipment.ship_to_name) == (S.AWAITING_PACKING, order.patient.full_name)
    assert list(ShipmentEvent.objects.values_list("from_status", "to_status", "detail")) == [
        ("", S.AWAITING_PACKING, "Every fill of the order passed PV2.")
    ]
    message.refresh_from_db()
    assert (message.status, message.attempts, message.last_error) == ("delivered", 1, "")
    # Delivered again (a duplicate task; the sweep after a worker died before marking it
    # done): nothing more.
    assert deliver_side_effect(message.pk) is False
    deliver_order_shipment(message)
    assert Shipment.objects.count() == 1
    assert ShipmentEvent.objects.count() == 1


@pytest.mark.django_db
def test_making_the_shipment_queues_its_packing_slip(django_capture_on_commit_callbacks):
    order = ready_order()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        shipment = create_shipment_for_order(order)

    assert shipment is not None
    assert len(callbacks) == 1  # the documents task, after commit
    assert not ShippingDocument.objects.exists()


@pytest.mark.django_db
def test_an_order_not_ready_or_blocked_is_delivered_as_nothing_to_do():
    not_ready, _last = order_with_last_fill_at(Fill.Status.PV2)
    blocked = ready_order(patient=shippable_patient(postal_code="4321"))
    messages = [
        OutboxMessage.objects.create(kind="shipping.create_shipment", target_id=order.pk)
        for order in (not_ready, blocked)
    ]

    assert [deliver_side_effect(message.pk) for message in messages] == [True, True]

    assert not Shipment.objects.exists()
    # The blocked order waits for its address; the catch-up makes its shipment then.
    assert [row.order for row in blocked_orders()] == [blocked]


@pytest.mark.django_db
def test_the_shipment_of_an_order_that_is_gone_waits_for_a_manager():
    message = OutboxMessage.objects.create(kind="shipping.create_shipment", target_id=999999)

    assert deliver_side_effect(message.pk) is False

    message.refresh_from_db()
    assert (message.status, message.last_error) == (
        "failed",
        "outbox.registry.PermanentFailure: Order 999999 does not exist.",
    )


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

APPROVE_PV2 = """
from orders.models import Fill
from orders.services.workflow import approve_pv2
from pharmacy.models import User
fill = Fill.objects.get(pk={fill})
approve_pv2(fill, by=User.objects.get(pk={user}), scan=fill.label_code, entry="scanned")
print("done")
"""


def approve_pv2_over_the_api(api_pharmacist, fill: Fill) -> None:
    response = api_pharmacist.post(
        f"/api/v1/fills/{fill.pk}/pv2/",
        {"decision": "approve", "entry": "scanned", "scan": fill.label_code},
        format="json",
    )
    assert response.status_code == 200


@pytest.mark.worker
def test_pv2_approved_over_the_api_makes_the_shipment_within_seconds(
    celery_worker_process, api_pharmacist
):
    order, last = order_with_last_fill_at(Fill.Status.PV2)

    approve_pv2_over_the_api(api_pharmacist, last)

    message = wait_until_delivered(side_effect("shipping.create_shipment", order.pk), timeout=10)
    assert (message.attempts, message.last_error) == (1, "")
    assert Shipment.objects.get(order=order).status == S.AWAITING_PACKING


@pytest.mark.worker
def test_a_shipment_whose_broker_was_down_at_the_commit_is_made_by_the_sweep(
    celery_worker_process,
):
    order, last = order_with_last_fill_at(Fill.Status.PV2)
    pharmacist = another_staff(Role.PHARMACIST)

    message = record_with_the_broker_down(
        APPROVE_PV2.format(fill=last.pk, user=pharmacist.pk),
        kind="shipping.create_shipment",
        target_id=order.pk,
    )
    assert not Shipment.objects.exists()

    sweep_now()

    message = wait_until_delivered(message)
    assert (message.attempts, message.last_error) == (1, "")
    assert Shipment.objects.filter(order=order).count() == 1


@pytest.mark.worker
def test_a_shipment_whose_first_two_writes_fail_is_made_on_the_third_attempt(
    celery_worker_process, api_pharmacist
):
    order, last = order_with_last_fill_at(Fill.Status.PV2)

    with refused_inserts(Shipment._meta.db_table, times=2):
        approve_pv2_over_the_api(api_pharmacist, last)
        message = deliver_through_failures(side_effect("shipping.create_shipment", order.pk))

    assert (message.status, message.attempts, message.last_error) == ("delivered", 3, "")
    assert Shipment.objects.filter(order=order).count() == 1
