"""NCPDP NewRx messages per second through HTTP, with the web server as it runs in production.

Seeds the benchmark database ``bench_pharmacy`` (created and migrated when missing, never
the development data) with a small catalogue whose NDCs the messages use, a prescriber
with a valid NPI and DEA number, the curated interaction list, existing patients (some
with a coded penicillin-class allergy) and a technician's API token; every run first
empties that database's prescriptions, patients, prescribers and audit trail, so runs
compare. Then starts gunicorn as the Procfile does (2 workers x 4 threads, DEBUG off)
and posts distinct NewRx messages (unique MessageIDs; existing and new patients, eight
drugs, a few unknown NDCs) from loopback client threads, and prints one line (and on
stderr what was stored and how busy the machine was: the figures are clean only on a quiet machine):

    intake: 2000 NewRx from 8 clients, <n> messages/s (status codes {201: 2000}), web CPU
    <x> ms/message, PostgreSQL CPU <y> ms/message, latency p50 <a> ms p95 <b> ms

Finally it sends ~300 more messages in-process through the Django test client (same
middleware, authentication and view, no gunicorn): half to print their CPU per message,
half under cProfile timed by this process's CPU time (as the web CPU figure is, so
waiting for PostgreSQL and other work on the machine do not count), printing the top
15 functions by cumulative CPU time: where the CPU of one message goes.

    .venv/bin/python bench/intake_bench.py [--messages 2000] [--clients 8] [--profile 300]
"""

import argparse
import cProfile
import http.client
import io
import os
import pstats
import random
import re
import socket
import string
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(HERE))

from import_ndc_bench import (  # noqa: E402
    BENCH_DATABASE,
    PRODUCTION_ENVIRONMENT,
    prepare_database,
)

URL = "/api/v1/erx/ncpdp/"
BENCH_USER_RATE = "1000000/min"
# (package NDC, generic name, ingredient, DEA schedule, pharmacologic classes). Labeler
# codes 79xxx are fictional and outside what import_ndc_bench generates.
DRUGS = [
    ("79001-101-30", "atorvastatin calcium", "Atorvastatin", "", ["HMG-CoA Reductase Inhibitor"]),
    ("79001-102-30", "lisinopril", "Lisinopril", "", ["Angiotensin Converting Enzyme Inhibitor"]),
    ("79001-103-90", "metformin hydrochloride", "Metformin Hydrochloride", "", ["Biguanide"]),
    ("79001-104-30", "warfarin sodium", "Warfarin Sodium", "", ["Vitamin K Antagonist"]),
    ("79001-105-30", "aspirin", "Aspirin", "", ["Platelet Aggregation Inhibitor"]),
    ("79001-106-30", "amoxicillin", "Amoxicillin", "", ["Penicillin-class Antibacterial"]),
    ("79001-107-30", "fluconazole", "Fluconazole", "", ["Azole Antifungal"]),
    ("79001-108-30", "alprazolam", "Alprazolam", "CIV", ["Benzodiazepine"]),
]
UNKNOWN_NDC = "79999-999-99"
EXISTING_PATIENTS = 300


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_seconds(processes) -> float:
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def tree(process: psutil.Process) -> list[psutil.Process]:
    return [process, *process.children(recursive=True)]


def machine_busy_seconds() -> float:
    """CPU seconds all cores of the machine spent busy, whoever used them."""
    times = psutil.cpu_times()
    return sum(
        getattr(times, name, 0.0) for name in ("user", "nice", "system", "irq", "softirq", "steal")
    )


