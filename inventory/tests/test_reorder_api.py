"""The reorder, alert, recall and trace endpoints of the inventory API."""

from decimal import Decimal

import pytest
from django.utils import timezone

from inventory.models import ReorderAlert, ReorderRule, StockLot
from inventory.services.stock import dispense_from_lot, return_to_stock
from inventory.tests.factories import PackageFactory, StockLotFactory, SupplierFactory

TODAY = timezone.localdate()
RULES = "/api/v1/inventory/reorder-rules/"
ALERTS = "/api/v1/inventory/reorder-alerts/"
TRACE = "/api/v1/inventory/recalls/trace/"


@pytest.fixture
def package(db):
    return PackageFactory(quantity=30)


def test_a_manager_sets_a_rule_by_product_ndc(api_manager, package):
    supplier = SupplierFactory(name="McKesson", lead_time_days=3)

    response = api_manager.post(
        RULES,
        {
            "ndc": package.product.product_ndc,
            "reorder_point": "100",
            "reorder_quantity": "300",
            "preferred_supplier": supplier.pk,
        },
        format="json",
    )

    assert response.status_code == 201
    rule = ReorderRule.objects.get()
    assert response.json() == {
        "id": rule.pk,
        "product_ndc": package.product.product_ndc,
        "product": package.product.display_name,
        "reorder_point": "100",
        "reorder_quantity": "300",
        "par_level": None,
        "order_package_ndc": None,
        "preferred_supplier": {"id": supplier.pk, "name": "McKesson"},
        "lead_time_days": None,
        "effective_lead_time_days": 3,
        "updated_at": response.json()["updated_at"],
    }


def test_a_package_ndc_sets_the_package_to_order_and_replaces_the_rule(api_manager, package):
    first = api_manager.post(
        RULES,
        {"ndc": package.package_ndc, "reorder_point": 50, "reorder_quantity": 120},
        format="json",
    )
    second = api_manager.post(
        RULES,
        {"ndc": package.ndc11, "reorder_point": 60, "reorder_quantity": 90, "par_level": 200},
        format="json",
    )

    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["order_package_ndc"] == package.package_ndc
    assert ReorderRule.objects.count() == 1
    rule = ReorderRule.objects.get()
    assert (rule.reorder_point, rule.reorder_quantity, rule.par_level) == (60, 90, 200)


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"reorder_point": 1, "reorder_quantity": 1}, 400, "invalid_reorder_rule"),
        ({"ndc": "0002-3227-30", "reorder_quantity": 1}, 400, "invalid_reorder_rule"),
        ({"ndc": "0002322730", "reorder_point": 1, "reorder_quantity": 1}, 400, "invalid_ndc"),
        ({"ndc": "0002-3227-30", "reorder_point": 1, "reorder_quantity": 1}, 404, "unknown_ndc"),
        ({"ndc": "99999-999", "reorder_point": 1, "reorder_quantity": 1}, 404, "unknown_ndc"),
        ({"ndc": "PRODUCT", "reorder_point": -1, "reorder_quantity": 1}, 400, "invalid_rule"),
        ({"ndc": "PRODUCT", "reorder_point": 5, "reorder_quantity": 0}, 400, "invalid_rule"),
        (
            {"ndc": "PRODUCT", "reorder_point": 5, "reorder_quantity": 9, "par_level": 5},
            400,
            "invalid_rule",
        ),
        (
            {"ndc": "PRODUCT", "reorder_point": 5, "reorder_quantity": 9, "lead_time_days": -1},
            400,
            "invalid_reorder_rule",
        ),
    ],
)
def test_bad_rules_are_refused_and_nothing_is_written(api_manager, package, body, status, error):
    if body.get("ndc") == "PRODUCT":
        body = {**body, "ndc": package.product.product_ndc}

    response = api_manager.post(RULES, body, format="json")

    assert response.status_code == status
    assert response.json()["error"] == error
    assert response.json()["detail"]
    assert ReorderRule.objects.count() == 0


def test_an_unknown_ndc_says_which(api_manager, db):
    response = api_manager.post(
        RULES, {"ndc": "0002-3227-30", "reorder_point": 1, "reorder_quantity": 1}, format="json"
    )

    assert response.json() == {
        "error": "unknown_ndc",
        "detail": "No product in the catalogue has the NDC 0002-3227-30.",
    }


@pytest.mark.parametrize("role", ["technician", "pharmacist"])
def test_only_managers_set_rules(request, role, package):
    client = request.getfixturevalue(f"api_{role}")

    response = client.post(
        RULES,
        {"ndc": package.product.product_ndc, "reorder_point": 1, "reorder_quantity": 1},
        format="json",
    )

    assert response.status_code == 403
    assert ReorderRule.objects.count() == 0


