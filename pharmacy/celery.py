"""The Celery application; its configuration is the CELERY_* block of settings.py.

Each worker also keeps a heartbeat in Redis (``WorkerHeartbeat``) that ``/health/``
reads: whether some worker is consuming is then one Redis read, never a broadcast ping
that a request waits on.
"""

import functools
import logging
import os

import redis
from celery import Celery, bootsteps
from redis.backoff import NoBackoff
from redis.retry import Retry

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pharmacy.settings")

logger = logging.getLogger(__name__)

app = Celery("pharmacy")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


# --------------------------------------------------------------------------- heartbeat

# A sorted set in the broker's Redis database: member = worker name, score = the Redis
# server's time when its heartbeat runs out (each beat drops the ones that ran out). The
# server's clock, not each host's: web and workers may run on machines whose clocks
# differ by seconds.
HEARTBEAT_KEY = "pharmacy:worker-heartbeats"

_BEAT_SCRIPT = """
local now = redis.call('TIME')
local seconds = tonumber(now[1]) + tonumber(now[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', seconds)
redis.call('ZADD', KEYS[1], seconds + tonumber(ARGV[2]), ARGV[1])
return 1
"""

_COUNT_SCRIPT = """
local now = redis.call('TIME')
local seconds = tonumber(now[1]) + tonumber(now[2]) / 1000000
return redis.call('ZCOUNT', KEYS[1], '(' .. seconds, '+inf')
"""


@functools.cache
def redis_client(url: str, timeout: float) -> redis.Redis:
    """One thread-safe client per process of the Redis at ``url`` (REDIS_URL), whose every
    connection attempt and command gives up after ``timeout`` seconds, with no retry
    (redis-py's own client would retry ten times)."""
    return redis.Redis.from_url(
        url, socket_timeout=timeout, socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0)
    )


def heartbeat_lifetime() -> float:
    """Seconds a heartbeat counts: three missed ones and the worker is dead."""
    from django.conf import settings  # noqa: PLC0415

    return 3 * settings.WORKER_HEARTBEAT_SECONDS


def live_workers(pipeline: redis.client.Pipeline) -> None:
    """Queue on ``pipeline`` the count of workers whose heartbeat has not run out (so
    ``/health/`` asks it in the same round trip as its PING)."""
    pipeline.eval(_COUNT_SCRIPT, 1, HEARTBEAT_KEY)


def live_worker_names(url: str) -> list[str]:
    """Names (``worker@host``) of the workers whose heartbeat has not run out, for a
    container's health check; raises redis.RedisError when Redis does not answer."""
    client = redis_client(url, 2.0)
    seconds, microseconds = client.time()
    names = client.zrangebyscore(HEARTBEAT_KEY, f"({seconds + microseconds / 1e6}", "+inf")
    return [name.decode() for name in names]


class WorkerHeartbeat(bootsteps.StartStopStep):
    """Marks this worker alive in Redis every ``WORKER_HEARTBEAT_SECONDS`` while its
    consumer runs, and dead when it stops (a worker killed outright stays counted until
    its last heartbeat runs out).

    It runs on the consumer's own timer, so a worker whose event loop is stuck or that
    lost the broker stops beating: the heartbeat says "consuming", not "process exists".
    """

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, parent, **kwargs):
        self.timer_entry = None
        self.name = parent.hostname
        super().__init__(parent, **kwargs)

    def start(self, parent):
        from django.conf import settings  # noqa: PLC0415

        self.client = redis_client(settings.REDIS_URL, settings.REDIS_SOCKET_TIMEOUT)
        self.beat()
        self.timer_entry = parent.timer.call_repeatedly(
            settings.WORKER_HEARTBEAT_SECONDS, self.beat
        )

    def beat(self) -> None:
        try:
            self.client.eval(_BEAT_SCRIPT, 1, HEARTBEAT_KEY, self.name, heartbeat_lifetime())
        except redis.RedisError:
            # The consumer finds the broker gone too and reconnects; /health/ shows it.
            logger.warning("Worker heartbeat not written (is Redis down?)", exc_info=True)

    def stop(self, parent):
        if self.timer_entry is None:
            return
        self.timer_entry.cancel()
        self.timer_entry = None
        try:
            self.client.zrem(HEARTBEAT_KEY, self.name)
        except redis.RedisError:
            logger.warning("Worker heartbeat not removed (is Redis down?)", exc_info=True)

    shutdown = stop


app.steps["consumer"].add(WorkerHeartbeat)
