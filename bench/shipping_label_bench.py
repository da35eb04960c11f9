"""Benchmark of shipping labels: 4 x 6 inch carrier labels per second of one worker
process, single and batched, and the memory a process gains over 2,000 labels.

* Single: ``shipping.services.documents.generate_shipping_label`` on a labelled shipment
  that has none, one after the other - what the documents task does for each package:
  read the shipment, hash its data, render the PDF with WeasyPrint, store it (lock the
  shipment, check the data, insert).
* Batched: a ``LabelBatch`` of 200 through ``start_label_batch`` and
  ``print_label_batch`` in this process (the outbox delivery's code path, without the
  outbox): each label made and counted with its conditional UPDATE, then all merged into
  one PDF with pypdf.
* Memory: the resident set size (RSS, psutil) of this process before and after 2,000
  more labels, after the warm-up and the runs above (fonts, stylesheets, templates and
  the database connection all loaded). The goal is at most 30 MB of growth.

It prints the rate, the wall time and the CPU time of this process per label (the
PostgreSQL server's own CPU is not in it), and that CPU time as labels per second per
core (the goal, 20, is 50 ms of CPU a label):

    shipping_label_bench: single 200: 40.8 labels/s, 24.5 ms/label, CPU 21.9 ms = 45.7/s/core
    shipping_label_bench: batched 200: 33.9 labels/s, CPU 25.8 ms = 38.8/s/core (merge 3.8 ms)
    shipping_label_bench: memory +0.0 MB RSS over 2000 labels (181.4 -> 181.4 MB; goal <= 30)

Without libharfbuzz-subset WeasyPrint subsets the fonts with fontTools and a label costs
about four times the CPU: the first line names the subsetter in use.

It runs against its own database, ``bench_pharmacy`` (see import_ndc_bench.py), and
replaces only its own rows (the orders of its patient, "Bench Shiplabel"), never the
development data.

    .venv/bin/python bench/shipping_label_bench.py [--labels 200] [--batch 200]
        [--memory-labels 2000] [--warm-up 20] [--database bench_pharmacy]
"""

import argparse
import datetime
import gc
import os
import secrets
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import import_ndc_bench  # noqa: E402
from import_ndc_bench import PRODUCTION_ENVIRONMENT, prepare_database  # noqa: E402

PATIENT = {"first_name": "Bench", "last_name": "Shiplabel", "date_of_birth": "1958-03-09"}
STREETS = ["4410 Maple Avenue", "17 Harbor Point Road", "902 W. Fifth Street", "3 Elm Court"]
SERVICES = [("OVERNIGHT", "Courier overnight", 1), ("TWO_DAY", "Courier 2-day", 2)]
CITIES = [("Dayton", "OH", "45402"), ("Lexington", "KY", "40507"), ("Erie", "PA", "16501")]


def clear_previous_run() -> None:
    from orders.models import Order
    from shipping.models import LabelBatch, Shipment

    orders = Order.objects.filter(
        patient__first_name=PATIENT["first_name"], patient__last_name=PATIENT["last_name"]
    )
    LabelBatch.objects.filter(created_by__username="shipping-label-bench").delete()
    Shipment.objects.filter(order__in=orders).delete()  # their documents go with them
    orders.delete()


def make_shipments(count: int) -> list:
    """``count`` labelled shipments of the local carrier, each of its own order, as
    packing leaves them once the label is bought; every third cold chain, every fourth
    with a signature, a second address line on every other one."""
    from django.utils import timezone

    from orders.models import Order
    from pharmacy.models import Patient
    from shipping.carriers import LocalCarrier
    from shipping.models import Carrier, CarrierService, Shipment

    patient, _ = Patient.objects.get_or_create(
        first_name=PATIENT["first_name"],
        last_name=PATIENT["last_name"],
        date_of_birth=datetime.date.fromisoformat(PATIENT["date_of_birth"]),
    )
    services = [
        CarrierService.objects.get_or_create(
            carrier=Carrier.LOCAL,
            code=code,
            defaults={"name": name, "transit_days": days, "allows_cold_chain": True},
        )[0]
        for code, name, days in [
            ("OVERNIGHT", "Courier overnight", 1),
            ("TWO_DAY", "Courier 2-day", 2),
        ]
    ]
    orders = Order.objects.bulk_create(Order(patient=patient) for _ in range(count))
    now = timezone.now()
    shipments = Shipment.objects.bulk_create(
        Shipment(
            order=order,
            status=Shipment.Status.LABELLED,
            ship_to_name=f"Bench Shiplabel {n}",
            ship_to_line1=STREETS[n % len(STREETS)],
            ship_to_line2="Apt 12" if n % 2 else "",
            ship_to_city=CITIES[n % len(CITIES)][0],
            ship_to_state=CITIES[n % len(CITIES)][1],
            ship_to_postal_code=CITIES[n % len(CITIES)][2],
            is_cold_chain=n % 3 == 0,
            signature_required=n % 4 == 0,
            carrier=Carrier.LOCAL,
            service=services[n % 2],
            weight_oz=Decimal(8 + n % 40) + Decimal("0.5"),
            packed_at=now,
            ship_on=now.date(),
        )
        for n, order in enumerate(orders)
    )
    for shipment in shipments:
        shipment.tracking_number = LocalCarrier.tracking_number_for(shipment.pk)
    Shipment.objects.bulk_update(shipments, ["tracking_number"], batch_size=500)
    return shipments


