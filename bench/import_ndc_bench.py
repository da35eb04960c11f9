"""Benchmark of `import_ndc`: rows per second of a first import and of a re-import.

Generates an FDA NDC Directory folder (finished layout) with 100,000 packages of 25,000
products, with ingredients, pharmacologic classes, DEA schedules and nested package
descriptions, in a temporary folder; imports it into an empty catalogue, then imports it
again (nothing changes: the idempotent path), and prints one line:

    import_ndc: 100000 packages, first import 23456 rows/s, re-import 19876 rows/s

It runs against its own database, ``bench_pharmacy`` on the same PostgreSQL server
(created when missing), never the development data.

    .venv/bin/python bench/import_ndc_bench.py [--products 25000] [--packages 100000]
"""

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

BENCH_DATABASE = "bench_pharmacy"
DJANGO_ONLY_OPTIONS = {"isolation_level", "server_side_binding", "pool", "assume_role"}
BASE_DIR = Path(__file__).resolve().parent.parent

PRODUCT_HEADER = [
    "PRODUCTID", "PRODUCTNDC", "PRODUCTTYPENAME", "PROPRIETARYNAME", "PROPRIETARYNAMESUFFIX",
    "NONPROPRIETARYNAME", "DOSAGEFORMNAME", "ROUTENAME", "STARTMARKETINGDATE",
    "ENDMARKETINGDATE", "MARKETINGCATEGORYNAME", "APPLICATIONNUMBER", "LABELERNAME",
    "SUBSTANCENAME", "ACTIVE_NUMERATOR_STRENGTH", "ACTIVE_INGRED_UNIT", "PHARM_CLASSES",
    "DEASCHEDULE", "NDC_EXCLUDE_FLAG", "LISTING_RECORD_CERTIFIED_THROUGH",
]  # fmt: skip
PACKAGE_HEADER = [
    "PRODUCTID", "PRODUCTNDC", "NDCPACKAGECODE", "PACKAGEDESCRIPTION", "STARTMARKETINGDATE",
    "ENDMARKETINGDATE", "NDC_EXCLUDE_FLAG", "SAMPLE_PACKAGE",
]  # fmt: skip
SALTS = ["", "", "", " HYDROCHLORIDE", " SODIUM", " SULFATE", " CITRATE", " MALEATE"]
FORMS = [
    ("TABLET", "ORAL", "mg/1"),
    ("TABLET, FILM COATED", "ORAL", "mg/1"),
    ("CAPSULE", "ORAL", "mg/1"),
    ("CAPSULE, EXTENDED RELEASE", "ORAL", "mg/1"),
    ("INJECTION, SOLUTION", "INTRAVENOUS", "mg/mL"),
    ("SOLUTION", "ORAL", "mg/5mL"),
]
SCHEDULES = ["", "", "", "", "", "", "", "", "CII", "CIII", "CIV", "CV"]


def _package_ndc(labeler: str, product: str, index: int) -> str:
    """A package code that fits the product's layout (4-4-2, 5-3-2 or 5-4-1)."""
    if len(labeler) == 5 and len(product) == 4:
        return f"{labeler}-{product}-{index % 10}"
    return f"{labeler}-{product}-{index % 100:02d}"


