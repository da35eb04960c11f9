"""PV2 in the browser: the prescribed drug beside the filled product, lot, expiry and
quantity, the label; the pharmacist scans the vial label to approve, or rejects back to
fill. Never the person who filled it. Holds and releases from the work pages."""

from decimal import Decimal

import pytest
from django.db.models import Sum

from inventory.models import StockLot, StockMovement
from inventory.ndc import upc_from_ndc
from orders.models import Discrepancy, Fill, FillEvent, FillHold, FillScan
from orders.tests.factories import fill_at, stocked_package
from pharmacy.models import AuditEvent


def url(fill: Fill, action: str = "") -> str:
    return f"/fills/{fill.pk}/pv2/{action}"


def on_hand(fill: Fill) -> Decimal:
    return StockLot.objects.filter(package__product=fill.prescription.product).aggregate(
        total=Sum("quantity_on_hand")
    )["total"]


def snapshot(fill: Fill) -> tuple:
    fill.refresh_from_db()
    return (
        fill.status,
        fill.pv2_by_id,
        fill.dispensed_quantity,
        on_hand(fill),
        StockMovement.objects.count(),
        FillEvent.objects.count(),
        Discrepancy.objects.count(),
        FillHold.objects.count(),
    )


@pytest.fixture
def fill(db) -> Fill:
    """30 tablets of Lipitor filled by a technician, waiting for PV2."""
    return fill_at(Fill.Status.PV2)


# --------------------------------------------------------------------------- the page


def test_the_page_shows_prescribed_beside_filled_and_the_label(client_pharmacist, pharmacist, fill):
    response = client_pharmacist.get(url(fill))

    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="filled-product">Lipitor (atorvastatin calcium) 10 mg tablet<' in html
    assert f'data-testid="filled-ndc">{fill.dispensed_ndc}<' in html
    assert 'data-testid="filled-quantity">30 tablets<' in html
    assert f'data-testid="filled-lot">{fill.lot_number}<' in html
    assert f'data-testid="filled-expiry">{fill.expiry:%Y-%m-%d}<' in html
    # The label inline, as printed: its own HTML document in a srcdoc frame.
    assert '<iframe class="label-preview" srcdoc="&lt;!DOCTYPE html&gt;' in html
    assert "&lt;div class=&quot;drug&quot;&gt;atorvastatin calcium 10 mg TABLET&lt;/div&gt;" in html
    assert f'href="/api/v1/fills/{fill.pk}/label.pdf"' in html
    assert 'name="scan" id="id_scan" data-scan data-keep-focus' in html
    assert 'name="stock_scan"' in html
    assert 'data-testid="reject-form"' in html
    event = AuditEvent.objects.get()
    assert (event.actor, event.summary) == (pharmacist, f"PV2 of Rx {fill.prescription.rx_number}")


def test_a_short_quantity_is_marked(client_pharmacist, fill):
    Fill.objects.filter(pk=fill.pk).update(dispensed_quantity=28)

    html = client_pharmacist.get(url(fill)).content.decode()

    assert '<td class="differs" data-testid="filled-quantity">28 tablets<' in html


@pytest.mark.parametrize("client_name", ["client_technician", "client_manager"])
def test_only_a_pharmacist_does_pv2(request, client_name, fill):
    client = request.getfixturevalue(client_name)
    before = snapshot(fill)

    assert client.get(url(fill)).status_code == 403
    assert client.post(url(fill), {"entry": "scanned", "scan": fill.label_code}).status_code == 403
    assert client.post(url(fill, "reject/"), {"reject-reason": "x"}).status_code == 403
    assert snapshot(fill) == before


def test_the_pharmacist_who_filled_it_is_refused_with_the_reason(client_pharmacist, pharmacist):
    fill = fill_at(Fill.Status.PV2, filled_by=pharmacist)
    before = snapshot(fill)

    page = client_pharmacist.get(url(fill))
    approve = client_pharmacist.post(url(fill), {"entry": "scanned", "scan": fill.label_code})
    reject = client_pharmacist.post(url(fill, "reject/"), {"reject-reason": "Looks off"})

    assert (page.status_code, approve.status_code, reject.status_code) == (403, 403, 403)
    html = page.content.decode()
    assert 'data-testid="pv2-refused"' in html
    assert "Another pharmacist must verify it: PV2 is never done by the person who filled it." in (
        html
    )
    assert 'name="scan"' not in html
    assert snapshot(fill) == before
    assert FillScan.objects.filter(step=FillScan.Step.PV2).count() == 0


