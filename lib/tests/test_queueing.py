"""``lib.queueing.send_task_fast``: a task published without waiting on a slow broker, by
the task itself or by its registered name; a broker that cannot take it is logged and
answered False, never raised."""

import time
import uuid

import pytest
from celery import Celery

from lib import queueing
from lib.queueing import send_task_fast
from pharmacy.celery import app


@pytest.fixture(autouse=True)
def no_broker_failed_before(monkeypatch):
    """Each test starts with no broker skipped after an earlier test's failure."""
    monkeypatch.setattr(queueing, "_skip_until", {})


@pytest.fixture
def private_queue():
    """A queue of its own on the real broker, that no worker consumes; deleted after."""
    name = f"test-queueing-{uuid.uuid4().hex[:12]}"
    yield name
    with app.connection_for_write() as connection:
        connection.default_channel.queue_delete(name)


def test_a_task_is_sent_by_its_registered_name(private_queue):
    by_name = app.signature("lib.tests.sent_by_name", queue=private_queue)

    assert send_task_fast(by_name, (42,)) is True

    with app.connection_for_read() as connection:
        queue = connection.SimpleQueue(private_queue)
        message = queue.get(timeout=5)
        message.ack()
        queue.close()
    assert message.headers["task"] == "lib.tests.sent_by_name"
    assert message.headers["argsrepr"] == "(42,)"


def test_a_broker_that_cannot_be_reached_is_logged_not_raised(caplog):
    # Nothing listens on port 9 of this machine: the connection is refused at once.
    unreachable = Celery("unreachable", broker="redis://127.0.0.1:9/0", set_as_current=False)

    sent = send_task_fast(unreachable.signature("lib.tests.never_sent"), (7,))

    assert sent is False
    assert "Could not queue lib.tests.never_sent(7,) (is the broker down?)" in caplog.text


def test_after_a_failure_the_broker_is_skipped_for_a_while_then_tried_again(caplog, monkeypatch):
    unreachable = Celery("unreachable", broker="redis://127.0.0.1:9/1", set_as_current=False)
    task = unreachable.signature("lib.tests.never_sent")

    assert send_task_fast(task, (1,)) is False
    caplog.clear()
    # A second side effect of the same request: not tried, so not waited on.
    assert send_task_fast(task, (2,)) is False
    assert "Not queueing lib.tests.never_sent(2,): the broker failed just now." in caplog.text
    assert "Could not queue" not in caplog.text

    # Once the pause is over it is tried again (and fails again, here).
    queueing._skip_until[unreachable.conf.broker_url] = time.monotonic() - 1
    caplog.clear()
    assert send_task_fast(task, (3,)) is False
    assert "Could not queue lib.tests.never_sent(3,)" in caplog.text
