"""Delivery exceptions and reships.

Staff report a problem with a package on its way or delivered; a pharmacist or manager
resolves it, and may reship: a new shipment (``reship_of``) to the patient's current
default address. Product that must be replaced (every fill of a lost package, every
refrigerated fill after a temperature excursion, the fills a pharmacist names after
damage) gets replacement fills (``replacement_of``, same fill number, so no refill is
used) in a new order of the patient, and the reship belongs to that order. A
replacement starts at the fill step, its PV1 standing, when the prescription is still
active and not expired (stock is taken at the fill step as usual, and PV2 follows);
otherwise the replacement is refused: a new prescription is needed. Only a pharmacist
replaces product. Fills not replaced (product that came back) ride along in the reship.
"""

from datetime import date

from django.db import transaction
from django.utils import timezone

from lib.text import checked_free_text
from orders.models import Fill, Order, Prescription
from orders.services.intake import create_fill
from orders.services.labels import queue_rx_label
from pharmacy.models import Role, User
from shipping.models import SHIPMENT_MOVES, DeliveryException, Shipment
from shipping.services.rules import is_cold_chain_fill
from shipping.services.shipments.addresses import validate_ship_to_address
from shipping.services.shipments.contents import shipment_fills
from shipping.services.shipments.creation import _create_shipment
from shipping.services.shipments.helpers import (
    BEFORE_HANDOVER,
    F,
    S,
    ShippingError,
    _check_move,
    _label,
    _lock,
    _move,
)


def _name(user: User) -> str:
    return user.get_full_name() or user.get_username()


def report_delivery_exception(
    shipment: Shipment, *, by: User, kind: str, description: str
) -> DeliveryException:
    """Staff record a problem with a package on its way or delivered (damaged, lost,
    returned, temperature excursion, other). The shipment moves to ``exception`` (or
    ``returned`` for a return) when SHIPMENT_MOVES allows it from where it is; one already
    in exception or returned just gets the record. Raises ShippingError: unknown kind or
    no description (400), not handed over yet, a role that may not (403)."""
    if kind not in DeliveryException.Kind.values:
        raise ShippingError(
            "invalid_kind",
            f"{kind!r} is not a kind of delivery exception; use one of "
            f"{', '.join(DeliveryException.Kind.values)}.",
            400,
        )
    description, problem = checked_free_text(description, "description")
    if problem:
        raise ShippingError("invalid_description", problem, 400)
    if not description:
        raise ShippingError(
            "description_required", "Describe what happened: it is kept on the record.", 400
        )
    with transaction.atomic():
        shipment = _lock(shipment)
        if shipment.status in BEFORE_HANDOVER:
            raise ShippingError(
                "not_handed_over",
                f"Package {shipment.package_code} is {_label(shipment.status)}: it has not "
                "left the pharmacy. A pharmacist sends it back to packing to fix a problem.",
            )
        moves = SHIPMENT_MOVES[shipment.status]
        if kind == DeliveryException.Kind.RETURNED and S.RETURNED in moves:
            target = S.RETURNED
        elif S.EXCEPTION in moves:
            target = S.EXCEPTION
        else:
            target = None
        if target is not None:
            _check_move(shipment, to=target, by=by)
        elif by.role not in (Role.TECHNICIAN, Role.PHARMACIST, Role.MANAGER):
            raise ShippingError(
                "role_not_allowed", "Your role does not report delivery exceptions.", 403
            )
        label = DeliveryException.Kind(kind).label
        exception = DeliveryException.objects.create(
            shipment=shipment, kind=kind, description=description, reported_by=by
        )
        if target is not None:
            _move(shipment, to=target, by=by, detail=f"{label}: {description}")
    return exception


def resolve_delivery_exception(
    exception: DeliveryException,
    *,
    by: User,
    resolution: str,
    reship: bool = False,
    replace_fills=(),
) -> DeliveryException:
    """A pharmacist or manager writes how a delivery exception was settled, and may
    reship: a new shipment (``reship_of`` the first) to the patient's current default
    address. ``replace_fills`` (fills or ids of the first package) get replacement fills
    in a new order of the patient, starting at the fill step (see the module docstring);
    only a pharmacist replaces product. A lost package needs every fill replaced, a
    temperature excursion every refrigerated one, damage at least one.

    Locks the exception and its shipment. Raises ShippingError: no resolution (400),
    a role that may not (403), already resolved, the package not back or lost (still on
    its way or delivered without an exception), already reshipped, fills that were not in
    the package or must be replaced, a prescription that is no longer valid, an address
    that cannot be shipped to.
    """
    resolution, problem = checked_free_text(resolution, "resolution")
    if problem:
        raise ShippingError("invalid_resolution", problem, 400)
    if not resolution:
        raise ShippingError(
            "resolution_required", "Write the resolution: it is kept on the record.", 400
        )
    replace_ids = {getattr(fill, "pk", fill) for fill in replace_fills}
    if by.role not in (Role.PHARMACIST, Role.MANAGER):
        raise ShippingError(
            "role_not_allowed",
            "A pharmacist or manager resolves delivery exceptions.",
            403,
        )
    if replace_ids and not reship:
        raise ShippingError(
            "reship_required", "Replacement fills go out in a reship: choose reship.", 400
        )
    if replace_ids and by.role != Role.PHARMACIST:
        raise ShippingError(
            "role_not_allowed",
            "Only a pharmacist replaces product: it is dispensed again on the prescription.",
            403,
        )
    today = timezone.localdate()
    with transaction.atomic():
        exception = (
            DeliveryException.objects.select_for_update(of=("self",))
            .select_related("resolved_by")
            .get(pk=exception.pk)
        )
        if not exception.is_open:
            raise ShippingError(
                "already_resolved",
                f"This delivery exception was resolved by {_name(exception.resolved_by)} on "
                f"{timezone.localtime(exception.resolved_at):%Y-%m-%d %H:%M}.",
            )
        shipment = _lock(exception.shipment)
        update_fields = ["resolution", "resolved_by", "resolved_at"]
        if reship:
            exception.reship = _reship(
                shipment, exception=exception, by=by, replace_ids=replace_ids, today=today
            )
            update_fields.append("reship")
        exception.resolution = resolution
        exception.resolved_by = by
        exception.resolved_at = timezone.now()
        exception.save(update_fields=update_fields)
    return exception