def postmaster() -> psutil.Process:
    """The PostgreSQL server the application uses (its data directory's postmaster.pid)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW data_directory")
        data_directory = Path(cursor.fetchone()[0])
    return psutil.Process(int((data_directory / "postmaster.pid").read_text().split()[0]))


class PostgresCPU:
    """CPU seconds of the PostgreSQL server: the postmaster, its live backends, and the
    backends that ended (one per request: Django does not keep connections), which the
    kernel adds to the postmaster's children times when it reaps them. Every database of
    the server counts, so other work on the same server adds to it."""

    def __init__(self, server: psutil.Process):
        self.server = server
        self.start_total, self.start_children = self._read()

    def _read(self) -> tuple[float, dict[int, float]]:
        times = self.server.cpu_times()
        total = times.user + times.system + times.children_user + times.children_system
        children = {}
        for child in self.server.children():
            try:
                child_times = child.cpu_times()
                children[child.pid] = child_times.user + child_times.system
            except psutil.NoSuchProcess:
                pass
        return total, children

    def used(self) -> float:
        end_total, end_children = self._read()
        # A backend alive at the start and reaped since: its whole life moved into the
        # children times; only what it used after the start belongs to the run.
        ended_before = sum(
            seconds for pid, seconds in self.start_children.items() if pid not in end_children
        )
        live = sum(
            seconds - self.start_children.get(pid, 0.0) for pid, seconds in end_children.items()
        )
        return end_total - self.start_total - ended_before + live


# --------------------------------------------------------------------------- data


def random_name(rng: random.Random, length: int) -> str:
    return rng.choice(string.ascii_uppercase) + "".join(
        rng.choice(string.ascii_lowercase) for _ in range(length - 1)
    )


def random_birth_date(rng: random.Random) -> date:
    return date(1935, 1, 1) + timedelta(days=rng.randrange(365 * 70))


def seed(rng: random.Random) -> tuple[str, list[tuple[str, str, date]]]:
    """Empty the intake tables, seed catalogue, prescriber, interactions, patients and a
    technician; return the technician's API token and the existing patients."""
    from django.db import connection

    from inventory.ingredients import normalize_ingredient_name
    from inventory.models import (
        Ingredient,
        Package,
        PharmacologicClass,
        Product,
        ProductIngredient,
    )
    from inventory.ndc import ndc10_digits, ndc11_from_package_ndc
    from orders.tests.erx_samples import VALID_DEA, VALID_NPI
    from pharmacy.drug_checks import import_curated_interactions
    from pharmacy.models import Allergy, Patient, Prescriber, Role, User
    from pharmacy.patient_keys import patient_search_values
    from pharmacy.services import create_api_token, create_staff

    if connection.settings_dict["NAME"] != BENCH_DATABASE:
        raise SystemExit(f"refusing to seed a database that is not {BENCH_DATABASE}")
    with connection.cursor() as cursor:
        # Every run starts from the same state: no prescriptions, only the seeded patients.
        cursor.execute(
            "TRUNCATE orders_duralert, orders_fillevent, orders_fill, orders_order, "
            "orders_prescription, pharmacy_allergy, pharmacy_patientaddress, pharmacy_patient, "
            "pharmacy_prescriber, pharmacy_auditevent CASCADE"
        )
    for package_ndc, generic, ingredient_name, schedule, classes in DRUGS:
        product, _ = Product.objects.update_or_create(
            product_ndc=package_ndc.rsplit("-", 1)[0],
            defaults={
                "nonproprietary_name": generic,
                "dosage_form": "TABLET",
                "route": "ORAL",
                "product_type": "HUMAN PRESCRIPTION DRUG",
                "dea_schedule": schedule,
            },
        )
        ingredient, _ = Ingredient.objects.get_or_create(
            normalized_name=normalize_ingredient_name(ingredient_name),
            defaults={"name": ingredient_name},
        )
        ProductIngredient.objects.get_or_create(
            product=product,
            ingredient=ingredient,
            defaults={"strength": "10", "strength_unit": "mg/1"},
        )
        product.pharmacologic_classes.set(
            [
                PharmacologicClass.objects.get_or_create(
                    name=name, kind=PharmacologicClass.Kind.ESTABLISHED
                )[0]
                for name in classes
            ]
        )
        Package.objects.get_or_create(
            package_ndc=package_ndc,
            defaults={
                "product": product,
                "ndc10": ndc10_digits(package_ndc),
                "ndc11": ndc11_from_package_ndc(package_ndc),
                "description": f"30 TABLET in 1 BOTTLE ({package_ndc})",
                "quantity": 30,
                "unit": "TABLET",
            },
        )
    Prescriber.objects.create(
        npi=VALID_NPI,
        dea_number=VALID_DEA,
        first_name="Chidi",
        last_name="Okafor",
        credentials="MD",
        dea_schedules=["CII", "CIII", "CIV", "CV"],
    )
    import_curated_interactions()

    penicillins = PharmacologicClass.objects.get(
        name="Penicillin-class Antibacterial", kind=PharmacologicClass.Kind.ESTABLISHED
    )
    existing = []
    patients = []
    for n in range(EXISTING_PATIENTS):
        first, last, born = random_name(rng, 7), random_name(rng, 9), random_birth_date(rng)
        existing.append((first, last, born))
        patients.append(
            Patient(
                first_name=first,
                last_name=last,
                date_of_birth=born,
                sex="F" if n % 2 else "M",
                no_known_allergies=n % 3 != 0,
                # Intake matches on the search keys the patient services write.
                **patient_search_values(first_name=first, middle_name="", last_name=last, phone=""),
            )
        )
    patients = Patient.objects.bulk_create(patients)
    Allergy.objects.bulk_create(
        Allergy(
            patient=p, allergen="Penicillin", pharmacologic_class=penicillins, severity="severe"
        )
        for p in patients[::3]
    )
    user = User.objects.filter(username="bench-intake").first() or create_staff(
        "bench-intake", role=Role.TECHNICIAN, password=f"Bench-{uuid.uuid4()}"
    )
    return create_api_token(user).key, existing


