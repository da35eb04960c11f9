"""Receiving deliveries (the service): scans and typed lines, purchase orders filled partly
or fully, discrepancies kept, every bad input refused with nothing written."""

import threading
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from inventory.models import (
    PurchaseOrder,
    PurchaseOrderEvent,
    PurchaseOrderLine,
    Receipt,
    ReceiptLine,
    ReceivingDiscrepancy,
    StockLot,
    StockMovement,
)
from inventory.ndc import GROUP_SEPARATOR as GS
from inventory.ndc import gtin14_from_ndc, upc_from_ndc
from inventory.services.receiving import (
    ReceiptLineInput,
    ReceivingError,
    cancel_purchase_order,
    close_purchase_order,
    create_purchase_order,
    parse_expiry,
    receive_stock,
)
from inventory.services.stock import StockError
from inventory.tests.factories import PackageFactory, StockLotFactory, SupplierFactory
from inventory.tests.test_stock_allocation import ledger_matches_stock

TODAY = timezone.localdate()
EXPIRY = TODAY + timedelta(days=400)


def datamatrix(package_ndc: str, *, lot: str, expiry: date = EXPIRY, serial: str = "") -> str:
    """What a keyboard-wedge scanner types for a drug package's GS1 DataMatrix."""
    text = f"]d201{gtin14_from_ndc(package_ndc)}17{expiry:%y%m%d}10{lot}"
    return text + (f"{GS}21{serial}" if serial else "")


GTIN = gtin14_from_ndc("70010-101-30")
# A DataMatrix of 70010-101-30 whose GTIN ends in the wrong check digit.
WRONG_CHECK_DIGIT = datamatrix("70010-101-30", lot="A1").replace(
    GTIN, GTIN[:-1] + str((int(GTIN[-1]) + 1) % 10)
)


def row_counts() -> dict[str, int]:
    """Rows of everything receiving writes, to show that a refusal wrote nothing."""
    return {
        "receipts": Receipt.objects.count(),
        "receipt_lines": ReceiptLine.objects.count(),
        "lots": StockLot.objects.count(),
        "movements": StockMovement.objects.count(),
        "discrepancies": ReceivingDiscrepancy.objects.count(),
        "po_lines": PurchaseOrderLine.objects.count(),
        "po_events": PurchaseOrderEvent.objects.count(),
        "units_on_hand": sum(StockLot.objects.values_list("quantity_on_hand", flat=True)),
        "packages_received": sum(
            PurchaseOrderLine.objects.values_list("quantity_received", flat=True)
        ),
    }


@pytest.fixture
def package(db):
    return PackageFactory(package_ndc="70010-101-30", product__product_ndc="70010-101")


@pytest.fixture
def other_package(db):
    return PackageFactory(package_ndc="70010-202-90", product__product_ndc="70010-202", quantity=90)


@pytest.fixture
def supplier(db):
    return SupplierFactory(name="Cardinal Health")


@pytest.fixture
def order(supplier, package, other_package, manager):
    return create_purchase_order(
        supplier, lines=[(package, 4), (other_package, 2)], by=manager, number="PO-1001"
    )


