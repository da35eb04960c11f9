"""Which function delivers which kind of side effect.

Kinds are named ``<app>.<effect>`` (``orders.rx_label``). A deliverer takes the
``OutboxMessage`` and either returns (delivered) or raises: ``PermanentFailure`` when
trying again cannot help (the message goes to the managers' list at once), anything
else to be tried again later with back-off. It must be idempotent where the effect
lands (a label keyed by its content, an e-mail by a Message-ID made from the message),
because a worker that dies after the effect and before the row is marked delivered
makes the sweep deliver it again.
"""

from collections.abc import Callable

_deliverers: dict[str, Callable] = {}


class PermanentFailure(Exception):
    """Delivering this side effect can never succeed as it stands (the object is gone, the
    data are invalid): the message is marked failed for a manager to look at."""


def delivers(kind: str) -> Callable[[Callable], Callable]:
    """Register the decorated function as the deliverer of ``kind``."""

    def register(function: Callable) -> Callable:
        existing = _deliverers.get(kind)
        if existing is not None and existing is not function:
            raise ValueError(f"side effect {kind!r} already has a deliverer: {existing!r}")
        _deliverers[kind] = function
        return function

    return register


def deliverer(kind: str) -> Callable:
    """The deliverer of ``kind``; LookupError when none is registered."""
    try:
        return _deliverers[kind]
    except KeyError:
        raise LookupError(f"no deliverer is registered for side effect {kind!r}") from None


def known_kinds() -> list[str]:
    return sorted(_deliverers)