# --------------------------------------------------------------------------- alerts


@pytest.fixture
def alerts(package, technician, manager):
    """One closed alert (raised at 80) and the open one raised after it (at 50)."""
    ReorderRule.objects.create(product=package.product, reorder_point=100, reorder_quantity=300)
    lot = StockLotFactory(package=package, quantity_on_hand=200)
    dispense_from_lot(
        lot, quantity=Decimal(120), by=technician, reference="fill:1", usable_until=TODAY
    )
    closed = ReorderAlert.objects.get()
    ReorderAlert.objects.filter(pk=closed.pk).update(status="closed", closed_by=manager)
    dispense_from_lot(
        lot, quantity=Decimal(30), by=technician, reference="fill:2", usable_until=TODAY
    )
    return ReorderAlert.objects.exclude(pk=closed.pk).get(), closed


def test_alerts_list_open_and_past_newest_first(api_pharmacist, alerts, package):
    current, closed = alerts

    response = api_pharmacist.get(ALERTS)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [(a["id"], a["status"]) for a in body["results"]] == [
        (current.pk, "open"),
        (closed.pk, "closed"),
    ]
    assert body["results"][0] == {
        "id": current.pk,
        "status": "open",
        "product_ndc": package.product.product_ndc,
        "product": package.product.display_name,
        "available_at_crossing": "50",
        "reorder_point": "100",
        "suggested_order": {
            "supplier": None,
            "package_ndc": package.package_ndc,
            "packages": 10,
            "units": "300",
            "lead_time_days": None,
            "expected_arrival": None,
        },
        "raised_at": body["results"][0]["raised_at"],
        "email_sent": False,
        "email_sent_at": None,
        "acknowledged_by": None,
        "acknowledged_at": None,
        "closed_by": None,
        "closed_at": None,
        "close_note": "",
    }


@pytest.mark.parametrize(("query", "expected"), [("open", ["open"]), ("closed", ["closed"])])
def test_alerts_filter_by_status(api_manager, alerts, query, expected):
    response = api_manager.get(ALERTS, {"status": query})

    assert [a["status"] for a in response.json()["results"]] == expected


def test_an_unknown_status_is_a_bad_request(api_manager, alerts):
    response = api_manager.get(ALERTS, {"status": "pending"})

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_status"


def test_technicians_do_not_see_alerts(api_technician, alerts):
    assert api_technician.get(ALERTS).status_code == 403


def test_a_manager_acknowledges_then_closes_an_alert(api_manager, alerts, manager):
    current, _closed = alerts

    acknowledged = api_manager.post(f"{ALERTS}{current.pk}/acknowledge/")
    again = api_manager.post(f"{ALERTS}{current.pk}/acknowledge/")
    closed = api_manager.post(f"{ALERTS}{current.pk}/close/", {"note": "PO 77"}, format="json")
    closed_again = api_manager.post(f"{ALERTS}{current.pk}/close/")

    assert acknowledged.status_code == 200
    assert (acknowledged.json()["status"], acknowledged.json()["acknowledged_by"]) == (
        "acknowledged",
        manager.username,
    )
    assert again.status_code == 409
    assert again.json() == {
        "error": "alert_acknowledged",
        "detail": f"Reorder alert {current.pk} is acknowledged; it cannot be acknowledged.",
    }
    assert closed.status_code == 200
    assert (closed.json()["status"], closed.json()["close_note"]) == ("closed", "PO 77")
    assert closed_again.status_code == 409
    assert closed_again.json()["error"] == "alert_closed"


def test_pharmacists_cannot_close_alerts(api_pharmacist, alerts):
    current, _closed = alerts

    response = api_pharmacist.post(f"{ALERTS}{current.pk}/close/")

    assert response.status_code == 403
    current.refresh_from_db()
    assert current.status == "open"


def test_an_unknown_alert_is_404(api_manager, db):
    assert api_manager.post(f"{ALERTS}999999/acknowledge/").status_code == 404


# --------------------------------------------------------------------------- recall trace


@pytest.fixture
def traced_lot(package, technician):
    lot = StockLotFactory(package=package, lot_number="A123", quantity_on_hand=100)
    other = StockLotFactory(package=package, lot_number="B456", quantity_on_hand=100)
    for reference, quantity, which in (
        ("fill:1", 30, lot),
        ("fill:2", 10, lot),
        ("fill:3", 5, other),
    ):
        dispense_from_lot(
            which,
            quantity=Decimal(quantity),
            by=technician,
            reference=reference,
            usable_until=TODAY,
        )
    return_to_stock(lot, quantity=Decimal(10), by=technician, reference="fill:2", reason="PV2")
    return lot