def messages(
    rng: random.Random, count: int, run: str, existing: list[tuple[str, str, date]]
) -> list[bytes]:
    """``count`` distinct NewRx messages: 60 % for patients on file, 40 % new patients,
    2 % with an NDC the catalogue does not have."""
    from orders.tests.erx_samples import new_rx

    today = date.today()  # noqa: DTZ011 (the server's local date, as intake uses)
    built = []
    for n in range(count):
        if rng.random() < 0.6:
            first, last, born = rng.choice(existing)
        else:
            first, last, born = random_name(rng, 7), random_name(rng, 9), random_birth_date(rng)
        package_ndc, generic, _, schedule, _ = rng.choice(DRUGS)
        if rng.random() < 0.02:
            package_ndc = UNKNOWN_NDC
        supply = rng.choice(["30", "90"])
        built.append(
            new_rx(
                message_id=f"BENCH-{run}-{n:06d}",
                patient_first=first,
                patient_last=last,
                patient_middle="",
                date_of_birth=born.isoformat(),
                ndc=package_ndc,
                description=f"{generic.title()} 10 MG Oral Tablet",
                quantity=supply,
                days_supply=supply,
                refills=str(rng.randint(0, 5)),
                written_date=(today - timedelta(days=rng.randint(0, 20))).isoformat(),
                prescriber_order_number=f"PON-{run}-{n}",
            )
        )
    return built


# --------------------------------------------------------------------------- HTTP


