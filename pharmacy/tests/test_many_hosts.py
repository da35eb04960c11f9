"""One machine run the way many would: two web servers and two Celery workers as separate
processes, beat, one Redis, and one PostgreSQL reached only through PgBouncer in
transaction pooling. Orders are driven through both web servers (each request to the
next one); every side effect they cause lands exactly once, by whichever worker took it.

Nothing here shares a process, a file or memory but the database and the broker: what
passes here does not assume one host (README, "Deployment").
"""

from collections import Counter

import pytest
from django.db import connection

from outbox.models import OutboxMessage
from pharmacy.tests.stack import start_stack
from pharmacy.tests.workload import (
    SIDE_EFFECT_KINDS,
    Callers,
    count_side_effects,
    drive,
    last_outbox_id,
    prepare_orders,
    wait_until_delivered,
)

pytestmark = [pytest.mark.pgbouncer, pytest.mark.worker]

ORDERS = 6


def test_two_web_servers_and_two_workers_through_pgbouncer_do_each_side_effect_once(
    pgbouncer, transactional_db, capsys
):
    orders = prepare_orders(ORDERS)
    stack = start_stack(
        web_servers=2,
        workers=2,
        database_url=pgbouncer.database_url(connection.settings_dict["NAME"]),
    )
    try:
        since = last_outbox_id()
        callers = Callers(stack.ports)
        drive(callers, orders)
        wait_until_delivered(since=since)
        tally = count_side_effects(orders, since=since, mail=stack.directory / "mail")
    finally:
        stack.stop()

    delivered = OutboxMessage.objects.filter(pk__gt=since)
    kinds = Counter(delivered.values_list("kind", flat=True))
    # The worker that delivered each (host:process), as the managers' page shows it.
    by_worker = Counter(delivered.values_list("claimed_by", flat=True))
    with capsys.disabled():
        print(
            f"\nMany hosts: {len(callers.calls)} requests over 2 web servers, "
            f"{sum(kinds.values())} side effects {dict(kinds)}, by worker {dict(by_worker)}"
        )
    assert set(kinds) == set(SIDE_EFFECT_KINDS)
    assert (+tally.lost, +tally.doubled) == (Counter(), Counter())
