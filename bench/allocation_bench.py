"""Benchmark of dispensing, the fill step's stock write, beside raw PostgreSQL, in the same run.

One dispensing is what the fill step runs once it has checked the scan: in a transaction
(the fill step's), ``inventory.services.stock.dispense_from_lot`` taking one unit from a
lot: the lot locked (SELECT ... FOR UPDATE) and checked with the one definition of a
dispensable lot, decremented, its ledger row appended, then the reorder point checked
(the product's ReorderRule row locked, the available units counted). The raw figures are
the same server's rates of comparable single-statement transactions in autocommit:
``UPDATE inventory_stocklot SET quantity_on_hand = quantity_on_hand - 1 WHERE id = %s``,
and that UPDATE with its ledger INSERT (the same writes as a dispensing). Each is
measured with 1 worker and with 16 concurrent workers (processes, each with its own
connection, each on its own product, as fills of different drugs are), in rounds. It
prints one line per measurement (the median of the rounds), then the ratios:

    allocation_bench: raw UPDATE, 1 worker: ... single-statement tx/s (rounds ...)
    allocation_bench: raw UPDATE + ledger INSERT, 1 worker: ... single-statement tx/s (...)
    allocation_bench: dispensing, 1 worker: ... allocations/s (rounds ...)
    ... the same with 16 workers ...
    allocation_bench: dispensing/raw: 1 worker ... of raw UPDATE, ... of raw UPDATE +
    ledger; 16 workers ... of raw UPDATE, ... of raw UPDATE + ledger

It runs against its own database, ``bench_pharmacy`` (see import_ndc_bench.py), and
empties its stock tables first, never the development data.

    .venv/bin/python bench/allocation_bench.py [--seconds 2] [--rounds 3] [--workers 1 16]
"""

import argparse
import multiprocessing
import os
import statistics
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from import_ndc_bench import (  # noqa: E402
    BENCH_DATABASE,
    PRODUCTION_ENVIRONMENT,
    prepare_database,
)

# The raw transactions: one statement each, in autocommit. The first only decrements;
# the second makes the same writes as a dispensing (the lot and its ledger row).
RAW_UPDATE = "UPDATE inventory_stocklot SET quantity_on_hand = quantity_on_hand - 1 WHERE id = %s"
RAW_UPDATE_AND_LEDGER = """
WITH taken AS (
    UPDATE inventory_stocklot SET quantity_on_hand = quantity_on_hand - 1
    WHERE id = %s RETURNING id
)
INSERT INTO inventory_stockmovement
    (lot_id, kind, quantity_change, reason, reference, serial_numbers, occurred_at)
SELECT id, 'dispense', -1, '', 'bench', '{}', now() FROM taken
"""
LABELER = "99990"  # fictional; the import benchmark's labelers stay below 60000
UNITS_PER_LOT = 10_000_000


def empty_stock() -> None:
    from django.db import connection

    from inventory.models import ReorderAlert, ReorderRule, StockLot, StockMovement

    if connection.settings_dict["NAME"] != BENCH_DATABASE:
        raise SystemExit(f"refusing to empty a database that is not {BENCH_DATABASE}")
    tables = [m._meta.db_table for m in (StockMovement, StockLot, ReorderAlert, ReorderRule)]
    with connection.cursor() as cursor:
        # TRUNCATE, not DELETE: the ledger's trigger refuses row deletes, by design.
        cursor.execute(f"TRUNCATE {', '.join(tables)} CASCADE")


