"""`POST /api/v1/inventory/receipts/` as the integration contract has it, and lots by NDC."""

from datetime import timedelta

import pytest
from django.utils import timezone

from inventory.models import PurchaseOrder, StockLot
from inventory.services.receiving import create_purchase_order
from inventory.tests.factories import PackageFactory, StockLotFactory, SupplierFactory
from inventory.tests.test_receiving import WRONG_CHECK_DIGIT, datamatrix, row_counts
from inventory.tests.test_stock_allocation import ledger_matches_stock

URL = "/api/v1/inventory/receipts/"

EXPIRY = timezone.localdate() + timedelta(days=400)


@pytest.fixture
def package(db):
    return PackageFactory(package_ndc="70010-101-30", product__product_ndc="70010-101")


@pytest.fixture
def supplier(db):
    return SupplierFactory(name="Cardinal Health")


@pytest.fixture
def order(supplier, package, manager):
    return create_purchase_order(supplier, lines=[(package, 3)], by=manager, number="PO-1001")


def test_a_delivery_is_received_by_scan_and_by_ndc(api_technician, order, package, technician):
    response = api_technician.post(
        URL,
        {
            "lines": [
                {"scan": datamatrix("70010-101-30", lot="A1", serial="SN1"), "quantity": 1},
                {"ndc": "70010010130", "lot": "A1", "expiry": EXPIRY.isoformat(), "quantity": 1},
            ],
            "supplier": order.supplier_id,
            "purchase_order": "PO-1001",
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    lot = StockLot.objects.get(lot_number="A1")
    assert body["supplier"] == {"id": order.supplier_id, "name": "Cardinal Health"}
    assert body["purchase_order"] == "PO-1001"
    assert body["purchase_order_status"] == "partially_received"
    assert body["received_by"] == technician.username
    assert body["lines"] == [
        {
            "ndc": "70010-101-30",
            "lot": "A1",
            "lot_id": lot.pk,
            "expiry": EXPIRY.isoformat(),
            "packages": 2,
            "units": "60",
            "serial_numbers": ["SN1"],
        }
    ]
    assert body["lots"] == [
        {
            "id": lot.pk,
            "ndc": "70010-101-30",
            "ndc11": "70010010130",
            "product": package.product.display_name,
            "dea_schedule": "",
            "lot_number": "A1",
            "expiry": EXPIRY.isoformat(),
            "location": "",
            "status": "available",
            "status_reason": "",
            "quantity_on_hand": "60",
            "unit": "CAPSULE",
        }
    ]
    assert body["discrepancies"] == []
    assert ledger_matches_stock()


def test_the_supplier_comes_from_the_order_and_an_over_delivery_is_reported(api_technician, order):
    response = api_technician.post(
        URL,
        {
            "lines": [{"ndc": "70010-101-30", "lot": "A1", "expiry": "2031-05", "quantity": 5}],
            "purchase_order": "PO-1001",
        },
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    assert body["supplier"]["name"] == "Cardinal Health"
    assert body["lines"][0]["expiry"] == "2031-05-31"
    assert [
        (d["kind"], d["ndc"], d["quantity_ordered"], d["quantity_received"], d["difference"])
        for d in body["discrepancies"]
    ] == [("over_received", "70010-101-30", 3, 5, 2)]
    assert body["purchase_order_status"] == "received"


@pytest.mark.parametrize(
    ("line", "field", "message"),
    [
        (
            {"ndc": "70010-999-30", "lot": "A1", "expiry": "2031-01-31", "quantity": 1},
            "ndc",
            "No package in the catalogue has the NDC 70010-999-30.",
        ),
        (
            {"scan": datamatrix("70099-999-30", lot="A1"), "quantity": 1},
            "scan",
            "No package in the catalogue has the NDC 7009999930 of this scan.",
        ),
        (
            {"scan": WRONG_CHECK_DIGIT, "quantity": 1},
            "scan",
            "The GTIN 00370010101303 has a wrong check digit (the last digit should be 2): "
            "rescan it, or type the NDC instead.",
        ),
        (
            {"ndc": "70010-101-30", "lot": "A1", "expiry": "2020-01-31", "quantity": 1},
            "expiry",
            "Lot A1 expired on 2020-01-31: expired stock is not received; set it aside for "
            "return to the supplier.",
        ),
        (
            {"ndc": "70010-101-30", "lot": "A1", "expiry": "next year", "quantity": 1},
            "expiry",
            "'next year' is not a date: write the expiry as YYYY-MM-DD, or YYYY-MM for the end "
            "of that month.",
        ),
        (
            {"ndc": "70010-101-30", "lot": "A1", "expiry": "2031-01-31", "quantity": -1},
            "quantity",
            "The number of packages must be more than zero, not -1.",
        ),
        (
            {"ndc": "70010-101-30", "lot": "A1", "expiry": "2031-01-31", "quantity": 2.5},
            "quantity",
            "Packages are received whole: 2.5 is not a whole number.",
        ),
        (
            {"ndc": "70010-101-30", "lot": "A1", "expiry": "2031-01-31", "quantity": "many"},
            "quantity",
            "A valid number is required.",
        ),
        (
            {"ndc": "70010-101-30", "expiry": "2031-01-31", "quantity": 1},
            "lot",
            "The lot number is missing: type it as on the label.",
        ),
    ],
    ids=[
        "unknown-ndc",
        "unknown-gtin",
        "bad-check-digit",
        "expiry-past",
        "expiry-malformed",
        "negative",
        "fractional",
        "not-a-number",
        "lot-missing",
    ],
)
def test_bad_input_is_400_with_the_field_and_nothing_written(
    api_technician, order, line, field, message
):
    good = {"ndc": "70010-101-30", "lot": "GOOD", "expiry": "2031-01-31", "quantity": 1}
    before = row_counts()

    response = api_technician.post(
        URL, {"lines": [good, line], "purchase_order": "PO-1001"}, format="json"
    )

    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_receipt"
    assert "nothing was received" in body["detail"]
    assert body["fields"]["lines"][0] == {}
    assert body["fields"]["lines"][1] == {field: [message]}
    assert row_counts() == before
    assert PurchaseOrder.objects.get(pk=order.pk).status == "open"


def test_unknown_supplier_and_order_are_400(api_technician, package):
    before = row_counts()
    line = {"ndc": "70010-101-30", "lot": "A1", "expiry": "2031-01-31", "quantity": 1}

    no_supplier = api_technician.post(URL, {"lines": [line], "supplier": 999}, format="json")
    no_order = api_technician.post(URL, {"lines": [line], "purchase_order": "X"}, format="json")
    neither = api_technician.post(URL, {"lines": [line]}, format="json")
    no_lines = api_technician.post(URL, {"supplier": 1}, format="json")

    assert no_supplier.status_code == 400
    assert no_supplier.json() == {
        "error": "invalid_receipt",
        "detail": "No supplier has the id 999. Nothing was received.",
        "fields": {"supplier": ["No supplier has the id 999."]},
    }
    assert no_order.json()["fields"] == {"purchase_order": ["Object with number=X does not exist."]}
    assert neither.status_code == 400
    assert neither.json()["fields"] == {
        "supplier": ["Choose the supplier (or the purchase order) of the delivery."]
    }
    assert no_lines.json()["fields"]["lines"] == ["This field is required."]
    assert row_counts() == before


def test_a_closed_order_is_409_and_nothing_written(api_technician, order, manager):
    PurchaseOrder.objects.filter(pk=order.pk).update(status="closed")
    before = row_counts()

    response = api_technician.post(
        URL,
        {
            "lines": [{"ndc": "70010-101-30", "lot": "A1", "expiry": "2031-01", "quantity": 1}],
            "purchase_order": "PO-1001",
        },
        format="json",
    )

    assert response.status_code == 409
    assert response.json() == {
        "error": "purchase_order_closed",
        "detail": "PO PO-1001 is closed: it takes no more deliveries. Receive without the "
        "order, or ask a manager.",
    }
    assert row_counts() == before


@pytest.mark.parametrize(("role", "expected"), [("technician", 201), ("pharmacist", 201),
                                                ("manager", 403)])  # fmt: skip
def test_who_may_receive(request, supplier, package, role, expected):
    client = request.getfixturevalue(f"api_{role}")

    response = client.post(
        URL,
        {
            "lines": [{"ndc": "70010-101-30", "lot": "A1", "expiry": "2031-01", "quantity": 1}],
            "supplier": supplier.pk,
        },
        format="json",
    )

    assert response.status_code == expected


def test_anonymous_callers_are_401(client, db):
    assert client.post(URL, {}, content_type="application/json").status_code == 401


def test_receipts_and_lots_can_be_read_back(api_technician, api_manager, supplier, package):
    created = api_technician.post(
        URL,
        {
            "lines": [{"ndc": "70010-101-30", "lot": "A1", "expiry": "2031-01", "quantity": 2}],
            "supplier": supplier.pk,
        },
        format="json",
    ).json()
    StockLotFactory(package=package, lot_number="EMPTY")

    detail = api_manager.get(f"{URL}{created['id']}/")
    listing = api_manager.get(URL)
    lots = api_technician.get("/api/v1/inventory/lots/?ndc=70010-101-30&in_stock=true")
    by_lot = api_technician.get("/api/v1/inventory/lots/?ndc=70010010130&lot=EMPTY")
    bad = api_technician.get("/api/v1/inventory/lots/?status=lost")

    assert detail.json() == created
    assert [r["id"] for r in listing.json()["results"]] == [created["id"]]
    assert [(r["lot_number"], r["quantity_on_hand"]) for r in lots.json()["results"]] == [
        ("A1", "60")
    ]
    assert [r["lot_number"] for r in by_lot.json()["results"]] == ["EMPTY"]
    assert bad.status_code == 400
    assert bad.json()["error"] == "invalid_status"
