"""How many failed sign-ins one address may make before its sign-ins are refused.

django-axes locks one account from one address after ``LOGIN_FAILURE_LIMIT`` failures;
this limits guessing across many usernames from one address. Only failures count: a
pharmacy's workstations share one outbound address, and the whole floor signing in
after lunch must never be refused. Past the limit every sign-in from the address is
refused, right passwords included (else the refusal would only slow a guesser down
while still confirming a hit), until the window ends.
"""

from django.conf import settings
from django.http import HttpRequest

from lib.client_ip import client_ip
from lib.rate_limits import count_event, event_count, seconds_left_in_window


def _name(request: HttpRequest) -> str:
    return f"failed-sign-in:{client_ip(request) or 'unknown'}"


def _window_seconds() -> int:
    return int(settings.LOGIN_ADDRESS_WINDOW.total_seconds())


def address_sign_ins_refused(request: HttpRequest) -> bool:
    """Whether the request's address made ``LOGIN_ADDRESS_FAILURE_LIMIT`` failed sign-ins
    in the current window."""
    failures = event_count(_name(request), window_seconds=_window_seconds())
    return failures >= settings.LOGIN_ADDRESS_FAILURE_LIMIT


def count_failed_sign_in(request: HttpRequest) -> None:
    count_event(_name(request), window_seconds=_window_seconds())


def minutes_until_sign_ins_allowed() -> int:
    return -(-seconds_left_in_window(_window_seconds()) // 60)
