"""What the apps' worker tests of side effects share (marker ``worker``, a real Celery
worker from the ``celery_worker_process`` fixture): waiting for a side effect to be
delivered, making a change in another process whose broker is down, a table that
refuses a write a few times, and playing beat's sweep on demand."""

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from celery import Celery
from django.db import connection
from django.utils import timezone

from outbox.models import OutboxMessage
from outbox.tasks import deliver_due_side_effects_task
from pharmacy.settings import celery_broker_url

BASE_DIR = Path(__file__).resolve().parents[2]

# Nothing listens on the discard port: a publish there is refused at once, as when the
# broker is down at the commit.
DEAD_REDIS_URL = "redis://127.0.0.1:9/0"


def django_shell(code: str, **env: str) -> subprocess.CompletedProcess:
    """Run code in a `manage.py shell` process on the test database (it sees only
    committed rows, and commits its own); ``env`` overrides settings (``REDIS_URL``)."""
    return subprocess.run(
        [sys.executable, str(BASE_DIR / "manage.py"), "shell", "--no-imports", "-c", code],
        cwd=BASE_DIR,
        env={**os.environ, "DATABASE_NAME_OVERRIDE": connection.settings_dict["NAME"], **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def record_with_the_broker_down(code: str, *, kind: str, target_id: int) -> OutboxMessage:
    """Run ``code``, a change that records a side effect and prints "done", in another
    process whose broker is down at the commit. Checks the change went through and its
    side effect waits, never queued (the failure logged, not raised); returns it."""
    change = django_shell(code, REDIS_URL=DEAD_REDIS_URL)
    assert (change.returncode, change.stdout.split()) == (0, ["done"]), change.stderr
    message = side_effect(kind, target_id)
    assert f"Could not queue side effect {message.pk}" in change.stderr
    assert (message.status, message.attempts) == ("pending", 0)
    return message


def side_effect(kind: str, target_id: int) -> OutboxMessage:
    """The one side effect of ``kind`` about ``target_id``."""
    return OutboxMessage.objects.get(kind=kind, target_id=target_id)


def wait_until_delivered(message: OutboxMessage, *, timeout: float = 60) -> OutboxMessage:
    """The message, read again until a worker delivered it."""
    deadline = time.monotonic() + timeout
    while True:
        message.refresh_from_db()
        if message.status == OutboxMessage.Status.DELIVERED:
            return message
        if time.monotonic() > deadline:
            pytest.fail(
                f"side effect {message.pk} ({message.kind}) is still {message.status} after "
                f"{timeout} s, {message.attempts} attempts: {message.last_error}"
            )
        time.sleep(0.1)


def sweep_now(redis_url: str | None = None) -> None:
    """Ask a worker for beat's sweep now rather than at its next run: through the tests'
    broker, or the Redis at ``redis_url`` (by the task's name, from an app of its own)."""
    if redis_url is None:
        deliver_due_side_effects_task.delay()
        return
    sender = Celery("sweep-now", broker=celery_broker_url(redis_url), set_as_current=False)
    try:
        sender.send_task(deliver_due_side_effects_task.name, ignore_result=True)
    finally:
        sender.close()


def deliver_through_failures(
    message: OutboxMessage, *, redis_url: str | None = None, timeout: float = 90
) -> OutboxMessage:
    """Play beat for a message whose deliveries fail: each time a delivery failed and the
    message waits out its back-off, make it due at once and ask for the sweep; return
    the message once delivered."""
    deadline = time.monotonic() + timeout
    swept_after = 0
    while True:
        message.refresh_from_db()
        if message.status != OutboxMessage.Status.PENDING:
            return message
        if message.attempts > swept_after and message.claimed_until is None:
            swept_after = message.attempts
            OutboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())
            sweep_now(redis_url)
        if time.monotonic() > deadline:
            pytest.fail(f"side effect {message.pk} still pending after {timeout} s")
        time.sleep(0.1)


@contextmanager
def refused_inserts(table: str, *, times: int) -> Iterator[None]:
    """The next ``times`` rows inserted into ``table``, by any process, are refused by
    the database (an error raised by a trigger, as by a database that fails the write);
    the ones after go in. A sequence counts them: it is not rolled back with the
    refused write."""
    name = f"test_refuse_{uuid.uuid4().hex[:8]}"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE SEQUENCE {name}")
        cursor.execute(
            f"""CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF nextval('{name}') <= {int(times)} THEN
                    RAISE EXCEPTION 'the database refused the write (test)';
                END IF;
                RETURN NEW;
            END $$"""
        )
        cursor.execute(
            f"CREATE TRIGGER {name} BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION {name}()"
        )
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TRIGGER {name} ON {table}")
            cursor.execute(f"DROP FUNCTION {name}()")
            cursor.execute(f"DROP SEQUENCE {name}")
