"""Benchmark of Rx vial labels: labels per second of one worker process.

One label is ``orders.services.labels.generate_rx_label`` on a fill that has none: read
the data, hash them, render the PDF with WeasyPrint, and store it (lock the fill, check
the data, insert) - what the Celery task does. It runs in this one process, single
threaded, over 200 fills after 20 of warm-up (fonts and CSS loaded once per process),
and prints the rate, the wall time and the CPU time of this process per label (the
PostgreSQL server's own CPU is not in it), then the render alone and a label whose data
did not change (the hash is found, nothing rendered):

    label_bench: 200 labels, 24.1 labels/s, 41.5 ms/label, CPU 39.0 ms/label (goal >= 20/s)
    label_bench: render alone 35.2 ms CPU/label; unchanged label 2.1 ms/label

``--profile`` adds where the CPU time of a label goes (cProfile, by phase).

It runs against its own database, ``bench_pharmacy`` (see import_ndc_bench.py), and
replaces only its own rows (Rx numbers starting LB), never the development data.

    .venv/bin/python bench/label_bench.py [--labels 200] [--warm-up 20] [--profile]
        [--database bench_pharmacy]
"""

import argparse
import cProfile
import datetime
import io
import os
import pstats
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import import_ndc_bench  # noqa: E402
from import_ndc_bench import PRODUCTION_ENVIRONMENT, prepare_database  # noqa: E402

RX_PREFIX = "LB"
LABELER = "99991"  # fictional; the import benchmark's labelers stay below 60000
DIRECTIONS = [
    "Take 1 tablet by mouth once daily",
    "Take 1 tablet by mouth twice daily with food for 10 days",
    "Take 1 tablet by mouth every 4 to 6 hours as needed for pain. Do not take more than "
    "6 tablets in 24 hours.",
    "Take 2 tablets by mouth at bedtime",
]
# Phases of a label, as cProfile names the functions that start them.
PHASES = {
    "read the data (twice, one query each)": "labels.py:*(_read_label_row)",
    "Django template": "loader.py:*(render_to_string)",
    "HTML parse (tinyhtml5)": "weasyprint/__init__.py:158(__init__)",
    "CSS cascade": "css/__init__.py:*(get_all_computed_styles)",
    "boxes": "build.py:*(build_formatting_structure)",
    "layout": "layout/__init__.py:*(layout_document)",
    "draw (text, barcode SVG)": "document.py:*(paint)",
    "PDF fonts (subset)": "pdf/fonts.py:*(build_fonts_dictionary)",
    "PDF write": "pydyf/__init__.py:*(write)",
    "store (lock, re-read, insert)": "labels.py:*(_store)",
}


