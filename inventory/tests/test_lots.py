"""Quarantine, recall, release and expiry of lots: what leaves available stock, what
stays on the shelf, and the pages where people do it."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from inventory.models import ReorderAlert, ReorderRule, StockLot, StockMovement
from inventory.services.lots import (
    LotStatusError,
    expire_lots,
    quarantine_lot,
    quarantine_ndc,
    recall_lot,
    recall_ndc,
    release_lot,
)
from inventory.services.stock import StockError, dispense_from_lot
from inventory.tasks import expire_lots_task
from inventory.tests.factories import PackageFactory, StockLotFactory

TODAY = timezone.localdate()


@pytest.fixture
def package(db):
    return PackageFactory(quantity=30)


def dispensable(package, quantity=None) -> list[StockLot]:
    """The package's lots the fill station may suggest, first-expiring first."""
    return list(
        StockLot.objects.filter(package=package)
        .dispensable(usable_until=TODAY, quantity=quantity)
        .first_expiring_first()
    )


def dispense(lot, quantity, by):
    return dispense_from_lot(
        lot, quantity=Decimal(quantity), by=by, reference="fill:1", usable_until=TODAY
    )


@pytest.mark.parametrize(
    ("change", "status"), [(quarantine_lot, "quarantined"), (recall_lot, "recalled")]
)
def test_a_quarantined_or_recalled_lot_is_never_dispensed(package, pharmacist, change, status):
    blocked = StockLotFactory(package=package, quantity_on_hand=50, expiry=TODAY + timedelta(90))
    later = StockLotFactory(package=package, quantity_on_hand=50, expiry=TODAY + timedelta(300))

    change(blocked, by=pharmacist, reason="Water damage on the carton")
    assert dispensable(package) == [later]
    dispense(later, 20, pharmacist)

    assert dispensable(package, quantity=31) == []
    with pytest.raises(StockError, match="holds 30 units; 31 are needed"):
        dispense(later, 31, pharmacist)
    with pytest.raises(StockError) as refused:
        dispense_from_lot(
            blocked, quantity=Decimal(1), by=pharmacist, reference="fill:2", usable_until=TODAY
        )
    assert refused.value.code == f"lot_{status}"
    assert refused.value.detail == (
        f"Lot {blocked.lot_number} is {status} (Water damage on the carton); it cannot be "
        "dispensed."
    )
    blocked.refresh_from_db()
    assert (blocked.status, blocked.quantity_on_hand) == (status, 50)
    change_row = blocked.status_changes.get()
    assert (change_row.from_status, change_row.to_status, change_row.actor) == (
        "available",
        status,
        pharmacist,
    )


def test_a_released_lot_is_available_again(package, pharmacist):
    lot = StockLotFactory(package=package, quantity_on_hand=50)
    quarantine_lot(lot, by=pharmacist, reason="Temperature excursion")

    release_lot(lot, by=pharmacist, reason="Data logger within range")

    assert dispensable(package) == [lot]
    assert dispense(lot, 5, pharmacist).lot.quantity_on_hand == 45
    assert list(lot.status_changes.values_list("to_status", "reason")) == [
        ("quarantined", "Temperature excursion"),
        ("available", "Data logger within range"),
    ]


def test_releasing_a_lot_past_its_date_expires_it(package, pharmacist):
    lot = StockLotFactory(package=package, quantity_on_hand=50, expiry=TODAY)
    quarantine_lot(lot, by=pharmacist, reason="Check")

    released = release_lot(lot, by=pharmacist, reason="Checked")

    assert released.status == "expired"


@pytest.mark.parametrize(
    ("change", "code"),
    [(quarantine_lot, "lot_recalled"), (release_lot, "lot_recalled"), (recall_lot, "lot_recalled")],
)
def test_a_recall_is_final(package, pharmacist, change, code):
    lot = StockLotFactory(package=package, quantity_on_hand=50)
    recall_lot(lot, by=pharmacist, reason="FDA recall")
    lot.refresh_from_db()

    with pytest.raises(LotStatusError) as refused:
        change(lot, by=pharmacist, reason="Try")

    assert refused.value.code == code
    lot.refresh_from_db()
    assert lot.status == "recalled"
    assert lot.status_changes.count() == 1