def test_a_delivery_scanned_package_by_package_fills_its_order(
    order, package, other_package, technician
):
    lines = [
        ReceiptLineInput(scan=datamatrix(package.package_ndc, lot="A1", serial="S1")),
        ReceiptLineInput(scan=datamatrix(package.package_ndc, lot="A1", serial="S2")),
        ReceiptLineInput(ndc="70010-0202-90", lot="B7", expiry="2031-06", packages="1"),
    ]

    receipt = receive_stock(lines, purchase_order=order, by=technician)

    lot_a = StockLot.objects.get(package=package, lot_number="A1")
    lot_b = StockLot.objects.get(package=other_package, lot_number="B7")
    assert (lot_a.quantity_on_hand, lot_a.expiry) == (60, EXPIRY)
    assert (lot_b.quantity_on_hand, lot_b.expiry) == (90, date(2031, 6, 30))
    assert receipt.supplier == order.supplier
    assert [(line.lot, line.packages) for line in receipt.lines.order_by("pk")] == [
        (lot_a, 2),
        (lot_b, 1),
    ]
    movement = lot_a.movements.get()
    assert (movement.kind, movement.quantity_change, movement.serial_numbers) == (
        "receipt",
        60,
        ["S1", "S2"],
    )
    assert movement.reference == f"receipt:{receipt.pk}"
    assert movement.purchase_order_line.package == package
    assert movement.actor == technician
    assert dict(order.lines.values_list("package__package_ndc", "quantity_received")) == {
        "70010-101-30": 2,
        "70010-202-90": 1,
    }
    order.refresh_from_db()
    assert order.status == PurchaseOrder.Status.PARTIALLY_RECEIVED
    assert list(order.events.values_list("from_status", "to_status", "by")) == [
        ("open", "partially_received", technician.pk)
    ]
    assert ReceivingDiscrepancy.objects.count() == 0
    assert ledger_matches_stock()


def test_the_rest_of_a_partial_delivery_completes_the_order(
    order, package, other_package, technician
):
    receive_stock(
        [ReceiptLineInput(ndc=package.package_ndc, lot="A1", expiry=EXPIRY, packages=1)],
        purchase_order=order,
        by=technician,
    )

    receive_stock(
        [
            ReceiptLineInput(ndc=package.ndc11, lot="A1", expiry=EXPIRY, packages=3),
            ReceiptLineInput(scan=upc_from_ndc(other_package.package_ndc), lot="C3",
                             expiry="2030-01-31", packages=2),
        ],
        purchase_order=order,
        by=technician,
    )  # fmt: skip

    order.refresh_from_db()
    assert order.status == PurchaseOrder.Status.RECEIVED
    assert list(order.events.values_list("to_status", flat=True)) == [
        "partially_received",
        "received",
    ]
    assert StockLot.objects.get(lot_number="A1").quantity_on_hand == 120
    assert StockLot.objects.get(lot_number="C3").quantity_on_hand == 180
    assert order.discrepancies.count() == 0
    assert ledger_matches_stock()


def test_what_was_not_ordered_or_more_than_ordered_is_kept_as_a_discrepancy(
    order, package, technician
):
    stray = PackageFactory(package_ndc="70099-001-01", product__product_ndc="70099-001")

    receipt = receive_stock(
        [
            ReceiptLineInput(ndc=package.package_ndc, lot="A1", expiry=EXPIRY, packages=6),
            ReceiptLineInput(ndc=stray.package_ndc, lot="Z9", expiry=EXPIRY, packages=1),
        ],
        purchase_order=order,
        by=technician,
    )

    found = list(
        order.discrepancies.values_list(
            "package__package_ndc", "kind", "quantity_ordered", "quantity_received", "receipt"
        ).order_by("package__package_ndc")
    )
    assert found == [
        ("70010-101-30", "over_received", 4, 6, receipt.pk),
        ("70099-001-01", "not_ordered", 0, 1, receipt.pk),
    ]
    # The stock is on the shelf all the same, and the order knows what came.
    assert StockLot.objects.get(lot_number="Z9").quantity_on_hand == 30
    assert order.lines.get(package=stray).quantity_ordered == 0
    assert ledger_matches_stock()


def test_closing_an_order_keeps_what_never_came(order, package, other_package, technician, manager):
    receive_stock(
        [ReceiptLineInput(ndc=package.package_ndc, lot="A1", expiry=EXPIRY, packages=3)],
        purchase_order=order,
        by=technician,
    )

    close_purchase_order(order, by=manager, note="Back-ordered at the wholesaler")

    order.refresh_from_db()
    assert order.status == PurchaseOrder.Status.CLOSED
    assert list(
        order.discrepancies.values_list(
            "package__package_ndc", "kind", "quantity_ordered", "quantity_received"
        ).order_by("package__package_ndc")
    ) == [
        ("70010-101-30", "short_at_close", 4, 3),
        ("70010-202-90", "short_at_close", 2, 0),
    ]
    assert order.events.last().note == "Back-ordered at the wholesaler"


