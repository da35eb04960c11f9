"""The fill queue page's server time and SQL statements with 1,000 and with 50,000 open fills.

The page is ``GET /fills/queue/fill/`` (and the rows its htmx poll fetches), requested
in-process through the Django test client as a signed-in technician, with production's
settings (DEBUG off). Each measurement is the median of ``--requests`` requests after a
warm-up: the web process's CPU time (``time.process_time``), the wall time, and the
queue statement's own execution time inside PostgreSQL (``EXPLAIN ANALYZE``, median of
five; the server's CPU cannot be told apart from the other databases it serves). Server
time = web CPU + that statement. The SQL statements of one request are counted with
``CaptureQueriesContext`` and split into the queue's own (its one SELECT, the audit row)
and those every signed-in page makes (session read and save, the user, its role and
permissions in one). The goal: at most 6 statements for the whole request, the same
count at both sizes, and the 50,000-fill page at most 1.3 times the time of the
1,000-fill one.

    queue_bench: 1000 open fills, page: server 50.3 ms (web CPU 49.5 + queue SQL 0.85), wall
    57.2 ms; 6 SQL statements: 2 the queue's (...), 4 of every signed-in page (...); plan uses
    fill_queue_idx: yes
    ... the same for the rows the poll fetches, and for 50000 open fills ...
    queue_bench: 50000/1000 server time: page 1.01x, rows 1.07x (goal <= 1.3x); statements
    of a request 6 and 6 (goal <= 6, the same at both sizes), of them the queue's 2 and 2

It runs against its own database, ``bench_pharmacy`` (see import_ndc_bench.py): every
run empties the orders tables (prescriptions, orders, fills and what hangs off them, as
intake_bench does), keeps its 500 patients, prescriber and product from run to run, and
creates the fills with one ``INSERT ... SELECT generate_series`` per size.

    .venv/bin/python bench/queue_bench.py [--requests 40] [--explain]
"""

import argparse
import os
import re
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from import_ndc_bench import (  # noqa: E402
    BENCH_DATABASE,
    PRODUCTION_ENVIRONMENT,
    prepare_database,
)

SIZES = (1_000, 50_000)
PATIENTS = 500
PAGE = "/fills/queue/fill/"
ROWS = "/fills/queue/fill/rows/"
GOAL_RATIO = 1.3
GOAL_STATEMENTS = 6
# Statements every signed-in page makes, whatever it shows (middleware, permissions).
COMMON_TABLES = ("django_session", "pharmacy_user", "auth_permission", "auth_group")


def seed() -> tuple:
    """Empty the orders tables; the bench's technician, patients, prescriber and product
    (created on the first run, kept after); one prescription per patient."""
    from django.db import connection
    from django.utils import timezone

    from inventory.models import Product
    from orders.models import Prescription
    from pharmacy.models import Patient, Prescriber, Role, User
    from pharmacy.services import create_staff

    if connection.settings_dict["NAME"] != BENCH_DATABASE:
        raise SystemExit(f"refusing to seed a database that is not {BENCH_DATABASE}")
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE orders_prescription, orders_order, orders_fill CASCADE")
    user = User.objects.filter(username="bench-queue").first() or create_staff(
        "bench-queue", role=Role.TECHNICIAN, password=f"Bench-{uuid.uuid4()}", first_name="Q"
    )
    product, _ = Product.objects.get_or_create(
        product_ndc="79002-201",
        defaults={"nonproprietary_name": "metformin hydrochloride", "dosage_form": "TABLET"},
    )
    prescriber, _ = Prescriber.objects.get_or_create(
        npi="1999999992", defaults={"first_name": "Queue", "last_name": "Bench"}
    )
    have = Patient.objects.filter(last_name__startswith="Queuebench").count()
    Patient.objects.bulk_create(
        Patient(
            first_name=f"Pat{n}",
            last_name=f"Queuebench{n:03d}",
            date_of_birth=f"19{40 + n % 60}-0{1 + n % 9}-1{n % 10}",
        )
        for n in range(have, PATIENTS)
    )
    patients = list(Patient.objects.filter(last_name__startswith="Queuebench").order_by("pk"))
    today = timezone.localdate()
    prescriptions = Prescription.objects.bulk_create(
        Prescription(
            rx_number=f"QB{n:07d}",
            status=Prescription.Status.ACTIVE,
            channel="phone",
            patient=patient,
            prescriber=prescriber,
            product=product,
            drug_description="Metformin HCl 500 mg tablet",
            quantity=60,
            quantity_unit="tablet",
            days_supply=30,
            refills_authorized=99,
            sig_text="1 PO BID",
            directions="Take 1 tablet by mouth twice daily",
            written_date=today,
            expires_on=today.replace(year=today.year + 1),
        )
        for n, patient in enumerate(patients)
    )
    return user, [p.pk for p in prescriptions]


