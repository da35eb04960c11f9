"""Races between people on real PostgreSQL with real threads: exactly one approval wins,
the last units of a lot are never sold twice, one claim wins."""

import threading
from collections.abc import Callable

import pytest
from django.db import connection
from django.db.models import Sum

from inventory.models import StockLot, StockMovement
from inventory.tests.factories import StockLotFactory
from orders.models import Fill, FillEvent, FillScan
from orders.services.workflow import WorkflowError, approve_pv1, claim_fill, fill_with_scan
from orders.tests.factories import (
    another_staff,
    datamatrix,
    fill_at,
    stocked_package,
    stocked_prescription,
)
from pharmacy.models import Role

pytestmark = pytest.mark.django_db(transaction=True)

S = Fill.Status


def race(*attempts: Callable[[], object]) -> tuple[list, list[WorkflowError], list]:
    """Run the attempts in threads released at the same moment; returns what each thread
    got back, the refusals, and any other error (a deadlock, a database error)."""
    barrier = threading.Barrier(len(attempts))
    results, refusals, errors = [], [], []
    lock = threading.Lock()

    def run(attempt):
        try:
            barrier.wait()
            result = attempt()
            with lock:
                results.append(result)
        except WorkflowError as refused:
            with lock:
                refusals.append(refused)
        except Exception as error:  # anything else fails the test
            with lock:
                errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(attempt,)) for attempt in attempts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, refusals, errors


def test_two_pharmacists_approving_one_fill_exactly_one_wins():
    pharmacists = [another_staff(Role.PHARMACIST) for _ in range(2)]
    for _round in range(3):
        fill = fill_at(S.PV1)

        results, refusals, errors = race(
            *(lambda p=p, f=fill: approve_pv1(f, by=p, overrides=[]) for p in pharmacists)
        )

        assert errors == []
        assert len(results) == 1
        assert [refused.code for refused in refusals] == ["wrong_status"]
        fill.refresh_from_db()
        assert fill.status == S.FILL
        assert fill.pv1_by == results[0].pv1_by
        assert FillEvent.objects.filter(fill=fill, to_status=S.FILL).count() == 1
        assert f"{fill.pv1_by.get_full_name()} moved it at" in refusals[0].detail


def test_two_technicians_filling_the_last_units_of_a_lot_never_oversell():
    package = stocked_package(units=0)
    lot = StockLotFactory(package=package, lot_number="LAST-30", quantity_on_hand=30)
    fills = [
        fill_at(S.FILL, prescription=stocked_prescription(product=package.product))
        for _ in range(2)
    ]
    technicians = [another_staff(Role.TECHNICIAN) for _ in range(2)]
    scan = datamatrix(package, lot="LAST-30", expiry=lot.expiry)

    results, refusals, errors = race(
        *(
            lambda fill=fill, tech=tech: fill_with_scan(fill, by=tech, scan=scan, quantity=30)
            for fill, tech in zip(fills, technicians, strict=True)
        )
    )

    assert errors == []
    assert len(results) == 1
    assert [refused.code for refused in refusals] == ["insufficient_stock"]
    assert refusals[0].detail == "Lot LAST-30 holds 0 units; 30 are needed."
    lot.refresh_from_db()
    assert lot.quantity_on_hand == 0
    assert lot.movements.aggregate(total=Sum("quantity_change"))["total"] == 0
    assert StockMovement.objects.filter(lot=lot, kind="dispense").count() == 1
    statuses = sorted(
        Fill.objects.filter(pk__in=[f.pk for f in fills]).values_list("status", flat=True)
    )
    assert statuses == [S.FILL, S.PV2]
    loser = Fill.objects.get(pk__in=[f.pk for f in fills], status=S.FILL)
    assert loser.stock_lot is None
    refused_scan = FillScan.objects.get(is_accepted=False)
    assert (refused_scan.fill, refused_scan.refusal_code) == (loser, "insufficient_stock")


def test_two_technicians_filling_the_same_fill_take_stock_once():
    fill = fill_at(S.FILL)
    lot = StockLot.objects.get(package__product=fill.prescription.product)
    on_hand = lot.quantity_on_hand
    technicians = [another_staff(Role.TECHNICIAN) for _ in range(2)]
    scan = datamatrix(lot.package, lot=lot.lot_number, expiry=lot.expiry)

    results, refusals, errors = race(
        *(lambda t=t: fill_with_scan(fill, by=t, scan=scan, quantity=30) for t in technicians)
    )

    assert errors == []
    assert len(results) == 1
    assert [refused.code for refused in refusals] == ["wrong_status"]
    lot.refresh_from_db()
    assert lot.quantity_on_hand == on_hand - 30
    assert StockMovement.objects.filter(lot=lot, kind="dispense").count() == 1


def test_two_people_claiming_one_fill_exactly_one_holds_it():
    fill = fill_at(S.FILL)
    technicians = [another_staff(Role.TECHNICIAN) for _ in range(4)]

    results, refusals, errors = race(*(lambda t=t: claim_fill(fill, by=t) for t in technicians))

    assert errors == []
    assert len(results) == 1
    assert [refused.code for refused in refusals] == ["claimed"] * 3
    fill.refresh_from_db()
    assert fill.claimed_by == results[0].claimed_by
