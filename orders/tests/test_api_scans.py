"""The scan rules through the API (issue 13): the count required, the lot typed beside a
UPC recorded as typed, a later-expiring lot with its rotation reason, vial codes said to
be scanned or typed at PV2, and a clarification hold released only by a pharmacist, whose
correction sends the fill back to PV1."""

import pytest

from inventory.models import StockLot
from inventory.tests.factories import StockLotFactory
from orders.models import Fill, FillScan, HoldReason
from orders.tests.factories import datamatrix, fill_at, stocked_package, stocked_prescription
from orders.tests.test_api_fills import ndc_of, post, state
from orders.tests.test_workflow_scans import days

pytestmark = pytest.mark.django_db

S = Fill.Status


def test_the_count_is_required(api_technician):
    fill = fill_at(S.FILL)
    before = state(fill)

    response = post(api_technician, fill, "fill", {"scan": ndc_of(fill), "lot": "X"})

    assert response.status_code == 400
    assert response.json()["error"] == "invalid"
    assert "quantity" in response.json()["fields"]
    assert state(fill) == before


def test_a_lot_typed_beside_a_typed_ndc_is_shown_as_typed(api_technician):
    fill = fill_at(S.FILL)
    lot = StockLot.objects.get(package__product=fill.prescription.product)

    refused = post(api_technician, fill, "fill", {"scan": ndc_of(fill), "quantity": "30"})
    response = post(
        api_technician, fill, "fill",
        {"scan": ndc_of(fill), "quantity": "30", "lot": lot.lot_number},
    )  # fmt: skip

    assert (refused.status_code, refused.json()["error"]) == (400, "lot_required")
    assert response.status_code == 200
    body = response.json()
    assert (body["lot"], body["lot_entered_by_hand"], body["rotation_reason"]) == (
        lot.lot_number,
        True,
        "",
    )


def test_a_later_lot_takes_a_rotation_reason(api_technician):
    package = stocked_package(units=0)
    StockLotFactory(package=package, lot_number="EARLY", expiry=days(200), quantity_on_hand=90)
    late = StockLotFactory(
        package=package, lot_number="LATE", expiry=days(600), quantity_on_hand=90
    )
    fill = fill_at(S.FILL, prescription=stocked_prescription(product=package.product))
    scan = datamatrix(package, lot="LATE", expiry=late.expiry)

    refused = post(api_technician, fill, "fill", {"scan": scan, "quantity": "30"})
    response = post(
        api_technician, fill, "fill",
        {"scan": scan, "quantity": "30", "rotation_reason": "EARLY reserved for a recall check"},
    )  # fmt: skip

    assert (refused.status_code, refused.json()["error"]) == (409, "rotation_reason_required")
    assert response.status_code == 200
    assert response.json()["rotation_reason"] == "EARLY reserved for a recall check"
    assert response.json()["lot_entered_by_hand"] is False


def test_a_vial_code_said_to_be_typed_is_refused_at_pv2(api_pharmacist):
    fill = fill_at(S.PV2)
    before = state(fill)

    typed = {"decision": "approve", "scan": fill.label_code, "entry": "typed"}
    response = post(api_pharmacist, fill, "pv2", typed)

    assert response.status_code == 409
    assert response.json()["error"] == "typed_code"
    assert state(fill) == before
    assert FillScan.objects.get().entry == "typed"


def test_the_contracts_pv2_body_counts_as_scanned(api_pharmacist):
    """DESIGN.md section 6: ``{"decision", "reason", "scan"}`` from scanning software."""
    fill = fill_at(S.PV2)

    response = post(api_pharmacist, fill, "pv2", {"decision": "approve", "scan": fill.label_code})

    assert (response.status_code, response.json()["status"]) == (200, "ready_to_pack")
    assert FillScan.objects.get(step="pv2").entry == "scanned"


def test_a_typed_vial_code_with_a_reason_passes_pv2_and_shows_in_the_scans(api_pharmacist):
    fill = fill_at(S.PV2)

    response = post(
        api_pharmacist, fill, "pv2",
        {"decision": "approve", "scan": fill.label_code, "entry": "typed",
         "typed_reason": "Barcode unreadable"},
    )  # fmt: skip

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready_to_pack"
    assert [(s["entry"], s["typed_reason"]) for s in body["scans"] if s["step"] == "pv2"] == [
        ("typed", "Barcode unreadable")
    ]


def test_an_unknown_entry_is_400(api_pharmacist):
    fill = fill_at(S.PV2)

    response = post(
        api_pharmacist, fill, "pv2",
        {"decision": "approve", "scan": fill.label_code, "entry": "psychic"},
    )  # fmt: skip

    assert (response.status_code, response.json()["error"]) == (400, "invalid")


def test_a_clarification_hold_is_released_only_by_a_pharmacist(api_technician, api_pharmacist):
    fill = fill_at(S.ON_HOLD, held_from=S.FILL, hold_reason=HoldReason.CLARIFICATION)
    before = state(fill)

    by_technician = post(api_technician, fill, "release", {"note": "Office called back"})
    without_note = post(api_pharmacist, fill, "release", {})
    released = post(api_pharmacist, fill, "release", {"note": "Dr Chen confirmed 10 mg"})

    assert (by_technician.status_code, by_technician.json()["error"]) == (
        403,
        "pharmacist_required",
    )
    assert (without_note.status_code, without_note.json()["error"]) == (400, "note_required")
    assert (released.status_code, released.json()["status"]) == (200, "fill")
    assert before[0] == S.ON_HOLD


def test_a_correction_at_release_sends_the_fill_back_to_pv1(api_pharmacist):
    fill = fill_at(S.ON_HOLD, held_from=S.FILL, hold_reason=HoldReason.DISCREPANCY)

    response = post(
        api_pharmacist, fill, "release",
        {"note": "Dr Chen: 60", "quantity": "60", "directions": "Take 2 tablets daily"},
    )  # fmt: skip

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["quantity"]) == ("pv1", "60.000")
    fill.refresh_from_db()
    assert fill.prescription.directions == "Take 2 tablets daily"
