"""The fill station in the browser: the verified product and the suggested lot, one scan
field with the focus, the counted quantity; a mismatch is a hard stop in plain words,
recorded, with nothing else changed; success goes on to the next fill."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils import timezone

from inventory.models import StockLot, StockMovement
from inventory.ndc import upc_from_ndc
from inventory.tests.factories import StockLotFactory
from orders.models import Fill, FillEvent, FillHold, FillScan
from orders.tests.factories import (
    another_staff,
    bottle_scan,
    fill_at,
    stocked_package,
    stocked_prescription,
)
from pharmacy.models import AuditEvent, Role


def url(fill: Fill) -> str:
    return f"/fills/{fill.pk}/fill/"


def package_of(fill: Fill):
    return fill.prescription.product.packages.get()


def upc_of(fill: Fill) -> str:
    return upc_from_ndc(package_of(fill).package_ndc)


def on_hand(fill: Fill) -> Decimal:
    return StockLot.objects.filter(package__product=fill.prescription.product).aggregate(
        total=Sum("quantity_on_hand")
    )["total"]


def snapshot(fill: Fill) -> tuple:
    fill.refresh_from_db()
    return (
        fill.status,
        fill.dispensed_ndc,
        fill.lot_number,
        fill.dispensed_quantity,
        on_hand(fill),
        StockMovement.objects.count(),
        FillEvent.objects.count(),
        Fill.objects.count(),
    )


@pytest.fixture
def fill(db) -> Fill:
    """A fill of 30 tablets of Lipitor waiting to be filled; one lot of 300 on the shelf."""
    return fill_at(Fill.Status.FILL)


# --------------------------------------------------------------------------- the page


def test_the_station_shows_the_product_the_lot_to_take_and_a_scan_field(
    client_technician, technician, fill
):
    lot = StockLot.objects.get(package__product=fill.prescription.product)

    response = client_technician.get(url(fill))

    html = response.content.decode()
    assert response.status_code == 200
    assert (
        '<p class="drug-name" data-testid="product-description">'
        "Lipitor (atorvastatin calcium) 10 mg tablet</p>"
    ) in html
    assert 'data-testid="quantity-to-fill">30 tablets<' in html
    suggested = html[html.index('data-testid="suggested-lot"') :][:600]
    assert f"<strong>{lot.lot_number}</strong>" in suggested
    assert "<strong>A-01</strong>" in suggested
    assert f"{lot.expiry:%Y-%m-%d}" in suggested
    assert "<dd>300</dd>" in suggested
    assert 'name="scan" id="id_scan" data-scan data-keep-focus' in html
    # Neither the count nor the lot is filled in: the technician counts, the lot comes
    # from the bottle (issue 13).
    assert (
        '<input type="number" name="quantity" inputmode="decimal" autocomplete="off" '
        'step="any" min="0.001" required id="id_quantity">' in html
    )
    assert 'name="lot_number" autocomplete="off" maxlength="40" id="id_lot_number">' in html
    assert 'value="30"' not in html.split('data-testid="fill-form"')[1]
    assert lot.lot_number not in html.split('data-testid="fill-form"')[1]
    assert 'name="is_partial"' in html
    assert f'href="/api/v1/fills/{fill.pk}/label.pdf"' in html
    assert 'data-testid="hold-form"' in html
    event = AuditEvent.objects.get()
    assert (event.actor, event.patient_id, event.summary) == (
        technician,
        fill.prescription.patient_id,
        f"Fill station of Rx {fill.prescription.rx_number}",
    )


def test_without_usable_stock_the_station_says_so(client_technician):
    fill = fill_at(
        Fill.Status.FILL,
        prescription=stocked_prescription(product=stocked_package(units=0).product),
    )

    html = client_technician.get(url(fill)).content.decode()

    assert "No usable lot is in stock for this fill." in html


def test_a_manager_may_not_fill(client_manager, fill):
    before = snapshot(fill)

    assert client_manager.get(url(fill)).status_code == 403
    assert client_manager.post(url(fill), {"scan": upc_of(fill), "quantity": "30"}).status_code == (
        403
    )
    assert snapshot(fill) == before


def test_a_fill_claimed_by_another_technician_is_view_only(client_technician, fill):
    other = another_staff(Role.TECHNICIAN)
    Fill.objects.filter(pk=fill.pk).update(claimed_by=other, claimed_at=timezone.now())
    before = snapshot(fill)

    page = client_technician.get(url(fill)).content.decode()
    post = client_technician.post(url(fill), {"scan": upc_of(fill), "quantity": "30"})

    assert f"Claimed by <strong>{other.get_full_name()}</strong>" in page
    assert 'data-testid="fill-form"' not in page
    assert post.status_code == 409
    assert f"is claimed by {other.get_full_name()}" in post.content.decode()
    assert snapshot(fill) == before


def test_a_stale_claim_of_someone_else_does_not_block_the_station(client_technician, fill):
    other = another_staff(Role.TECHNICIAN)
    Fill.objects.filter(pk=fill.pk).update(
        claimed_by=other, claimed_at=timezone.now() - timedelta(hours=2)
    )

    html = client_technician.get(url(fill)).content.decode()

    assert 'data-testid="fill-form"' in html


# --------------------------------------------------------------------------- filling


def test_a_matching_scan_fills_and_goes_back_to_the_empty_queue(
    client_technician, technician, fill
):
    lot = StockLot.objects.get(package__product=fill.prescription.product)

    response = client_technician.post(
        url(fill), {"scan": upc_of(fill), "quantity": "30", "lot_number": lot.lot_number}
    )

    assert response.status_code == 302
    assert response["Location"] == "/fills/queue/fill/"
    fill.refresh_from_db()
    assert (fill.status, fill.filled_by, fill.dispensed_quantity) == (
        Fill.Status.PV2,
        technician,
        Decimal(30),
    )
    assert (fill.dispensed_ndc, fill.lot_number, fill.expiry) == (
        package_of(fill).package_ndc,
        lot.lot_number,
        lot.expiry,
    )
    assert on_hand(fill) == 270
    movement = StockMovement.objects.latest("pk")
    assert (movement.quantity_change, movement.reference) == (-30, f"fill:{fill.pk}")
    page = client_technician.get(response["Location"]).content.decode()
    assert (
        f"Rx {fill.prescription.rx_number} filled: 30 tablets from lot {lot.lot_number}; "
        "it waits for PV2. Nothing else waits in the queue." in page
    )


def test_after_a_fill_the_next_one_is_offered_not_claimed(client_technician, technician, fill):
    following = fill_at(Fill.Status.FILL)

    response = client_technician.post(url(fill), {"scan": bottle_scan(fill), "quantity": "30"})

    # Offered on the queue: nobody else is kept off it until someone opens it.
    assert response["Location"] == f"/fills/queue/fill/?offer={following.pk}"
    following.refresh_from_db()
    assert following.claimed_by is None
    page = client_technician.get(response["Location"]).content.decode()
    offer = page[page.index('data-testid="next-offer"') :][:900]
    assert f"Next: Rx {following.prescription.rx_number}" in offer
    assert f'action="/fills/{following.pk}/claim/"' in offer
    assert 'class="message scan-confirmed success"' in page
    opened = client_technician.post(f"/fills/{following.pk}/claim/")
    assert opened["Location"] == f"/fills/{following.pk}/fill/"
    following.refresh_from_db()
    assert following.claimed_by == technician


def test_an_offer_taken_by_someone_else_meanwhile_is_not_shown(client_technician, fill):
    following = fill_at(Fill.Status.FILL)
    Fill.objects.filter(pk=following.pk).update(
        claimed_by=another_staff(Role.TECHNICIAN), claimed_at=timezone.now()
    )

    page = client_technician.get(f"/fills/queue/fill/?offer={following.pk}").content.decode()

    assert 'data-testid="next-offer"' not in page


@pytest.mark.parametrize(
    ("scan", "status", "message"),
    [
        ("hello world", 400, "This is not a barcode we can read"),
        (upc_from_ndc("99999-999-99"), 409, "this is not a package we stock."),
    ],
)
def test_an_unreadable_or_unknown_scan_is_refused(client_technician, fill, scan, status, message):
    before = snapshot(fill)

    response = client_technician.post(url(fill), {"scan": scan, "quantity": "30"})

    assert response.status_code == status
    assert message in response.content.decode()
    assert snapshot(fill) == before


def test_the_wrong_drug_is_a_hard_stop_on_record_and_nothing_else_changes(
    client_technician, technician, fill
):
    other = stocked_package(name="Zocor", generic="simvastatin", ingredient="Simvastatin")
    before = snapshot(fill)

    response = client_technician.post(
        url(fill), {"scan": upc_from_ndc(other.package_ndc), "quantity": "30"}
    )

    html = response.content.decode()
    assert response.status_code == 409
    assert (
        'role="alert" data-testid="work-error" data-scan-refused><strong>Stop.</strong> Wrong drug:'
        in html
    )
    assert "the prescription is for Lipitor (atorvastatin calcium) 10 mg tablet." in html
    # A fresh scan field for the next scan; the scan is on record as refused.
    assert 'name="scan" id="id_scan" data-scan data-keep-focus autocomplete="off" placeholder' in (
        html
    )
    assert snapshot(fill) == before
    scan = FillScan.objects.get()
    assert (scan.is_accepted, scan.refusal_code, scan.by, scan.scanned_ndc) == (
        False,
        "wrong_drug",
        technician,
        other.package_ndc,
    )
    assert "refused</span> Wrong drug" in html


def test_another_strength_of_the_same_drug_is_refused(client_technician, fill):
    stronger = stocked_package(strength="40")
    before = snapshot(fill)

    response = client_technician.post(
        url(fill), {"scan": upc_from_ndc(stronger.package_ndc), "quantity": "30"}
    )

    assert response.status_code == 409
    assert "Wrong strength or form" in response.content.decode()
    assert snapshot(fill) == before


@pytest.mark.parametrize(
    ("quantity", "message"),
    [
        ("31", "31 is more than this fill&#x27;s 30 tablet."),
        ("29", "You counted 29 of the 30 tablet to fill. Count again"),
        ("29.5", "29.5 is not a whole number: count whole units (tablet), never parts of one."),
    ],
)
def test_a_count_over_or_short_of_the_fill_is_refused(client_technician, fill, quantity, message):
    before = snapshot(fill)

    response = client_technician.post(url(fill), {"scan": bottle_scan(fill), "quantity": quantity})

    assert response.status_code == 409
    assert message in response.content.decode()
    assert snapshot(fill) == before
    assert FillScan.objects.get().is_accepted is False


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"scan": "", "quantity": "30"}, "Scan the stock bottle (or type its NDC)."),
        ({"scan": "x", "quantity": "thirty"}, "The counted quantity is a number"),
        ({"scan": "x", "quantity": "0"}, "The counted quantity must be more than 0."),
        ({"scan": "x", "quantity": "-3"}, "The counted quantity must be more than 0."),
        ({"scan": "x", "quantity": ""}, "Enter the quantity you counted."),
    ],
)
def test_a_form_left_incomplete_is_refused_before_any_scan_is_read(
    client_technician, fill, data, message
):
    before = snapshot(fill)

    response = client_technician.post(url(fill), data)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert snapshot(fill) == before
    assert FillScan.objects.count() == 0


def test_a_partial_fill_when_stock_is_short_splits_the_fill(client_technician, db):
    package = stocked_package(units=0)
    StockLotFactory(package=package, quantity_on_hand=20)
    fill = fill_at(Fill.Status.FILL, prescription=stocked_prescription(product=package.product))

    response = client_technician.post(
        url(fill), {"scan": bottle_scan(fill), "quantity": "20", "is_partial": "on"}
    )

    assert response.status_code == 302
    fill.refresh_from_db()
    assert (fill.status, fill.quantity, fill.dispensed_quantity) == (
        Fill.Status.PV2,
        Decimal(20),
        Decimal(20),
    )
    remainder = Fill.objects.get(partial_of=fill)
    assert (remainder.status, remainder.quantity) == (Fill.Status.ON_HOLD, Decimal(10))
    assert FillHold.objects.get(fill=remainder).reason_code == "out_of_stock"


# --------------------------------------------------------------------------- label


def test_the_label_link_prints_with_the_browser_session(client_technician, technician, fill):
    # The station links to the API's label, which takes the signed-in session too.
    response = client_technician.get(f"/api/v1/fills/{fill.pk}/label.pdf")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    assert AuditEvent.objects.get().actor == technician
