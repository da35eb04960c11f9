"""Counting events per key in fixed time windows, in the shared cache (Redis), so every
web process counts together.

Used by the API throttles (``lib.throttles``), the failed sign-ins per address and the
audit rows they may write. A cache that cannot be reached counts nothing (``None``): the
callers then let the request through, so a Redis outage never stops the API or locks
staff out (the lockout per account and address, kept in the database by django-axes,
still holds). After one failure the cache is left alone for ``PAUSE_AFTER_FAILURE``
seconds, so a frozen Redis costs one request per process its timeout, not every request.
"""

import logging
import time

from django.core.cache import cache

logger = logging.getLogger(__name__)

PAUSE_AFTER_FAILURE = 30.0
# monotonic() before which this process does not try the cache again.
_cache_paused_until = 0.0


def _window_key(name: str, window_seconds: int) -> str:
    return f"rate:{name}:{int(time.time() // window_seconds)}"


def _cache_paused() -> bool:
    return time.monotonic() < _cache_paused_until


def _pause_cache(name: str) -> None:
    global _cache_paused_until  # noqa: PLW0603 (one flag per process, by design)
    _cache_paused_until = time.monotonic() + PAUSE_AFTER_FAILURE
    logger.warning(
        "Could not count %s in the cache (is Redis down?); counting nothing for %d s",
        name,
        PAUSE_AFTER_FAILURE,
        exc_info=True,
    )


def count_event(name: str, *, window_seconds: int) -> int | None:
    """Count one more event of ``name`` in the current window; the count so far with this
    one, or None when the cache cannot be reached."""
    if _cache_paused():
        return None
    key = _window_key(name, window_seconds)
    try:
        # add() starts the window's counter with its expiry; incr() is atomic in Redis.
        cache.add(key, 0, timeout=window_seconds + 1)
        try:
            return cache.incr(key)
        except ValueError:  # the counter expired between the two calls
            cache.add(key, 1, timeout=window_seconds + 1)
            return 1
    except Exception:
        _pause_cache(name)
        return None


def event_count(name: str, *, window_seconds: int) -> int:
    """How many events of ``name`` the current window counted (0 when the cache cannot be
    reached)."""
    if _cache_paused():
        return 0
    try:
        return cache.get(_window_key(name, window_seconds), 0)
    except Exception:
        _pause_cache(name)
        return 0


def seconds_left_in_window(window_seconds: int) -> int:
    """Seconds until the current window ends and its counts start again from zero."""
    return window_seconds - int(time.time() % window_seconds)