def test_the_trace_lists_every_dispensing_of_the_lot(api_pharmacist, traced_lot, package):
    response = api_pharmacist.get(TRACE, {"ndc": package.ndc11, "lot": "a123"})

    assert response.status_code == 200
    body = response.json()
    assert (body["ndc"], body["lot"]) == (package.ndc11, "a123")
    assert [(lot["id"], lot["lot_number"], lot["quantity_on_hand"]) for lot in body["lots"]] == [
        (traced_lot.pk, "A123", "70")
    ]
    rows = [
        {
            key: row[key]
            for key in ("reference", "ndc", "lot", "lot_id", "quantity", "dispensed", "returned")
        }
        for row in body["dispensings"]
    ]
    assert rows == [
        {
            "reference": "fill:1",
            "ndc": package.package_ndc,
            "lot": "A123",
            "lot_id": traced_lot.pk,
            "quantity": "30",
            "dispensed": "30",
            "returned": "0",
        },
        {
            "reference": "fill:2",
            "ndc": package.package_ndc,
            "lot": "A123",
            "lot_id": traced_lot.pk,
            "quantity": "0",
            "dispensed": "10",
            "returned": "10",
        },
    ]
    assert set(body["dispensings"][0]) == {
        "reference",
        "ndc",
        "lot",
        "lot_id",
        "quantity",
        "dispensed",
        "returned",
        "first_dispensed_at",
        "last_movement_at",
        # The recipient (orders.api.views.RecallTraceView): none here, no such fills exist.
        "fill",
        "fill_status",
        "rx_number",
        "order",
        "patient",
        "patient_name",
        "shipment",
    }
    assert {body["dispensings"][0][key] for key in ("fill", "patient", "shipment")} == {None}


def test_the_trace_by_product_ndc_covers_every_package(api_manager, traced_lot, package):
    response = api_manager.get(TRACE, {"ndc": package.product.product_ndc, "lot": "A123"})

    assert [row["reference"] for row in response.json()["dispensings"]] == ["fill:1", "fill:2"]


@pytest.mark.parametrize(
    ("query", "status", "error"),
    [
        ({}, 400, "missing_parameter"),
        ({"ndc": "0002-3227-30"}, 400, "missing_parameter"),
        ({"lot": "A123"}, 400, "missing_parameter"),
        ({"ndc": "0002322730", "lot": "A123"}, 400, "invalid_ndc"),
        ({"ndc": "0002-3227-30", "lot": "A123"}, 404, "unknown_lot"),
        ({"ndc": "PACKAGE", "lot": "NOPE"}, 404, "unknown_lot"),
    ],
)
def test_the_trace_needs_a_known_ndc_and_lot(
    api_manager, traced_lot, package, query, status, error
):
    if query.get("ndc") == "PACKAGE":
        query = {**query, "ndc": package.package_ndc}

    response = api_manager.get(TRACE, query)

    assert (response.status_code, response.json()["error"]) == (status, error)


def test_technicians_cannot_trace(api_technician, traced_lot, package):
    assert api_technician.get(TRACE, {"ndc": package.ndc11, "lot": "A123"}).status_code == 403


def test_recalling_an_ndc_lot_through_the_api(api_pharmacist, traced_lot, package, pharmacist):
    response = api_pharmacist.post(
        "/api/v1/inventory/recalls/",
        {"ndc": package.package_ndc, "lot": "A123", "reason": "FDA recall Z-1234-2026"},
        format="json",
    )

    assert response.status_code == 201
    assert response.json()["count"] == 1
    assert [(lot["id"], lot["status"]) for lot in response.json()["results"]] == [
        (traced_lot.pk, "recalled")
    ]
    assert dict(StockLot.objects.values_list("lot_number", "status")) == {
        "A123": "recalled",
        "B456": "available",
    }
    change = traced_lot.status_changes.get()
    assert (change.from_status, change.to_status, change.actor, change.reason) == (
        "available",
        "recalled",
        pharmacist,
        "FDA recall Z-1234-2026",
    )


def test_a_recall_needs_a_reason(api_manager, traced_lot, package):
    response = api_manager.post(
        "/api/v1/inventory/recalls/", {"ndc": package.package_ndc, "lot": "A123"}, format="json"
    )

    assert (response.status_code, response.json()["error"]) == (400, "invalid_recall")
    traced_lot.refresh_from_db()
    assert traced_lot.status == "available"