@pytest.mark.parametrize("status", ["closed", "received", "cancelled"])
def test_a_delivery_against_an_order_that_takes_no_more_is_refused(
    order, package, technician, manager, status
):
    PurchaseOrder.objects.filter(pk=order.pk).update(status=status)
    before = row_counts()

    with pytest.raises(StockError) as refused:
        receive_stock(
            [ReceiptLineInput(ndc=package.package_ndc, lot="A1", expiry=EXPIRY, packages=1)],
            purchase_order=order,
            by=technician,
        )

    assert refused.value.code == f"purchase_order_{status}"
    assert "takes no more deliveries" in refused.value.detail
    assert row_counts() == before


def test_a_cancelled_order_cannot_be_closed_and_a_closed_one_not_cancelled(order, manager):
    cancel_purchase_order(order, by=manager)

    with pytest.raises(StockError, match="is cancelled; it cannot become closed"):
        close_purchase_order(order, by=manager)


BAD_LINES = [
    pytest.param(
        ReceiptLineInput(ndc="70010-999-30", lot="A1", expiry=EXPIRY),
        "ndc",
        "No package in the catalogue has the NDC 70010-999-30.",
        id="unknown-ndc",
    ),
    pytest.param(
        ReceiptLineInput(ndc="7001010130", lot="A1", expiry=EXPIRY),
        "ndc",
        "is a 10-digit NDC without hyphens, which is ambiguous",
        id="ambiguous-ndc",
    ),
    pytest.param(
        ReceiptLineInput(scan=datamatrix("70010-999-30", lot="A1")),
        "scan",
        "No package in the catalogue has the NDC 7001099930 of this scan.",
        id="unknown-gtin",
    ),
    pytest.param(
        ReceiptLineInput(scan=WRONG_CHECK_DIGIT),
        "scan",
        "wrong check digit",
        id="datamatrix-bad-check-digit",
    ),
    pytest.param(
        ReceiptLineInput(scan="300101013099", lot="A1", expiry=EXPIRY),
        "scan",
        "wrong check digit",
        id="upc-bad-check-digit",
    ),
    pytest.param(
        ReceiptLineInput(
            scan=datamatrix("70010-101-30", lot="A1", expiry=TODAY - timedelta(days=1))
        ),
        "expiry",
        "expired on",
        id="scanned-expiry-past",
    ),
    pytest.param(
        ReceiptLineInput(ndc="70010-101-30", lot="A1", expiry=TODAY),
        "expiry",
        "expired stock is not received",
        id="expires-today",
    ),
    pytest.param(
        ReceiptLineInput(ndc="70010-101-30", lot="A1", expiry="31/12/2030"),
        "expiry",
        "'31/12/2030' is not a date",
        id="expiry-malformed",
    ),
    pytest.param(
        ReceiptLineInput(ndc="70010-101-30", lot="A1", expiry="2030-02-30"),
        "expiry",
        "'2030-02-30' is not a date",
        id="expiry-impossible-day",
    ),
    pytest.param(
        ReceiptLineInput(ndc="70010-101-30", lot="A1"),
        "expiry",
        "The expiry date is missing",
        id="expiry-missing",
    ),
    pytest.param(
        ReceiptLineInput(ndc="70010-101-30", expiry=EXPIRY),
        "lot",
        "The lot number is missing",
        id="lot-missing",
    ),
    pytest.param(
        ReceiptLineInput(ndc="70010-101-30", lot="A1", expiry=EXPIRY, packages=-2),
        "quantity",
        "must be more than zero, not -2",
        id="negative-packages",
    ),
    pytest.param(
        ReceiptLineInput(ndc="70010-101-30", lot="A1", expiry=EXPIRY, packages=0),
        "quantity",
        "must be more than zero, not 0",
        id="zero-packages",
    ),
    pytest.param(
        ReceiptLineInput(ndc="70010-101-30", lot="A1", expiry=EXPIRY, packages="1.5"),
        "quantity",
        "Packages are received whole: 1.5 is not a whole number.",
        id="fractional-packages",
    ),
    pytest.param(
        ReceiptLineInput(ndc="70010-101-30", lot="A1", expiry=EXPIRY, packages="two"),
        "quantity",
        "'two' is not a number of packages.",
        id="packages-not-a-number",
    ),
    pytest.param(
        ReceiptLineInput(scan=datamatrix("70010-101-30", lot="A1"), lot="A2"),
        "lot",
        "The scan says lot A1, not A2.",
        id="typed-lot-contradicts-scan",
    ),
    pytest.param(
        ReceiptLineInput(lot="A1", expiry=EXPIRY),
        "scan",
        "Scan the package or type its NDC.",
        id="no-package-named",
    ),
]


