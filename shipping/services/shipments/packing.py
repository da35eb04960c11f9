"""Packing a package by scan, buying its label from the carrier, and handing packages
over to the carrier.

* **Packing.** Every vial's label code must be scanned; a duplicate scan (a scanner's
  double read) is ignored; a vial of another order, another package's packing slip or an
  unknown code stops the packing with a sentence naming it; nothing is recorded until
  every vial is there. The weight is required, 0 < weight <= 1200 oz (75 lb). Packing
  then buys the label from the carrier outside the transaction: when the carrier fails
  the package stays packed (the error says so) and ``purchase_label`` tries again.
* **Refrigerated packages are packed on their ship day**: packing one earlier is refused
  (the cold packs would warm over the weekend); other packages may be packed any day.
* **Hand-over** marks the fills shipped, which only technicians and pharmacists may do
  (FILL_MOVES), so a manager cannot hand packages over. Fills move through
  ``orders.services.workflow.transition_fill`` (ready to pack -> packed at packing,
  packed -> shipped at hand-over).
"""

from datetime import date
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils import timezone

from orders.models import FILL_MOVES, Fill
from orders.services.workflow import WorkflowError, transition_fill
from pharmacy.models import User
from shipping.carriers import CarrierError, carrier_for
from shipping.models import Shipment
from shipping.services.shipments.contents import _apply_plan, _plan, shipment_fills
from shipping.services.shipments.helpers import (
    F,
    S,
    ShippingError,
    _check_move,
    _label,
    _lock,
    _move,
    _queue_documents,
)
from shipping.services.shipments.patient_email import _queue_patient_email

MAX_WEIGHT_OZ = Decimal(1200)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _fill_name(fill: Fill) -> str:
    return f"fill {fill.pk} (Rx {fill.prescription.rx_number})"


def _move_fill(fill: Fill, *, to: str, by: User, reason: str) -> None:
    try:
        transition_fill(fill, to=to, by=by, reason=reason)
    except WorkflowError as refused:
        raise ShippingError(refused.code, refused.detail, refused.status) from None


def _weight(value) -> Decimal:
    if value is None or value == "":
        raise ShippingError("weight_required", "Weigh the package and enter its weight.", 400)
    try:
        weight = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ShippingError("invalid_weight", f"{value!r} is not a weight.", 400) from None
    if not weight.is_finite() or weight <= 0 or weight > MAX_WEIGHT_OZ:
        raise ShippingError(
            "invalid_weight",
            f"The weight must be more than 0 and at most {MAX_WEIGHT_OZ} oz, not {value}.",
            400,
        )
    if weight.as_tuple().exponent < -1:
        raise ShippingError(
            "invalid_weight", f"{value} has more than one decimal: weigh to 0.1 oz.", 400
        )
    return weight


def _scanned_codes(scans) -> list[str]:
    if not isinstance(scans, list | tuple):
        raise ShippingError("scans_required", "Scan every vial's label.", 400)
    codes = []
    for raw in scans:
        code = str(raw).strip().upper()
        if code and code not in codes:  # a scanner's double read counts once
            codes.append(code)
    if not codes:
        raise ShippingError("scans_required", "Scan every vial's label.", 400)
    return codes


def _check_scans(shipment: Shipment, fills: list[Fill], codes: list[str]) -> None:
    """Every vial of the package scanned, nothing else: raises ShippingError naming the
    first wrong scan, or the vials still missing."""
    expected = {fill.label_code: fill for fill in fills}
    for code in codes:
        if code == shipment.package_code or code in expected:
            continue
        if code.startswith("PKG-"):
            other = Shipment.objects.filter(package_code=code).first()
            if other is not None:
                raise ShippingError(
                    "wrong_packing_slip",
                    f"{code} is the packing slip of another package (order {other.order_id}), "
                    f"not of this one ({shipment.package_code}, order {shipment.order_id}).",
                    scan=code,
                )
        other = Fill.objects.filter(label_code=code).select_related("prescription").first()
        if other is not None:
            raise ShippingError(
                "wrong_vial",
                f"This vial is {_fill_name(other)} of order {other.order_id}, not of this "
                f"package (order {shipment.order_id}): take it out.",
                scan=code,
                fill=other.pk,
            )
        raise ShippingError(
            "unknown_code",
            f"{code!r} is not the label of any vial: scan the barcode on the vial label.",
            400,
            scan=code,
        )
    missing = [fill for code, fill in expected.items() if code not in codes]
    if missing:
        raise ShippingError(
            "vials_missing",
            f"{_plural(len(missing), 'vial')} not scanned yet: "
            + ", ".join(_fill_name(fill) for fill in missing)
            + ". The package cannot be closed until every vial is scanned.",
            missing=[fill.pk for fill in missing],
        )