def rss_mb() -> float:
    import psutil

    gc.collect()
    return psutil.Process().memory_info().rss / 2**20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--labels", type=int, default=200)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--memory-labels", type=int, default=2000)
    parser.add_argument("--warm-up", type=int, default=20)
    # Two benchmarks sharing one database delete each other's rows: give each its own.
    parser.add_argument("--database", default=import_ndc_bench.BENCH_DATABASE)
    args = parser.parse_args()

    os.environ.update(PRODUCTION_ENVIRONMENT)
    import_ndc_bench.BENCH_DATABASE = args.database
    prepare_database()
    from django.contrib.auth import get_user_model
    from django.db import connection

    from orders.services.pdf import font_subsetter
    from pharmacy.models import Role
    from pharmacy.services import create_staff
    from shipping.models import LabelBatch, ShippingDocument
    from shipping.services import documents
    from shipping.services.documents import batches

    if connection.settings_dict["NAME"] != args.database:
        raise SystemExit(f"refusing to write to a database that is not {args.database}")
    clear_previous_run()
    user = get_user_model().objects.filter(username="shipping-label-bench").first()
    if user is None:
        password = secrets.token_urlsafe(24)  # nobody signs in as it
        user = create_staff("shipping-label-bench", role=Role.TECHNICIAN, password=password)
    shipments = make_shipments(args.warm_up + args.labels + args.batch + args.memory_labels)
    warm_up, shipments = shipments[: args.warm_up], shipments[args.warm_up :]
    single, shipments = shipments[: args.labels], shipments[args.labels :]
    batched, memory = shipments[: args.batch], shipments[args.batch :]

    for shipment in warm_up:
        documents.generate_shipping_label(shipment)

    # Single: one label at a time.
    started, cpu_started = time.perf_counter(), time.process_time()
    for shipment in single:
        documents.generate_shipping_label(shipment)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    count = len(single)
    print(
        f"shipping_label_bench: single {count}: {count / seconds:.1f} labels/s, "
        f"{seconds / count * 1000:.1f} ms/label, CPU {cpu / count * 1000:.1f} ms "
        f"= {count / cpu:.1f}/s/core (goal >= 20; fonts subset by {font_subsetter()})",
        flush=True,
    )

    # Batched: the print delivery's code path in this process (no outbox message: the
    # batch is printed here rather than by a worker).
    batches._record_printing = lambda batch, *, position: None
    merge, merging = batches.merge_pdfs, []

    def timed_merge(pdfs):
        started = time.process_time()
        merged = merge(pdfs)
        merging.append(time.process_time() - started)
        return merged

    batches.merge_pdfs = timed_merge
    started, cpu_started = time.perf_counter(), time.process_time()
    batch = documents.start_label_batch(batched, by=user)
    batch = documents.print_label_batch(batch)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    count = len(batched)
    assert (batch.done, batch.failed) == (count, 0), f"batch {batch.done}/{batch.total}"
    print(
        f"shipping_label_bench: batched {count}: {count / seconds:.1f} labels/s, "
        f"CPU {cpu / count * 1000:.1f} ms = {count / cpu:.1f}/s/core (merge "
        f"{sum(merging) / count * 1000:.1f} ms, {len(bytes(batch.pdf)) / 2**20:.1f} MB PDF)",
        flush=True,
    )

    # Memory: the same process over many more labels.
    before = rss_mb()
    for shipment in memory:
        documents.generate_shipping_label(shipment)
    after = rss_mb()
    print(
        f"shipping_label_bench: memory {after - before:+.1f} MB RSS over {len(memory)} labels "
        f"({before:.1f} -> {after:.1f} MB; goal <= 30)",
        flush=True,
    )

    stored = ShippingDocument.objects.filter(
        shipment__in=[*single, *batched, *memory], kind=ShippingDocument.Kind.LABEL, is_current=True
    ).count()
    expected = len(single) + len(batched) + len(memory)
    assert stored == expected, f"{stored} labels stored for {expected} shipments"
    assert LabelBatch.objects.filter(pk=batch.pk, finished_at__isnull=False).exists()
    return 0


if __name__ == "__main__":
    sys.exit(main())