@pytest.mark.parametrize(("line", "field", "message"), BAD_LINES)
def test_a_bad_line_refuses_the_whole_delivery(order, technician, line, field, message):
    good = ReceiptLineInput(ndc="70010-101-30", lot="GOOD", expiry=EXPIRY, packages=1)
    before = row_counts()

    with pytest.raises(ReceivingError) as refused:
        receive_stock([good, line], purchase_order=order, by=technician)

    assert refused.value.code == "invalid_receipt"
    errors = refused.value.fields["lines"]
    assert errors[0] == {}
    assert list(errors[1]) == [field]
    assert message in errors[1][field][0]
    assert refused.value.detail.startswith("1 line cannot be received; nothing was received.")
    assert row_counts() == before


def test_every_bad_line_is_named_at_once(order, technician):
    with pytest.raises(ReceivingError) as refused:
        receive_stock(
            [
                ReceiptLineInput(ndc="70010-999-30", lot="A1", expiry=EXPIRY),
                ReceiptLineInput(ndc="70010-101-30", lot="A1", expiry="soon", packages=-1),
            ],
            purchase_order=order,
            by=technician,
        )

    assert [sorted(errors) for errors in refused.value.fields["lines"]] == [
        ["ndc"],
        ["expiry", "quantity"],
    ]
    assert refused.value.detail.startswith("2 lines cannot be received")


def test_a_package_without_a_known_size_is_refused(supplier, technician):
    PackageFactory(package_ndc="70020-001-01", product__product_ndc="70020-001", quantity=None)
    before = row_counts()

    with pytest.raises(ReceivingError) as refused:
        receive_stock(
            [ReceiptLineInput(ndc="70020-001-01", lot="A1", expiry=EXPIRY)],
            supplier=supplier,
            by=technician,
        )

    assert (
        "does not say how many units a package of 70020-001-01 holds"
        in (refused.value.fields["lines"][0]["ndc"][0])
    )
    assert row_counts() == before


def test_a_known_lot_with_another_expiry_is_refused(supplier, package, technician):
    StockLotFactory(package=package, lot_number="A1", expiry=EXPIRY, quantity_on_hand=30)
    before = row_counts()

    with pytest.raises(ReceivingError) as refused:
        receive_stock(
            [
                ReceiptLineInput(ndc=package.package_ndc, lot="NEW", expiry=EXPIRY, packages=2),
                ReceiptLineInput(scan=datamatrix(package.package_ndc, lot="A1",
                                                 expiry=EXPIRY + timedelta(days=31))),
            ],
            supplier=supplier,
            by=technician,
        )  # fmt: skip

    assert f"is on the shelf with expiry {EXPIRY}" in refused.value.fields["lines"][1]["expiry"][0]
    # The new lot inserted before the check is gone with the rest.
    assert row_counts() == before
    assert not StockLot.objects.filter(lot_number="NEW").exists()