def test_a_status_change_needs_a_reason(package, pharmacist):
    lot = StockLotFactory(package=package, quantity_on_hand=50)

    with pytest.raises(LotStatusError, match="Give the reason"):
        quarantine_lot(lot, by=pharmacist, reason="  ")

    lot.refresh_from_db()
    assert lot.status == "available"


def test_a_reason_with_a_control_character_is_refused(package, pharmacist):
    lot = StockLotFactory(package=package, quantity_on_hand=50)

    with pytest.raises(LotStatusError, match="control character") as refused:
        quarantine_lot(lot, by=pharmacist, reason="Water damage\x07")

    assert refused.value.code == "invalid_reason"
    lot.refresh_from_db()
    assert lot.status == "available"


def test_recalling_a_product_ndc_recalls_every_lot_of_every_package(package, manager):
    other_package = PackageFactory(product=package.product)
    unrelated = StockLotFactory(quantity_on_hand=10)
    lots = [
        StockLotFactory(package=package, quantity_on_hand=10),
        StockLotFactory(package=other_package, quantity_on_hand=10),
        StockLotFactory(package=package, status=StockLot.Status.EXPIRED),
    ]
    already = StockLotFactory(package=package, status=StockLot.Status.RECALLED)

    changed = recall_ndc(package.product.product_ndc, by=manager, reason="Recall Z-1")

    assert sorted(lot.pk for lot in changed) == sorted(lot.pk for lot in lots)
    statuses = dict(StockLot.objects.values_list("pk", "status"))
    assert {statuses[lot.pk] for lot in lots} == {"recalled"}
    assert (statuses[already.pk], statuses[unrelated.pk]) == ("recalled", "available")


def test_quarantining_one_lot_number_of_a_package_ndc(package, manager):
    target = StockLotFactory(package=package, lot_number="K77", quantity_on_hand=10)
    StockLotFactory(package=package, lot_number="K78", quantity_on_hand=10)

    changed = quarantine_ndc(package.ndc11, lot_number="k77", by=manager, reason="Complaint")

    assert [lot.pk for lot in changed] == [target.pk]
    assert dict(StockLot.objects.values_list("lot_number", "status")) == {
        "K77": "quarantined",
        "K78": "available",
    }


def test_taking_a_lot_out_of_stock_can_cross_the_reorder_point(package, manager):
    ReorderRule.objects.create(product=package.product, reorder_point=100, reorder_quantity=300)
    lot = StockLotFactory(package=package, quantity_on_hand=60)
    StockLotFactory(package=package, quantity_on_hand=60)

    quarantine_lot(lot, by=manager, reason="Damaged")

    alert = ReorderAlert.objects.get()
    assert alert.available_at_crossing == 60


# --------------------------------------------------------------------------- expiry


@pytest.fixture
def shelf(package):
    return {
        "expired": StockLotFactory(
            package=package, quantity_on_hand=10, expiry=TODAY - timedelta(3)
        ),
        "expires_today": StockLotFactory(package=package, quantity_on_hand=10, expiry=TODAY),
        "in_window": StockLotFactory(
            package=package, quantity_on_hand=10, expiry=TODAY + timedelta(60)
        ),
        "empty_in_window": StockLotFactory(package=package, expiry=TODAY + timedelta(30)),
        "later": StockLotFactory(
            package=package, quantity_on_hand=10, expiry=TODAY + timedelta(91)
        ),
        "quarantined_past": StockLotFactory(
            package=package,
            quantity_on_hand=10,
            expiry=TODAY - timedelta(1),
            status=StockLot.Status.QUARANTINED,
        ),
    }


def test_the_expiry_sweep_moves_expired_lots_out_of_stock_and_flags_the_window(shelf):
    movements_before = StockMovement.objects.count()

    report = expire_lots(today=TODAY, window_days=90)

    assert sorted(lot.pk for lot in report.expired) == sorted(
        [shelf["expired"].pk, shelf["expires_today"].pk]
    )
    assert [lot.pk for lot in report.expiring] == [shelf["in_window"].pk]
    statuses = {name: StockLot.objects.get(pk=lot.pk).status for name, lot in shelf.items()}
    assert statuses == {
        "expired": "expired",
        "expires_today": "expired",
        "in_window": "available",
        "empty_in_window": "available",
        "later": "available",
        "quarantined_past": "quarantined",
    }
    # The units stay on the lot until destroyed: no ledger row, the quantity unchanged.
    assert StockMovement.objects.count() == movements_before
    assert StockLot.objects.get(pk=shelf["expired"].pk).quantity_on_hand == 10
    change = shelf["expired"].status_changes.get()
    assert (change.to_status, change.actor) == ("expired", None)