def client_loop(port: int, token: str, bodies: list[bytes], results: list) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/xml"}
    for body in bodies:
        started = time.perf_counter()
        conn.request("POST", URL, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        results.append((response.status, time.perf_counter() - started))
    conn.close()


def send_all(port: int, token: str, bodies: list[bytes], clients: int) -> tuple[list, float]:
    results: list = []
    threads = [
        threading.Thread(target=client_loop, args=(port, token, bodies[n::clients], results))
        for n in range(clients)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, time.perf_counter() - started


def start_gunicorn(port: int, *, workers: int, threads: int) -> subprocess.Popen:
    env = {
        **os.environ,
        **PRODUCTION_ENVIRONMENT,
        "DATABASE_NAME_OVERRIDE": BENCH_DATABASE,
        # One token sends every message, faster than any network would: the per-user
        # throttle is raised so the benchmark measures intake (the counting stays on).
        "API_USER_RATE": BENCH_USER_RATE,
    }
    return subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "pharmacy.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--access-logfile",
            "-",
            "--timeout",
            "60",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_until_up(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/health/")
            if conn.getresponse().status in (200, 503):
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("intake bench: gunicorn did not come up in 60 s")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


# --------------------------------------------------------------------------- profile


def profile(token: str, bodies: list[bytes]) -> str:
    """cProfile of ``bodies`` sent in-process through the Django test client."""
    from django.db import connection
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Token {token}")
    for body in bodies[:10]:  # warm: imports, interaction index
        client.post(URL, data=body, content_type="application/xml")
    statements = []

    def count(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):  # the SQL statements of one message
        for body in bodies[10:20]:
            client.post(URL, data=body, content_type="application/xml")
    measured = len(bodies) - 20
    statuses = Counter()
    started = time.process_time()
    for body in bodies[20 : 20 + measured // 2]:
        statuses[client.post(URL, data=body, content_type="application/xml").status_code] += 1
    cpu = time.process_time() - started
    profiler = cProfile.Profile(time.process_time)
    started = time.perf_counter()
    profiler.enable()
    for body in bodies[20 + measured // 2 :]:
        statuses[client.post(URL, data=body, content_type="application/xml").status_code] += 1
    profiler.disable()
    elapsed = time.perf_counter() - started
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    # The request's own layers (test client, middleware) wrap everything; list the
    # project's functions and the authentication and permission checks instead.
    print("Top 15 by cumulative CPU time, project code and DRF/Django auth:", file=out)
    stats.sort_stats("cumulative").print_stats(
        rf"{re.escape(str(ROOT))}/(orders|pharmacy|inventory)/"
        r"|rest_framework/(authentication|views)\.py|contrib/auth/(models|backends)\.py",
        15,
    )
    print("Top 12 by internal CPU time (the leaves):", file=out)
    stats.sort_stats("tottime").print_stats(12)
    profiled = measured - measured // 2
    return (
        f"in-process (one thread): {measured // 2} messages at "
        f"{cpu * 1000 / (measured // 2):.2f} ms CPU/message, then {profiled} under cProfile "
        f"in {elapsed:.2f} s; statuses {dict(statuses)}, "
        f"{len(statements) / 10:.1f} SQL statements/message\n" + out.getvalue()
    )


# --------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--profile", type=int, default=300)
    # The web server as `make run` starts it; other values to try a different split.
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()

    # The in-process profile sends from the same token as the web server's run: the same
    # raised per-user rate, or its messages would be answered 429 (issue 12's throttles).
    os.environ.update(PRODUCTION_ENVIRONMENT, API_USER_RATE=BENCH_USER_RATE)
    prepare_database()
    from orders.models import Prescription

    rng = random.Random(20261125)
    token, existing = seed(rng)
    run = uuid.uuid4().hex[:8]
    warm_up = messages(rng, 64, f"{run}W", existing)
    measured = messages(rng, args.messages, run, existing)
    profiled = messages(rng, args.profile + 20, f"{run}P", existing)

    server = postmaster()
    port = free_port()
    web = start_gunicorn(port, workers=args.workers, threads=args.threads)
    try:
        wait_until_up(port)
        send_all(port, token, warm_up, args.clients)
        web_processes = tree(psutil.Process(web.pid))
        web_before, machine_before = cpu_seconds(web_processes), machine_busy_seconds()
        bench_before = cpu_seconds([psutil.Process()])
        postgres = PostgresCPU(server)
        results, elapsed = send_all(port, token, measured, args.clients)
        postgres_cpu = postgres.used()
        web_cpu = cpu_seconds(web_processes) - web_before
        machine_cpu = machine_busy_seconds() - machine_before
        bench_cpu = cpu_seconds([psutil.Process()]) - bench_before
    finally:
        web.terminate()
        try:
            web.wait(timeout=20)
        except subprocess.TimeoutExpired:
            web.kill()

    statuses = Counter(status for status, _ in results)
    latencies = [seconds * 1000 for _, seconds in results]
    sent = len(results)
    stored = Prescription.objects.filter(message_id__startswith=f"BENCH-{run}-").count()
    issues = Counter(
        issue
        for issues in Prescription.objects.filter(
            message_id__startswith=f"BENCH-{run}-"
        ).values_list("intake_issues", flat=True)
        for issue in issues or ["none"]
    )
    print(
        f"  stored {stored} prescriptions; intake issues {dict(issues)}; loopback client "
        f"CPU {bench_cpu * 1000 / sent:.2f} ms/message; the machine was busy "
        f"{machine_cpu / elapsed * 100:.0f} % of one core ({psutil.cpu_count()} cores), "
        f"{(machine_cpu - web_cpu - postgres_cpu - bench_cpu) * 1000 / sent:.2f} ms/message "
        "of it neither the web server, PostgreSQL nor the clients (other work: the "
        "figures are only clean on a quiet machine)",
        file=sys.stderr,
    )
    print(
        f"intake: {sent} NewRx from {args.clients} clients, {sent / elapsed:.0f} messages/s "
        f"(status codes {dict(sorted(statuses.items()))}), web CPU "
        f"{web_cpu * 1000 / sent:.2f} ms/message, PostgreSQL CPU "
        f"{postgres_cpu * 1000 / sent:.2f} ms/message, latency p50 "
        f"{percentile(latencies, 0.5):.0f} ms p95 {percentile(latencies, 0.95):.0f} ms"
    )
    if args.profile:
        print(profile(token, profiled))
    return 0 if statuses.get(201) == sent else 1


if __name__ == "__main__":
    sys.exit(main())
