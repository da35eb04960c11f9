"""Carrier tracking events from the webhooks: kept once per (carrier, event id), so a
replay changes nothing, and never moving a shipment backwards. An event whose status is
behind the shipment's, or older than the last applied event without being further
along, is kept with the outcome ``stale``; events for a package not yet handed over are
kept as ``not_handed_over``; ``out_for_delivery`` keeps a shipment in transit."""

from datetime import datetime

from django.db import transaction
from django.db.models import Max

from shipping.carriers import INFO, EventRejected, carrier_for
from shipping.models import SHIPMENT_MOVES, CarrierEvent, DeliveryException, Shipment
from shipping.services.shipments.helpers import BEFORE_HANDOVER, S, ShippingError, _move

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
    ``malformed_json``/``malformed_event`` (400), ``invalid_tracking_number`` (422, not
    this carrier's format or check digit), ``unknown_tracking_number`` (404).
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
            kept.is_replay = True
            return kept
        target = CARRIER_EVENT_SHIPMENT_STATUS.get(update.status)
        outcome = _outcome(shipment, target, update.occurred_at)
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
