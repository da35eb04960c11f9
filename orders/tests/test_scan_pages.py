"""The scan rules on the work pages (issue 13): the fill station asks for the rotation
reason when a later-expiring lot is scanned and keeps what was typed; PV2 shows a lot
typed by hand and a rotation reason, and refuses a vial code the page did not see
scanned; a clarification hold's release form is a pharmacist's, with the correction."""

import pytest

from orders.models import Fill, FillScan, HoldReason
from orders.tests.factories import datamatrix, fill_at
from orders.tests.test_workflow_scans import state

pytestmark = pytest.mark.django_db

S = Fill.Status


def test_a_later_lot_asks_for_the_rotation_reason_and_keeps_the_count(client_technician, two_lots):
    fill, early, late = two_lots
    scan = datamatrix(late.package, lot="LATE", expiry=late.expiry)

    response = client_technician.post(f"/fills/{fill.pk}/fill/", {"scan": scan, "quantity": "30"})

    html = response.content.decode()
    assert response.status_code == 409
    assert "Lot LATE expires on" in html
    assert "but lot EARLY (bin A-01) expires earlier" in html
    reason = html[html.index('data-testid="rotation-reason"') :][:700]
    assert 'name="rotation_reason"' in reason
    assert "data-focus" in reason
    assert 'name="quantity" value="30"' in html

    filled = client_technician.post(
        f"/fills/{fill.pk}/fill/",
        {"scan": scan, "quantity": "30", "rotation_reason": "EARLY bottle cracked"},
    )

    assert filled.status_code == 302
    fill.refresh_from_db()
    assert (fill.status, fill.rotation_reason) == (S.PV2, "EARLY bottle cracked")


def test_pv2_shows_a_typed_lot_and_a_rotation_reason(client_pharmacist):
    fill = fill_at(S.PV2)
    Fill.objects.filter(pk=fill.pk).update(
        lot_entered_by_hand=True, rotation_reason="EARLY bottle cracked"
    )

    html = client_pharmacist.get(f"/fills/{fill.pk}/pv2/").content.decode()

    checks = html[html.index('data-testid="pv2-checks"') :][:700]
    assert f"<strong>Lot typed by hand</strong> at the fill station (lot {fill.lot_number})" in (
        checks
    )
    assert "“EARLY bottle cracked”" in checks
    # The code is scanned from the vial: no field holds it, the page does not print it.
    assert fill.label_code not in html
    assert '<input type="hidden" name="entry" value="typed" data-entry>' in html


def test_a_vial_code_the_page_did_not_see_scanned_is_refused_then_passes_with_a_reason(
    client_pharmacist, pharmacist
):
    fill = fill_at(S.PV2)
    before = state(fill)

    refused = client_pharmacist.post(f"/fills/{fill.pk}/pv2/", {"scan": fill.label_code})

    html = refused.content.decode()
    assert refused.status_code == 409
    assert "data-scan-refused><strong>Stop.</strong> The label code of fill" in html
    assert "data-typed-reason hidden" not in html  # the reason field is shown
    assert state(fill) == before

    passed = client_pharmacist.post(
        f"/fills/{fill.pk}/pv2/",
        {"scan": fill.label_code, "entry": "typed", "typed_reason": "Barcode torn"},
    )

    assert passed.status_code == 302
    fill.refresh_from_db()
    assert fill.status == S.READY_TO_PACK
    assert list(FillScan.objects.values_list("entry", "typed_reason", "is_accepted")) == [
        ("typed", "", False),
        ("typed", "Barcode torn", True),
    ]


def test_a_technician_cannot_release_a_clarification_hold_from_the_page(client_technician):
    fill = fill_at(S.ON_HOLD, held_from=S.FILL, hold_reason=HoldReason.CLARIFICATION)
    before = state(fill)

    response = client_technician.post(
        f"/fills/{fill.pk}/release/", {"release-note": "Called"}, follow=True
    )

    assert "Not released: Only a pharmacist may release a hold for clarification" in (
        response.content.decode()
    )
    assert state(fill) == before


def test_a_pharmacist_releases_with_what_was_clarified_and_a_correction(client_pharmacist):
    fill = fill_at(S.ON_HOLD, held_from=S.FILL, hold_reason=HoldReason.CLARIFICATION)

    page = client_pharmacist.get(f"/fills/{fill.pk}/").content.decode()
    response = client_pharmacist.post(
        f"/fills/{fill.pk}/release/",
        {"release-note": "Dr Chen: 60 tablets", "release-quantity": "60"},
        follow=True,
    )

    assert "What was clarified (with whom, and the answer)" in page
    assert "Correct the prescription as clarified (sends the fill back to PV1)" in page
    assert f"Rx {fill.prescription.rx_number} is released: waiting for PV1." in (
        response.content.decode()
    )
    fill.refresh_from_db()
    assert (fill.status, fill.quantity) == (S.PV1, 60)


def test_the_fill_record_prints_no_vial_code(client_technician):
    fill = fill_at(S.READY_TO_PACK)

    html = client_technician.get(f"/fills/{fill.pk}/").content.decode()

    assert fill.label_code not in html