# --------------------------------------------------------------------------- approve


def test_scanning_the_vial_label_passes_pv2(client_pharmacist, pharmacist, fill):
    response = client_pharmacist.post(
        url(fill), {"entry": "scanned", "scan": fill.label_code.lower()}
    )

    assert response.status_code == 302
    assert response["Location"] == "/fills/queue/pv2/"
    fill.refresh_from_db()
    assert (fill.status, fill.pv2_by) == (Fill.Status.READY_TO_PACK, pharmacist)
    scan = FillScan.objects.get(step=FillScan.Step.PV2)
    assert (scan.is_accepted, scan.by) == (True, pharmacist)


def test_the_stock_bottle_may_be_scanned_again(client_pharmacist, fill):
    bottle = upc_from_ndc(fill.dispensed_ndc)

    response = client_pharmacist.post(
        url(fill), {"entry": "scanned", "scan": fill.label_code, "stock_scan": bottle}
    )

    assert response.status_code == 302
    assert FillScan.objects.filter(step=FillScan.Step.PV2, is_accepted=True).count() == 2


def test_the_next_pv2_is_never_one_the_pharmacist_filled(client_pharmacist, pharmacist, fill):
    own = fill_at(Fill.Status.PV2, filled_by=pharmacist)
    other = fill_at(Fill.Status.PV2)

    response = client_pharmacist.post(url(fill), {"entry": "scanned", "scan": fill.label_code})

    assert response["Location"] == f"/fills/queue/pv2/?offer={other.pk}"
    own.refresh_from_db()
    assert own.claimed_by is None


@pytest.mark.parametrize("wrong", ["another fill", "garbage", "bottle"])
def test_a_wrong_scan_is_refused_on_record_and_changes_nothing(
    client_pharmacist, pharmacist, fill, wrong
):
    if wrong == "another fill":
        other = fill_at(Fill.Status.PV2)
        data = {"entry": "scanned", "scan": other.label_code}
        message = f"This is the label of fill {other.pk} of Rx {other.prescription.rx_number}"
    elif wrong == "garbage":
        data = {"entry": "scanned", "scan": "NOT-A-LABEL"}
        message = "is not the label of fill"
    else:
        lisinopril = stocked_package(name="Zestril", generic="lisinopril", ingredient="Lisinopril")
        data = {
            "entry": "scanned",
            "scan": fill.label_code,
            "stock_scan": upc_from_ndc(lisinopril.package_ndc),
        }
        message = f"This bottle is {lisinopril.package_ndc}; the fill was filled from"
    before = snapshot(fill)

    response = client_pharmacist.post(url(fill), data)

    html = response.content.decode()
    assert response.status_code == 409
    assert 'data-testid="work-error" data-scan-refused><strong>Stop.</strong>' in html
    assert message in html
    assert snapshot(fill) == before
    refused = FillScan.objects.get(step=FillScan.Step.PV2, is_accepted=False)
    assert refused.by == pharmacist


def test_no_scan_is_a_form_error(client_pharmacist, fill):
    before = snapshot(fill)

    response = client_pharmacist.post(url(fill), {"entry": "scanned", "scan": ""})

    assert response.status_code == 400
    assert "Scan the barcode on the vial label." in response.content.decode()
    assert snapshot(fill) == before


# --------------------------------------------------------------------------- reject