def insert_fills(start: int, count: int, prescription_ids: list[int]) -> None:
    """``count`` open fills waiting to be filled, in one INSERT ... SELECT generate_series:
    every column as a new Fill would have it, except the ones that vary per row (which
    prescription, fill number, label code, age, priority, cold chain, promised date)."""
    from django.db import connection

    from orders.models import Fill

    template = Fill(prescription_id=0, status=Fill.Status.FILL, quantity=60, days_supply=30)
    varying = {
        "prescription_id": "(%s::bigint[])[1 + g %% {n}]",
        "fill_number": "g / {n}",
        "label_code": "'QB' || lpad(g::text, 10, '0')",
        "created_at": "now() - make_interval(mins => g)",
        "status_changed_at": "now() - make_interval(mins => g)",
        "priority": "CASE WHEN g %% 20 = 0 THEN 0 ELSE 1 END",
        "is_cold_chain": "g %% 9 = 0",
        "promised_on": "CASE WHEN g %% 3 = 0 THEN NULL ELSE current_date + g %% 5 END",
    }
    columns, expressions, params = [], [], []
    for field in Fill._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(connection.ops.quote_name(field.column))
        if field.column in varying:
            expressions.append(varying[field.column].format(n=len(prescription_ids)))
            if field.column == "prescription_id":
                params.append(prescription_ids)
        else:
            expressions.append("%s")
            params.append(field.get_db_prep_save(field.pre_save(template, add=True), connection))
    sql = (
        f"INSERT INTO orders_fill ({', '.join(columns)}) "
        f"SELECT {', '.join(expressions)} FROM generate_series(%s, %s) AS g"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, start, start + count - 1])
        # Fresh statistics and visibility map, as autovacuum keeps them on a live system.
        cursor.execute("VACUUM ANALYZE orders_fill")


def statement_time(sql: str) -> tuple[float, str]:
    """Median execution time (ms) of a statement inside PostgreSQL, and its plan."""
    from django.db import connection

    times, plan = [], ""
    with connection.cursor() as cursor:
        for _ in range(5):
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
            lines = [row[0] for row in cursor.fetchall()]
            plan = "\n".join(lines)
            times.append(float(lines[-1].split(":")[1].split()[0]))
    return statistics.median(times), plan


def main_table(sql: str) -> str:
    """The table a statement reads or writes first: its FROM, UPDATE or INSERT INTO."""
    found = re.search(r'(?:FROM|UPDATE|INSERT INTO) "(\w+)"', sql)
    return found.group(1) if found else ""


def measure(client, url: str, requests: int) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(5):  # warm: templates, URL resolver, the session
        assert client.get(url).status_code == 200
    cpu, wall = [], []
    for _ in range(requests):
        started_cpu, started = time.process_time(), time.perf_counter()
        response = client.get(url)
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
        assert response.status_code == 200, response.status_code
    with CaptureQueriesContext(connection) as captured:
        client.get(url)
    # BEGIN and COMMIT wrap the session's save: not statements of their own.
    statements = [
        (main_table(q["sql"]), q["sql"])
        for q in captured.captured_queries
        if q["sql"] not in ("BEGIN", "COMMIT")
    ]
    common = [sql for table, sql in statements if table in COMMON_TABLES]
    own = [sql for table, sql in statements if table not in COMMON_TABLES]
    queue_sql = next(sql for table, sql in statements if table == "orders_fill")
    sql_ms, plan = statement_time(queue_sql)
    return {
        "cpu": statistics.median(cpu) * 1000,
        "wall": statistics.median(wall) * 1000,
        "sql": sql_ms,
        "statements": len(statements),
        "own": len(own),
        "common": len(common),
        "plan": plan,
        "uses_index": "fill_queue_idx" in plan,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=40, help="per measurement")
    parser.add_argument("--explain", action="store_true", help="print the queue's plan")
    args = parser.parse_args()

    os.environ.update(PRODUCTION_ENVIRONMENT)
    prepare_database()
    from django.conf import settings
    from django.test import Client, override_settings

    # Production serves static files from the manifest `collectstatic` writes; the bench
    # does not collect them, so it names them without the hash (the same cost: a lookup).
    override_settings(
        STORAGES={
            **settings.STORAGES,
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }
    ).enable()
    user, prescription_ids = seed()
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    results: dict[int, dict[str, dict]] = {}
    inserted = 0
    for size in SIZES:
        insert_fills(inserted + 1, size - inserted, prescription_ids)
        inserted = size
        results[size] = {}
        for name, url in (("page", PAGE), ("rows", ROWS)):
            found = results[size][name] = measure(client, url, args.requests)
            print(
                f"queue_bench: {size} open fills, {name}: server "
                f"{found['cpu'] + found['sql']:.1f} ms (web CPU {found['cpu']:.1f} + queue SQL "
                f"{found['sql']:.2f}), wall {found['wall']:.1f} ms; {found['statements']} SQL "
                f"statements: {found['own']} the queue's (rows with count; the audit row of a "
                "page view, of a refresh only when it shows new patients), "
                f"{found['common']} of every signed-in page (session read and save, user, "
                "its role and permissions); plan uses fill_queue_idx: "
                f"{'yes' if found['uses_index'] else 'NO'}",
                flush=True,
            )
            if args.explain and name == "page":
                print(found["plan"])

    small, large = results[SIZES[0]], results[SIZES[-1]]
    ratios = {
        name: (large[name]["cpu"] + large[name]["sql"]) / (small[name]["cpu"] + small[name]["sql"])
        for name in ("page", "rows")
    }
    own = {size: results[size]["page"]["own"] for size in SIZES}
    print(
        f"queue_bench: {SIZES[-1]}/{SIZES[0]} server time: page {ratios['page']:.2f}x, rows "
        f"{ratios['rows']:.2f}x (goal <= {GOAL_RATIO}x); statements of a request "
        f"{small['page']['statements']} and {large['page']['statements']} (goal <= "
        f"{GOAL_STATEMENTS}, the same at both sizes), of them the queue's {own[SIZES[0]]} and "
        f"{own[SIZES[-1]]}"
    )
    ok = (
        max(ratios.values()) <= GOAL_RATIO
        and small["page"]["statements"] == large["page"]["statements"] <= GOAL_STATEMENTS
        and all(r[name]["uses_index"] for r in results.values() for name in r)
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
