"""The fill endpoints of the integration contract: the work queues, PV1, fill, PV2, holds
and claims through HTTP, with every refusal the issue names."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from inventory.models import StockLot, StockMovement
from inventory.ndc import upc_from_ndc
from inventory.tests.factories import StockLotFactory
from orders.models import Discrepancy, DurAlert, DurOverride, Fill, FillEvent, FillScan
from orders.services.workflow import claim_fill, suggest_lot
from orders.tests.factories import (
    DurAlertFactory,
    another_staff,
    datamatrix,
    fill_at,
    stocked_package,
    stocked_prescription,
)
from pharmacy.models import AuditEvent, Role
from pharmacy.services import create_api_token

pytestmark = pytest.mark.django_db

S = Fill.Status
TODAY = timezone.localdate()


def url(fill: Fill, step: str = "") -> str:
    return f"/api/v1/fills/{fill.pk}/" + (f"{step}/" if step else "")


def post(client, fill: Fill, step: str, body: dict | None = None):
    return client.post(url(fill, step), body or {}, format="json")


def state(fill: Fill) -> tuple:
    fill.refresh_from_db()
    return (
        fill.status,
        fill.pv1_by_id,
        fill.dispensed_quantity,
        fill.pv2_by_id,
        FillEvent.objects.count(),
        DurOverride.objects.count(),
        StockMovement.objects.count(),
        Discrepancy.objects.count(),
    )


def api_client_for(user):
    from rest_framework.test import APIClient  # noqa: PLC0415

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {create_api_token(user).key}")
    return client


def ndc_of(fill: Fill) -> str:
    return fill.prescription.product.packages.get().package_ndc


# --------------------------------------------------------------------------- queues


def test_a_queue_lists_its_fills_most_urgent_first(api_technician, technician):
    old = fill_at(S.FILL)
    Fill.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=2))
    new = fill_at(S.FILL)
    cold = fill_at(S.FILL, is_cold_chain=True)
    urgent = fill_at(S.FILL, priority=Fill.Priority.URGENT)
    promised = fill_at(S.FILL, promised_on=TODAY)
    fill_at(S.PV1)  # another queue

    response = api_technician.get("/api/v1/fills/?status=fill")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 5
    assert [row["id"] for row in body["results"]] == [
        promised.pk,
        cold.pk,
        urgent.pk,
        old.pk,
        new.pk,
    ]
    audit = AuditEvent.objects.get(action="search")
    assert audit.actor == technician
    assert sorted(audit.patient_ids) == sorted(
        Fill.objects.filter(status=S.FILL).values_list("prescription__patient", flat=True)
    )


def test_a_queue_row_shows_the_contract_fields(api_pharmacist, pharmacist):
    fill = fill_at(S.PV2)
    claim_fill(fill, by=pharmacist)
    fill.refresh_from_db()

    row = api_pharmacist.get("/api/v1/fills/?status=pv2").json()["results"][0]

    assert {key: row[key] for key in (
        "id", "status", "prescription", "order", "quantity", "label_code", "dispensed_ndc",
        "lot", "expiry", "rx_number", "patient", "drug", "claimed_by", "dispensed_quantity",
    )} == {
        "id": fill.pk, "status": "pv2", "prescription": fill.prescription_id,
        "order": fill.order_id, "quantity": "30.000", "label_code": fill.label_code,
        "dispensed_ndc": fill.dispensed_ndc, "lot": fill.lot_number,
        "expiry": fill.expiry.isoformat(), "rx_number": fill.prescription.rx_number,
        "patient": fill.prescription.patient_id,
        "drug": fill.prescription.product.full_description,
        "claimed_by": {"id": pharmacist.pk, "name": "Paul Pharm"}, "dispensed_quantity": "30.000",
    }  # fmt: skip
    assert datetime.fromisoformat(row["waiting_since"]) == fill.status_changed_at


def test_a_queue_filters_by_prescription(api_technician):
    fill = fill_at(S.FILL)
    fill_at(S.FILL)

    rows = api_technician.get(f"/api/v1/fills/?prescription={fill.prescription_id}").json()

    assert [row["id"] for row in rows["results"]] == [fill.pk]


def test_a_queue_page_costs_the_same_queries_for_5_or_50_fills(
    api_technician, django_assert_max_num_queries
):
    prescription = stocked_prescription()
    for number in range(5):
        fill_at(S.FILL, prescription=prescription, fill_number=number)
    api_technician.get("/api/v1/fills/?status=fill")  # token and role caches warm

    with django_assert_max_num_queries(6):
        small = api_technician.get("/api/v1/fills/?status=fill")
    for n in range(45):
        fill_at(S.FILL, prescription=prescription, fill_number=10 + n)
    with django_assert_max_num_queries(6):
        large = api_technician.get("/api/v1/fills/?status=fill")

    assert (small.json()["count"], large.json()["count"]) == (5, 50)
    assert len(large.json()["results"]) == 50


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("status=lost", "invalid_status"),
        ("prescription=abc", "invalid_prescription"),
        ("order=-1", "invalid_order"),
    ],
)
def test_bad_queue_filters_are_refused(api_technician, query, code):
    response = api_technician.get(f"/api/v1/fills/?{query}")

    assert response.status_code == 400
    assert response.json()["error"] == code


def test_a_manager_and_a_stranger_see_no_queue(api_manager, client):
    assert api_manager.get("/api/v1/fills/").status_code == 403
    response = client.get("/api/v1/fills/")
    assert response.status_code == 401


def test_a_fill_shows_its_alerts_overrides_and_history(api_pharmacist, pharmacist):
    fill = fill_at(S.PV1)
    alert = DurAlertFactory(fill=fill)
    post(
        api_pharmacist,
        fill,
        "pv1",
        {"decision": "approve", "overrides": [{"alert": alert.pk, "reason_code": "dose_verified"}]},
    )

    response = api_pharmacist.get(url(fill))

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "fill"
    assert body["dur_alerts"] == [
        {
            "id": alert.pk,
            "type": "allergy",
            "severity": "major",
            "message": alert.message,
            "override": {
                "reason_code": "dose_verified",
                "note": "",
                "by": pharmacist.pk,
                "at": body["dur_alerts"][0]["override"]["at"],
            },
        }
    ]
    assert [(e["from_status"], e["to_status"]) for e in body["events"]] == [
        ("", "pv1"),
        ("pv1", "fill"),
    ]
    assert body["events"][1]["actor"] == {"id": pharmacist.pk, "name": "Paul Pharm"}
    assert (body["holds"], body["scans"], body["discrepancies"], body["remainders"]) == (
        [],
        [],
        [],
        [],
    )
    view = AuditEvent.objects.filter(action="view").get()
    assert (view.object_type, view.object_id, view.patient) == (
        "orders.Fill",
        str(fill.pk),
        fill.prescription.patient,
    )


def test_an_unknown_fill_is_404(api_pharmacist):
    response = api_pharmacist.get("/api/v1/fills/999999/")

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


# --------------------------------------------------------------------------- PV1


def test_pv1_approval_with_every_alert_overridden(api_pharmacist, pharmacist):
    fill = fill_at(S.PV1)
    alerts = [DurAlertFactory(fill=fill), DurAlertFactory(fill=fill, type="interaction")]

    response = post(
        api_pharmacist,
        fill,
        "pv1",
        {
            "decision": "approve",
            "overrides": [
                {"alert": alerts[0].pk, "reason_code": "previously_tolerated", "note": "2019"},
                {"alert": alerts[1].pk, "reason_code": "prescriber_consulted"},
            ],
        },
    )

    assert response.status_code == 200
    assert response.json()["status"] == "fill"
    assert response.json()["pv1_by"] == pharmacist.pk
    assert DurOverride.objects.count() == 2
    assert AuditEvent.objects.get(action="update").summary == "PV1 approved (API)"


def test_pv1_approval_with_an_alert_left_is_409_and_names_it(api_pharmacist):
    fill = fill_at(S.PV1)
    alert = DurAlertFactory(fill=fill)
    before = state(fill)

    response = post(api_pharmacist, fill, "pv1", {"decision": "approve"})

    assert response.status_code == 409
    assert response.json() == {
        "error": "alerts_not_overridden",
        "detail": "1 drug-check alert has no override reason: Allergy (major). Give each "
        "a coded reason, or reject the fill.",
        "alerts": [alert.pk],
    }
    assert state(fill) == before


def test_pv1_rejection_sends_the_fill_back_to_intake(api_pharmacist):
    fill = fill_at(S.PV1)

    response = post(
        api_pharmacist, fill, "pv1", {"decision": "reject", "reason": "Wrong patient picked"}
    )

    assert response.status_code == 200
    assert response.json()["status"] == "intake"
    assert response.json()["events"][-1]["reason"] == "PV1 rejected: Wrong patient picked"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "invalid"),
        ({"decision": "maybe"}, "invalid"),
        ({"decision": "approve", "overrides": "all"}, "invalid"),
        ({"decision": "approve", "overrides": [{"alert": 1, "reason_code": "vibes"}]}, "invalid"),
        ({"decision": "approve", "overrides": [{"alert": 999999, "reason_code": "dose_verified"}]},
         "unknown_alert"),
        ({"decision": "reject"}, "reason_required"),
    ],
)  # fmt: skip
def test_malformed_pv1_decisions_are_400_and_change_nothing(api_pharmacist, body, code):
    fill = fill_at(S.PV1)
    before = state(fill)

    response = post(api_pharmacist, fill, "pv1", body)

    assert response.status_code == 400
    assert response.json()["error"] == code
    assert state(fill) == before
    assert not AuditEvent.objects.filter(action="update").exists()


def test_a_technician_cannot_approve_pv1(api_technician):
    fill = fill_at(S.PV1)
    before = state(fill)

    response = post(api_technician, fill, "pv1", {"decision": "approve"})

    assert response.status_code == 403
    assert response.json()["error"] == "permission_denied"
    assert state(fill) == before


def test_pv1_of_a_fill_in_another_state_is_409(api_pharmacist):
    fill = fill_at(S.FILL)
    before = state(fill)

    response = post(api_pharmacist, fill, "pv1", {"decision": "approve"})

    assert response.status_code == 409
    assert response.json()["error"] == "wrong_status"
    assert state(fill) == before


def test_a_racing_second_approval_is_409_and_says_who_won(api_pharmacist, pharmacist):
    fill = fill_at(S.PV1)
    other = another_staff(Role.PHARMACIST, first_name="Rita", last_name="Rx")
    first = post(api_client_for(other), fill, "pv1", {"decision": "approve"})
    before = state(fill)

    second = post(api_pharmacist, fill, "pv1", {"decision": "approve"})

    assert first.status_code == 200
    assert second.status_code == 409
    assert second.json()["error"] == "wrong_status"
    assert "(Rita Rx moved it at" in second.json()["detail"]
    assert state(fill) == before
    assert Fill.objects.get(pk=fill.pk).pv1_by == other


def test_a_fill_claimed_by_another_pharmacist_is_409(api_pharmacist):
    fill = fill_at(S.PV1)
    other = another_staff(Role.PHARMACIST, first_name="Rita", last_name="Rx")
    claim_fill(fill, by=other)
    before = state(fill)

    response = post(api_pharmacist, fill, "pv1", {"decision": "approve"})

    assert response.status_code == 409
    assert response.json()["error"] == "claimed"
    assert response.json()["claimed_by"] == "Rita Rx"
    assert state(fill) == before


# --------------------------------------------------------------------------- fill


def test_a_matching_scan_fills_and_shows_ndc_lot_and_expiry(api_technician, technician):
    fill = fill_at(S.FILL)
    lot = StockLot.objects.get(package__product=fill.prescription.product)

    response = post(
        api_technician,
        fill,
        "fill",
        {"scan": datamatrix(lot.package, lot=lot.lot_number, serial="SN1"), "quantity": "30"},
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["dispensed_ndc"], body["lot"], body["expiry"]) == (
        "pv2",
        lot.package.package_ndc,
        lot.lot_number,
        lot.expiry.isoformat(),
    )
    assert (body["dispensed_quantity"], body["serial_number"], body["filled_by"]) == (
        "30.000",
        "SN1",
        technician.pk,
    )
    assert body["scans"][0]["is_accepted"] is True


@pytest.mark.parametrize(
    ("scan", "quantity", "code", "status"),
    [
        ("(garbage)", "30", "scan_unreadable", 400),
        ("wrong drug", "30", "wrong_drug", 409),
        ("wrong strength", "30", "wrong_strength", 409),
        ("unknown product", "30", "unknown_product", 409),
        ("right", "31", "quantity_over_prescribed", 409),
        ("right", "-1", "invalid_quantity", 409),
        ("right", "29", "short_count", 409),
    ],
)
def test_refused_fills_are_recorded_and_answered_with_the_reason(
    api_technician, technician, scan, quantity, code, status
):
    fill = fill_at(S.FILL)
    raw = {
        "(garbage)": "]d2 nonsense",
        "wrong drug": stocked_package(name="Zoloft", generic="sertraline",
                                      ingredient="Sertraline", strength="50").package_ndc,
        "wrong strength": stocked_package(strength="80").package_ndc,
        "unknown product": upc_from_ndc("99999-999-99"),
        "right": ndc_of(fill),
    }[scan]  # fmt: skip
    before = state(fill)

    response = post(api_technician, fill, "fill", {"scan": raw, "quantity": quantity})

    assert response.status_code == status
    assert response.json()["error"] == code
    assert response.json()["detail"]
    assert state(fill) == before
    refused = FillScan.objects.get()
    assert (refused.is_accepted, refused.refusal_code, refused.by) == (False, code, technician)


@pytest.mark.parametrize("status", ["expired", "quarantined", "recalled"], ids=lambda s: f"{s} lot")
def test_a_blocked_lot_is_409(api_technician, status):
    fill = fill_at(S.FILL)
    lot = StockLot.objects.get(package__product=fill.prescription.product)
    StockLot.objects.filter(pk=lot.pk).update(status=status)

    response = post(
        api_technician,
        fill,
        "fill",
        {"scan": datamatrix(lot.package, lot=lot.lot_number), "quantity": "30"},
    )

    assert response.status_code == 409
    assert response.json()["error"] == f"lot_{status}"
    assert Fill.objects.get(pk=fill.pk).status == S.FILL


def test_short_stock_is_409(api_technician):
    fill = fill_at(S.FILL)
    lot = StockLot.objects.get(package__product=fill.prescription.product)
    low = StockLotFactory(package=lot.package, lot_number="LOW", quantity_on_hand=10)

    body = {"scan": ndc_of(fill), "quantity": "30", "lot": low.lot_number}

    response = post(api_technician, fill, "fill", body)

    assert response.status_code == 409
    assert response.json()["error"] == "insufficient_stock"


@pytest.mark.parametrize(
    "body",
    [{}, {"scan": "0002-3227-30"}, {"quantity": "30"}, {"scan": "x", "quantity": "lots"},
     {"scan": "x", "quantity": "1.23456"}, {"scan": "x", "quantity": "30", "partial": "perhaps"}],
)  # fmt: skip
def test_malformed_fill_input_is_400_and_nothing_is_recorded(api_technician, body):
    fill = fill_at(S.FILL)
    before = state(fill)

    response = post(api_technician, fill, "fill", body)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid"
    assert state(fill) == before
    assert not FillScan.objects.exists()


def test_a_partial_fill_through_the_api_splits_the_fill(api_technician):
    package = stocked_package(units=12)
    fill = fill_at(S.FILL, prescription=stocked_prescription(product=package.product))

    response = post(
        api_technician,
        fill,
        "fill",
        {
            "scan": ndc_of(fill),
            "quantity": "12",
            "partial": True,
            "lot": suggest_lot(fill).lot_number,
        },
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["quantity"], body["dispensed_quantity"]) == (
        "pv2",
        "12.000",
        "12.000",
    )
    remainder = Fill.objects.get(pk=body["remainders"][0])
    assert (remainder.status, remainder.quantity, remainder.partial_of_id) == (
        S.ON_HOLD,
        18,
        fill.pk,
    )


def test_a_manager_cannot_fill(api_manager):
    fill = fill_at(S.FILL)

    response = post(api_manager, fill, "fill", {"scan": ndc_of(fill), "quantity": "30"})

    assert response.status_code == 403
    assert Fill.objects.get(pk=fill.pk).status == S.FILL


# --------------------------------------------------------------------------- PV2


def test_pv2_approval_by_another_pharmacist(api_pharmacist, pharmacist):
    fill = fill_at(S.PV2)

    response = post(
        api_pharmacist,
        fill,
        "pv2",
        {"decision": "approve", "entry": "scanned", "scan": fill.label_code},
    )

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["pv2_by"]) == (
        "ready_to_pack",
        pharmacist.pk,
    )


def test_the_filler_at_pv2_is_403(api_pharmacist, pharmacist):
    fill = fill_at(S.PV2, filled_by=pharmacist)
    before = state(fill)

    response = post(
        api_pharmacist,
        fill,
        "pv2",
        {"decision": "approve", "entry": "scanned", "scan": fill.label_code},
    )

    assert response.status_code == 403
    assert response.json()["error"] == "own_fill"
    assert state(fill) == before


def test_a_technician_at_pv2_is_403(api_technician):
    fill = fill_at(S.PV2)

    response = post(
        api_technician,
        fill,
        "pv2",
        {"decision": "approve", "entry": "scanned", "scan": fill.label_code},
    )

    assert response.status_code == 403
    assert Fill.objects.get(pk=fill.pk).status == S.PV2


def test_another_vials_label_at_pv2_is_409(api_pharmacist):
    fill, other = fill_at(S.PV2), fill_at(S.PV2)
    before = state(fill)

    response = post(
        api_pharmacist,
        fill,
        "pv2",
        {"decision": "approve", "entry": "scanned", "scan": other.label_code},
    )

    assert response.status_code == 409
    assert response.json()["error"] == "wrong_vial"
    assert state(fill) == before
    assert FillScan.objects.get().refusal_code == "wrong_vial"


def test_pv2_rejection_returns_the_stock(api_pharmacist):
    fill = fill_at(S.PV2)
    lot = fill.stock_lot
    on_hand = lot.quantity_on_hand

    response = post(
        api_pharmacist,
        fill,
        "pv2",
        {"decision": "reject", "reason": "Two broken tablets", "discrepancy_kind": "damaged_stock"},
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["dispensed_ndc"], body["lot"]) == ("fill", "", "")
    assert body["discrepancies"][0]["kind"] == "damaged_stock"
    lot.refresh_from_db()
    assert lot.quantity_on_hand == on_hand + 30


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"scan": "X"}, "invalid"),
        ({"decision": "approve"}, "scan_required"),
        ({"decision": "reject"}, "reason_required"),
        ({"decision": "reject", "reason": "x", "discrepancy_kind": "oops"}, "invalid"),
    ],
)
def test_malformed_pv2_decisions_are_400(api_pharmacist, body, code):
    fill = fill_at(S.PV2)
    before = state(fill)

    response = post(api_pharmacist, fill, "pv2", body)

    assert response.status_code == 400
    assert response.json()["error"] == code
    assert state(fill) == before


# --------------------------------------------------------------------------- holds, claims


def test_hold_and_release(api_technician, technician):
    fill = fill_at(S.FILL)

    held = post(api_technician, fill, "hold", {"reason_code": "insurance", "note": "PA needed"})
    released = post(api_technician, fill, "release", {"note": "PA approved"})

    assert held.status_code == 200
    assert (held.json()["status"], held.json()["held_from_status"]) == ("on_hold", "fill")
    assert held.json()["holds"][0]["reason_code"] == "insurance"
    assert released.status_code == 200
    assert (released.json()["status"], released.json()["held_from_status"]) == ("fill", "")
    assert released.json()["holds"][0]["release_note"] == "PA approved"


@pytest.mark.parametrize(
    ("step", "body", "status", "code"),
    [
        ("hold", {"reason_code": "bored"}, 400, "invalid"),
        ("hold", {}, 400, "invalid"),
        ("release", {}, 409, "wrong_status"),
    ],
)
def test_bad_holds_and_releases(api_technician, step, body, status, code):
    fill = fill_at(S.FILL)
    before = state(fill)

    response = post(api_technician, fill, step, body)

    assert response.status_code == status
    assert response.json()["error"] == code
    assert state(fill) == before


def test_claim_and_unclaim(api_technician, technician):
    fill = fill_at(S.FILL)

    claimed = post(api_technician, fill, "claim")
    taken = post(api_client_for(another_staff(Role.TECHNICIAN)), fill, "claim")
    unclaimed = post(api_technician, fill, "unclaim")

    assert claimed.status_code == 200
    assert claimed.json()["claimed_by"] == {"id": technician.pk, "name": "Tina Tech"}
    assert taken.status_code == 409
    assert taken.json()["error"] == "claimed"
    assert unclaimed.status_code == 200
    assert unclaimed.json()["claimed_by"] is None


def test_steps_on_an_unknown_fill_are_404(api_pharmacist):
    response = api_pharmacist.post("/api/v1/fills/999999/pv1/", {"decision": "approve"})

    assert response.status_code == 404


def test_no_data_alert_needs_a_manual_check_through_the_api(api_pharmacist):
    fill = fill_at(S.PV1)
    alert = DurAlertFactory(fill=fill, type=DurAlert.Type.NO_DATA, message="Not checked")

    refused = post(
        api_pharmacist,
        fill,
        "pv1",
        {
            "decision": "approve",
            "overrides": [{"alert": alert.pk, "reason_code": "not_significant"}],
        },
    )
    passed = post(
        api_pharmacist,
        fill,
        "pv1",
        {
            "decision": "approve",
            "overrides": [{"alert": alert.pk, "reason_code": "checked_manually"}],
        },
    )

    assert (refused.status_code, refused.json()["error"]) == (409, "manual_check_required")
    assert passed.status_code == 200