def test_the_daily_task_uses_the_warning_window_setting_and_runs_twice_safely(shelf, settings):
    settings.EXPIRY_WARNING_DAYS = 100

    assert expire_lots_task() == {"expired": 2, "expiring": 2}
    assert expire_lots_task() == {"expired": 0, "expiring": 2}


# --------------------------------------------------------------------------- pages


def test_the_expiry_report_lists_expiring_and_expired_lots(client_technician, shelf):
    expire_lots(today=TODAY, window_days=90)

    response = client_technician.get("/catalogue/stock/expiry/")

    assert response.status_code == 200
    assert [lot.pk for lot in response.context["expiring"]] == [shelf["in_window"].pk]
    assert sorted(lot.pk for lot in response.context["expired"]) == sorted(
        [shelf["expired"].pk, shelf["expires_today"].pk, shelf["quarantined_past"].pk]
    )
    assert "Expiring within 90 days (1)" in response.content.decode()


def test_a_pharmacist_quarantines_a_lot_from_its_page(client_pharmacist, package, pharmacist):
    lot = StockLotFactory(package=package, quantity_on_hand=10)

    response = client_pharmacist.post(
        f"/catalogue/stock/lots/{lot.pk}/", {"action": "quarantine", "reason": "Broken seal"}
    )

    assert response.status_code == 302
    lot.refresh_from_db()
    assert (lot.status, lot.status_reason) == ("quarantined", "Broken seal")
    page = client_pharmacist.get(response["Location"]).content.decode()
    assert f"Lot {lot.lot_number} is now quarantined." in page
    assert "Release to stock" in page


def test_a_refused_change_shows_the_reason(client_pharmacist, package, pharmacist):
    lot = StockLotFactory(package=package, quantity_on_hand=10, status=StockLot.Status.RECALLED)

    response = client_pharmacist.post(
        f"/catalogue/stock/lots/{lot.pk}/", {"action": "quarantine", "reason": "x"}
    )

    assert response.status_code == 400
    assert f"Lot {lot.lot_number} is recalled; it cannot become quarantined." in (
        response.content.decode()
    )


def test_technicians_see_lots_but_cannot_change_them(client_technician, package):
    lot = StockLotFactory(package=package, quantity_on_hand=10)

    page = client_technician.get(f"/catalogue/stock/lots/{lot.pk}/")
    post = client_technician.post(
        f"/catalogue/stock/lots/{lot.pk}/", {"action": "recall", "reason": "x"}
    )

    assert page.status_code == 200
    assert 'data-testid="lot-status-form"' not in page.content.decode()
    assert post.status_code == 403
    lot.refresh_from_db()
    assert lot.status == "available"


def test_a_manager_recalls_every_lot_of_an_ndc_from_the_lots_page(client_manager, package):
    lots = [StockLotFactory(package=package, quantity_on_hand=10) for _ in range(2)]

    response = client_manager.post(
        "/catalogue/stock/lots/",
        {"action": "recall", "ndc": package.package_ndc, "lot": "", "reason": "Recall Z-9"},
    )

    assert response.status_code == 302
    assert set(
        StockLot.objects.filter(pk__in=[lot.pk for lot in lots]).values_list("status", flat=True)
    ) == {"recalled"}
    listing = client_manager.get(response["Location"])
    assert [lot.pk for lot in listing.context["lots"]] == sorted(lot.pk for lot in lots)
    assert "Recalled 2 lots." in listing.content.decode()


def test_the_lots_page_explains_a_bad_ndc(client_manager, db):
    response = client_manager.get("/catalogue/stock/lots/", {"ndc": "0002322730"})

    assert "ambiguous" in response.context["error"]
