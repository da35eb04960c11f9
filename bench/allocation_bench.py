"""Benchmark of the stock allocation path beside raw PostgreSQL, in the same run.

One allocation is ``inventory.services.stock.allocate_for_dispensing`` taking one unit:
lock the lots (SELECT ... FOR UPDATE), decrement with F(), append the ledger row, and
check the reorder point (lock the product's ReorderRule row, sum the available units),
in one transaction. The raw figure is the same server's rate of a comparable
single-statement transaction: ``UPDATE inventory_stocklot SET quantity_on_hand =
quantity_on_hand - 1 WHERE id = %s`` in autocommit. Each is measured with 1 worker and
with 16 concurrent workers (threads, each with its own connection, each on its own
product, as fills of different drugs are). The goal: allocation at least a quarter of
the raw rate. It prints one line per measurement, then the ratios:

    allocation_bench: raw single-statement transaction, 1 worker: 2900 tx/s
    allocation_bench: allocation, 1 worker: 850 allocations/s
    ...
    allocation_bench: allocation/raw, 1 worker 0.29, 16 workers 0.31 (goal >= 0.25)

It runs against its own database, ``bench_pharmacy`` (see import_ndc_bench.py), and
empties its stock tables first, never the development data.

    .venv/bin/python bench/allocation_bench.py [--seconds 3] [--workers 1 16]
"""

import argparse
import sys
import threading
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from import_ndc_bench import BENCH_DATABASE, prepare_database  # noqa: E402

# The raw transactions: one statement each, in autocommit. The first only decrements;
# the second makes the same writes as an allocation (the lot and its ledger row).
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
    point is never reached (so every allocation runs the check and raises nothing)."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from inventory.models import Package, Product, ReorderRule, StockLot, StockMovement
    from inventory.ndc import ndc10_digits, ndc11_from_package_ndc

    user, _ = get_user_model().objects.get_or_create(username="allocation-bench")
    packages, lots = [], []
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
        packages.append(package)
        lots.append(lot)
    return user, packages, lots


def measure(workers: int, seconds: float, operation) -> float:
    """Operations per second of ``operation(worker_index)`` run by that many threads."""
    from django.db import connection

    counts = [0] * workers
    errors = []
    ready = threading.Barrier(workers + 1)
    stop = threading.Event()

    def work(index: int) -> None:
        try:
            operation(index)  # warm the connection and the statement cache
            ready.wait()
            done = 0
            while not stop.is_set():
                operation(index)
                done += 1
            counts[index] = done
        except Exception as error:
            errors.append(error)
            ready.abort()
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    ready.wait()
    started = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return sum(counts) / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 16])
    args = parser.parse_args()

    prepare_database()
    from django.db import connection
    from django.utils import timezone

    from inventory.models import ReorderAlert, StockLot, StockMovement
    from inventory.services.stock import allocate_for_dispensing

    empty_stock()
    user, packages, lots = make_stock(max(args.workers))
    today = timezone.localdate()
    one = Decimal(1)

    def raw_update(index: int) -> None:
        with connection.cursor() as cursor:
            cursor.execute(RAW_UPDATE, [lots[index].pk])

    def raw_update_and_ledger(index: int) -> None:
        with connection.cursor() as cursor:
            cursor.execute(RAW_UPDATE_AND_LEDGER, [lots[index].pk])

    def allocation(index: int) -> None:
        allocate_for_dispensing(
            [packages[index]], quantity=one, by=user, reference="bench", usable_until=today
        )

    ratios = []
    for workers in args.workers:
        label = f"{workers} worker{'s' if workers > 1 else ''}"
        rates = {}
        for name, operation in (
            ("raw UPDATE", raw_update),
            ("raw UPDATE + ledger INSERT", raw_update_and_ledger),
            ("allocation", allocation),
        ):
            rates[name] = measure(workers, args.seconds, operation)
            unit = "allocations/s" if name == "allocation" else "single-statement tx/s"
            print(f"allocation_bench: {name}, {label}: {rates[name]:.0f} {unit}", flush=True)
        ratios.append(
            f"{label} {rates['allocation'] / rates['raw UPDATE']:.2f} of raw UPDATE, "
            f"{rates['allocation'] / rates['raw UPDATE + ledger INSERT']:.2f} of raw "
            "UPDATE + ledger"
        )
    print(f"allocation_bench: allocation/raw: {'; '.join(ratios)} (goal >= 0.25)")

    # The allocation path never raised an alert (the points are 0) and kept its ledger.
    assert not ReorderAlert.objects.exists()
    dispensed = StockMovement.objects.filter(kind=StockMovement.Kind.DISPENSE).count()
    print(f"  {dispensed} allocations written to the ledger", file=sys.stderr)
    assert StockLot.objects.filter(quantity_on_hand__lt=0).count() == 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
