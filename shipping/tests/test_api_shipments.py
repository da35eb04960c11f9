"""The shipping API: GET /api/v1/shipments/?order= and /{id}/, POST /{id}/pack/, GET
/{id}/label.pdf, hand-over, delivery exceptions, orders that cannot ship, and the order
and recall trace views that show shipments."""

import pytest
from rest_framework.test import APIClient

from inventory.models import StockLot
from orders.models import Fill
from orders.services.workflow import approve_pv2
from orders.tests.factories import another_staff, fill_at, stocked_prescription
from outbox.models import OutboxMessage
from outbox.services import deliver_side_effect
from outbox.tests.delivery import side_effect
from pharmacy.models import AuditEvent, Role
from pharmacy.services import create_api_token
from shipping.models import DeliveryException, Shipment
from shipping.services.shipments import hand_over_to_carrier
from shipping.tests.factories import (
    deliver_side_effects,
    labelled_shipment,
    order_awaiting_packing,
    ready_order,
    shippable_patient,
    side_effects,
)

pytestmark = pytest.mark.django_db

S = Shipment.Status


def codes(order) -> list[str]:
    return list(order.fills.order_by("pk").values_list("label_code", flat=True))


def shipment_id(client, order) -> int:
    (row,) = client.get("/api/v1/shipments/", {"order": order.pk}).json()["results"]
    return row["id"]


# --------------------------------------------------------------------------- reads


def test_an_orders_shipment_exists_once_its_last_fill_passed_pv2(
    api_technician, technician, django_capture_on_commit_callbacks
):
    patient = shippable_patient()
    order = ready_order(patient=patient)
    last = fill_at(Fill.Status.PV2, prescription=stocked_prescription(patient=patient), order=order)
    assert api_technician.get("/api/v1/shipments/", {"order": order.pk}).json()["results"] == []

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        approve_pv2(last, by=another_staff(Role.PHARMACIST), scan=last.label_code, entry="scanned")
    assert len(callbacks) == 1  # the shipment's delivery, queued on commit
    deliver_side_effect(side_effect("shipping.create_shipment", order.pk).pk)  # the worker
    response = api_technician.get("/api/v1/shipments/", {"order": order.pk})

    assert response.status_code == 200
    (row,) = response.json()["results"]
    shipment = Shipment.objects.get(order=order)
    assert {key: row[key] for key in ("id", "order", "status", "carrier", "tracking_number")} == {
        "id": shipment.pk,
        "order": order.pk,
        "status": "awaiting_packing",
        "carrier": "local",
        "tracking_number": "",
    }
    assert row["service"] == shipment.service.code
    audit = AuditEvent.objects.filter(action=AuditEvent.Action.SEARCH).latest("pk")
    assert (audit.actor, audit.patient_ids) == (technician, [patient.pk])


def test_shipments_filter_by_status_and_refuse_bad_filters(api_pharmacist):
    labelled = labelled_shipment()
    ready_order()

    rows = api_pharmacist.get("/api/v1/shipments/", {"status": "labelled"}).json()["results"]

    assert [row["id"] for row in rows] == [labelled.pk]
    assert api_pharmacist.get("/api/v1/shipments/", {"status": "lost"}).json()["error"] == (
        "invalid_status"
    )
    assert api_pharmacist.get("/api/v1/shipments/", {"order": "x"}).status_code == 400


