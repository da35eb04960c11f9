"""Buying a packed package's carrier label, through the outbox.

Packing records the purchase (``shipping.buy_label``) in its own transaction, one per
packing of the shipment (its dedupe key carries the packing's number: a package sent
back to packing and packed again is bought again). A worker delivers it with
``purchase_label``: outside any transaction it buys from the carrier, which never sells
two labels for one purchase (``shipping.carriers``); then one transaction stores the
tracking number, moves the shipment to labelled and records its documents
(``shipping.documents``). A purchase finds nothing to do when its packing is no longer
the current one (sent back to packing meanwhile) or the label is bought already, so a
purchase delivered twice buys once.
"""

import logging

from django.db import transaction

from outbox.models import OutboxMessage
from outbox.services import record_side_effect, retry_side_effect
from pharmacy.models import User
from shipping.carriers import CarrierError, carrier_for
from shipping.models import Shipment, ShipmentEvent
from shipping.services.shipments.helpers import (
    S,
    ShippingError,
    _check_move,
    _label,
    _lock,
    _move,
    _record_documents,
)

logger = logging.getLogger(__name__)

LABEL_PURCHASE = "shipping.buy_label"


def _packing_number(shipment: Shipment) -> int:
    """How many times the shipment was packed: the number of its current packing."""
    return ShipmentEvent.objects.filter(shipment_id=shipment.pk, to_status=S.PACKED).count()


def _purchase_key(shipment: Shipment, packing: int) -> str:
    return f"{LABEL_PURCHASE}:{shipment.pk}:{packing}"


def _record_label_purchase(shipment: Shipment) -> OutboxMessage:
    """In the packing's transaction: the label of this packing, to buy once it commits."""
    packing = _packing_number(shipment)
    return record_side_effect(
        LABEL_PURCHASE,
        target_id=shipment.pk,
        payload={"packing": packing},
        description=f"Carrier label of package {shipment.package_code} (packing {packing})",
        dedupe_key=_purchase_key(shipment, packing),
    )


def _waits_for_label(shipment: Shipment, packing: int) -> bool:
    return (
        shipment.status == S.PACKED
        and not shipment.tracking_number
        and _packing_number(shipment) == packing
    )


class _PackingSuperseded(Exception):
    """The package left this packing while its label was being bought."""


def purchase_label(shipment: Shipment, *, packing: int | None = None) -> Shipment:
    """Buy the label of the shipment's packing number ``packing`` (the current one when
    None) from its carrier, and store it: tracking number, labelled (the packer's
    move), the documents recorded. What the outbox's ``shipping.buy_label`` delivers.

    The carrier is called outside any transaction; the shipment row is locked only to
    keep the carrier's own id between the steps of its purchase and to store the label.
    Returns the shipment as it then is; does nothing when that packing is not waiting
    for its label (labelled already, or sent back to packing since).

    Raises ShippingError, the shipment left packed: ``no_carrier``,
    ``carrier_not_configured``, ``carrier_error`` (502, ``carrier_code`` the carrier's
    own code: ``carrier_refused`` may pass, ``no_rate`` or ``unknown_service`` will not).
    """
    shipment = Shipment.objects.select_related("service", "packed_by").get(pk=shipment.pk)
    if packing is None:
        packing = _packing_number(shipment)
    if not _waits_for_label(shipment, packing):
        return shipment
    try:
        carrier = carrier_for(shipment.carrier)
    except KeyError:
        raise ShippingError(
            "no_carrier", f"Package {shipment.package_code} has no carrier service."
        ) from None
    if not carrier.is_configured():
        raise ShippingError(
            "carrier_not_configured", f"{carrier.name} is not configured on this pharmacy."
        )

    def remember(carrier_shipment_id: str) -> None:
        with transaction.atomic():
            locked = _lock(shipment)
            if not _waits_for_label(locked, packing):
                raise _PackingSuperseded
            locked.carrier_shipment_id = carrier_shipment_id
            locked.save(update_fields=["carrier_shipment_id"])
        shipment.carrier_shipment_id = carrier_shipment_id

    try:
        label = carrier.buy_label(shipment, remember=remember)
    except _PackingSuperseded:
        return Shipment.objects.get(pk=shipment.pk)
    except CarrierError as error:
        raise ShippingError(
            "carrier_error",
            f"Package {shipment.package_code} is packed, but {carrier.name} did not sell the "
            f"label: {error.detail}",
            502,
            carrier_code=error.code,
        ) from None
    with transaction.atomic():
        locked = _lock(shipment)
        if not _waits_for_label(locked, packing):
            logger.warning(
                "Package %s left packing %s while its label was bought: %s %s (%s) is not "
                "used; ask the carrier for a refund if it was paid.",
                locked.package_code,
                packing,
                carrier.name,
                label.tracking_number,
                label.carrier_shipment_id,
            )
            return locked
        locked.tracking_number = label.tracking_number
        locked.carrier_shipment_id = label.carrier_shipment_id
        _move(
            locked,
            to=S.LABELLED,
            by=locked.packed_by,
            detail=f"Label bought from {carrier.name}: tracking {label.tracking_number}",
            update_fields=["tracking_number", "carrier_shipment_id"],
        )
        _record_documents(locked)
    return locked


def retry_label_purchase(shipment: Shipment, *, by: User) -> Shipment:
    """A technician or pharmacist asks again for the label of a packed package: a
    purchase that failed (the carrier refused it for good, or too many times) is sent
    again at once with a fresh set of attempts; one still being tried is left to its
    retries; a packing that has none (packed before the outbox) gets one. Returns the
    shipment, still packed: the worker buys the label.

    Locks the shipment. Raises ShippingError: not packed or labelled already, a role
    that may not label (403)."""
    with transaction.atomic():
        shipment = _lock(shipment)
        if shipment.status != S.PACKED or shipment.tracking_number:
            raise ShippingError(
                "wrong_status",
                f"Package {shipment.package_code} is {_label(shipment.status)}, not packed "
                "and waiting for its label.",
            )
        _check_move(shipment, to=S.LABELLED, by=by)
        purchase = _record_label_purchase(shipment)
        if purchase.status == OutboxMessage.Status.FAILED:
            retry_side_effect(purchase, by=by)
    return shipment


def label_purchase_problem(shipment: Shipment) -> str:
    """Why a packed package's label is late, in a sentence for the packing station: the
    carrier's last refusal and whether it is still being tried; "" when nothing went
    wrong (the label is on its way, or bought)."""
    if shipment.status != S.PACKED or shipment.tracking_number:
        return ""
    purchase = OutboxMessage.objects.filter(
        dedupe_key=_purchase_key(shipment, _packing_number(shipment))
    ).first()
    if purchase is None or not purchase.last_error:
        return ""
    # The error as the outbox wrote it down: "<exception class>: <sentence>".
    reason = purchase.last_error.partition(": ")[2] or purchase.last_error
    if purchase.status == OutboxMessage.Status.FAILED:
        return f"{reason} Not tried again until someone asks for the label again."
    return f"{reason} Trying again by itself (attempt {purchase.attempts + 1} next)."