def pack_shipment(
    shipment: Shipment,
    *,
    by: User,
    scans: list[str],
    weight_oz: Decimal,
    today: date | None = None,
    buy_label: bool = True,
) -> Shipment:
    """A technician or pharmacist closes the package: every vial's label scanned, none
    from elsewhere, and its weight. In one transaction the fills move to packed, the
    packaging rules are evaluated again for today (packaging, cold packs, signature,
    service, ship day) and the shipment is packed. Then the label is bought from the
    carrier (``purchase_label``, outside the transaction): labelled, documents queued.

    Raises ShippingError: bad weight or no scans (400), an unknown code (400), not
    awaiting packing, a role that may not pack (403), fills not ready, a vial of another
    order or another package's slip, vials missing, no service the rules allow, a
    refrigerated package before its ship day; and ``carrier_error`` (502) when the
    carrier did not sell the label: the package stays packed. ``buy_label`` False packs
    only (the label is bought later with ``purchase_label``).
    """
    weight = _weight(weight_oz)
    codes = _scanned_codes(scans)
    today = today or timezone.localdate()
    with transaction.atomic():
        shipment = _lock(shipment)
        if shipment.status != S.AWAITING_PACKING:
            raise ShippingError(
                "wrong_status",
                f"Package {shipment.package_code} is {_label(shipment.status)}, not awaiting "
                "packing.",
            )
        _check_move(shipment, to=S.PACKED, by=by)
        fills = shipment_fills(shipment)
        # Packed: a package sent back to packing. Shipped: product that came back, reshipped.
        packable = {F.READY_TO_PACK, F.PACKED} | ({F.SHIPPED} if shipment.reship_of_id else set())
        waiting = [fill for fill in fills if fill.status not in packable]
        if waiting:
            raise ShippingError(
                "fills_not_ready",
                "Not every fill is ready to pack: "
                + ", ".join(
                    f"{_fill_name(fill)} is {Fill.Status(fill.status).label.lower()}"
                    for fill in waiting
                )
                + ".",
                waiting=[fill.pk for fill in waiting],
            )
        _check_scans(shipment, fills, codes)
        plan = _plan(fills, today=today)
        if plan.refusals:
            raise ShippingError("no_service", " ".join(plan.refusals))
        if plan.is_cold_chain and plan.ship_on > today:
            raise ShippingError(
                "not_ship_day",
                f"This refrigerated package ships on {plan.ship_on:%A} {plan.ship_on}: pack it "
                "that day, so it never sits in transit over a weekend or holiday. Keep the "
                "items refrigerated until then.",
                ship_on=plan.ship_on.isoformat(),
            )
        for fill in fills:
            if fill.status == F.READY_TO_PACK:
                _move_fill(
                    fill, to=F.PACKED, by=by, reason=f"Packed in package {shipment.package_code}"
                )
        update_fields = _apply_plan(shipment, plan)
        shipment.weight_oz = weight
        shipment.packed_by = by
        shipment.packed_at = timezone.now()
        _move(
            shipment,
            to=S.PACKED,
            by=by,
            detail=f"Packed: {_plural(len(fills), 'vial')}, {weight} oz, {plan.packaging}",
            update_fields=[*update_fields, "weight_oz", "packed_by", "packed_at"],
        )
    if not buy_label:
        return shipment
    return purchase_label(shipment, by=by)


def purchase_label(shipment: Shipment, *, by: User) -> Shipment:
    """Buy the packed shipment's label from its carrier (the call is made outside any
    transaction); labelled with its tracking number, and the label and packing slip
    PDFs queued. Run again after a carrier failure. Raises ShippingError: not packed, a
    role that may not, a carrier not configured, ``carrier_error`` (502)."""
    with transaction.atomic():
        shipment = _lock(shipment)
        if shipment.status != S.PACKED:
            raise ShippingError(
                "wrong_status",
                f"Package {shipment.package_code} is {_label(shipment.status)}, not packed.",
            )
        _check_move(shipment, to=S.LABELLED, by=by)
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
    try:
        label = carrier.buy_label(shipment)
    except CarrierError as error:
        raise ShippingError(
            "carrier_error",
            f"Package {shipment.package_code} is packed, but {carrier.name} did not sell the "
            f"label: {error.detail} Try the label again.",
            502,
            status_now=shipment.status,
        ) from None
    with transaction.atomic():
        shipment = _lock(shipment)
        if shipment.status != S.PACKED or shipment.tracking_number:
            return shipment  # someone else finished it meanwhile
        shipment.tracking_number = label.tracking_number
        shipment.carrier_shipment_id = label.carrier_shipment_id
        _move(
            shipment,
            to=S.LABELLED,
            by=by,
            detail=f"Label bought from {carrier.name}: tracking {label.tracking_number}",
            update_fields=["tracking_number", "carrier_shipment_id"],
        )
        _queue_documents(shipment)
    return shipment


def hand_over_to_carrier(shipments, *, by: User) -> int:
    """Hand labelled packages to their carrier (the driver's pick-up); returns how many
    were handed over (those not labelled are left as they are). In one transaction, the
    shipments locked in id order: their fills move to shipped and the patient's e-mail
    is queued on commit. Raises ShippingError: a role that may not (a manager: fills are
    shipped by technicians and pharmacists), a fill that cannot move."""
    if by.role not in FILL_MOVES[F.PACKED][F.SHIPPED]:
        raise ShippingError(
            "role_not_allowed",
            f"A {(by.role_label or 'user without a role').lower()} cannot hand packages "
            "over: a technician or pharmacist marks their fills shipped.",
            status=403,
        )
    ids = sorted({shipment.pk for shipment in shipments})
    handed = 0
    with transaction.atomic():
        locked = (
            Shipment.objects.select_for_update(of=("self",))
            .select_related("order__patient", "reship_of", "service")
            .filter(pk__in=ids)
            .order_by("pk")
        )
        for shipment in locked:
            if shipment.status != S.LABELLED:
                continue
            _check_move(shipment, to=S.HANDED_TO_CARRIER, by=by)
            carrier = shipment.get_carrier_display()
            for fill in shipment_fills(shipment):
                if fill.status == F.PACKED:
                    _move_fill(
                        fill,
                        to=F.SHIPPED,
                        by=by,
                        reason=f"Handed to {carrier} in package {shipment.package_code}, "
                        f"tracking {shipment.tracking_number}",
                    )
            shipment.handed_over_at = timezone.now()
            _move(
                shipment,
                to=S.HANDED_TO_CARRIER,
                by=by,
                detail=f"Handed to {carrier}",
                update_fields=["handed_over_at"],
            )
            _queue_patient_email(shipment)
            handed += 1
    return handed