def test_one_lot_given_two_expiries_in_one_delivery_is_refused(supplier, package, technician):
    with pytest.raises(ReceivingError) as refused:
        receive_stock(
            [
                ReceiptLineInput(ndc=package.package_ndc, lot="A1", expiry="2030-01-31"),
                ReceiptLineInput(ndc=package.package_ndc, lot="A1", expiry="2030-02-28"),
            ],
            supplier=supplier,
            by=technician,
        )

    assert "given two expiry dates" in refused.value.fields["lines"][1]["expiry"][0]


def test_a_serial_number_arrives_once(supplier, package, technician):
    receive_stock(
        [ReceiptLineInput(scan=datamatrix(package.package_ndc, lot="A1", serial="S1"))],
        supplier=supplier,
        by=technician,
    )
    before = row_counts()

    with pytest.raises(ReceivingError) as again:
        receive_stock(
            [ReceiptLineInput(scan=datamatrix(package.package_ndc, lot="A1", serial="S1"))],
            supplier=supplier,
            by=technician,
        )
    with pytest.raises(ReceivingError) as twice:
        receive_stock(
            [
                ReceiptLineInput(scan=datamatrix(package.package_ndc, lot="A2", serial="S7")),
                ReceiptLineInput(scan=datamatrix(package.package_ndc, lot="A2", serial="S7")),
            ],
            supplier=supplier,
            by=technician,
        )

    assert (
        "Serial number S1 of 70010-101-30 was received before"
        in (again.value.fields["lines"][0]["serial"][0])
    )
    assert "scanned twice in this delivery (line 1)" in twice.value.fields["lines"][1]["serial"][0]
    assert row_counts() == before


def test_a_recalled_lot_is_not_shelved(supplier, package, technician):
    StockLotFactory(package=package, lot_number="R1", expiry=EXPIRY, status="recalled")
    before = row_counts()

    with pytest.raises(ReceivingError) as refused:
        receive_stock(
            [ReceiptLineInput(ndc=package.package_ndc, lot="R1", expiry=EXPIRY)],
            supplier=supplier,
            by=technician,
        )

    assert "is recalled" in refused.value.fields["lines"][0]["lot"][0]
    assert row_counts() == before


def test_supplier_and_order_must_agree(order, package, technician):
    someone_else = SupplierFactory(name="McKesson")
    line = ReceiptLineInput(ndc=package.package_ndc, lot="A1", expiry=EXPIRY)
    before = row_counts()

    with pytest.raises(ReceivingError) as mismatch:
        receive_stock([line], supplier=someone_else, purchase_order=order, by=technician)
    with pytest.raises(ReceivingError) as neither:
        receive_stock([line], by=technician)
    with pytest.raises(ReceivingError) as nothing:
        receive_stock([], supplier=someone_else, by=technician)

    assert mismatch.value.fields == {
        "purchase_order": ["PO PO-1001 is from Cardinal Health, not McKesson."]
    }
    assert list(neither.value.fields) == ["supplier"]
    assert nothing.value.fields == {"lines": ["A receipt needs at least one line."]}
    assert row_counts() == before


def test_receiving_more_of_a_lot_on_the_shelf_adds_to_it(supplier, package, technician):
    lot = StockLotFactory(package=package, lot_number="A1", expiry=EXPIRY, quantity_on_hand=7)

    receive_stock(
        [ReceiptLineInput(ndc=package.package_ndc, lot="A1", expiry=EXPIRY, packages=2)],
        supplier=supplier,
        by=technician,
    )

    lot.refresh_from_db()
    assert lot.quantity_on_hand == 67
    assert StockLot.objects.count() == 1
    assert ledger_matches_stock()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2030-02", date(2030, 2, 28)),
        ("2032-02", date(2032, 2, 29)),
        ("2030-07-04", date(2030, 7, 4)),
    ],
)
def test_expiry_as_on_the_label(text, expected):
    assert parse_expiry(text) == expected


