"""Carrier tracking events from the webhooks: kept once per (carrier, event id), so a
replay changes nothing, and never moving a shipment backwards. An event whose status is
behind the shipment's, or older than the last applied event without being further
along, is kept with the outcome ``stale``; events for a package not yet handed over are
kept as ``not_handed_over``; ``out_for_delivery`` keeps a shipment in transit."""

from dataclasses import astuple
from datetime import UTC, datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from shipping.carriers import INFO, EventRejected, carrier_for
from shipping.models import SHIPMENT_MOVES, CarrierEvent, DeliveryException, Shipment
from shipping.services.shipments.helpers import BEFORE_HANDOVER, S, ShippingError, _move

# A carrier's clock may run ahead of ours, never by a day: an event dated later is a
# bad date (a typo, a wrong year), kept nowhere, since it would outrank every real one.
CARRIER_CLOCK_SKEW = timedelta(hours=24)

# How far along a status is, for telling a late carrier event from a new one.
PROGRESS = {
    S.AWAITING_PACKING: 0,
    S.PACKED: 0,
    S.LABELLED: 0,
    S.HANDED_TO_CARRIER: 1,
    S.IN_TRANSIT: 2,
    S.EXCEPTION: 2,
    S.DELIVERED: 3,
    S.RETURNED: 3,
}
# A carrier event's status -> the shipment status it moves to.
CARRIER_EVENT_SHIPMENT_STATUS = {
    "in_transit": S.IN_TRANSIT,
    "out_for_delivery": S.IN_TRANSIT,
    "delivered": S.DELIVERED,
    "exception": S.EXCEPTION,
    "returned": S.RETURNED,
}


def record_carrier_event(carrier: str, *, body: bytes, signature: str) -> CarrierEvent:
    """A carrier's tracking webhook: the raw body and its ``X-Signature``.

    The signature is checked first (constant time); then the body is read, the shipment
    found by tracking number and locked, and the event kept once per (carrier, event
    id). A replay returns the kept event (``is_replay`` True) and changes nothing. A new
    event moves the shipment when it is further along (``applied``; an exception or a
    return opens a DeliveryException), or is kept as ``no_change``, ``stale`` (behind
    the shipment or older than its last event), ``not_handed_over`` or ``info``. An event
    that is not about tracking returns an unsaved CarrierEvent (outcome ``ignored``).

    Raises ShippingError, with nothing written: ``unknown_carrier`` (404),
    ``invalid_signature`` (401, the same whether the header is missing or wrong),
    ``malformed_json``/``malformed_event`` (400: also a NUL character in a field, a time
    more than ``CARRIER_CLOCK_SKEW`` ahead), ``invalid_tracking_number`` (422, not this
    carrier's format or check digit), ``unknown_tracking_number`` (404),
    ``event_id_reused`` (409: the event id is kept for another tracking number, status or
    time; a carrier never reuses one, so this is no replay and is not dropped silently).
    """
    try:
        courier = carrier_for(carrier)
    except KeyError:
        raise ShippingError("unknown_carrier", "No such carrier.", 404) from None
    if not courier.verify_signature(body, signature):
        raise ShippingError(
            "invalid_signature",
            "The X-Signature header is missing or does not match the body.",
            401,
        )
    try:
        update = courier.parse_event(body)
    except EventRejected as rejected:
        raise ShippingError(rejected.code, rejected.detail, rejected.status) from None
    if update is None:
        return CarrierEvent(carrier=carrier, outcome="ignored")
    _check_storable(update)
    if not courier.is_tracking_number(update.tracking_number):
        raise ShippingError(
            "invalid_tracking_number",
            f"{update.tracking_number!r} is not a {courier.name} tracking number.",
            422,
        )
    with transaction.atomic():
        shipment = (
            Shipment.objects.select_for_update(of=("self",))
            .filter(carrier=carrier, tracking_number=update.tracking_number)
            .first()
        )
        if shipment is None:
            raise ShippingError(
                "unknown_tracking_number", "No package of ours has this tracking number.", 404
            )
        kept = CarrierEvent.objects.filter(carrier=carrier, event_id=update.event_id).first()
        if kept is not None:
            if (kept.tracking_number, kept.status, kept.occurred_at) != (
                update.tracking_number,
                update.status,
                update.occurred_at,
            ):
                raise _event_id_reused(update.event_id)
            kept.is_replay = True
            return kept
        target = CARRIER_EVENT_SHIPMENT_STATUS.get(update.status)
        outcome = _outcome(shipment, target, update.occurred_at)
        try:
            # The shipment's lock orders events of one package; the same id sent at the
            # same moment for another package meets the unique constraint instead.
            with transaction.atomic():
                event = CarrierEvent.objects.create(
                    carrier=carrier,
                    event_id=update.event_id,
                    tracking_number=update.tracking_number,
                    status=update.status,
                    occurred_at=update.occurred_at,
                    detail=update.detail,
                    body=body.decode("utf-8", errors="replace"),
                    shipment=shipment,
                    outcome=outcome,
                )
        except IntegrityError:
            raise _event_id_reused(update.event_id) from None
        if outcome == "applied":
            detail = update.detail or update.status.replace("_", " ").capitalize()
            _move(
                shipment,
                to=target,
                by=None,
                detail=f"{courier.name}: {detail}",
                occurred_at=update.occurred_at,
                carrier_event=event,
            )
            if target in (S.EXCEPTION, S.RETURNED):
                DeliveryException.objects.create(
                    shipment=shipment,
                    kind=DeliveryException.Kind.RETURNED
                    if target == S.RETURNED
                    else DeliveryException.Kind.OTHER,
                    description=f"{courier.name} reported: {detail}",
                    carrier_event=event,
                )
        event.is_replay = False
        return event


def _event_id_reused(event_id: str) -> ShippingError:
    return ShippingError(
        "event_id_reused",
        f"Event {event_id!r} was received before for another tracking number, status or "
        "time; nothing was changed. Send each event under an id of its own.",
        409,
    )


def _check_storable(update) -> None:
    """A signed event is still refused when it cannot be a real one: text that PostgreSQL
    cannot store (NUL), a time that cannot be in UTC or is more than a day ahead."""
    if any(isinstance(value, str) and "\x00" in value for value in astuple(update)):
        raise ShippingError(
            "malformed_event",
            "The event contains a NUL character (\\u0000); nothing was kept.",
            400,
        )
    try:
        occurred_at = update.occurred_at.astimezone(UTC)
    except OverflowError:
        raise ShippingError(
            "malformed_event", "occurred_at is not a time that can be told in UTC.", 400
        ) from None
    if occurred_at > timezone.now() + CARRIER_CLOCK_SKEW:
        raise ShippingError(
            "malformed_event",
            f"occurred_at {update.occurred_at.isoformat()} is more than a day ahead of our "
            "clock; nothing was kept.",
            400,
        )


def _outcome(shipment: Shipment, target: str | None, occurred_at: datetime) -> str:
    if target is None:
        return INFO
    if shipment.status in BEFORE_HANDOVER:
        return "not_handed_over"
    if target == shipment.status:
        return "no_change"
    latest = CarrierEvent.objects.filter(shipment=shipment, outcome="applied").aggregate(
        latest=Max("occurred_at")
    )["latest"]
    behind = PROGRESS[target] < PROGRESS[shipment.status]
    older = latest is not None and occurred_at < latest
    if behind or (older and PROGRESS[target] <= PROGRESS[shipment.status]):
        return "stale"
    if target not in SHIPMENT_MOVES[shipment.status]:
        return "stale"
    return "applied"
