"""The reorder pages: rules set in the browser, alerts acknowledged and closed, and the
dashboard card."""

from decimal import Decimal

import pytest
from django.utils import timezone

from inventory.models import ReorderAlert, ReorderRule
from inventory.services.stock import dispense_from_lot
from inventory.tests.factories import PackageFactory, StockLotFactory, SupplierFactory

RULES = "/catalogue/stock/reorder-rules/"
ALERTS = "/catalogue/stock/reorder-alerts/"


@pytest.fixture
def package(db):
    return PackageFactory(quantity=30)


@pytest.fixture
def alert(package, technician):
    ReorderRule.objects.create(product=package.product, reorder_point=100, reorder_quantity=300)
    lot = StockLotFactory(package=package, quantity_on_hand=110)
    dispense_from_lot(
        lot,
        quantity=Decimal(20),
        by=technician,
        reference="fill:1",
        usable_until=timezone.localdate(),
    )
    return ReorderAlert.objects.get()


def test_a_manager_sets_a_rule_in_the_browser(client_manager, package, manager):
    supplier = SupplierFactory(name="AmerisourceBergen", lead_time_days=4)
    StockLotFactory(package=package, quantity_on_hand=250)

    response = client_manager.post(
        RULES,
        {
            "ndc": package.package_ndc,
            "reorder_point": "120",
            "reorder_quantity": "360",
            "par_level": "",
            "preferred_supplier": supplier.pk,
            "lead_time_days": "",
        },
    )

    assert response.status_code == 302
    rule = ReorderRule.objects.get()
    assert (rule.product, rule.order_package, rule.reorder_point, rule.updated_by) == (
        package.product,
        package,
        120,
        manager,
    )
    page = client_manager.get(RULES)
    assert f"{package.product.display_name}: reorder below 120 units." in page.content.decode()
    [shown] = page.context["rules"]
    assert (shown.available, shown.effective_lead_time_days) == (250, 4)


@pytest.mark.parametrize(
    ("ndc", "message"),
    [
        ("0002-3227-30", "No product in the catalogue has the NDC 0002-3227-30."),
        ("0002322730", "is a 10-digit NDC without hyphens, which is ambiguous"),
    ],
)
def test_a_bad_ndc_is_explained_on_the_form(client_manager, db, ndc, message):
    response = client_manager.post(
        RULES, {"ndc": ndc, "reorder_point": "1", "reorder_quantity": "2"}
    )

    assert response.status_code == 400
    assert message in response.content.decode()
    assert ReorderRule.objects.count() == 0


def test_a_par_level_below_the_point_is_explained(client_manager, package):
    response = client_manager.post(
        RULES,
        {
            "ndc": package.product.product_ndc,
            "reorder_point": "50",
            "reorder_quantity": "20",
            "par_level": "40",
        },
    )

    assert response.status_code == 400
    assert "The par level must be above the reorder point" in response.content.decode()


@pytest.mark.parametrize(("role", "status"), [("technician", 403), ("pharmacist", 403)])
def test_only_managers_see_the_rules(request, role, status, db):
    client = request.getfixturevalue(f"client_{role}")

    assert client.get(RULES).status_code == status


def test_the_alerts_page_lists_current_alerts_with_their_suggestion(client_manager, alert):
    response = client_manager.get(ALERTS)

    assert response.status_code == 200
    assert list(response.context["alerts"]) == [alert]
    page = response.content.decode()
    assert f"10 × {alert.suggested_package.package_ndc}" in page
    assert 'hx-trigger="every 5s' in page
    rows = client_manager.get(f"{ALERTS}rows/")
    assert "<html" not in rows.content.decode()
    assert f'data-alert-id="{alert.pk}"' in rows.content.decode()


def test_a_manager_acknowledges_and_closes_an_alert(client_manager, alert, manager):
    acknowledged = client_manager.post(f"{ALERTS}{alert.pk}/acknowledge/")
    closed = client_manager.post(f"{ALERTS}{alert.pk}/close/", {"note": "PO 1001"})

    assert (acknowledged.status_code, closed.status_code) == (302, 302)
    alert.refresh_from_db()
    assert (alert.status, alert.acknowledged_by, alert.closed_by, alert.close_note) == (
        "closed",
        manager,
        manager,
        "PO 1001",
    )
    current = client_manager.get(ALERTS)
    assert list(current.context["alerts"]) == []
    assert "Closed the alert for" in current.content.decode()
    assert list(client_manager.get(ALERTS, {"show": "closed"}).context["alerts"]) == [alert]


def test_a_second_close_is_refused_with_a_message(client_manager, alert, manager):
    client_manager.post(f"{ALERTS}{alert.pk}/close/")

    response = client_manager.post(f"{ALERTS}{alert.pk}/close/", follow=True)

    assert f"Reorder alert {alert.pk} is closed; it cannot be closed." in (
        response.content.decode()
    )


def test_pharmacists_see_alerts_but_cannot_act(client_pharmacist, alert):
    page = client_pharmacist.get(ALERTS)

    assert page.status_code == 200
    assert ">Acknowledge</button>" not in page.content.decode()
    assert client_pharmacist.post(f"{ALERTS}{alert.pk}/acknowledge/").status_code == 403


def test_the_dashboard_counts_open_alerts(client_manager, alert):
    dashboard = client_manager.get("/manager/")
    card = client_manager.get(f"{ALERTS}count/")

    assert dashboard.context["open_reorder_alerts"] == 1
    assert 'data-testid="open-reorder-alerts"' in dashboard.content.decode()
    assert '<span class="number">1</span>' in card.content.decode()
