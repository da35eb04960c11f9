"""Chaos with real processes: while orders are driven through the web server, the Celery
worker is killed (``kill -9``) in the middle of each kind of side effect, Redis is stopped
for 20 seconds (what it held is gone), and Redis is frozen for 20 seconds (it takes
connections and never answers). After recovery every side effect happened exactly once,
and no request waited 2 seconds or more.

One round in ``make test``; ``make chaos`` runs 25 (``CHAOS_ROUNDS``) and prints what
was lost, what doubled and the slowest request, round by round and in all.

"In the middle" is seen from the database: the worker holds a claim on a side effect of
that kind (``claimed_until``) that it has not delivered yet. The kill is followed by
what time does for a dead worker (its claims run out: ``OUTBOX_CLAIM_SECONDS``), so the
round does not wait two minutes for it.
"""

import os
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import pytest
from django.db import connection
from django.utils import timezone

from outbox.models import OutboxMessage
from pharmacy.tests.stack import Stack, start_stack
from pharmacy.tests.workload import (
    SIDE_EFFECT_KINDS,
    Callers,
    OrderInFlight,
    Tally,
    count_side_effects,
    drive,
    last_outbox_id,
    prepare_orders,
    wait_until_delivered,
)
from shipping.tests.workers import kill, run_out_the_claims

pytestmark = [pytest.mark.chaos, pytest.mark.worker]

ROUNDS = int(os.environ.get("CHAOS_ROUNDS", "1"))
OUTAGE_SECONDS = 20
ORDERS_PER_DISRUPTION = 3
SLOWEST_ALLOWED = 2.0
# A steady trickle of reads beside the workflow, so every moment of an outage has a
# request in flight: a fill's record and /health/.
READ_EVERY = 0.25


@dataclass
class Round:
    """What one round found."""

    tally: Tally = field(default_factory=Tally)
    killed_mid: Counter = field(default_factory=Counter)
    requests: int = 0
    slowest: tuple[float, str] = (0.0, "")


class Disruption(threading.Thread):
    """Runs beside the driving of a batch of orders until ``done`` is set."""

    def __init__(self, stack: Stack):
        super().__init__(daemon=True)
        self.stack = stack
        self.done = threading.Event()
        self.error: BaseException | None = None

    def run(self):
        try:
            self.disrupt()
        except BaseException as error:  # reported by the test's thread
            self.error = error
        finally:
            connection.close()

    def finish(self) -> None:
        self.done.set()
        self.join(timeout=OUTAGE_SECONDS + 60)
        if self.error is not None:
            raise self.error


class KillWorkerMidSideEffect(Disruption):
    """``kill -9`` the worker once while it holds a claim on a side effect of each kind,
    then start another."""

    def __init__(self, stack: Stack):
        super().__init__(stack)
        self.killed_mid: Counter = Counter()

    def disrupt(self):
        while not self.done.is_set() and len(self.killed_mid) < len(SIDE_EFFECT_KINDS):
            kind = (
                OutboxMessage.objects.filter(
                    status=OutboxMessage.Status.PENDING, claimed_until__gt=timezone.now()
                )
                .exclude(kind__in=list(self.killed_mid))
                .values_list("kind", flat=True)
                .first()
            )
            if kind is None:
                time.sleep(0.002)
                continue
            for worker in self.stack.workers:
                if worker.poll() is None:
                    kill(worker)
            self.killed_mid[kind] += 1
            run_out_the_claims()
            self.stack.add_worker()


class StopRedis(Disruption):
    """Redis stopped for ``OUTAGE_SECONDS`` (the tasks it held are gone), then started
    again empty."""

    def disrupt(self):
        self.stack.stop_redis()
        time.sleep(OUTAGE_SECONDS)
        self.stack.start_redis_again()


class FreezeRedis(Disruption):
    """Redis frozen (``SIGSTOP``) for ``OUTAGE_SECONDS``, then thawed."""

    def disrupt(self):
        self.stack.redis.freeze()
        time.sleep(OUTAGE_SECONDS)
        self.stack.redis.thaw()


class Reader(Disruption):
    """Not a disruption: the reads that keep a request in flight all the time."""

    def __init__(self, stack: Stack, callers: Callers, order: OrderInFlight):
        super().__init__(stack)
        self.callers = callers
        self.order = order

    def disrupt(self):
        while not self.done.wait(READ_EVERY):
            self.callers.send("GET", f"/api/v1/fills/{self.order.fill.pk}/", role="pharmacist")
            self.callers.send("GET", "/health/", role="technician")


def run_round(stack: Stack, callers: Callers) -> Round:
    result = Round()
    first_request = len(callers.calls)
    for disruption_class in (KillWorkerMidSideEffect, StopRedis, FreezeRedis):
        orders = prepare_orders(ORDERS_PER_DISRUPTION)
        since = last_outbox_id()
        reader = Reader(stack, callers, orders[0])
        disruption = disruption_class(stack)
        reader.start()
        disruption.start()
        try:
            drive(callers, orders)
            wait_until_delivered(since=since)
        finally:
            disruption.finish()
            reader.finish()
        result.tally.add(count_side_effects(orders, since=since, mail=stack.directory / "mail"))
        if isinstance(disruption, KillWorkerMidSideEffect):
            result.killed_mid = disruption.killed_mid
    calls = callers.calls[first_request:]
    result.requests = len(calls)
    result.slowest = max(calls)
    return result


def test_killed_workers_and_a_stopped_or_frozen_redis_lose_nothing_double_nothing_stall_nothing(
    transactional_db, capsys
):
    stack = start_stack()
    callers = Callers(stack.ports)
    rounds = []
    try:
        for number in range(1, ROUNDS + 1):
            found = run_round(stack, callers)
            rounds.append(found)
            with capsys.disabled():
                print(
                    f"\nChaos round {number}/{ROUNDS}: lost {sum(found.tally.lost.values())}, "
                    f"doubled {sum(found.tally.doubled.values())}, slowest request "
                    f"{found.slowest[0]:.2f} s ({found.slowest[1]}) of {found.requests}; "
                    f"worker killed in the middle of {dict(found.killed_mid)}"
                )
    finally:
        stack.stop()

    total = Tally()
    for found in rounds:
        total.add(found.tally)
    killed = sum((found.killed_mid for found in rounds), Counter())
    slowest = max(found.slowest for found in rounds)
    with capsys.disabled():
        print(
            f"\nChaos, {len(rounds)} rounds: lost {dict(+total.lost) or 0}, doubled "
            f"{dict(+total.doubled) or 0}, slowest request {slowest[0]:.2f} s ({slowest[1]}) of "
            f"{sum(found.requests for found in rounds)}; kills in the middle of a side "
            f"effect: {dict(killed)}"
        )
    assert (+total.lost, +total.doubled) == (Counter(), Counter())
    assert slowest[0] < SLOWEST_ALLOWED, slowest
    # The kills did land in the middle of side effects (the slowest ones at least).
    assert killed["orders.rx_label"] >= len(rounds)