def test_rejecting_returns_the_stock_and_records_the_discrepancy(
    client_pharmacist, pharmacist, fill
):
    response = client_pharmacist.post(
        url(fill, "reject/"),
        {"reject-reason": "Counted 29 in the vial", "reject-discrepancy_kind": "wrong_count"},
    )

    assert response.status_code == 302
    fill.refresh_from_db()
    assert (fill.status, fill.dispensed_quantity, fill.lot_number) == (Fill.Status.FILL, None, "")
    assert on_hand(fill) == 300
    discrepancy = Discrepancy.objects.get()
    assert (discrepancy.kind, discrepancy.description, discrepancy.found_by) == (
        "wrong_count",
        "Counted 29 in the vial",
        pharmacist,
    )
    assert discrepancy.stock_movement.quantity_change == 30


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"reject-reason": ""}, "Say why the fill goes back to be filled again."),
        (
            {"reject-reason": "x", "reject-discrepancy_kind": "mystery"},
            "Choose one of the listed discrepancy kinds.",
        ),
    ],
)
def test_a_reject_without_a_reason_or_with_an_unknown_kind_is_refused(
    client_pharmacist, fill, data, message
):
    before = snapshot(fill)

    response = client_pharmacist.post(url(fill, "reject/"), data)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert snapshot(fill) == before


# --------------------------------------------------------------------------- holds


def test_a_technician_may_not_hold_a_fill_at_pv2(client_technician, fill):
    before = snapshot(fill)

    response = client_technician.post(
        f"/fills/{fill.pk}/hold/", {"hold-reason_code": "damaged_stock"}, follow=True
    )

    assert "Not held: A technician cannot move a fill from waiting for PV2 to on hold." in (
        response.content.decode()
    )
    assert snapshot(fill) == before


def test_a_held_fill_is_released_from_its_record_back_to_where_it_was(
    client_pharmacist, pharmacist, fill
):
    client_pharmacist.post(
        f"/fills/{fill.pk}/hold/", {"hold-reason_code": "damaged_stock", "hold-note": "Cap split"}
    )
    fill.refresh_from_db()
    assert fill.status == Fill.Status.ON_HOLD

    record = client_pharmacist.get(f"/fills/{fill.pk}/").content.decode()
    response = client_pharmacist.post(
        f"/fills/{fill.pk}/release/", {"release-note": "New cap"}, follow=True
    )

    assert "<strong>Damaged stock</strong>: Cap split" in record
    assert "Release: back to waiting for PV2" in record
    assert response.redirect_chain == [(f"/fills/{fill.pk}/", 302)]
    assert "is released: waiting for PV2." in response.content.decode()
    fill.refresh_from_db()
    assert fill.status == Fill.Status.PV2
    hold = FillHold.objects.get()
    assert (hold.released_by, hold.release_note) == (pharmacist, "New cap")


def test_a_technician_may_not_release_a_fill_held_at_pv2(client_technician, pharmacist):
    fill = fill_at(Fill.Status.ON_HOLD, held_from=Fill.Status.PV2)
    before = snapshot(fill)

    response = client_technician.post(f"/fills/{fill.pk}/release/", {}, follow=True)

    assert "Not released: A technician cannot move a fill from on hold to waiting for PV2." in (
        response.content.decode()
    )
    assert snapshot(fill) == before


def test_the_record_of_a_fill_shows_its_history(client_technician, technician):
    fill = fill_at(Fill.Status.ON_HOLD, held_from=Fill.Status.FILL)

    html = client_technician.get(f"/fills/{fill.pk}/").content.decode()

    assert 'data-testid="events"' in html
    assert "<strong>Clarification needed from the prescriber</strong>: Directions unclear" in html
    # A clarification is a pharmacist's to release: the technician is told so.
    assert 'data-testid="release-form"' not in html
    assert "A pharmacist releases this hold, with what was clarified." in html
    assert AuditEvent.objects.get().summary == f"Fill of Rx {fill.prescription.rx_number}"


def test_the_record_of_a_verified_fill_shows_what_went_into_the_vial(
    client_technician, client_pharmacist
):
    fill = fill_at(Fill.Status.READY_TO_PACK)

    technician_html = client_technician.get(f"/fills/{fill.pk}/").content.decode()
    pharmacist_html = client_pharmacist.get(f"/fills/{fill.pk}/").content.decode()

    assert f"{fill.dispensed_ndc}, lot {fill.lot_number}, expiry {fill.expiry:%Y-%m-%d}" in (
        technician_html
    )
    # Only a pharmacist may hold a fill that passed PV2: the form is not offered otherwise.
    assert 'data-testid="hold-form"' not in technician_html
    assert 'data-testid="hold-form"' in pharmacist_html
