"""`GET /health/`: is the database, the broker and a Celery worker alive?

Each check (the database; the broker with the workers' heartbeats) runs in a background
thread of the web process, one run at a time, and a run's answer is reused for
``HEALTH_CACHE_SECONDS``. A request waits for a run at most ``HEALTH_TIMEOUT`` after it
started, then answers with what it found by then: a check still waiting is reported
down. So a hung database or a frozen Redis makes ``/health/`` answer 503 within about a
second, and however often it is called, at most one thread per check and process waits
on them: it cannot tie up the web server.

Whether a worker is alive is read from the heartbeats the workers keep in Redis
(``pharmacy.celery.WorkerHeartbeat``), in the same round trip as the broker's PING.
"""

import logging
import threading
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from pharmacy.celery import live_workers, redis_client

logger = logging.getLogger(__name__)


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:
        logger.exception("health: database check failed")
        return False
    finally:
        # The check thread's own connection: closed after each run, so none lingers
        # between runs and a broken one is never reused.
        connection.close()


def _broker_and_worker_ok() -> tuple[bool, bool]:
    client = redis_client(settings.REDIS_URL, settings.HEALTH_TIMEOUT)
    try:
        with client.pipeline(transaction=False) as pipeline:
            pipeline.ping()
            live_workers(pipeline)
            pong, workers = pipeline.execute()
    except Exception:
        logger.exception("health: broker check failed")
        return False, False
    return pong is True, workers > 0


@dataclass
class _Run:
    """One run of a check; ``result`` is None until it has answered."""

    started: float
    finished: threading.Event = field(default_factory=threading.Event)
    result: object = None


class _Check:
    """A check run in a background thread, one run at a time, its answer reused for
    ``HEALTH_CACHE_SECONDS``: a check stuck on a hung server holds one thread, not one
    per request."""

    def __init__(self, name: str, function):
        self.name = name
        self.function = function
        self.lock = threading.Lock()
        self.latest: _Run | None = None

    def current(self) -> _Run:
        """The run to answer from: the latest if still running or recent, else a new one."""
        with self.lock:
            now = time.monotonic()
            latest = self.latest
            if latest is not None and (
                not latest.finished.is_set() or now - latest.started < settings.HEALTH_CACHE_SECONDS
            ):
                return latest
            run = self.latest = _Run(started=now)
        threading.Thread(target=self._run, args=(run,), name=self.name, daemon=True).start()
        return run

    def _run(self, run: _Run) -> None:
        try:
            run.result = self.function()
        except Exception:  # a check reports down; it never takes the thread's error further
            logger.exception("health: the %s check failed", self.name)
        finally:
            run.finished.set()


_database_check = _Check("health-database", _database_ok)
_redis_check = _Check("health-broker", _broker_and_worker_ok)


def _answer(run: _Run, default):
    """What ``run`` found by ``HEALTH_TIMEOUT`` after it started, else ``default``."""
    run.finished.wait(max(0.0, run.started + settings.HEALTH_TIMEOUT - time.monotonic()))
    return default if run.result is None else run.result


@never_cache
@require_GET
def health(request):
    database_run, redis_run = _database_check.current(), _redis_check.current()
    database = _answer(database_run, False)
    broker, worker = _answer(redis_run, (False, False))
    body = {
        "database": "ok" if database else "down",
        "broker": "ok" if broker else "down",
        "worker": "ok" if broker and worker else "down",
    }
    return JsonResponse(body, status=200 if database and broker else 503)
