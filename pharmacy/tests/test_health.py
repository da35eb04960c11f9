"""`GET /health/` as the integration contract says, answering within a bounded time
whatever the database and the broker do, with the worker's state read from the workers'
heartbeats."""

import os
import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client

from pharmacy.celery import HEARTBEAT_KEY, redis_client
from pharmacy.tests.servers import start_redis

HEALTHY = {"database": "ok", "broker": "ok", "worker": "ok"}
NO_WORKER = {"database": "ok", "broker": "ok", "worker": "down"}
NO_WORKER_REDIS = {"broker": "ok", "worker": "down"}


@pytest.fixture(autouse=True)
def fresh_checks(settings):
    # Every request runs the checks again instead of reusing a run of the last seconds.
    settings.HEALTH_CACHE_SECONDS = 0


@pytest.fixture
def no_worker_heartbeats():
    # A worker killed outright by an earlier test is counted until its heartbeat runs out.
    redis_client(django_settings.REDIS_URL, 1.0).delete(HEARTBEAT_KEY)


def get_health(client):
    started = time.monotonic()
    response = client.get("/health/")
    return response, time.monotonic() - started


def wait_for_health(client, expected: dict, timeout: float) -> float:
    """Seconds until /health/ answered ``expected``; fails with the last answer."""
    started = time.monotonic()
    while True:
        response, _ = get_health(client)
        if response.json() == expected:
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            pytest.fail(f"/health/ still answered {response.json()} after {timeout} s")
        time.sleep(0.1)


@pytest.mark.django_db
@pytest.mark.usefixtures("no_worker_heartbeats")
def test_health_reports_a_stopped_worker_as_down_but_stays_200(client):
    response, _ = get_health(client)

    assert response.status_code == 200
    assert response.json() == NO_WORKER


@pytest.mark.worker
def test_health_reports_a_running_worker_as_ok(client, celery_worker_process):
    response, _ = get_health(client)

    assert response.status_code == 200
    assert response.json() == HEALTHY


@pytest.mark.worker
@pytest.mark.usefixtures("no_worker_heartbeats")
def test_a_worker_that_shuts_down_is_reported_down_at_once(client, start_celery_worker):
    worker = start_celery_worker()
    assert get_health(client)[0].json() == HEALTHY

    worker.terminate()  # a warm shutdown, as supervisord or Docker stop it
    worker.wait(timeout=30)

    assert get_health(client)[0].json() == NO_WORKER


@pytest.mark.worker
@pytest.mark.usefixtures("no_worker_heartbeats")
def test_a_killed_worker_is_reported_down_after_three_missed_heartbeats(
    client, start_celery_worker
):
    worker = start_celery_worker(WORKER_HEARTBEAT_SECONDS="0.5")
    assert get_health(client)[0].json() == HEALTHY

    os.kill(worker.pid, signal.SIGKILL)  # nothing runs on its way out
    worker.wait(timeout=10)
    seconds = wait_for_health(client, NO_WORKER, timeout=10)

    assert seconds < 1.5 + 1  # three heartbeats of 0.5 s, and one more for slack


@pytest.fixture
def unreachable_broker(settings, tmp_path):
    # A real connection attempt to a socket where no Redis listens.
    settings.REDIS_URL = f"unix://{tmp_path}/no-redis-here.sock"


@pytest.mark.django_db
@pytest.mark.usefixtures("unreachable_broker")
def test_health_is_503_when_the_broker_is_unreachable(client):
    response, _ = get_health(client)

    assert response.status_code == 503
    assert response.json() == {"database": "ok", "broker": "down", "worker": "down"}


@pytest.fixture
def frozen_redis(settings, tmp_path):
    """A Redis of our own, stopped (SIGSTOP): it accepts connections and never answers."""
    server = start_redis(tmp_path / "redis")
    settings.REDIS_URL = server.url()
    server.freeze()
    yield server
    server.stop()


@pytest.mark.django_db
def test_health_answers_503_in_bounded_time_when_redis_hangs_and_holds_one_thread(
    frozen_redis,
):
    def call():
        return get_health(Client())

    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda _: call(), range(16)))
        checks_waiting = [t for t in threading.enumerate() if t.name == "health-broker"]

    assert [response.status_code for response, _ in answers] == [503] * 16
    assert {str(response.json()) for response, _ in answers} == {
        str({"database": "ok", "broker": "down", "worker": "down"})
    }
    # HEALTH_TIMEOUT is one second; every request answered by then, however many came.
    assert max(seconds for _, seconds in answers) < django_settings.HEALTH_TIMEOUT + 0.5
    # One check waits on the frozen Redis for all of them, not one per request.
    assert len(checks_waiting) <= 1

    frozen_redis.thaw()
    wait_for_health(Client(), NO_WORKER, timeout=10)


@pytest.fixture
def database_host():
    """``database_host(folder)`` points new connections at the PostgreSQL socket in
    ``folder`` (the health check's own connection among them); ``database_host(None)``,
    or the end of the test, points them back."""
    settings_dict = connection.settings_dict
    original = settings_dict["HOST"]

    def point_at(folder) -> None:
        settings_dict["HOST"] = original if folder is None else str(folder)

    yield point_at
    settings_dict["HOST"] = original


@pytest.mark.django_db
def test_health_is_503_when_the_database_is_unreachable(client, tmp_path, database_host):
    database_host(tmp_path)  # a real connection attempt to an empty socket folder

    response, _ = get_health(client)

    assert response.status_code == 503
    assert response.json()["database"] == "down"
    assert response.json()["broker"] == "ok"


@pytest.mark.django_db
@pytest.mark.usefixtures("no_worker_heartbeats")
def test_health_answers_503_in_bounded_time_when_the_database_hangs(
    client, tmp_path, database_host
):
    # Where the server's socket would be, one that takes connections and never answers
    # them: a hung server. Connecting would wait DATABASE_CONNECT_TIMEOUT (5 s).
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(tmp_path / f".s.PGSQL.{connection.settings_dict['PORT'] or 5432}"))
    listener.listen(64)
    database_host(tmp_path)
    try:
        response, seconds = get_health(client)
        again, seconds_again = get_health(client)
    finally:
        database_host(None)
        listener.close()  # the attempt still waiting fails now

    assert (response.status_code, again.status_code) == (503, 503)
    assert response.json() == again.json() == {"database": "down", **NO_WORKER_REDIS}
    assert seconds < django_settings.HEALTH_TIMEOUT + 0.5
    assert seconds_again < 0.5  # the check is still waiting: nobody waits for it again
    wait_for_health(client, NO_WORKER, timeout=10)


def test_health_needs_no_sign_in_and_allows_only_get(client, db):
    assert client.post("/health/").status_code == 405