def generate(folder: Path, *, products: int, packages: int, seed: int = 20261125) -> None:
    """Write product.txt and package.txt in the FDA NDC Directory's finished layout."""
    rng = random.Random(seed)
    moieties = [f"BENCHAMINE{n:04d}" for n in range(1500)]
    classes = [
        f"Benchmark Class {n} [{rng.choice(['EPC', 'MoA', 'PE', 'CS'])}]" for n in range(500)
    ]
    per_product = [packages // products] * products
    for extra in range(packages - sum(per_product)):
        per_product[extra] += 1
    with (
        (folder / "product.txt").open("w", encoding="utf-8") as product_file,
        (folder / "package.txt").open("w", encoding="utf-8") as package_file,
    ):
        product_file.write("\t".join(PRODUCT_HEADER) + "\n")
        package_file.write("\t".join(PACKAGE_HEADER) + "\n")
        for n in range(products):
            # Layouts in the proportions of the real directory: 5-4 and 5-3 most, 4-4 some.
            layout = n % 10
            if layout < 2:
                labeler, product = f"{1000 + n // 1000:04d}", f"{n % 1000 + 1000:04d}"
            elif layout < 6:
                labeler, product = f"{20000 + n // 900:05d}", f"{n % 900 + 100:03d}"
            else:
                labeler, product = f"{50000 + n // 9000:05d}", f"{n % 9000 + 1000:04d}"
            product_ndc = f"{labeler}-{product}"
            product_id = f"{product_ndc}_{rng.getrandbits(64):016x}"
            form, route, unit = rng.choice(FORMS)
            names = rng.sample(moieties, rng.choice([1, 1, 1, 2, 2, 3]))
            substances = [name + rng.choice(SALTS) for name in names]
            strengths = [str(rng.choice([1, 2.5, 5, 10, 20, 25, 40, 50, 100, 250, 500]))
                         for _ in names]  # fmt: skip
            product_file.write(
                "\t".join(
                    [
                        product_id,
                        product_ndc,
                        "HUMAN PRESCRIPTION DRUG",
                        f"Benchbrand{n}",
                        "",
                        " and ".join(s.lower() for s in substances),
                        form,
                        route,
                        f"{rng.randint(1990, 2024)}{rng.randint(1, 12):02d}15",
                        "",
                        "ANDA",
                        f"ANDA{200000 + n}",
                        f"Bench Labs {labeler}",
                        "; ".join(substances),
                        "; ".join(strengths),
                        "; ".join([unit] * len(names)),
                        ",".join(rng.sample(classes, rng.choice([0, 1, 2, 3]))),
                        rng.choice(SCHEDULES),
                        "N",
                        "20261231",
                    ]
                )  # fmt: skip
                + "\n"
            )
            for index in range(per_product[n]):
                package_ndc = _package_ndc(labeler, product, index + 1)
                count = rng.choice([30, 60, 90, 100, 500, 1000])
                if index % 3 == 2:
                    description = (
                        f"{index + 1} BLISTER PACK in 1 CARTON ({package_ndc})  > {count} "
                        f"{form} in 1 BLISTER PACK"
                    )
                else:
                    description = f"{count} {form} in 1 BOTTLE ({package_ndc})"
                package_file.write(
                    "\t".join(
                        [
                            product_id,
                            product_ndc,
                            package_ndc,
                            description,
                            "20200101",
                            "",
                            "N",
                            "N",
                        ]
                    )  # fmt: skip
                    + "\n"
                )


# Production's settings, for the servers the benches start and for in-process
# measurements alike (DEBUG off: Django then neither records queries nor wraps cursors).
PRODUCTION_ENVIRONMENT = {
    "DEBUG": "false",
    "SECRET_KEY": "bench-" + "x" * 60,
    "LOCAL_CARRIER_WEBHOOK_SECRET": "bench-" + "w" * 40,
    "ALLOWED_HOSTS": "127.0.0.1",
    "SECURE_SSL_REDIRECT": "false",
    "LOG_LEVEL": "WARNING",
}


def prepare_database() -> None:
    """Point Django at the benchmark database, create it when missing, and migrate it."""
    os.environ["DATABASE_NAME_OVERRIDE"] = BENCH_DATABASE
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pharmacy.settings")
    sys.path.insert(0, str(BASE_DIR))
    import django
    import psycopg2
    from django.conf import settings
    from psycopg2 import sql

    # The same server as the application's, reached the way Django reaches it: OPTIONS
    # (the embedded server's socket folder is passed there as "host") win over HOST.
    database = settings.DATABASES["default"]
    params = {
        "user": database.get("USER"),
        "password": database.get("PASSWORD"),
        "host": database.get("HOST"),
        "port": database.get("PORT"),
        **{
            key: value
            for key, value in database.get("OPTIONS", {}).items()
            if key not in DJANGO_ONLY_OPTIONS
        },
    }
    server = psycopg2.connect(
        dbname="postgres", **{key: value for key, value in params.items() if value}
    )
    server.autocommit = True
    with server.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DATABASE])
        if cursor.fetchone() is None:
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(BENCH_DATABASE)))
    server.close()

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def empty_catalogue() -> None:
    from django.db import connection

    from inventory.models import Ingredient, Package, PharmacologicClass, Product

    if connection.settings_dict["NAME"] != BENCH_DATABASE:
        raise SystemExit(f"refusing to empty a database that is not {BENCH_DATABASE}")
    tables = [model._meta.db_table for model in (Package, Product, Ingredient, PharmacologicClass)]
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} CASCADE")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--products", type=int, default=25_000)
    parser.add_argument("--packages", type=int, default=100_000)
    args = parser.parse_args()

    prepare_database()
    from inventory.services.catalogue import import_ndc_directory

    empty_catalogue()
    with tempfile.TemporaryDirectory(prefix="ndc-bench-") as temporary:
        folder = Path(temporary)
        generate(folder, products=args.products, packages=args.packages)
        rates = []
        for label in ("first import", "re-import"):
            started = time.perf_counter()
            report = import_ndc_directory(folder)
            seconds = time.perf_counter() - started
            rates.append(report.package_rows / seconds)
            print(f"  {label}: {seconds:.2f} s. {report.summary()}", file=sys.stderr)
            if report.problems:
                print(f"  first problem: {report.problems[0]}", file=sys.stderr)
    print(
        f"import_ndc: {args.packages} packages, first import {rates[0]:.0f} rows/s, "
        f"re-import {rates[1]:.0f} rows/s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
