"""Shared fixtures: a staff member of each role, clients signed in as each (past the second
sign-in factor where the role must pass it), a real Celery worker process, a PgBouncer in
front of the test database, and a Chromium driven by Playwright."""

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import kombu.exceptions
import pytest
import redis
from celery import Celery
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from lib import rate_limits
from pharmacy import devservices
from pharmacy.celery import app
from pharmacy.models import Role
from pharmacy.settings import celery_broker_url
from pharmacy.tests.factories import make_api_key, make_staff
from pharmacy.tests.second_factor import give_authenticator, signed_in_client

# Playwright's sync API runs an event loop in the test thread; the ORM calls the tests
# make from that thread are still plain synchronous calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ARTIFACTS = Path(__file__).resolve().parent / "test-artifacts"
ARTIFACTS.mkdir(exist_ok=True)


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    # PBKDF2 at full strength costs a quarter second per staff account; the password
    # validators still run, only the hashing is cheap in tests. PBKDF2 stays second so
    # passwords set by a `manage.py` subprocess still verify.
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    """Every test starts with nothing counted against any caller: no API throttle, sign-in
    limit or audit cap carries over from the tests before it (they share one Redis)."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        stale = list(client.scan_iter(match=cache.make_key("rate:*"), count=1000))
        if stale:
            client.delete(*stale)
    finally:
        client.close()
    rate_limits._cache_paused_until = 0.0


@pytest.fixture
def technician(db):
    return make_staff("tech", Role.TECHNICIAN, first_name="Tina", last_name="Tech")


# Pharmacists and managers have set up their authenticator app (pharmacy/tests/second_factor.py
# computes its codes); someone made with make_staff alone sets it up at first sign-in.
@pytest.fixture
def pharmacist(db):
    user = make_staff(
        "pharm",
        Role.PHARMACIST,
        first_name="Paul",
        last_name="Pharm",
        license_number="RPH-04411",
        license_state="OH",
    )
    give_authenticator(user)
    return user


@pytest.fixture
def manager(db):
    user = make_staff("boss", Role.MANAGER, first_name="Mona", last_name="Manager")
    give_authenticator(user)
    return user


def _client_for(user) -> Client:
    return signed_in_client(user)


@pytest.fixture
def client_technician(technician):
    return _client_for(technician)


@pytest.fixture
def client_pharmacist(pharmacist):
    return _client_for(pharmacist)


@pytest.fixture
def client_manager(manager):
    return _client_for(manager)


@pytest.fixture
def admin_client(admin_user):
    """pytest-django's superuser client, past the second factor superusers must pass."""
    return _client_for(admin_user)


def _api_client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {make_api_key(user)}")
    return client


@pytest.fixture
def api_technician(technician):
    return _api_client_for(technician)


@pytest.fixture
def api_pharmacist(pharmacist):
    return _api_client_for(pharmacist)


@pytest.fixture
def api_manager(manager):
    return _api_client_for(manager)


# --------------------------------------------------------------------------- Celery worker


def _start_celery_worker(extra_env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start a real worker on the test database and wait until it answers a ping.

    ``extra_env`` overrides its environment (``EMAIL_URL``, a setting...); a ``REDIS_URL``
    there points the worker, and the ping, at another broker.
    """
    extra_env = extra_env or {}
    hostname = f"test-{uuid.uuid4().hex[:8]}@%h"
    env = {**os.environ, "DATABASE_NAME_OVERRIDE": connection.settings_dict["NAME"], **extra_env}
    log = ARTIFACTS / "celery-worker.log"
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "celery"),
            "-A",
            "pharmacy",
            "worker",
            "--pool",
            "solo",
            "--loglevel",
            "INFO",
            "--hostname",
            hostname,
            "--without-mingle",
            "--without-gossip",
        ],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    # Another broker needs an app of its own: control commands publish through the app's
    # producer pool, whatever connection they are given.
    pinger = app
    if "REDIS_URL" in extra_env:
        pinger = Celery(
            "worker-ping",
            broker=celery_broker_url(extra_env["REDIS_URL"]),
            set_as_current=False,  # shared tasks must keep publishing to the tests' broker
        )
    deadline = time.monotonic() + 30
    try:
        while not _answers_ping(pinger):
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"the Celery worker did not start; see {log}")
    finally:
        if pinger is not app:
            pinger.close()
    return process


def _answers_ping(pinger: Celery) -> bool:
    """Whether a worker answered; a broker just restarted (the chaos test's) may break
    the first connection, which counts as no answer yet."""
    try:
        return bool(pinger.control.ping(timeout=0.5))
    except (OSError, redis.RedisError, kombu.exceptions.OperationalError):
        return False


def _stop_celery_worker(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def celery_worker_process(transactional_db):
    """A real Celery worker process on the test database and the tests' Redis database.

    Tests that use it are transactional: the worker is another process and sees only
    committed rows.
    """
    app.control.purge()
    process = _start_celery_worker()
    yield process
    _stop_celery_worker(process)


@pytest.fixture
def start_celery_worker(transactional_db):
    """``start_celery_worker(**extra_env)`` starts a real worker with that environment on
    top of the tests' (e.g. ``EMAIL_URL``, ``REDIS_URL``); all still running stop at the end."""
    started = []

    def start(**extra_env: str) -> subprocess.Popen:
        started.append(_start_celery_worker(extra_env))
        return started[-1]

    yield start
    for process in started:
        _stop_celery_worker(process)


# --------------------------------------------------------------------------- PgBouncer


@pytest.fixture
def pgbouncer():
    """A PgBouncer in transaction pooling mode in front of the test database's server,
    stopped at the end: ``pgbouncer.database_url(connection.settings_dict["NAME"])`` with
    ``DATABASE_TRANSACTION_POOLING=true`` is the test database through it (for processes
    a test starts). See ``devservices.start_pgbouncer``."""
    # A decision, not a failure: the PgBouncer tests need Debian's pgbouncer, which
    # `make test` installs when it runs as root; anywhere else it warns, and they skip.
    if devservices.pgbouncer_executable() is None:
        pytest.skip(
            "pgbouncer is not installed: the PgBouncer smoke tests need Debian's pgbouncer "
            "(`make test` installs it as root; else apt-get install pgbouncer)"
        )
    bouncer = devservices.start_pgbouncer(
        connection.settings_dict, directory=devservices.VAR_DIR / "pgbouncer-test"
    )
    yield bouncer
    bouncer.stop()


# --------------------------------------------------------------------------- browser


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the session: Debian's when present, else Playwright's."""
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 (only browser tests need it)

    with sync_playwright() as playwright:
        executable = chromium_path()
        chromium = playwright.chromium.launch(
            executable_path=executable,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def screenshot(page):
    """`screenshot("name")` keeps what a person saw as test-artifacts/screenshots/name.png."""

    def take(name: str) -> Path:
        path = ARTIFACTS / "screenshots" / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