def make_fills(count: int) -> list:
    """``count`` fills waiting for PV2, each of its own prescription, with dispensed
    product; every fourth a Schedule II drug, every third refrigerated."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from inventory.models import (
        DEASchedule,
        Ingredient,
        Package,
        Product,
        ProductIngredient,
        StockLot,
        Storage,
    )
    from orders.models import Channel, Fill, Prescription, RxLabel
    from pharmacy.models import Patient, Prescriber

    old = Fill.objects.filter(prescription__rx_number__startswith=RX_PREFIX)
    RxLabel.objects.filter(fill__in=old).delete()
    old.delete()
    Prescription.objects.filter(rx_number__startswith=RX_PREFIX).delete()

    user, _ = get_user_model().objects.get_or_create(username="label-bench")
    ingredient, _ = Ingredient.objects.get_or_create(
        normalized_name="LABELBENCHAMINE", defaults={"name": "Labelbenchamine"}
    )
    products, packages, lots = [], [], []
    for index, (schedule, storage) in enumerate(
        [
            (DEASchedule.NONE, Storage.ROOM_TEMPERATURE),
            (DEASchedule.CII, Storage.ROOM_TEMPERATURE),
            (DEASchedule.NONE, Storage.REFRIGERATED),
        ]
    ):
        product, _ = Product.objects.update_or_create(
            product_ndc=f"{LABELER}-{100 + index}",
            defaults={
                "proprietary_name": f"Benchlabel {index}",
                "nonproprietary_name": "labelbenchamine hydrochloride",
                "dosage_form": "TABLET, FILM COATED",
                "route": "ORAL",
                "labeler_name": "Bench Labels Inc.",
                "dea_schedule": schedule,
                "storage": storage,
            },
        )
        ProductIngredient.objects.update_or_create(
            product=product,
            ingredient=ingredient,
            defaults={"strength": "20", "strength_unit": "mg/1"},
        )
        package_ndc = f"{LABELER}-{100 + index}-01"
        package, _ = Package.objects.update_or_create(
            package_ndc=package_ndc,
            defaults={
                "product": product,
                "ndc10": package_ndc.replace("-", ""),
                "ndc11": f"{LABELER}0{100 + index}01",
                "description": "100 TABLET, FILM COATED in 1 BOTTLE",
                "quantity": 100,
                "unit": "TABLET",
            },
        )
        lot, _ = StockLot.objects.get_or_create(
            package=package,
            lot_number="BENCH1",
            defaults={"expiry": timezone.localdate() + datetime.timedelta(days=300)},
        )
        products.append(product)
        packages.append(package)
        lots.append(lot)

    patient, _ = Patient.objects.get_or_create(
        first_name="Bench",
        last_name="Labelpatient",
        date_of_birth=datetime.date(1960, 5, 17),
    )
    prescriber, _ = Prescriber.objects.get_or_create(
        npi="1999999992",  # not Luhn-checked here: no form validates it
        defaults={"first_name": "Label", "last_name": "Bench", "credentials": "MD"},
    )
    today = timezone.localdate()
    now = timezone.now()
    prescriptions = Prescription.objects.bulk_create(
        Prescription(
            rx_number=f"{RX_PREFIX}{n:08d}",
            status=Prescription.Status.ACTIVE,
            channel=Channel.PHONE,
            patient=patient,
            prescriber=prescriber,
            product=products[n % 3],
            prescribed_ndc=packages[n % 3].ndc11,
            drug_description="Benchlabel 20 mg tablet",
            dea_schedule=products[n % 3].dea_schedule,
            quantity=Decimal(30),
            quantity_unit="tablet",
            days_supply=30,
            refills_authorized=0 if products[n % 3].dea_schedule else 3,
            sig_text="1 PO QD",
            directions=DIRECTIONS[n % len(DIRECTIONS)],
            written_date=today,
            expires_on=today + datetime.timedelta(days=180),
        )
        for n in range(count)
    )
    return Fill.objects.bulk_create(
        Fill(
            prescription=prescription,
            status=Fill.Status.PV2,
            quantity=Decimal(30),
            days_supply=30,
            dispensed_package=packages[n % 3],
            dispensed_ndc=packages[n % 3].package_ndc,
            dispensed_quantity=Decimal(30),
            stock_lot=lots[n % 3],
            lot_number=lots[n % 3].lot_number,
            expiry=lots[n % 3].expiry,
            pv1_by=user,
            pv1_at=now,
            filled_by=user,
            filled_at=now,
        )
        for n, prescription in enumerate(prescriptions)
    )


def profile_phases(fills: list) -> None:
    """Print the share of each phase in the CPU time of these labels."""
    from orders.services.labels import generate_rx_label

    profiler = cProfile.Profile()
    profiler.enable()
    for fill in fills:
        generate_rx_label(fill)
    profiler.disable()
    stats = pstats.Stats(profiler)
    total = stats.total_tt
    print(f"  where a label's CPU time goes (cProfile over {len(fills)} labels):", file=sys.stderr)
    listing = io.StringIO()
    pstats.Stats(profiler, stream=listing).sort_stats("cumulative").print_stats()
    lines = listing.getvalue().splitlines()
    for phase, pattern in PHASES.items():
        prefix, _, function = pattern.partition(":*")
        for line in lines:
            if prefix in line and line.endswith(function):
                cumulative = float(line.split()[3])
                print(f"    {phase:32} {cumulative / total:6.1%}", file=sys.stderr)
                break


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--labels", type=int, default=200)
    parser.add_argument("--warm-up", type=int, default=20)
    parser.add_argument("--profile", action="store_true")
    # Two benchmarks sharing one database delete each other's fills: give each its own.
    parser.add_argument("--database", default=import_ndc_bench.BENCH_DATABASE)
    args = parser.parse_args()

    os.environ.update(PRODUCTION_ENVIRONMENT)
    import_ndc_bench.BENCH_DATABASE = args.database
    prepare_database()
    from django.db import connection

    from orders.models import RxLabel
    from orders.services.labels import generate_rx_label, render_rx_label_pdf, rx_label_data
    from orders.services.pdf import font_subsetter

    if connection.settings_dict["NAME"] != args.database:
        raise SystemExit(f"refusing to write to a database that is not {args.database}")
    profiled = 20 if args.profile else 0
    fills = make_fills(args.warm_up + args.labels + profiled)
    warm_up, measured = fills[: args.warm_up], fills[args.warm_up : args.warm_up + args.labels]

    for fill in warm_up:
        generate_rx_label(fill)

    started, cpu_started = time.perf_counter(), time.process_time()
    for fill in measured:
        generate_rx_label(fill)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started

    # The render alone, and a label whose data did not change (found by its hash).
    data = [rx_label_data(fill) for fill in measured[:50]]
    render_cpu = time.process_time()
    for item in data:
        render_rx_label_pdf(item)
    render_cpu = time.process_time() - render_cpu
    unchanged = time.perf_counter()
    for fill in measured[:50]:
        generate_rx_label(fill)
    unchanged = time.perf_counter() - unchanged

    stored = RxLabel.objects.filter(fill__in=measured, is_current=True).count()
    assert stored == len(measured), f"{stored} labels stored for {len(measured)} fills"
    count = len(measured)
    print(
        f"label_bench: {count} labels, {count / seconds:.1f} labels/s, "
        f"{seconds / count * 1000:.1f} ms/label, CPU {cpu / count * 1000:.1f} ms/label "
        "(goal >= 20/s)"
    )
    print(
        f"label_bench: render alone {render_cpu / len(data) * 1000:.1f} ms CPU/label; "
        f"unchanged label {unchanged / len(data) * 1000:.1f} ms/label; "
        f"fonts subset by {font_subsetter()}",
        flush=True,
    )
    if args.profile:
        profile_phases(fills[-profiled:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
