"""Send a Celery task from a web request without ever waiting on a slow broker.

A request that has just committed must not hang because Redis is down or frozen: the
work it queues is already recorded (an outbox row, ``outbox``), so a message that cannot
be published now is only late, never lost. One connection attempt with short timeouts,
no publish retries, and no result to wait for (the Redis result backend would retry).

A publish that failed makes this process skip that broker for
``SKIP_AFTER_FAILURE_SECONDS`` (a circuit breaker): one request may record several side
effects (a fill step records its Rx label and a reorder e-mail), and each would otherwise
wait its own timeout on a hung broker. So a request waits on a broker that is down at
most once, and the requests after it not at all; the outbox sweep publishes what was
skipped once the broker is back.
"""

import logging
import time

from celery import Signature, Task
from django.conf import settings

logger = logging.getLogger(__name__)

SKIP_AFTER_FAILURE_SECONDS = 5.0
# Broker URL -> time.monotonic() until which this process does not try it again.
_skip_until: dict[str, float] = {}


def send_task_fast(task: Task | Signature, args: tuple = (), *, what: str = "") -> bool:
    """Publish ``task`` with ``args``; False (logged) when the broker cannot take it within
    ``BROKER_PUBLISH_TIMEOUT`` seconds, or failed in this process less than
    ``SKIP_AFTER_FAILURE_SECONDS`` ago. Never raises: call it after commit.

    ``task`` is a task, or a signature to send a task by its registered name from an app
    that may not import it (``app.signature("shipping.tasks.x")``)."""
    timeout = settings.BROKER_PUBLISH_TIMEOUT
    app = task.app
    broker = app.conf.broker_url or ""
    if time.monotonic() < _skip_until.get(broker, 0.0):
        logger.info("Not queueing %s%s: the broker failed just now.", what or task.name, args)
        return False
    try:
        with app.producer_pool.acquire(block=True, timeout=timeout) as producer:
            producer.connection.ensure_connection(
                max_retries=1, interval_start=0, interval_step=0, timeout=timeout
            )
            task.apply_async(args, producer=producer, retry=False, ignore_result=True)
    except Exception:
        _skip_until[broker] = time.monotonic() + SKIP_AFTER_FAILURE_SECONDS
        logger.warning(
            "Could not queue %s%s (is the broker down?); the periodic sweep will do it.",
            what or task.name,
            args,
            exc_info=True,
        )
        return False
    return True