def test_purchase_orders_refuse_bad_lines(supplier, package, manager):
    with pytest.raises(StockError, match="listed twice"):
        create_purchase_order(supplier, lines=[(package, 1), (package, 2)], by=manager)
    with pytest.raises(StockError, match="not a whole number"):
        create_purchase_order(supplier, lines=[(package, "1.5")], by=manager)
    with pytest.raises(StockError, match="at least one line"):
        create_purchase_order(supplier, lines=[], by=manager)

    order = create_purchase_order(supplier, lines=[(package, 3)], by=manager)

    assert order.number == f"PO-{order.pk:06d}"
    assert PurchaseOrder.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_sixteen_receivers_of_one_new_lot_at_once(technician):
    # Every thread receives the same new lot: the first creates it, the others wait on the
    # unique index and then add to it; none fails, no unit is lost.
    package = PackageFactory(quantity=Decimal(30))
    supplier = SupplierFactory()
    errors = []
    barrier = threading.Barrier(16)

    def worker():
        try:
            barrier.wait()
            for _ in range(5):
                receive_stock(
                    [ReceiptLineInput(ndc=package.package_ndc, lot="RUSH", expiry=EXPIRY)],
                    supplier=supplier,
                    by=technician,
                )
        except Exception as error:  # a deadlock, a unique violation: the test fails
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    lot = StockLot.objects.get(package=package, lot_number="RUSH")
    assert lot.quantity_on_hand == 16 * 5 * 30
    assert lot.movements.count() == 80
    assert ledger_matches_stock()


@pytest.mark.django_db(transaction=True)
def test_concurrent_deliveries_against_one_order_count_every_package(technician, manager):
    package = PackageFactory(quantity=Decimal(30))
    supplier = SupplierFactory()
    order = create_purchase_order(supplier, lines=[(package, 40)], by=manager)
    errors = []

    def worker(n):
        try:
            for i in range(5):
                receive_stock(
                    [ReceiptLineInput(ndc=package.package_ndc, lot=f"L{(n + i) % 3}",
                                      expiry=EXPIRY)],
                    purchase_order=order,
                    by=technician,
                )  # fmt: skip
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    order.refresh_from_db()
    assert order.status == PurchaseOrder.Status.RECEIVED
    assert order.lines.get().quantity_received == 40
    assert (
        sum(StockLot.objects.filter(package=package).values_list("quantity_on_hand", flat=True))
        == 1200
    )
    assert list(order.events.values_list("to_status", flat=True)) == [
        "partially_received",
        "received",
    ]
    assert ledger_matches_stock()


# --------------------------------------------------------------------------- the pages


def rows_posted(*rows) -> dict:
    """The receiving form's fields for these rows: (ndc, lot, expiry, packages, serials)."""
    return {
        "line_id": [f"line-{n}" for n in range(len(rows))],
        "line_ndc": [row[0] for row in rows],
        "line_lot": [row[1] for row in rows],
        "line_expiry": [row[2] for row in rows],
        "line_packages": [row[3] for row in rows],
        "line_serials": [row[4] for row in rows],
    }


