"""Packing a package by scan, and handing packages over to the carrier.

* **Packing.** Every vial's label code must be scanned; a duplicate scan (a scanner's
  double read) is ignored; a vial of another order, another package's packing slip or an
  unknown code stops the packing with a sentence naming it; nothing is recorded until
  every vial is there. The weight is required, 0 < weight <= 1200 oz (75 lb). Packing
  records the carrier label's purchase in the outbox in its transaction; a worker buys
  it (``label_purchase``) and the package is labelled.
* **Vial codes are scanned, not typed** (issue 13): a code typed on a keyboard could be
  read off a screen or a list instead of the vial in hand. The caller says how the codes
  came (``entry``, ``ScanEntry``; not saying counts as typed); typed codes pass only when
  a pharmacist packs and gives a reason, kept on the shipment (``typed_codes_reason``)
  and in its packed event.
* **Refrigerated packages are packed on their ship day**: packing one earlier is refused
  (the cold packs would warm over the weekend); other packages may be packed any day.
* **Hand-over** marks the fills shipped, which only technicians and pharmacists may do
  (FILL_MOVES), so a manager cannot hand packages over, and records the patient's
  e-mail (``patient_email``). Fills move through
  ``orders.services.workflow.transition_fill`` (ready to pack -> packed at packing,
  packed -> shipped at hand-over).
"""

from datetime import date
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils import timezone

from orders.models import FILL_MOVES, Fill, ScanEntry
from orders.services.workflow import WorkflowError, check_scan_entry, transition_fill
from pharmacy.models import Role, User
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
)
from shipping.services.shipments.label_purchase import _record_label_purchase
from shipping.services.shipments.patient_email import _record_patient_email

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


def _check_entry(entry: str, typed_reason: str, *, by: User) -> str:
    """The reason to keep for typed vial codes ("" when they were scanned); refuses typed
    codes packed by anyone but a pharmacist, or without a reason."""
    try:
        entry, typed_reason = check_scan_entry(entry, typed_reason)
    except WorkflowError as refused:
        raise ShippingError(refused.code, refused.detail, refused.status) from None
    if entry == ScanEntry.SCANNED:
        return ""
    if by.role != Role.PHARMACIST:
        raise ShippingError(
            "typed_code",
            "The vial codes were typed, not scanned: scan the barcode on each vial's label. "
            "A label that cannot be scanned needs a pharmacist, who types it with a reason.",
            403,
        )
    if not typed_reason:
        raise ShippingError(
            "typed_code",
            "The vial codes were typed, not scanned: scan each vial's label, or give your "
            "reason for typing them; it is kept on the record.",
        )
    return typed_reason


def pack_shipment(
    shipment: Shipment,
    *,
    by: User,
    scans: list[str],
    weight_oz: Decimal,
    today: date | None = None,
    entry: str = ScanEntry.TYPED,
    typed_reason: str = "",
) -> Shipment:
    """A technician or pharmacist closes the package: every vial's label scanned, none
    from elsewhere, and its weight. In one transaction, the shipment row locked: the
    fills move to packed, the packaging rules are evaluated again for today (packaging,
    cold packs, signature, service, ship day), the shipment is packed and the purchase
    of its carrier label is recorded in the outbox (``shipping.buy_label``): a worker
    buys it and labels the package (``purchase_label``). Returns the packed shipment.

    Raises ShippingError: bad weight or no scans (400), an unknown code or entry (400),
    not awaiting packing, a role that may not pack (403), codes typed by someone other
    than a pharmacist (403) or without a reason, fills not ready, a vial of another order
    or another package's slip, vials missing, no service the rules allow, a refrigerated
    package before its ship day.
    """
    weight = _weight(weight_oz)
    codes = _scanned_codes(scans)
    typed_reason = _check_entry(entry, typed_reason, by=by)
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
        shipment.typed_codes_reason = typed_reason
        detail = f"Packed: {_plural(len(fills), 'vial')}, {weight} oz, {plan.packaging}"
        if typed_reason:
            detail += f"; vial codes typed by hand: {typed_reason}"
        _move(
            shipment,
            to=S.PACKED,
            by=by,
            detail=detail,
            update_fields=[
                *update_fields, "weight_oz", "packed_by", "packed_at", "typed_codes_reason"
            ],
        )  # fmt: skip
        _record_label_purchase(shipment)
    return shipment


def hand_over_to_carrier(shipments, *, by: User) -> int:
    """Hand labelled packages to their carrier (the driver's pick-up); returns how many
    were handed over (those not labelled are left as they are). In one transaction, the
    shipments locked in id order: their fills move to shipped and each patient's e-mail
    is recorded in the outbox (``shipping.shipped_email``). Raises ShippingError: a role
    that may not (a manager: fills are shipped by technicians and pharmacists), a fill
    that cannot move."""
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
            _record_patient_email(shipment)
            handed += 1
    return handed
