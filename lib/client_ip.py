"""The address a request came from, as the deployment's own proxies saw it.

Anyone can send an ``X-Forwarded-For`` header, so only the entries our proxies added are
believed: each trusted proxy appends the address it received the request from, so with
``TRUSTED_PROXY_COUNT`` proxies in front of the application the client is that many
entries from the right. With none (the default) the header is ignored and the address is
``REMOTE_ADDR``. The audit trail, the sign-in lockout (django-axes) and the API throttles
all use this one function.
"""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _valid_address(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str | None:
    """The client's IP address: the ``TRUSTED_PROXY_COUNT``-th ``X-Forwarded-For`` entry
    from the right, else ``REMOTE_ADDR``; None when neither holds a valid address."""
    remote_address = _valid_address(request.META.get("REMOTE_ADDR") or "")
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies == 0:
        return remote_address
    forwarded = [hop for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop]
    if not forwarded:
        # Not through the proxies (a health check from inside the network).
        return remote_address
    # Fewer entries than proxies: the leftmost was still written by one of ours.
    return _valid_address(forwarded[-min(proxies, len(forwarded))]) or remote_address
