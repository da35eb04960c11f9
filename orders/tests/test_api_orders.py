"""GET /api/v1/orders/{id}/: an order with its fills, its status and its shipments."""

import pytest

from orders.models import Fill
from orders.tests.factories import OrderFactory, fill_at, stocked_prescription
from pharmacy.models import AuditEvent

pytestmark = pytest.mark.django_db

S = Fill.Status


def order_with(*statuses: str):
    prescription = stocked_prescription()
    order = OrderFactory(patient=prescription.patient)
    fills = [
        fill_at(
            status,
            held_from=S.FILL if status == S.ON_HOLD else "",
            prescription=stocked_prescription(patient=prescription.patient),
            order=order,
        )
        for status in statuses
    ]
    return order, fills


def test_an_order_shows_its_fills_and_the_status_they_make(api_technician, technician):
    order, fills = order_with(S.READY_TO_PACK, S.PV2)

    response = api_technician.get(f"/api/v1/orders/{order.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["patient"], body["status"], body["shipments"]) == (
        order.pk,
        order.patient_id,
        "in_progress",
        [],
    )
    assert [(f["id"], f["status"], f["label_code"]) for f in body["fills"]] == [
        (fill.pk, fill.status, fill.label_code) for fill in fills
    ]
    assert body["fills"][0]["dispensed_ndc"] == fills[0].dispensed_ndc
    audit = AuditEvent.objects.get(action="view")
    assert (audit.actor, audit.object_type, audit.object_id, audit.patient) == (
        technician,
        "orders.Order",
        str(order.pk),
        order.patient,
    )


@pytest.mark.parametrize(
    ("statuses", "status"),
    [
        ((S.READY_TO_PACK, S.READY_TO_PACK), "ready_to_pack"),
        ((S.READY_TO_PACK, S.ON_HOLD), "on_hold"),
        ((S.CANCELLED,), "cancelled"),
    ],
)
def test_the_order_status_follows_its_fills(api_pharmacist, statuses, status):
    order, _fills = order_with(*statuses)

    assert api_pharmacist.get(f"/api/v1/orders/{order.pk}/").json()["status"] == status


def test_an_order_costs_the_same_queries_whatever_its_fills(
    api_pharmacist, django_assert_max_num_queries
):
    small, _ = order_with(S.PV1)
    large, _ = order_with(S.PV1, S.FILL, S.PV2, S.READY_TO_PACK, S.ON_HOLD)
    api_pharmacist.get(f"/api/v1/orders/{small.pk}/")

    for order in (small, large):
        # 6: the shipments (shipping serves this view) are one query more.
        with django_assert_max_num_queries(6):
            assert api_pharmacist.get(f"/api/v1/orders/{order.pk}/").status_code == 200


def test_an_unknown_order_is_404_and_a_manager_is_403(api_pharmacist, api_manager):
    order, _ = order_with(S.PV1)

    assert api_pharmacist.get("/api/v1/orders/999999/").status_code == 404
    assert api_manager.get(f"/api/v1/orders/{order.pk}/").status_code == 403
    assert not AuditEvent.objects.filter(action="view").exists()
