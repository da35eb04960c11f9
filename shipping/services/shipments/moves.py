"""Moving a shipment along ``SHIPMENT_MOVES`` by hand or by a carrier's event, for the
moves without checks of their own; sending a package back to packing voids its label."""

import logging
from datetime import datetime

from django.db import transaction

from pharmacy.models import User
from shipping.models import CarrierEvent, Shipment, ShippingDocument
from shipping.services.shipments.helpers import S, ShippingError, _check_move, _label, _lock, _move

logger = logging.getLogger(__name__)

# The moves with checks of their own: only their service makes them.
STEP_SERVICES = {
    (S.AWAITING_PACKING, S.PACKED): "pack_shipment",
    (S.PACKED, S.LABELLED): "purchase_label",
    (S.LABELLED, S.HANDED_TO_CARRIER): "hand_over_to_carrier",
}


def transition_shipment(
    shipment: Shipment,
    *,
    to: str,
    by: User | None = None,
    detail: str = "",
    occurred_at: datetime | None = None,
    carrier_event: CarrierEvent | None = None,
) -> Shipment:
    """Move a shipment along SHIPMENT_MOVES; returns it.

    ``by`` a person (their role must be allowed), or None for a carrier's tracking event
    (``carrier_event``). Moves with checks of their own are refused here (packing,
    the label, the hand-over: their services; a person reporting a problem:
    ``report_delivery_exception``). Sending a packed or labelled package back to packing
    (a pharmacist, with a reason) voids its label. Raises ShippingError.
    """
    if to not in S.values:
        raise ShippingError("unknown_status", f"{to!r} is not a shipment status.", 400)
    with transaction.atomic():
        shipment = _lock(shipment)
        _check_move(shipment, to=to, by=by)
        service = STEP_SERVICES.get((shipment.status, to))
        if service is None and by is not None and to in (S.EXCEPTION, S.RETURNED):
            service = "report_delivery_exception"
        if service is not None:
            raise ShippingError(
                "step_required",
                f"Moving a package from {_label(shipment.status)} to {_label(to)} is a step "
                f"with its own checks: use {service}.",
            )
        if by is None and carrier_event is None:
            raise ShippingError("carrier_event_required", "A carrier move needs its event.")
        update_fields: list[str] = []
        if to == S.AWAITING_PACKING:
            detail = detail.strip()
            if not detail:
                raise ShippingError(
                    "reason_required", "Give a reason: it is kept on the record.", 400
                )
            update_fields = _void_label(shipment)
        return _move(
            shipment,
            to=to,
            by=by,
            detail=detail,
            occurred_at=occurred_at,
            carrier_event=carrier_event,
            update_fields=update_fields,
        )


def _void_label(shipment: Shipment) -> list[str]:
    """Back to packing: the label bought is void (a new one is bought at the next
    packing) and its PDF no longer current. The fills stay packed (FILL_MOVES has no
    way back); packing again takes them as they are."""
    if shipment.tracking_number or shipment.carrier_shipment_id:
        logger.info(
            "Package %s: label %s %s (%s) voided; ask the carrier for a refund if it was paid.",
            shipment.package_code,
            shipment.carrier,
            shipment.tracking_number or "not stored yet",
            shipment.carrier_shipment_id or "no carrier id",
        )
    ShippingDocument.objects.filter(
        shipment=shipment, kind=ShippingDocument.Kind.LABEL, is_current=True
    ).update(is_current=False)
    shipment.tracking_number = ""
    shipment.carrier_shipment_id = ""
    shipment.packed_by = None
    shipment.packed_at = None
    shipment.weight_oz = None
    return ["tracking_number", "carrier_shipment_id", "packed_by", "packed_at", "weight_oz"]