def make_stock(count: int):
    """One product per worker, each with a package, a big lot and a reorder rule whose
    point is never reached (so every dispensing runs the check and raises nothing)."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from inventory.models import Package, Product, ReorderRule, StockLot, StockMovement
    from inventory.ndc import ndc10_digits, ndc11_from_package_ndc

    user, _ = get_user_model().objects.get_or_create(username="allocation-bench")
    lots = []
    for n in range(count):
        product, _ = Product.objects.get_or_create(
            product_ndc=f"{LABELER}-{n + 1:04d}",
            defaults={"proprietary_name": f"Benchallocate{n}", "dosage_form": "TABLET"},
        )
        package_ndc = f"{product.product_ndc}-1"
        package, _ = Package.objects.get_or_create(
            package_ndc=package_ndc,
            defaults={
                "product": product,
                "ndc10": ndc10_digits(package_ndc),
                "ndc11": ndc11_from_package_ndc(package_ndc),
                "description": f"1000 TABLET in 1 BOTTLE ({package_ndc})",
                "quantity": 1000,
            },
        )
        lot = StockLot.objects.create(
            package=package,
            lot_number=f"BENCH{n}",
            expiry=timezone.localdate() + timedelta(days=3650),
            quantity_on_hand=UNITS_PER_LOT,
        )
        StockMovement.objects.create(
            lot=lot, kind=StockMovement.Kind.RECEIPT, quantity_change=UNITS_PER_LOT
        )
        ReorderRule.objects.create(product=product, reorder_point=0, reorder_quantity=1000)
        lots.append(lot)
    return user, lots


def measure(workers: int, seconds: float, operation) -> float:
    """Operations per second of ``operation(worker_index)`` run by that many worker
    processes at once, each with its own connection, started together.

    Processes, not threads: the application dispenses in gunicorn and Celery worker
    processes, and Python threads would measure the interpreter's lock instead.
    """
    from django.db import connections

    connections.close_all()  # every child opens its own connection
    context = multiprocessing.get_context("fork")
    ready = context.Barrier(workers + 1)
    stop = context.Event()
    results = context.Queue()

    def work(index: int) -> None:
        try:
            operation(index)  # warm the connection and the statement cache
            ready.wait()
            done = 0
            while not stop.is_set():
                operation(index)
                done += 1
            results.put((done, None))
        except Exception as error:  # reported to the parent, which raises it
            results.put((0, repr(error)))
            ready.abort()
        finally:
            connections.close_all()

    processes = [context.Process(target=work, args=(i,)) for i in range(workers)]
    for process in processes:
        process.start()
    ready.wait()
    started = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    outcomes = [results.get(timeout=60) for _ in processes]
    elapsed = time.perf_counter() - started
    for process in processes:
        process.join()
    errors = [error for _, error in outcomes if error]
    if errors:
        raise RuntimeError(errors[0])
    return sum(done for done, _ in outcomes) / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="per measurement")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 16])
    args = parser.parse_args()

    os.environ.update(PRODUCTION_ENVIRONMENT)
    prepare_database()
    from django.db import connection, transaction
    from django.utils import timezone

    from inventory.models import ReorderAlert, StockLot, StockMovement
    from inventory.services.stock import dispense_from_lot

    empty_stock()
    user, lots = make_stock(max(args.workers))
    today = timezone.localdate()
    one = Decimal(1)

    def raw_update(index: int) -> None:
        with connection.cursor() as cursor:
            cursor.execute(RAW_UPDATE, [lots[index].pk])

    def raw_update_and_ledger(index: int) -> None:
        with connection.cursor() as cursor:
            cursor.execute(RAW_UPDATE_AND_LEDGER, [lots[index].pk])

    def dispensing(index: int) -> None:
        # As orders.services.workflow.fill_with_scan calls it: inside the fill's transaction.
        with transaction.atomic():
            dispense_from_lot(
                lots[index], quantity=one, by=user, reference="bench", usable_until=today
            )

    operations = {
        "raw UPDATE": raw_update,
        "raw UPDATE + ledger INSERT": raw_update_and_ledger,
        "dispensing": dispensing,
    }
    ratios = []
    for workers in args.workers:
        label = f"{workers} worker{'s' if workers > 1 else ''}"
        # Rounds of the three, one after the other, so a neighbour's load falls on all
        # three alike; the figures are the medians of the rounds.
        rounds = {name: [] for name in operations}
        for _ in range(args.rounds):
            for name, operation in operations.items():
                rounds[name].append(measure(workers, args.seconds, operation))
        rates = {name: statistics.median(values) for name, values in rounds.items()}
        for name, rate in rates.items():
            unit = "allocations/s" if name == "dispensing" else "single-statement tx/s"
            spread = f"{min(rounds[name]):.0f}-{max(rounds[name]):.0f}"
            print(f"allocation_bench: {name}, {label}: {rate:.0f} {unit} (rounds {spread})")
        to_update = statistics.median(
            a / r for a, r in zip(rounds["dispensing"], rounds["raw UPDATE"], strict=True)
        )
        to_ledger = statistics.median(
            a / r
            for a, r in zip(rounds["dispensing"], rounds["raw UPDATE + ledger INSERT"], strict=True)
        )
        ratios.append(
            f"{label} {to_update:.2f} of raw UPDATE, {to_ledger:.2f} of raw UPDATE + ledger"
        )
    print(f"allocation_bench: dispensing/raw: {'; '.join(ratios)}", flush=True)

    # The dispensings never raised an alert (the points are 0) and kept their ledger.
    assert not ReorderAlert.objects.exists()
    dispensed = StockMovement.objects.filter(kind=StockMovement.Kind.DISPENSE).count()
    print(f"  {dispensed} dispensings written to the ledger", file=sys.stderr)
    assert StockLot.objects.filter(quantity_on_hand__lt=0).count() == 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