def test_a_scan_on_the_page_sends_back_its_row(client_technician, package):
    response = client_technician.post(
        "/catalogue/stock/receiving/scan/",
        {"scan": datamatrix("70010-101-30", lot="A1", serial="S1")},
        HTTP_HX_REQUEST="true",
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="receiving-row"' in html
    assert 'name="line_lot" value="A1"' in html
    assert f'name="line_expiry" value="{EXPIRY.isoformat()}"' in html
    assert 'name="line_serials" value="S1"' in html
    assert "hx-swap-oob" in html  # the status line only
    assert "Added 70010-101-30" in html


def test_a_second_package_of_the_lot_adds_to_its_row(client_technician, package):
    posted = rows_posted(("70010-101-30", "A1", EXPIRY.isoformat(), "1", "S1"))

    response = client_technician.post(
        "/catalogue/stock/receiving/scan/",
        {"scan": datamatrix("70010-101-30", lot="A1", serial="S2"), **posted},
        HTTP_HX_REQUEST="true",
    )
    again = client_technician.post(
        "/catalogue/stock/receiving/scan/",
        {"scan": datamatrix("70010-101-30", lot="A1", serial="S1"), **posted},
        HTTP_HX_REQUEST="true",
    )

    html = response.content.decode()
    assert '<tr id="line-0"' in html
    assert 'hx-swap-oob="true"' in html
    assert 'name="line_packages" value="2"' in html
    assert 'name="line_serials" value="S1 S2"' in html
    assert again["HX-Retarget"] == "#scan-status"
    assert "Serial number S1 is in the list already" in again.content.decode()


@pytest.mark.parametrize(
    ("scan", "message"),
    [
        ("70010-999-30", "No package in the catalogue has the NDC 70010-999-30 of this scan."),
        (WRONG_CHECK_DIGIT, "has a wrong check digit"),
        (datamatrix("70010-101-30", lot="OLD", expiry=TODAY - timedelta(days=3)),
         "Lot OLD of 70010-101-30 expired on"),
        ("hello", "This is not a barcode we can read"),
    ],
)  # fmt: skip
def test_a_bad_scan_on_the_page_is_said_in_the_status_line(client_technician, package, scan,
                                                           message):  # fmt: skip
    response = client_technician.post(
        "/catalogue/stock/receiving/scan/", {"scan": scan}, HTTP_HX_REQUEST="true"
    )

    assert response["HX-Retarget"] == "#scan-status"
    assert response["HX-Reswap"] == "innerHTML"
    assert message in response.content.decode()


def test_receiving_the_scanned_rows_on_the_page(client_technician, order, package):
    posted = rows_posted(
        ("70010-101-30", "A1", EXPIRY.isoformat(), "2", "S1 S2"),
        ("70010-202-90", "B7", "2031-06-30", "1", ""),
    )

    response = client_technician.post(
        "/catalogue/stock/receiving/", {"purchase_order": order.pk, **posted}, follow=True
    )

    html = response.content.decode()
    receipt = Receipt.objects.get()
    assert response.redirect_chain == [(f"/catalogue/stock/receipts/{receipt.pk}/", 302)]
    assert "Received 3 packages in 2 lots." in html
    assert "S1, S2" in html
    assert StockLot.objects.get(lot_number="A1").quantity_on_hand == 60
    assert ledger_matches_stock()


def test_bad_rows_on_the_page_are_marked_and_nothing_is_received(client_technician, order):
    posted = rows_posted(
        ("70010-101-30", "A1", EXPIRY.isoformat(), "2", ""),
        ("70010-202-90", "", "2031-06-30", "1.5", ""),
    )
    before = row_counts()

    response = client_technician.post(
        "/catalogue/stock/receiving/", {"purchase_order": order.pk, **posted}
    )

    html = response.content.decode()
    assert response.status_code == 400
    assert "1 line cannot be received; nothing was received. Correct the marked lines." in html
    assert "Lot: The lot number is missing" in html
    assert "Packages: Packages are received whole: 1.5 is not a whole number." in html
    # The rows are still there to be corrected.
    assert html.count('data-testid="receiving-row"') == 2
    assert row_counts() == before


def test_a_closed_order_is_not_offered_on_the_page(client_technician, order):
    PurchaseOrder.objects.filter(pk=order.pk).update(status="closed")
    posted = rows_posted(("70010-101-30", "A1", EXPIRY.isoformat(), "1", ""))

    response = client_technician.post(
        "/catalogue/stock/receiving/", {"purchase_order": order.pk, **posted}
    )

    # A closed order is not even offered; choosing it anyway is refused by the form.
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()


def test_the_order_pages(client_manager, client_technician, order, package, technician):
    receive_stock(
        [ReceiptLineInput(ndc=package.package_ndc, lot="A1", expiry=EXPIRY, packages=5)],
        purchase_order=order,
        by=technician,
    )

    listing = client_manager.get("/catalogue/stock/purchase-orders/")
    detail = client_manager.get(f"/catalogue/stock/purchase-orders/{order.pk}/")
    closed = client_manager.post(
        f"/catalogue/stock/purchase-orders/{order.pk}/close/", {"note": "Rest cancelled"},
        follow=True,
    )  # fmt: skip
    technician_close = client_technician.post(f"/catalogue/stock/purchase-orders/{order.pk}/close/")

    assert "PO-1001" in listing.content.decode()
    assert "More received than ordered" in detail.content.decode()
    assert "PO PO-1001 is closed; 1 short line kept." in closed.content.decode()
    assert "Short when the order was closed" in closed.content.decode()
    assert technician_close.status_code == 403


def test_a_manager_places_an_order_on_the_page(client_manager, supplier, package, other_package):
    bad = client_manager.post(
        "/catalogue/stock/purchase-orders/new/",
        {"supplier": supplier.pk, "lines": "70010-101-30 4\n70010-999-99 1"},
    )
    good = client_manager.post(
        "/catalogue/stock/purchase-orders/new/",
        {"supplier": supplier.pk, "lines": "70010-101-30 4\n70010020290, 2"},
    )

    assert bad.status_code == 400
    assert "Line 2: no package in the catalogue has NDC 70010-999-99." in bad.content.decode()
    order = PurchaseOrder.objects.get()
    assert good["Location"] == f"/catalogue/stock/purchase-orders/{order.pk}/"
    assert sorted(order.lines.values_list("package__package_ndc", "quantity_ordered")) == [
        ("70010-101-30", 4),
        ("70010-202-90", 2),
    ]


def test_a_discrepancy_is_settled_on_the_page(client_pharmacist, order, package, technician):
    receive_stock(
        [ReceiptLineInput(ndc=package.package_ndc, lot="A1", expiry=EXPIRY, packages=5)],
        purchase_order=order,
        by=technician,
    )
    discrepancy = ReceivingDiscrepancy.objects.get()

    empty = client_pharmacist.post(f"/catalogue/stock/discrepancies/{discrepancy.pk}/resolve/", {})
    settled = client_pharmacist.post(
        f"/catalogue/stock/discrepancies/{discrepancy.pk}/resolve/",
        {f"d{discrepancy.pk}-resolution": "Kept; supplier invoiced one more"},
    )

    assert empty.status_code == 400
    assert settled.status_code == 302
    discrepancy.refresh_from_db()
    assert discrepancy.resolution == "Kept; supplier invoiced one more"
    assert discrepancy.resolved_by.username == "pharm"


@pytest.mark.parametrize(("role", "expected"), [("technician", 200), ("pharmacist", 200),
                                                ("manager", 403)])  # fmt: skip
def test_who_may_use_the_receiving_page(request, role, expected, db):
    client = request.getfixturevalue(f"client_{role}")

    assert client.get("/catalogue/stock/receiving/").status_code == expected


def test_a_serial_received_before_is_said_at_the_scan(
    client_technician, supplier, package, technician
):
    receive_stock(
        [ReceiptLineInput(scan=datamatrix("70010-101-30", lot="A1", serial="S9"))],
        supplier=supplier,
        by=technician,
    )

    response = client_technician.post(
        "/catalogue/stock/receiving/scan/",
        {"scan": datamatrix("70010-101-30", lot="A1", serial="S9")},
        HTTP_HX_REQUEST="true",
    )

    assert response["HX-Retarget"] == "#scan-status"
    assert "Serial number S9 of 70010-101-30 was received before" in response.content.decode()


def test_problems_of_the_order_and_of_the_lines_are_named_together(order, technician):
    with pytest.raises(ReceivingError) as refused:
        receive_stock(
            [ReceiptLineInput(ndc="70010-999-30", lot="A1", expiry=EXPIRY)],
            supplier=SupplierFactory(name="McKesson"),
            purchase_order=order,
            by=technician,
        )

    assert sorted(refused.value.fields) == ["lines", "purchase_order"]
