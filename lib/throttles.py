"""The API's throttles: DRF's anonymous, per-user and scoped throttles, counted in fixed
windows in the shared cache (``lib.rate_limits``) and keyed by ``lib.client_ip``.

DRF's own throttles keep every request's time in one cache entry per caller, read and
written whole on each request (thousands of entries at an integration's rate, and two
processes can each overwrite the other's), and trust ``X-Forwarded-For`` unless told how
many proxies there are. A counter per window is one atomic increment; its price is that
a caller may spend two windows' worth around the moment one window turns into the next.
When the cache cannot be reached nothing is throttled (see ``lib.rate_limits``).

Rates are ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]``, read on every request. A view
joins a scope with ``throttle_scope = "<scope>"``.
"""

from rest_framework import throttling
from rest_framework.settings import api_settings

from lib.client_ip import client_ip
from lib.rate_limits import count_event, seconds_left_in_window


class FixedWindowRateThrottle(throttling.SimpleRateThrottle):
    """What the throttles below share: the client's address, the rate read when used, a
    counter per window."""

    def get_ident(self, request):
        return client_ip(request) or "unknown"

    @property
    def THROTTLE_RATES(self):  # DRF reads the rates once, at import; these follow settings
        return api_settings.DEFAULT_THROTTLE_RATES

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        count = count_event(key, window_seconds=self.duration)
        return count is None or count <= self.num_requests

    def wait(self):
        """Seconds until the window ends (the ``Retry-After`` of the 429)."""
        return seconds_left_in_window(self.duration)


class AnonymousRateThrottle(throttling.AnonRateThrottle, FixedWindowRateThrottle):
    """Requests without credentials (webhooks, the schema), per address."""


class UserRateThrottle(throttling.UserRateThrottle, FixedWindowRateThrottle):
    """Every signed-in or token caller, per user."""


class ScopedRateThrottle(throttling.ScopedRateThrottle, FixedWindowRateThrottle):
    """The tighter rates of the views that set a ``throttle_scope``: per user, or per
    address for a caller without credentials."""