def test_a_shipment_shows_what_the_packer_needs_and_its_history(api_technician, technician):
    order = order_awaiting_packing(fills=2, cold_chain=True)
    pk = shipment_id(api_technician, order)

    response = api_technician.get(f"/api/v1/shipments/{pk}/")

    assert response.status_code == 200
    body = response.json()
    shipment = Shipment.objects.get(pk=pk)
    assert (body["status"], body["packaging"], body["cold_packs"], body["is_cold_chain"]) == (
        "awaiting_packing",
        "insulated",
        shipment.cold_packs,
        True,
    )
    assert body["instructions"] == shipment.instructions
    assert body["ship_to"]["postal_code"] == shipment.ship_to_postal_code
    assert [fill["label_code"] for fill in body["fills"]] == codes(order)
    assert [(e["from_status"], e["to_status"]) for e in body["events"]] == [
        ("", "awaiting_packing")
    ]
    assert body["exceptions"] == []
    audit = AuditEvent.objects.filter(action=AuditEvent.Action.VIEW).latest("pk")
    assert (audit.actor, audit.object_type, audit.object_id, audit.patient_id) == (
        technician,
        "shipping.Shipment",
        str(pk),
        order.patient_id,
    )


def test_unknown_shipments_are_404_and_strangers_401(api_technician):
    assert api_technician.get("/api/v1/shipments/999999/").status_code == 404
    assert APIClient().get("/api/v1/shipments/").status_code == 401


def test_an_account_without_a_role_sees_no_shipments(db):
    from pharmacy.models import User  # noqa: PLC0415

    user = User.objects.create_user("norole", password="Correct-Horse-Battery-42")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {create_api_token(user).key}")

    assert client.get("/api/v1/shipments/").status_code == 403


def test_orders_that_cannot_ship_are_listed_with_the_reason(api_technician):
    patient = shippable_patient(state="QQ")
    order = ready_order(patient=patient)

    response = api_technician.get("/api/v1/shipments/blocked/")

    assert response.json()["count"] == 1
    assert response.json()["results"] == [
        {
            "order": order.pk,
            "patient": patient.pk,
            "error": "address_invalid",
            "detail": f"The shipping address of {patient.full_name} cannot be shipped to: "
            "'QQ' is not a US state or territory code. Correct it on the patient's record.",
            "problems": ["'QQ' is not a US state or territory code."],
        }
    ]
    assert api_technician.get("/api/v1/shipments/", {"order": order.pk}).json()["results"] == []


# --------------------------------------------------------------------------- packing


def test_packing_through_the_api_queues_the_label_and_the_worker_labels_the_package(
    api_technician, technician
):
    order = order_awaiting_packing(fills=2)
    pk = shipment_id(api_technician, order)

    response = api_technician.post(
        f"/api/v1/shipments/{pk}/pack/",
        {"entry": "scanned", "scans": codes(order), "weight_oz": "14.2"},
        format="json",
    )

    # DESIGN.md section 6: packing queues the carrier label.
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["weight_oz"], body["carrier"]) == ("packed", "14.2", "local")
    assert body["tracking_number"] == ""
    assert [e["to_status"] for e in body["events"]] == ["awaiting_packing", "packed"]
    assert len(side_effects("shipping.buy_label", target_id=pk)) == 1
    audit = AuditEvent.objects.filter(action=AuditEvent.Action.UPDATE).latest("pk")
    assert (audit.actor, audit.summary) == (technician, "Packed (API)")

    deliver_side_effects()  # what the worker does

    body = api_technician.get(f"/api/v1/shipments/{pk}/").json()
    assert body["status"] == "labelled"
    assert body["tracking_number"].startswith("LCL")
    assert [e["to_status"] for e in body["events"]] == ["awaiting_packing", "packed", "labelled"]


def test_a_vial_from_another_order_is_refused_with_the_reason(api_technician):
    order, other = order_awaiting_packing(), order_awaiting_packing()
    pk = shipment_id(api_technician, order)
    stranger = other.fills.get()

    response = api_technician.post(
        f"/api/v1/shipments/{pk}/pack/",
        {"entry": "scanned", "scans": [*codes(order), stranger.label_code], "weight_oz": 10},
        format="json",
    )

    assert response.status_code == 409
    body = response.json()
    assert (body["error"], body["fill"], body["scan"]) == (
        "wrong_vial",
        stranger.pk,
        stranger.label_code,
    )
    assert Shipment.objects.get(pk=pk).status == S.AWAITING_PACKING


