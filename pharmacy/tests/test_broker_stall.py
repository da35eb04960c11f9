"""A Redis that hangs (frozen, still taking connections) stalls no web request: with the
production web server on real processes, requests that queue a task answer within about
a second each, /health/ answers 503 at once, and reads that need no broker answer as
usual, many at a time; once Redis answers again a real worker delivers what was queued.

The request that queues a task is a pharmacist's PV1 approval through the API: the
most frequent write that schedules a side effect (the fill's Rx vial label, an outbox
row whose delivery is published after commit by the fail-fast publisher, which the
broker's transport timeouts bound).
"""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from celery import Celery

from orders.models import Fill, RxLabel
from orders.tests.factories import fill_at
from pharmacy.services import create_api_token
from pharmacy.settings import celery_broker_url
from pharmacy.tests.factories import PatientFactory
from pharmacy.tests.servers import (
    ROOT,
    free_port,
    process_environment,
    request,
    start_gunicorn,
    start_redis,
    stop_process,
    wait_for_health,
)

pytestmark = pytest.mark.worker

APPROVALS = 8  # as many as the web server has threads (2 processes x 4)
READS = 4
HEALTH_CALLS = 4
APPROVE = {"decision": "approve"}


@pytest.fixture
def own_redis(tmp_path):
    server = start_redis(tmp_path / "redis")
    yield server
    server.stop()


@pytest.fixture
def web_server(transactional_db, own_redis):
    """gunicorn as in production (2 processes x 4 threads) on the test database and a
    Redis of the test's own."""
    port = free_port()
    log = ROOT / "test-artifacts" / "broker-stall-web.log"
    log.parent.mkdir(exist_ok=True)
    # Each /health/ runs its checks again, none answers from a run before the freeze.
    env = process_environment(REDIS_URL=own_redis.url(), HEALTH_CACHE_SECONDS="0")
    process = start_gunicorn(port, env, workers=2, threads=4, log=log)
    try:
        wait_for_health(port, timeout=60)
        yield port
    finally:
        stop_process(process)


def deliver_what_is_due(broker_url: str) -> None:
    """Ask the worker for the outbox sweep now rather than at beat's next run (by name:
    a worker ignores a task it does not know)."""
    sender = Celery("broker-stall-test", broker=broker_url, set_as_current=False)
    try:
        sender.send_task("outbox.tasks.deliver_due_side_effects_task", ignore_result=True)
    finally:
        sender.close()


def test_a_frozen_redis_stalls_no_request_and_what_was_queued_is_delivered_after(
    transactional_db, pharmacist, own_redis, web_server, start_celery_worker
):
    token = {"Authorization": f"Token {create_api_token(pharmacist).key}"}
    fills = [fill_at(Fill.Status.PV1) for _ in range(APPROVALS + 1)]
    patient = PatientFactory()
    port = web_server

    def approve(fill):
        return request(port, "POST", f"/api/v1/fills/{fill.pk}/pv1/", body=APPROVE, headers=token)

    def read():
        return request(port, "GET", f"/api/v1/patients/{patient.pk}/", headers=token)

    def health():
        return request(port, "GET", "/health/")

    own_redis.freeze()
    # As many approvals as the server has threads, with /health/ and reads behind them.
    calls = [lambda fill=fill: approve(fill) for fill in fills[:APPROVALS]]
    calls += [health] * HEALTH_CALLS + [read] * READS
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        burst = list(pool.map(lambda call: call(), calls))
    # One of each alone: what a request costs when it does not queue for a thread.
    alone = {"approval": approve(fills[-1]), "health": health(), "read": read()}
    timings = {
        "burst approvals": sorted(round(answer.seconds, 2) for answer in burst[:APPROVALS]),
        "burst health": sorted(round(answer.seconds, 2) for answer in burst[APPROVALS:-READS]),
        "burst reads": sorted(round(answer.seconds, 2) for answer in burst[-READS:]),
        **{f"{name} alone": round(answer.seconds, 2) for name, answer in alone.items()},
    }
    print(f"Redis frozen: {timings}")

    approvals = [*burst[:APPROVALS], alone["approval"]]
    healths = [*burst[APPROVALS:-READS], alone["health"]]
    reads = [*burst[-READS:], alone["read"]]
    assert [(answer.status, answer.json()["status"]) for answer in approvals] == [
        (200, "fill")
    ] * len(approvals)
    assert [(answer.status, answer.json()) for answer in healths] == [
        (503, {"database": "ok", "broker": "down", "worker": "down"})
    ] * len(healths)
    assert [(answer.status, answer.json()["id"]) for answer in reads] == [(200, patient.pk)] * len(
        reads
    )
    # Alone, an approval waits on the broker BROKER_PUBLISH_TIMEOUT (1 s) at most, and
    # /health/ its HEALTH_TIMEOUT (1 s); a read does not wait on it at all.
    assert timings["approval alone"] < 1.8
    assert timings["health alone"] < 1.5
    assert timings["read alone"] < 0.8
    # In the burst some wait for a thread behind the approvals: seconds, never a stall
    # (before, every approval waited on the frozen broker for good, holding its thread).
    assert max(answer.seconds for answer in burst) < 5

    own_redis.thaw()
    start_celery_worker(REDIS_URL=own_redis.url())
    deliver_what_is_due(celery_broker_url(own_redis.url()))
    deadline = time.monotonic() + 60
    while RxLabel.objects.filter(fill__in=fills, is_current=True).count() < len(fills):
        assert time.monotonic() < deadline, "the labels were not made after Redis came back"
        time.sleep(0.2)
    assert wait_for_health(port, worker="ok", timeout=15).status == 200