def _reship(
    shipment: Shipment,
    *,
    exception: DeliveryException,
    by: User,
    replace_ids: set[int],
    today: date,
) -> Shipment:
    if shipment.status not in (S.EXCEPTION, S.RETURNED):
        raise ShippingError(
            "not_reshippable",
            f"Package {shipment.package_code} is {_label(shipment.status)}: only a package "
            "with a delivery exception or returned is reshipped.",
        )
    if Shipment.objects.filter(reship_of=shipment).exists():
        raise ShippingError(
            "already_reshipped", f"Package {shipment.package_code} was already reshipped."
        )
    contents = {fill.pk: fill for fill in shipment_fills(shipment)}
    unknown = sorted(replace_ids - contents.keys())
    if unknown:
        raise ShippingError(
            "not_in_package",
            f"Fill {', '.join(map(str, unknown))} was not in package {shipment.package_code}.",
            400,
        )
    kind = exception.kind
    must = set()
    if kind == DeliveryException.Kind.LOST:
        must = set(contents)
    elif kind == DeliveryException.Kind.TEMPERATURE:
        must = {pk for pk, fill in contents.items() if is_cold_chain_fill(fill)}
    missing = sorted(must - replace_ids)
    if missing:
        why = (
            "lost"
            if kind == DeliveryException.Kind.LOST
            else "refrigerated after a temperature excursion"
        )
        raise ShippingError(
            "replacement_required",
            f"Fill {', '.join(map(str, missing))} must be replaced: its product was {why}.",
            400,
            missing=missing,
        )
    if kind == DeliveryException.Kind.DAMAGED and not replace_ids:
        raise ShippingError(
            "replacement_required",
            "Name the fills whose product was damaged: they are replaced.",
            400,
        )
    patient = shipment.order.patient
    snapshot = validate_ship_to_address(patient)
    order = shipment.order
    if replace_ids:
        order = Order.objects.create(patient=patient)
        for pk in sorted(replace_ids):
            _replacement_fill(
                contents[pk], order=order, by=by, shipment=shipment, kind=kind, today=today
            )
    return _create_shipment(
        order,
        snapshot,
        today=today,
        reship_of=shipment,
        by=by,
        detail=f"Reship of package {shipment.package_code} "
        f"({DeliveryException.Kind(kind).label.lower()})",
    )


def _replacement_fill(
    original: Fill, *, order: Order, by: User, shipment: Shipment, kind: str, today: date
) -> Fill:
    """A fill replacing one whose product was lost or spoiled in shipping: same
    prescription and fill number (no refill used), at the fill step with the original's
    PV1 standing, urgent, its Rx label queued. Stock is taken at its fill step."""
    prescription = original.prescription
    problem = ""
    if prescription.status not in (Prescription.Status.ACTIVE, Prescription.Status.COMPLETED):
        problem = Prescription.Status(prescription.status).label.lower()
    elif prescription.expires_on < today:
        problem = f"expired since {prescription.expires_on}"
    elif original.pv1_at is None:
        problem = f"without a PV1 on fill {original.pk}"
    if problem:
        raise ShippingError(
            "prescription_not_valid",
            f"Rx {prescription.rx_number} is {problem}: its product cannot be dispensed again "
            "without a new prescription and PV1. Reship without replacing it, or contact the "
            "prescriber.",
        )
    fill = create_fill(
        prescription,
        by=by,
        order=order,
        replacement_of=original,
        status=F.FILL,
        reason=f"Replaces fill {original.pk} ({DeliveryException.Kind(kind).label.lower()} in "
        f"package {shipment.package_code}); the PV1 of fill {original.pk} stands",
        requested_via="reship",
        quantity=original.dispensed_quantity or original.quantity,
        days_supply=original.days_supply,
        priority=Fill.Priority.URGENT,
        promised_on=today,
    )
    queue_rx_label(fill)
    return fill