def test_a_missing_vial_is_refused_with_the_fills_missing(api_technician):
    order = order_awaiting_packing(fills=2)
    pk = shipment_id(api_technician, order)
    first, second = order.fills.order_by("pk")

    response = api_technician.post(
        f"/api/v1/shipments/{pk}/pack/",
        {"entry": "scanned", "scans": [first.label_code], "weight_oz": 10},
        format="json",
    )

    assert (response.status_code, response.json()["error"], response.json()["missing"]) == (
        409,
        "vials_missing",
        [second.pk],
    )


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"entry": "scanned", "scans": ["X"]}, "invalid"),
        ({"weight_oz": 10}, "invalid"),
        ({"entry": "scanned", "scans": "X", "weight_oz": 10}, "invalid"),
        ({"entry": "scanned", "scans": ["X"], "weight_oz": "heavy"}, "invalid"),
        ({"entry": "scanned", "scans": ["X"], "weight_oz": "0"}, "invalid_weight"),
        ({"entry": "scanned", "scans": ["X"], "weight_oz": "1500"}, "invalid_weight"),
    ],
)
def test_malformed_packing_input_is_400_with_nothing_changed(api_technician, body, error):
    order = order_awaiting_packing()
    pk = shipment_id(api_technician, order)

    response = api_technician.post(f"/api/v1/shipments/{pk}/pack/", body, format="json")

    assert (response.status_code, response.json()["error"]) == (400, error)
    assert Shipment.objects.get(pk=pk).events.count() == 1
    assert side_effects("shipping.buy_label") == []


def test_a_manager_may_not_pack(api_manager):
    order = order_awaiting_packing()
    pk = shipment_id(api_manager, order)

    response = api_manager.post(
        f"/api/v1/shipments/{pk}/pack/",
        {"entry": "scanned", "scans": codes(order), "weight_oz": 10},
        format="json",
    )

    assert response.status_code == 403


def test_the_label_pdf_exists_once_labelled(api_technician):
    order = order_awaiting_packing()
    pk = shipment_id(api_technician, order)

    early = api_technician.get(f"/api/v1/shipments/{pk}/label.pdf")
    assert (early.status_code, early.json()["error"]) == (409, "label_not_ready")

    api_technician.post(
        f"/api/v1/shipments/{pk}/pack/",
        {"entry": "scanned", "scans": codes(order), "weight_oz": 10},
        format="json",
    )
    pending = api_technician.get(f"/api/v1/shipments/{pk}/label.pdf")
    assert (pending.status_code, pending.json()["error"]) == (409, "label_not_ready")

    deliver_side_effects()
    response = api_technician.get(f"/api/v1/shipments/{pk}/label.pdf")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")


def test_the_label_is_asked_for_again_through_the_api(api_technician, technician):
    order = order_awaiting_packing()
    pk = shipment_id(api_technician, order)
    api_technician.post(
        f"/api/v1/shipments/{pk}/pack/",
        {"entry": "scanned", "scans": codes(order), "weight_oz": 10},
        format="json",
    )
    [purchase] = side_effects("shipping.buy_label")
    OutboxMessage.objects.filter(pk=purchase.pk).update(status="failed", attempts=10)

    response = api_technician.post(f"/api/v1/shipments/{pk}/label/")

    assert response.status_code == 202
    assert (response.json()["status"], response.json()["tracking_number"]) == ("packed", "")
    purchase.refresh_from_db()
    assert (purchase.status, purchase.retried_by) == ("pending", technician)
    deliver_side_effects()
    assert Shipment.objects.get(pk=pk).status == S.LABELLED

    again = api_technician.post(f"/api/v1/shipments/{pk}/label/")
    assert (again.status_code, again.json()["error"]) == (409, "wrong_status")


# --------------------------------------------------------------------------- hand-over, exceptions


