"""What the shipment services share: ``ShippingError``, locking a shipment, checking a
move against ``SHIPMENT_MOVES`` and making it with its event, and recording the
shipment's documents in the outbox."""

from datetime import datetime

from django.utils import timezone

from orders.models import Fill
from pharmacy.models import User
from shipping.models import SHIPMENT_MOVES, CarrierEvent, Shipment, ShipmentEvent

S = Shipment.Status
F = Fill.Status

BEFORE_HANDOVER = (S.AWAITING_PACKING, S.PACKED, S.LABELLED)


class ShippingError(Exception):
    """A shipping step refused; nothing was changed.

    ``code`` is stable for programs, ``detail`` a sentence for people, ``status`` the HTTP
    status the API answers with (409 a conflict with the shipment's state, 400 bad input,
    403 a role that may not, 401/404/422 for webhooks, 502 a carrier that failed);
    ``extra`` goes into the API's body.
    """

    def __init__(self, code: str, detail: str, status: int = 409, **extra):
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.status = status
        self.extra = extra


def _label(status: str) -> str:
    text = S(status).label
    return text[0].lower() + text[1:]


def _lock(shipment: Shipment) -> Shipment:
    """The shipment's row, locked until the end of the transaction, read afresh."""
    return (
        Shipment.objects.select_for_update(of=("self",))
        .select_related("order__patient", "service", "reship_of")
        .get(pk=shipment.pk)
    )


def _check_move(shipment: Shipment, *, to: str, by: User | None) -> None:
    """Refuse a move SHIPMENT_MOVES does not list, or a role that may not make it. A
    move by nobody (``by`` None) is a carrier's tracking event."""
    moves = SHIPMENT_MOVES.get(shipment.status, {})
    if to not in moves:
        raise ShippingError(
            "move_not_allowed",
            f"Package {shipment.package_code} is {_label(shipment.status)}; it cannot move "
            f"to {_label(to)}.",
        )
    if by is None:
        return
    if not moves[to]:
        raise ShippingError(
            "carrier_only",
            f"Only the carrier's tracking events move a package to {_label(to)}.",
        )
    if by.role not in moves[to]:
        raise ShippingError(
            "role_not_allowed",
            f"A {(by.role_label or 'user without a role').lower()} cannot move a package "
            f"from {_label(shipment.status)} to {_label(to)}.",
            status=403,
        )


def _move(
    shipment: Shipment,
    *,
    to: str,
    by: User | None,
    detail: str = "",
    occurred_at: datetime | None = None,
    carrier_event: CarrierEvent | None = None,
    update_fields: list[str] | tuple = (),
) -> Shipment:
    """Move the locked shipment and write its event."""
    now = timezone.now()
    ShipmentEvent.objects.create(
        shipment=shipment,
        from_status=shipment.status,
        to_status=to,
        detail=detail[:255],
        actor=by,
        carrier_event=carrier_event,
        occurred_at=occurred_at or now,
    )
    shipment.status = to
    shipment.status_changed_at = now
    fields = ["status", "status_changed_at", *update_fields]
    if to == S.DELIVERED and shipment.delivered_at is None:
        shipment.delivered_at = occurred_at or now
        fields.append("delivered_at")
    shipment.save(update_fields=fields)
    return shipment


def _record_documents(shipment: Shipment) -> None:
    """In the caller's transaction: the label and packing slip PDFs to make (the
    documents module records them in the outbox)."""
    from shipping.services import documents  # noqa: PLC0415 (documents import us)

    documents.record_shipping_documents(shipment)
