"""Cycle counts: blind counting, the variance report, approval that posts corrections, the
rules for schedule II, and counting while stock moves."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from inventory.models import CycleCount, CycleCountLine, DEASchedule, StockLot, StockMovement
from inventory.ndc import upc_from_ndc
from inventory.services.counts import (
    approve_cycle_count,
    cancel_cycle_count,
    record_count,
    start_cycle_count,
    submit_cycle_count,
)
from inventory.services.receiving import ReceiptLineInput, receive_stock
from inventory.services.stock import StockError, dispense_from_lot
from inventory.tests.factories import PackageFactory, StockLotFactory, SupplierFactory
from inventory.tests.test_receiving import datamatrix
from inventory.tests.test_stock_allocation import ledger_matches_stock
from pharmacy.models import Role
from pharmacy.tests.factories import STAFF_PASSWORD, make_staff

TODAY = timezone.localdate()
EXPIRY = TODAY + timedelta(days=300)


@pytest.fixture
def package(db):
    return PackageFactory(package_ndc="70010-101-30", product__product_ndc="70010-101")


@pytest.fixture
def shelf(package):
    """Bin B-07: two lots with stock and an empty one; another bin elsewhere."""
    return {
        "a": StockLotFactory(package=package, lot_number="A1", location="B-07",
                             expiry=EXPIRY, quantity_on_hand=137),
        "b": StockLotFactory(package=package, lot_number="B2", location="B-07",
                             expiry=EXPIRY, quantity_on_hand=58),
        "empty": StockLotFactory(package=package, lot_number="C3", location="B-07",
                                 expiry=EXPIRY),
        "elsewhere": StockLotFactory(package=package, lot_number="D4", location="Z-99",
                                     expiry=EXPIRY, quantity_on_hand=10),
    }  # fmt: skip


@pytest.fixture
def oxycodone(db):
    package = PackageFactory(
        package_ndc="70030-001-01",
        product__product_ndc="70030-001",
        product__dea_schedule=DEASchedule.CII,
        quantity=100,
        unit="TABLET",
    )
    return StockLotFactory(package=package, lot_number="OX1", location="VAULT",
                           expiry=EXPIRY, quantity_on_hand=100)  # fmt: skip


@pytest.fixture
def alprazolam(db):
    package = PackageFactory(
        package_ndc="70040-001-01",
        product__product_ndc="70040-001",
        product__dea_schedule=DEASchedule.CIV,
        quantity=500,
        unit="TABLET",
    )
    return StockLotFactory(package=package, lot_number="AL1", location="VAULT",
                           expiry=EXPIRY, quantity_on_hand=500)  # fmt: skip


def counted(count, technician, **quantities):
    """Record a count of each lot (by lot number) and submit."""
    for line in count.lines.select_related("lot"):
        record_count(
            count, lot=line.lot, counted_quantity=quantities[line.lot.lot_number], by=technician
        )
    return submit_cycle_count(count, by=technician)


def test_a_count_of_a_bin_takes_its_lots_in_stock(shelf, technician):
    count = start_cycle_count(by=technician, location="b-07")

    assert count.scope == "bin b-07"
    assert count.status == CycleCount.Status.COUNTING
    assert sorted(count.lines.values_list("lot__lot_number", "expected_quantity")) == [
        ("A1", 137),
        ("B2", 58),
    ]


def test_a_lot_is_in_one_open_count_at_a_time(shelf, technician):
    first = start_cycle_count(by=technician, location="B-07")

    with pytest.raises(StockError) as refused:
        start_cycle_count(by=technician, lots=[shelf["a"]])

    assert refused.value.code == "lot_already_being_counted"
    assert f"count {first.pk}" in refused.value.detail
    assert CycleCount.objects.count() == 1
    cancel_cycle_count(first, by=technician)
    assert start_cycle_count(by=technician, lots=[shelf["a"]]).lines.count() == 1


def test_nothing_to_count_is_said(shelf, technician):
    with pytest.raises(StockError, match="No lot in stock matches; nothing to count."):
        start_cycle_count(by=technician, location="NOWHERE")


def test_approval_posts_each_variance_to_the_ledger(shelf, technician, manager):
    count = start_cycle_count(by=technician, location="B-07")
    counted(count, technician, A1=135, B2=58)

    approve_cycle_count(count, by=manager, note="Two capsules missing")

    count.refresh_from_db()
    assert (count.status, count.approved_by, count.note) == (
        "approved",
        manager,
        "Two capsules missing",
    )
    correction = StockMovement.objects.get(kind="count_correction")
    assert (correction.lot, correction.quantity_change, correction.reference) == (
        shelf["a"],
        -2,
        f"count:{count.pk}",
    )
    assert correction.reason == f"Cycle count {count.pk}: counted 135, expected 137"
    assert correction.actor == manager
    assert count.lines.get(lot=shelf["a"]).correction == correction
    assert StockLot.objects.get(pk=shelf["a"].pk).quantity_on_hand == 135
    assert StockLot.objects.get(pk=shelf["b"].pk).quantity_on_hand == 58
    assert ledger_matches_stock()


def test_stock_that_moves_during_the_count_is_no_variance(shelf, technician, manager):
    count = start_cycle_count(by=technician, lots=[shelf["a"]])
    # A fill takes 7 capsules after the count started, before the shelf is counted.
    dispense_from_lot(shelf["a"], quantity=Decimal(7), by=technician, reference="fill:1",
                      usable_until=TODAY)  # fmt: skip
    record_count(count, lot=shelf["a"], counted_quantity=130, by=technician)
    # ... and another 5 after it was counted, before approval.
    dispense_from_lot(shelf["a"], quantity=Decimal(5), by=technician, reference="fill:2",
                      usable_until=TODAY)  # fmt: skip
    submit_cycle_count(count, by=technician)

    approve_cycle_count(count, by=manager)

    assert count.lines.get().variance == 0
    assert not StockMovement.objects.filter(kind="count_correction").exists()
    assert StockLot.objects.get(pk=shelf["a"].pk).quantity_on_hand == 125


@pytest.mark.parametrize(
    ("quantity", "code", "message"),
    [
        (-1, "invalid_quantity", "A quantity cannot be negative (-1)."),
        ("12.5", "fractional_quantity", "is counted in whole units (capsule): 12.5 is not"),
        ("twelve", "invalid_quantity", "'twelve' is not a quantity."),
    ],
)
def test_bad_counts_are_refused(shelf, technician, quantity, code, message):
    count = start_cycle_count(by=technician, lots=[shelf["a"]])

    with pytest.raises(StockError) as refused:
        record_count(count, lot=shelf["a"], counted_quantity=quantity, by=technician)

    assert refused.value.code == code
    assert message in refused.value.detail
    line = count.lines.get()
    assert (line.counted_quantity, line.counted_by, line.counted_at) == (None, None, None)


def test_a_lot_outside_the_count_is_refused(shelf, technician):
    count = start_cycle_count(by=technician, lots=[shelf["a"]])

    with pytest.raises(StockError) as refused:
        record_count(count, lot=shelf["elsewhere"], counted_quantity=10, by=technician)

    assert refused.value.code == "lot_not_in_count"
    assert count.lines.get().counted_quantity is None


def test_a_count_is_submitted_only_when_every_lot_is_counted(shelf, technician):
    count = start_cycle_count(by=technician, location="B-07")
    record_count(count, lot=shelf["a"], counted_quantity=137, by=technician)

    with pytest.raises(StockError, match="1 lot is not counted yet: B2."):
        submit_cycle_count(count, by=technician)

    assert CycleCount.objects.get(pk=count.pk).status == "counting"


def test_who_may_approve(shelf, technician, pharmacist, manager):
    count = start_cycle_count(by=technician, lots=[shelf["a"]])
    record_count(count, lot=shelf["a"], counted_quantity=130, by=pharmacist)
    submit_cycle_count(count, by=pharmacist)

    with pytest.raises(StockError) as by_technician:
        approve_cycle_count(count, by=technician)
    with pytest.raises(StockError) as by_counter:
        approve_cycle_count(count, by=pharmacist)

    assert by_technician.value.code == "approver_required"
    assert by_counter.value.code == "approver_counted"
    assert not StockMovement.objects.filter(kind="count_correction").exists()
    approve_cycle_count(count, by=manager)
    assert StockLot.objects.get(pk=shelf["a"].pk).quantity_on_hand == 130


def test_no_more_counting_once_submitted_and_no_approval_twice(shelf, technician, manager):
    count = start_cycle_count(by=technician, lots=[shelf["a"]])
    counted(count, technician, A1=136)

    with pytest.raises(StockError, match="no more counting"):
        record_count(count, lot=shelf["a"], counted_quantity=1, by=technician)
    approve_cycle_count(count, by=manager)
    with pytest.raises(StockError, match="is approved; it cannot be approved"):
        approve_cycle_count(count, by=manager)

    assert StockMovement.objects.filter(kind="count_correction").count() == 1


def test_schedule_ii_is_counted_exactly(oxycodone, alprazolam, technician, manager):
    count = start_cycle_count(by=technician, controlled_only=True)

    with pytest.raises(StockError) as estimated:
        record_count(count, lot=oxycodone, counted_quantity=95, by=technician, is_estimate=True)
    record_count(count, lot=alprazolam, counted_quantity=480, by=technician, is_estimate=True)
    record_count(count, lot=oxycodone, counted_quantity=100, by=technician)
    submit_cycle_count(count, by=technician)
    approve_cycle_count(count, by=manager)

    assert estimated.value.code == "exact_count_required"
    assert "21 CFR 1304.11(e)(3)(i)" in estimated.value.detail
    # An estimate is reported, never posted.
    line = count.lines.get(lot=alprazolam)
    assert (line.is_estimate, line.variance, line.correction) == (True, -20, None)
    assert StockLot.objects.get(pk=alprazolam.pk).quantity_on_hand == 500


def test_a_large_schedule_iii_to_v_container_is_counted_exactly(technician):
    package = PackageFactory(product__dea_schedule=DEASchedule.CIV, quantity=1000 + 1)
    lot = StockLotFactory(package=package, quantity_on_hand=1001)
    count = start_cycle_count(by=technician, lots=[lot])

    with pytest.raises(StockError, match=r"more than 1000 units is counted exactly"):
        record_count(count, lot=lot, counted_quantity=990, by=technician, is_estimate=True)


def test_a_schedule_ii_variance_needs_a_pharmacist_and_a_witness(
    oxycodone, technician, pharmacist, manager
):
    count = start_cycle_count(by=technician, lots=[oxycodone])
    counted(count, technician, OX1=98)

    with pytest.raises(StockError) as by_manager:
        approve_cycle_count(count, by=manager, witness=technician)
    with pytest.raises(StockError) as unwitnessed:
        approve_cycle_count(count, by=pharmacist)

    assert by_manager.value.detail == "A schedule II count variance needs a pharmacist."
    assert unwitnessed.value.code == "witness_required"
    assert StockLot.objects.get(pk=oxycodone.pk).quantity_on_hand == 100

    approve_cycle_count(count, by=pharmacist, witness=manager)

    correction = StockMovement.objects.get(kind="count_correction")
    assert (correction.quantity_change, correction.actor, correction.witness) == (
        -2,
        pharmacist,
        manager,
    )
    assert ledger_matches_stock()


def test_a_correction_that_would_go_below_zero_is_refused(shelf, technician, manager):
    # Counted 10 short when the ledger said 10; by approval the ledger holds nothing
    # (the 10 "missing" were dispensed meanwhile): the miscount cannot be posted.
    count = start_cycle_count(by=technician, lots=[shelf["b"]])
    counted(count, technician, B2=0)
    CycleCountLine.objects.filter(count=count).update(expected_quantity=10)
    StockMovement.objects.create(lot=shelf["b"], kind="damage", quantity_change=-58)
    StockLot.objects.filter(pk=shelf["b"].pk).update(quantity_on_hand=0)

    with pytest.raises(StockError) as refused:
        approve_cycle_count(count, by=manager)

    assert refused.value.code == "correction_below_zero"
    assert CycleCount.objects.get(pk=count.pk).status == "submitted"
    assert ledger_matches_stock()


# --------------------------------------------------------------------------- the pages


def test_the_counting_page_never_shows_the_expected_quantity(client_technician, shelf, technician):
    count = start_cycle_count(by=technician, location="B-07")

    page = client_technician.get(f"/catalogue/stock/counts/{count.pk}/")

    html = page.content.decode()
    assert page.status_code == 200
    assert "A1" in html
    assert "B2" in html
    assert "137" not in html
    assert "58" not in html
    assert "Expected" not in html


def test_a_counter_scans_counts_and_submits(client_technician, shelf, technician):
    count = start_cycle_count(by=technician, location="B-07")
    url = f"/catalogue/stock/counts/{count.pk}/"
    line_a = count.lines.get(lot=shelf["a"])

    found = client_technician.post(f"{url}scan/", {"scan": datamatrix("70010-101-30", lot="A1")})
    saved = client_technician.post(f"{url}lines/{line_a.pk}/", {"counted_quantity": "136"})
    typed = client_technician.post(f"{url}scan/", {"scan": "70010-101-30", "lot_number": "B2"})

    assert found["Location"] == f"{url}?line={line_a.pk}#line-{line_a.pk}"
    assert saved["Location"] == url
    assert typed["Location"].startswith(f"{url}?line=")
    line_b = count.lines.get(lot=shelf["b"])
    client_technician.post(f"{url}lines/{line_b.pk}/", {"counted_quantity": "58"})
    submitted = client_technician.post(f"{url}submit/", follow=True)

    assert "is submitted for approval" in submitted.content.decode()
    report = submitted.content.decode()
    assert "Variance report" in report
    assert "137" in report
    assert "Approve and post" not in report  # a technician cannot approve


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"scan": datamatrix("70010-101-30", lot="ZZZ")},
         "There is no lot ZZZ of 70010-101-30 in stock"),
        ({"scan": "70010-101-30", "lot_number": "ZZZ"},
         "There is no lot ZZZ of 70010-101-30 in stock"),
        ({"scan": datamatrix("70010-101-30", lot="D4")},
         "Lot D4 of 70010-101-30 is not part of count"),
        ({"scan": "70099-999-99", "lot_number": "A1"},
         "No package in the catalogue has NDC 70099-999-99."),
        ({"scan": datamatrix("70010-101-30", lot="A1"), "lot_number": "B2"},
         "The scan says lot A1, not B2."),
    ],
)  # fmt: skip
def test_a_scan_of_a_lot_that_is_not_there_is_said(
    client_technician, shelf, technician, fields, message
):
    count = start_cycle_count(by=technician, location="B-07")

    response = client_technician.post(
        f"/catalogue/stock/counts/{count.pk}/scan/", fields, follow=True
    )

    assert message in response.content.decode()
    assert not count.lines.filter(counted_quantity__isnull=False).exists()


def test_a_bad_count_on_the_page_is_said_and_nothing_saved(client_technician, shelf, technician):
    count = start_cycle_count(by=technician, lots=[shelf["a"]])
    line = count.lines.get()

    response = client_technician.post(
        f"/catalogue/stock/counts/{count.pk}/lines/{line.pk}/",
        {"counted_quantity": "-3"},
        follow=True,
    )

    assert "Lot A1: A quantity cannot be negative (-3)." in response.content.decode()
    assert count.lines.get().counted_quantity is None


def test_the_pharmacist_approves_a_schedule_ii_variance_with_a_witness_on_the_page(
    client_pharmacist, oxycodone, technician
):
    count = start_cycle_count(by=technician, lots=[oxycodone])
    counted(count, technician, OX1=97)
    url = f"/catalogue/stock/counts/{count.pk}/"

    unwitnessed = client_pharmacist.post(f"{url}approve/", {"note": "Recount done"})
    witnessed = client_pharmacist.post(
        f"{url}approve/",
        {"note": "Recount done", "witness_username": "tech", "witness_password": STAFF_PASSWORD},
        follow=True,
    )

    assert unwitnessed.status_code == 400
    assert "A schedule II count variance needs a witness" in unwitnessed.content.decode()
    assert f"Count {count.pk} is approved; 1 correction posted." in (witnessed.content.decode())
    assert StockLot.objects.get(pk=oxycodone.pk).quantity_on_hand == 97


@pytest.mark.parametrize(
    ("role", "list_status", "approve_status"),
    [("technician", 200, 403), ("pharmacist", 200, 302), ("manager", 200, 302)],
)
def test_count_pages_follow_the_role(request, shelf, role, list_status, approve_status):
    counter = make_staff("counter", Role.TECHNICIAN)
    count = start_cycle_count(by=counter, lots=[shelf["a"]])
    counted(count, counter, A1=137)
    client = request.getfixturevalue(f"client_{role}")

    assert client.get("/catalogue/stock/counts/").status_code == list_status
    approve = client.post(f"/catalogue/stock/counts/{count.pk}/approve/", {})
    assert approve.status_code == approve_status


def test_starting_a_count_on_the_page(client_technician, shelf):
    nothing = client_technician.post("/catalogue/stock/counts/", {})
    started = client_technician.post("/catalogue/stock/counts/", {"ndc": "70010-101-30"})

    assert nothing.status_code == 400
    assert "Say what to count" in nothing.content.decode()
    count = CycleCount.objects.get()
    assert started["Location"] == f"/catalogue/stock/counts/{count.pk}/"
    assert count.lines.count() == 3  # A1, B2, D4: in stock; C3 is empty


# --------------------------------------------------------------------------- concurrency


@pytest.mark.django_db(transaction=True)
def test_counting_while_deliveries_and_fills_hit_the_same_lot(technician, manager):
    package = PackageFactory(quantity=Decimal(30))
    supplier = SupplierFactory()
    lot = StockLotFactory(package=package, lot_number="HOT", expiry=EXPIRY, quantity_on_hand=300)
    count = start_cycle_count(by=technician, lots=[lot])
    errors = []
    start = threading.Barrier(3)

    def receive():
        try:
            start.wait()
            for _ in range(20):
                receive_stock(
                    [ReceiptLineInput(ndc=package.package_ndc, lot="HOT", expiry=EXPIRY)],
                    supplier=supplier,
                    by=technician,
                )
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    def dispense():
        try:
            start.wait()
            for n in range(20):
                dispense_from_lot(lot, quantity=Decimal(3), by=technician,
                                  reference=f"fill:{n}", usable_until=TODAY)  # fmt: skip
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    def count_and_approve():
        try:
            start.wait()
            for _ in range(5):  # recounted while stock moves; the last one stands
                record_count(count, lot=lot, counted_quantity=250, by=technician)
            submit_cycle_count(count, by=technician)
            approve_cycle_count(count, by=manager)
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=f) for f in (receive, dispense, count_and_approve)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    line = count.lines.get()
    # What the ledger held when the shelf was counted is the variance's base; every
    # receipt and fill before and after it is kept.
    assert lot.__class__.objects.get(pk=lot.pk).quantity_on_hand == (
        300 + 20 * 30 - 20 * 3 + (250 - line.expected_quantity)
    )
    assert line.correction is not None or line.expected_quantity == 250
    assert ledger_matches_stock()


def test_a_scan_without_a_lot_asks_for_the_lot_and_keeps_the_scan(
    client_technician, shelf, technician
):
    count = start_cycle_count(by=technician, location="B-07")
    url = f"/catalogue/stock/counts/{count.pk}/"
    upc = upc_from_ndc("70010-101-30")

    asked = client_technician.post(f"{url}scan/", {"scan": upc})

    assert asked.status_code == 200
    page = asked.content.decode()
    assert 'data-testid="count-lot-prompt"' in page
    assert f'<input type="hidden" name="scan" value="{upc}">' in page
    assert "This barcode does not carry the lot" in page
    assert "Lots of this package in this count: A1, B2." in page
    assert 'data-testid="count-scan-form"' not in page
    # The counter types the lot from the bottle; the kept scan goes with it.
    found = client_technician.post(f"{url}scan/", {"scan": upc, "lot_number": "B2"})
    line_b = count.lines.get(lot=shelf["b"])
    assert found["Location"] == f"{url}?line={line_b.pk}#line-{line_b.pk}"
    assert not count.lines.filter(counted_quantity__isnull=False).exists()


def test_a_lot_typed_after_a_scan_without_one_is_checked(client_technician, shelf, technician):
    count = start_cycle_count(by=technician, location="B-07")
    url = f"/catalogue/stock/counts/{count.pk}/scan/"

    wrong = client_technician.post(
        url, {"scan": upc_from_ndc("70010-101-30"), "lot_number": "D4"}, follow=True
    )

    assert f"Lot D4 of 70010-101-30 is not part of count {count.pk}" in wrong.content.decode()
    assert not count.lines.filter(counted_quantity__isnull=False).exists()


def test_a_typed_ndc_without_a_lot_asks_for_the_lot_too(client_technician, shelf, technician):
    count = start_cycle_count(by=technician, location="B-07")

    asked = client_technician.post(
        f"/catalogue/stock/counts/{count.pk}/scan/", {"scan": "70010-101-30"}
    )

    assert 'data-testid="count-lot-prompt"' in asked.content.decode()