def test_hand_over_and_a_delivery_exception_resolved_with_a_reship(
    api_technician, api_pharmacist, pharmacist
):
    shipment = labelled_shipment()

    handed = api_technician.post(
        "/api/v1/shipments/hand-over/", {"shipments": [shipment.pk]}, format="json"
    )
    assert handed.json() == {"handed_over": 1}

    reported = api_technician.post(
        f"/api/v1/shipments/{shipment.pk}/exceptions/",
        {"kind": "lost", "description": "No scan in 5 days"},
        format="json",
    )
    assert reported.json()["status"] == "exception"
    (problem,) = reported.json()["exceptions"]
    (fill,) = shipment.order.fills.all()

    listed = api_pharmacist.get("/api/v1/delivery-exceptions/", {"open": "true"}).json()
    assert [row["id"] for row in listed["results"]] == [problem["id"]]

    resolved = api_pharmacist.post(
        f"/api/v1/delivery-exceptions/{problem['id']}/resolve/",
        {"resolution": "Replaced", "reship": True, "replace_fills": [fill.pk]},
        format="json",
    )

    assert resolved.status_code == 200
    reship = Shipment.objects.get(reship_of=shipment)
    assert (resolved.json()["reship"], resolved.json()["is_open"]) == (reship.pk, False)
    assert reship.order.fills.get().replacement_of == fill
    assert DeliveryException.objects.get().resolved_by == pharmacist


def test_a_technician_cannot_resolve_and_a_refusal_keeps_its_reason(api_technician):
    shipment = labelled_shipment()
    hand_over_to_carrier([shipment], by=another_staff(Role.TECHNICIAN))
    api_technician.post(
        f"/api/v1/shipments/{shipment.pk}/exceptions/",
        {"kind": "damaged", "description": "Crushed"},
        format="json",
    )
    problem = DeliveryException.objects.get()

    response = api_technician.post(
        f"/api/v1/delivery-exceptions/{problem.pk}/resolve/", {"resolution": "x"}, format="json"
    )

    assert response.status_code == 403
    early = api_technician.post(
        f"/api/v1/shipments/{labelled_shipment().pk}/exceptions/",
        {"kind": "lost", "description": "x"},
        format="json",
    )
    assert (early.status_code, early.json()["error"]) == (409, "not_handed_over")


def test_a_pharmacist_sends_a_package_back_to_packing(api_pharmacist):
    shipment = labelled_shipment()

    response = api_pharmacist.post(
        f"/api/v1/shipments/{shipment.pk}/unpack/", {"reason": "Wrong box"}, format="json"
    )

    assert (response.json()["status"], response.json()["tracking_number"]) == (
        "awaiting_packing",
        "",
    )


# --------------------------------------------------------------------------- orders, recalls


def test_an_order_shows_its_shipments(api_technician):
    order = order_awaiting_packing()

    response = api_technician.get(f"/api/v1/orders/{order.pk}/")

    assert response.status_code == 200
    (shipment,) = response.json()["shipments"]
    made = Shipment.objects.get(order=order)
    assert {key: shipment[key] for key in ("id", "status", "package_code", "reship_of")} == {
        "id": made.pk,
        "status": "awaiting_packing",
        "package_code": made.package_code,
        "reship_of": None,
    }


def test_the_recall_trace_names_the_package_that_carried_each_dispensing(api_pharmacist):
    shipment = labelled_shipment()
    fill = shipment.order.fills.get()
    not_shipped = fill_at(Fill.Status.PV2, prescription=fill.prescription, fill_number=1)
    lot = StockLot.objects.get(pk=fill.stock_lot_id)

    response = api_pharmacist.get(
        "/api/v1/inventory/recalls/trace/", {"ndc": lot.package.package_ndc, "lot": lot.lot_number}
    )

    assert response.status_code == 200
    shipments = {row["fill"]: row["shipment"] for row in response.json()["dispensings"]}
    assert shipments == {fill.pk: shipment.pk, not_shipped.pk: None}
