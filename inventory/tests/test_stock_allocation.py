"""Dispensing: which lots may be dispensed (one rule for the suggestion and the write),
first-expiring-first, refusals, and the ledger under real concurrency."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.models import Sum
from django.utils import timezone

from inventory.models import StockLot, StockMovement
from inventory.services.stock import StockError, dispense_from_lot, return_to_stock
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


def test_the_dispensable_lots_come_first_expiring_first(package, technician):
    late = StockLotFactory(
        package=package, expiry=TODAY + timedelta(days=500), quantity_on_hand=100
    )
    early = StockLotFactory(
        package=package, expiry=TODAY + timedelta(days=200), quantity_on_hand=20
    )
    StockLotFactory(package=package, expiry=TODAY + timedelta(days=20), quantity_on_hand=90)
    StockLotFactory(package=package, quantity_on_hand=500, status=StockLot.Status.QUARANTINED)
    StockLotFactory(package=package, quantity_on_hand=0)
    lots = StockLot.objects.filter(package=package)
    until = TODAY + timedelta(days=30)

    assert list(lots.dispensable(usable_until=until).first_expiring_first()) == [early, late]
    assert list(lots.dispensable(usable_until=until, quantity=Decimal(30))) == [late]


def test_short_stock_takes_nothing(package, technician):
    lot = StockLotFactory(package=package, quantity_on_hand=10)

    with pytest.raises(StockError) as refused:
        dispense_from_lot(
            lot, quantity=Decimal(11), by=technician, reference="fill:1", usable_until=TODAY
        )

    assert (refused.value.code, refused.value.detail) == (
        "insufficient_stock",
        f"Lot {lot.lot_number} holds 10 units; 11 are needed.",
    )
    lot.refresh_from_db()
    assert lot.quantity_on_hand == 10
    assert StockMovement.objects.filter(kind="dispense").count() == 0


def test_a_dispensing_is_one_ledger_row(package, technician):
    lot = StockLotFactory(package=package, quantity_on_hand=10)

    allocation = dispense_from_lot(
        lot, quantity=Decimal(4), by=technician, reference="fill:7", usable_until=TODAY,
        reason="Rx 1000001 fill 0",
    )  # fmt: skip

    lot.refresh_from_db()
    assert (allocation.lot.quantity_on_hand, lot.quantity_on_hand, allocation.quantity) == (6, 6, 4)
    movement = lot.movements.get(kind="dispense")
    assert allocation.movement == movement
    assert (movement.quantity_change, movement.reference, movement.reason, movement.actor) == (
        -4,
        "fill:7",
        "Rx 1000001 fill 0",
        technician,
    )
    assert ledger_matches_stock()


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
    # Three lots of one package, 600 units; 32 threads each take 5 units at a time from
    # the lot the fill station would suggest, until no lot is left to suggest. Two
    # threads may be suggested the same lot: the second is refused once it is empty.
    package = PackageFactory()
    lots = [
        StockLotFactory(
            package=package, quantity_on_hand=200, expiry=TODAY + timedelta(days=300 + n)
        )
        for n in range(3)
    ]
    granted, refusals, errors = [], [], []
    lock = threading.Lock()

    def worker():
        try:
            while True:
                lot = (
                    StockLot.objects.filter(package=package)
                    .dispensable(usable_until=TODAY, quantity=Decimal(5))
                    .first_expiring_first()
                    .first()
                )
                if lot is None:
                    return
                try:
                    allocation = dispense_from_lot(
                        lot, quantity=Decimal(5), by=technician, reference="bench",
                        usable_until=TODAY,
                    )  # fmt: skip
                except StockError as refused:
                    with lock:
                        refusals.append(refused.code)
                    continue
                with lock:
                    granted.append(allocation.quantity)
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
    assert set(refusals) <= {"insufficient_stock"}
    assert sum(granted) == 600
    assert len(granted) == 120
    assert all(
        lot.quantity_on_hand == 0
        for lot in StockLot.objects.filter(pk__in=[lot.pk for lot in lots])
    )
    assert StockMovement.objects.filter(kind="dispense").count() == 120
    assert ledger_matches_stock()


def test_dispense_from_lot_accepts_exactly_the_dispensable_lots(package, technician):
    # The write checks the locked lot with the rule the suggestion lists lots by
    # (StockLotQuerySet.dispensable): each lot is dispensed if and only if it is listed.
    usable_until = TODAY + timedelta(days=30)
    wanted = Decimal(5)
    lots = {
        "whole": StockLotFactory(package=package, quantity_on_hand=5),
        "short": StockLotFactory(package=package, quantity_on_hand=4),
        "empty": StockLotFactory(package=package),
        "expires_too_soon": StockLotFactory(
            package=package, quantity_on_hand=5, expiry=usable_until
        ),
        "past_its_date": StockLotFactory(package=package, quantity_on_hand=5, expiry=TODAY),
        "recalled": StockLotFactory(
            package=package, quantity_on_hand=5, status=StockLot.Status.RECALLED
        ),
        "quarantined": StockLotFactory(
            package=package, quantity_on_hand=5, status=StockLot.Status.QUARANTINED
        ),
        "expired": StockLotFactory(
            package=package, quantity_on_hand=5, status=StockLot.Status.EXPIRED
        ),
    }
    listed = set(StockLot.objects.dispensable(usable_until=usable_until, quantity=wanted))
    assert listed == {lots["whole"]}

    outcomes = {}
    for name, lot in lots.items():
        try:
            dispense_from_lot(
                lot, quantity=wanted, by=technician, reference="fill:1",
                usable_until=usable_until,
            )  # fmt: skip
            outcomes[name] = "dispensed"
        except StockError as refused:
            outcomes[name] = refused.code

    assert outcomes == {
        "whole": "dispensed",
        "short": "insufficient_stock",
        "empty": "insufficient_stock",
        "expires_too_soon": "lot_expires_too_soon",
        "past_its_date": "lot_expired",
        "recalled": "lot_recalled",
        "quarantined": "lot_quarantined",
        "expired": "lot_expired",
    }
    assert StockMovement.objects.filter(kind="dispense").count() == 1
    assert ledger_matches_stock()
