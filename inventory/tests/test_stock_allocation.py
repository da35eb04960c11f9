"""Allocation for dispensing: FEFO, refusals, and the ledger under real concurrency."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.models import Sum
from django.utils import timezone

from inventory.models import StockLot, StockMovement
from inventory.services.stock import (
    StockError,
    allocate_for_dispensing,
    dispense_from_lot,
    return_to_stock,
)
from inventory.tests.factories import PackageFactory, StockLotFactory

TODAY = timezone.localdate()


def ledger_matches_stock() -> bool:
    sums = dict(
        StockMovement.objects.values("lot")
        .annotate(total=Sum("quantity_change"))
        .values_list("lot", "total")
    )
    return all(sums.get(lot.pk, 0) == lot.quantity_on_hand for lot in StockLot.objects.all())


@pytest.fixture
def package(db):
    return PackageFactory()


def test_first_expiring_usable_lot_is_taken_first(package, technician):
    late = StockLotFactory(
        package=package, expiry=TODAY + timedelta(days=500), quantity_on_hand=100
    )
    early = StockLotFactory(
        package=package, expiry=TODAY + timedelta(days=200), quantity_on_hand=20
    )
    too_soon = StockLotFactory(
        package=package, expiry=TODAY + timedelta(days=20), quantity_on_hand=90
    )
    StockLotFactory(package=package, quantity_on_hand=500, status=StockLot.Status.QUARANTINED)

    allocations = allocate_for_dispensing(
        [package],
        quantity=Decimal(30),
        by=technician,
        reference="fill:1",
        usable_until=TODAY + timedelta(days=30),
    )

    assert [(a.lot.pk, a.quantity) for a in allocations] == [(early.pk, 20), (late.pk, 10)]
    assert [
        lot.quantity_on_hand
        for lot in StockLot.objects.filter(pk__in=[early.pk, late.pk, too_soon.pk]).order_by(
            "expiry"
        )
    ] == [90, 0, 90]
    assert ledger_matches_stock()


def test_short_stock_takes_nothing(package, technician):
    lot = StockLotFactory(package=package, quantity_on_hand=10)

    with pytest.raises(StockError, match="Only 10 usable units are in stock; 11 are needed."):
        allocate_for_dispensing(
            [package], quantity=Decimal(11), by=technician, reference="fill:1", usable_until=TODAY
        )

    lot.refresh_from_db()
    assert lot.quantity_on_hand == 10
    assert StockMovement.objects.filter(kind="dispense").count() == 0


@pytest.mark.parametrize(
    ("status", "code"), [("quarantined", "lot_quarantined"), ("recalled", "lot_recalled")]
)
def test_a_blocked_lot_cannot_be_dispensed(package, technician, status, code):
    lot = StockLotFactory(package=package, quantity_on_hand=10, status=status)

    with pytest.raises(StockError) as refused:
        dispense_from_lot(
            lot, quantity=Decimal(1), by=technician, reference="fill:1", usable_until=TODAY
        )

    assert refused.value.code == code
    lot.refresh_from_db()
    assert lot.quantity_on_hand == 10


def test_a_lot_expiring_before_the_supply_ends_is_refused(package, technician):
    lot = StockLotFactory(package=package, quantity_on_hand=10, expiry=TODAY + timedelta(days=10))

    with pytest.raises(StockError, match="before the patient finishes this supply"):
        dispense_from_lot(
            lot,
            quantity=Decimal(5),
            by=technician,
            reference="fill:1",
            usable_until=TODAY + timedelta(days=30),
        )


def test_return_to_stock_is_a_ledger_row(package, technician):
    lot = StockLotFactory(package=package, quantity_on_hand=10)
    dispense_from_lot(
        lot, quantity=Decimal(4), by=technician, reference="fill:9", usable_until=TODAY
    )

    return_to_stock(
        lot, quantity=Decimal(4), by=technician, reference="fill:9", reason="Rejected at PV2"
    )

    lot.refresh_from_db()
    assert lot.quantity_on_hand == 10
    assert list(lot.movements.values_list("kind", "quantity_change")) == [
        ("receipt", 10),
        ("dispense", -4),
        ("return", 4),
    ]


def test_the_database_refuses_negative_stock_and_ledger_rewrites(package):
    lot = StockLotFactory(package=package, quantity_on_hand=3)

    with pytest.raises(DatabaseError), transaction.atomic():
        StockLot.objects.filter(pk=lot.pk).update(quantity_on_hand=-1)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        StockMovement.objects.filter(lot=lot).update(quantity_change=5)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        StockMovement.objects.filter(lot=lot).delete()


@pytest.mark.django_db(transaction=True)
def test_thirty_two_threads_never_oversell(technician):
    # Three lots of one package, 600 units; 32 threads ask for 4,000 units in total.
    package = PackageFactory()
    lots = [
        StockLotFactory(
            package=package, quantity_on_hand=200, expiry=TODAY + timedelta(days=300 + n)
        )
        for n in range(3)
    ]
    granted, refused, errors = [], [], []
    lock = threading.Lock()

    def worker():
        try:
            for _ in range(25):
                try:
                    allocations = allocate_for_dispensing(
                        [package],
                        quantity=Decimal(5),
                        by=technician,
                        reference="bench",
                        usable_until=TODAY,
                    )
                    with lock:
                        granted.append(sum(a.quantity for a in allocations))
                except StockError:
                    with lock:
                        refused.append(1)
        except Exception as error:  # a deadlock or any database error fails the test
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sum(granted) == 600
    assert len(granted) == 120
    assert len(refused) == 32 * 25 - 120
    assert all(
        lot.quantity_on_hand == 0
        for lot in StockLot.objects.filter(pk__in=[lot.pk for lot in lots])
    )
    assert ledger_matches_stock()


def test_allocation_takes_from_exactly_the_dispensable_lots(package, technician):
    # inventory_allocate selects the lots in SQL of its own: the same lots as the
    # queryset the rest of the app uses (StockLotQuerySet.dispensable).
    other = PackageFactory()
    usable_until = TODAY + timedelta(days=30)
    StockLotFactory(package=package, quantity_on_hand=5)
    StockLotFactory(package=package, quantity_on_hand=5, expiry=TODAY + timedelta(days=30))
    StockLotFactory(package=package, quantity_on_hand=5, status=StockLot.Status.RECALLED)
    StockLotFactory(package=package)  # empty
    StockLotFactory(package=other, quantity_on_hand=7)
    StockLotFactory(package=other, quantity_on_hand=5, status=StockLot.Status.EXPIRED)
    expected = sorted(
        StockLot.objects.dispensable(usable_until=usable_until)
        .filter(package__in=[package, other])
        .values_list("pk", "quantity_on_hand")
    )
    assert len(expected) == 2

    def allocate(quantity):
        return allocate_for_dispensing(
            [package, other], quantity=Decimal(quantity), by=technician, reference="fill:1",
            usable_until=usable_until,
        )  # fmt: skip

    with pytest.raises(StockError, match="Only 12 usable units are in stock; 13 are needed."):
        allocate(13)
    allocations = allocate(12)

    assert sorted((a.lot.pk, a.quantity) for a in allocations) == expected
    assert not StockLot.objects.dispensable(usable_until=usable_until).filter(
        package__in=[package, other]
    )
    assert ledger_matches_stock()
