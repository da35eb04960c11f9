"""`GET /health/`: is the database, the broker and a Celery worker alive?"""

import functools
import logging

import redis
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from pharmacy.celery import app as celery_app

logger = logging.getLogger(__name__)


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:
        logger.exception("health: database check failed")
        connection.close()  # a broken connection must not be reused by the next request
        return False


@functools.cache
def broker_client() -> redis.Redis:
    """One thread-safe client per process: a fresh connection per check would cost more
    CPU than the rest of the request. The broker is the Redis at REDIS_URL."""
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)


def _broker_ok() -> bool:
    try:
        return broker_client().ping() is True
    except Exception:
        logger.exception("health: broker check failed")
        return False


def _worker_ok() -> bool:
    try:
        # limit=1: answer as soon as one worker replies instead of waiting out the timeout.
        replies = celery_app.control.ping(timeout=settings.HEALTH_WORKER_TIMEOUT, limit=1)
    except Exception:
        logger.exception("health: worker ping failed")
        return False
    return bool(replies)


@never_cache
@require_GET
def health(request):
    database = _database_ok()
    broker = _broker_ok()
    worker = broker and _worker_ok()
    body = {
        "database": "ok" if database else "down",
        "broker": "ok" if broker else "down",
        "worker": "ok" if worker else "down",
    }
    return JsonResponse(body, status=200 if database and broker else 503)
