"""The fill step: a technician scans the stock bottle and enters the count, and the units
are dispensed from a lot through the stock ledger (``fill_with_scan``); and what the fill
station reads before that (the packages a fill may come from, the lot it suggests).

Choices where the issue is silent:

* Partial fills are split, not held: when stock is short the technician fills what there
  is (``partial=True``, so a miscount is never taken for a partial fill), that part goes on
  to PV2 and ships now, and the rest becomes a new fill of the same fill number
  (``partial_of``) in a new order of the patient, on hold as out of stock. The patient
  starts therapy now, nothing ships short without a record, and the remainder ships as
  soon as stock arrives and a technician releases and fills it.
* Lots must outlast the supply: usable until today + days supply +
  ``DISPENSE_EXPIRY_MARGIN_DAYS`` (the days in the mail).
* Nothing is taken on trust (issue 13): the count is always entered (never the fill's
  quantity by default), whole for counted units (tablets, capsules, each); the lot is
  the one the scan carries or one the technician typed, which the fill records as typed
  by hand (``lot_entered_by_hand``) for PV2 to check against the bottle; a lot expiring
  later than the suggested one (``suggest_lot``, first expiring first) needs a reason,
  kept on the fill (``rotation_reason``).
"""

from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from inventory.models import Package, StockLot
from inventory.ndc import Scan, ScanError, parse_scan
from inventory.services.stock import StockError, dispense_from_lot
from orders.models import Fill, FillScan, HoldReason, Order, Prescription, ScanEntry
from orders.services.fills import create_fill
from orders.services.labels import queue_rx_label
from orders.services.workflow.helpers import (
    DISPENSED_FIELDS,
    S,
    ScanRefused,
    WorkflowError,
    _check_move,
    _claim_quietly,
    _lock,
    _short_reason,
    move_locked_fill,
)
from orders.units import is_counted
from pharmacy.models import User

__all__ = ["fill_with_scan", "fillable_packages", "suggest_lot", "usable_until"]


def usable_until(fill: Fill, *, today: date | None = None) -> date:
    """The day a dispensed lot must outlast: the end of the supply plus the margin."""
    days = fill.days_supply or fill.prescription.days_supply or 30
    return (today or timezone.localdate()) + timedelta(
        days=days + settings.DISPENSE_EXPIRY_MARGIN_DAYS
    )


def _prescribed_package(prescription: Prescription, packages: list[Package]) -> Package | None:
    return next((p for p in packages if p.ndc11 == prescription.prescribed_ndc), None)


def fillable_packages(prescription: Prescription) -> list[Package]:
    """The packages the fill may come from: any package of the verified product, or only
    the prescribed one when the prescriber allowed no substitution (when the prescribed
    NDC is not a package of the product, the product's packages)."""
    if prescription.product_id is None:
        return []
    packages = list(Package.objects.filter(product_id=prescription.product_id))
    prescribed = _prescribed_package(prescription, packages)
    if not prescription.substitutions_allowed and prescribed is not None:
        return [prescribed]
    return packages


def _fefo_lot(packages: list[Package], *, quantity: Decimal, until: date) -> StockLot | None:
    """The first-expiring usable lot holding the whole quantity, else the usable lot
    holding the most (a partial fill takes as much as one bottle has). Usable is
    ``StockLotQuerySet.dispensable``, the rule ``dispense_from_lot`` checks too."""
    lots = StockLot.objects.filter(package__in=packages)
    whole = lots.dispensable(usable_until=until, quantity=quantity).first_expiring_first()
    fullest = lots.dispensable(usable_until=until).order_by("-quantity_on_hand", "expiry", "pk")
    return whole.first() or fullest.first()


def suggest_lot(fill: Fill) -> StockLot | None:
    """The lot the fill station suggests (FEFO): the first-expiring lot that may be
    dispensed for this fill and holds its whole quantity, else the fullest usable lot;
    None when no usable lot is in stock."""
    packages = fillable_packages(fill.prescription)
    if not packages:
        return None
    lot = _fefo_lot(packages, quantity=fill.quantity, until=usable_until(fill))
    if lot is not None:
        lot = StockLot.objects.select_related("package").get(pk=lot.pk)
    return lot


def _product_text(product) -> str:
    return product.full_description


def _strength_key(product) -> set[tuple]:
    return {
        (s.ingredient_id, s.strength.strip(), s.strength_unit.strip().lower())
        for s in product.strengths.all()
    }


def _check_product(prescription: Prescription, package: Package, scanned_ndc: str) -> None:
    """Refuse a package that is not the verified product (or, without substitution, not
    the prescribed package)."""
    product = prescription.product
    if package.product_id == product.pk:
        if not prescription.substitutions_allowed:
            prescribed = _prescribed_package(prescription, list(product.packages.all()))
            if prescribed is not None and prescribed.pk != package.pk:
                raise ScanRefused(
                    "substitution_not_allowed",
                    f"This is package {package.package_ndc}; the prescriber allowed no "
                    f"substitution, so only package {prescribed.package_ndc} may be used.",
                    ndc=scanned_ndc,
                )
        return
    scanned, prescribed = package.product, product
    ingredients = {key[0] for key in _strength_key(scanned)}
    if ingredients and ingredients == {key[0] for key in _strength_key(prescribed)}:
        same_form = scanned.dosage_form.strip().lower() == prescribed.dosage_form.strip().lower()
        if same_form and _strength_key(scanned) == _strength_key(prescribed):
            raise ScanRefused(
                "other_product",
                f"This bottle is {_product_text(scanned)} (NDC {package.package_ndc}), the "
                f"same drug from another product line; PV1 verified "
                f"{_product_text(prescribed)} (product NDC {prescribed.product_ndc}). Use "
                "that product, or send the fill back to change the prescription's drug.",
                ndc=scanned_ndc,
            )
        raise ScanRefused(
            "wrong_strength",
            f"Wrong strength or form: this bottle is {_product_text(scanned)} (NDC "
            f"{package.package_ndc}); the prescription is for {_product_text(prescribed)}.",
            ndc=scanned_ndc,
        )
    raise ScanRefused(
        "wrong_drug",
        f"Wrong drug: this bottle is {_product_text(scanned)} (NDC {package.package_ndc}); "
        f"the prescription is for {_product_text(prescribed)}. Put it back.",
        ndc=scanned_ndc,
    )


def _read_scan(raw: str) -> tuple[Package, Scan | None]:
    """The package a scan names, with what the scan says (lot, expiry, serial) when the
    scanner's text was read whole (None: a typed unhyphenated NDC10, or a DataMatrix
    whose GTIN is readable but not the rest). Raises ScanRefused (unreadable, unknown
    product)."""
    try:
        parsed = parse_scan(raw)
        packages = Package.objects.for_scan(parsed)
    except ScanError as error:
        try:
            packages, parsed = Package.objects.for_code(raw), None
        except ScanError:
            raise ScanRefused("scan_unreadable", str(error), 400) from None
    package = packages.select_related("product").first()
    if package is None:
        ndc = parsed.ndc if parsed else raw
        raise ScanRefused(
            "unknown_product",
            f"No product in the catalogue has the NDC {ndc}: this is not a package we stock.",
            ndc=ndc,
        )
    return package, parsed


def _quantity(value) -> Decimal:
    if value is None or not str(value).strip():
        raise ScanRefused(
            "quantity_required",
            "Count the units and enter the count: it is never filled in for you.",
            400,
        )
    try:
        quantity = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ScanRefused("invalid_quantity", f"{value!r} is not a quantity.", 400) from None
    if not quantity.is_finite() or quantity.as_tuple().exponent < -3:
        raise ScanRefused(
            "invalid_quantity", f"{value!r} is not a quantity (at most 3 decimals).", 400
        )
    return quantity


def _record_refused_scan(
    fill: Fill, step: str, raw: str, refused: ScanRefused, *, by, entry: str = ScanEntry.SCANNED
) -> None:
    """Keep a refused scan on record and claim the fill for the scanner, who is about to
    try again. Called after the step's transaction rolled back, so the record stays."""
    FillScan.objects.create(
        entry=entry,
        fill_id=fill.pk,
        step=step,
        raw=raw[:200],
        is_accepted=False,
        refusal_code=refused.code,
        message=refused.detail[:300],
        scanned_ndc=refused.scanned_ndc[:12],
        lot_number=refused.lot_number[:40],
        by=by,
    )
    _claim_quietly(fill.pk, by)


def fill_with_scan(
    fill: Fill,
    *,
    by: User,
    scan: str,
    quantity: Decimal,
    lot_number: str = "",
    partial: bool = False,
    rotation_reason: str = "",
) -> Fill:
    """A technician (or pharmacist) fills: scans the stock bottle and enters the count.

    The scan (GS1 DataMatrix, UPC-A, GTIN or typed NDC) must name the verified product
    (or, without substitution, the prescribed package). The lot is the one the
    DataMatrix carries, else ``lot_number`` as typed (recorded as typed by hand); a scan
    without a lot and no lot typed is refused (``lot_required``): the lot on the record
    is the bottle's, never a guess. A lot expiring later than the first-expiring usable
    one (``suggest_lot``) is refused without a ``rotation_reason``, kept on the fill.
    In one transaction: the units are dispensed from that lot through the stock ledger
    (``fill:<id>``), the package, NDC, lot, expiry, serial, quantity and filler are
    recorded, the scan is kept as accepted and the fill moves to PV2 (its label recorded
    again in the outbox: the dispensed product is printed on it).

    A count below the fill's quantity is refused unless ``partial`` says stock is short
    (and no usable lot holds the whole quantity): then the fill is split, see the module
    docstring. Raises WorkflowError for the state, role or claim (nothing recorded), and
    ScanRefused, recorded as a refused FillScan, for: an unreadable scan (400), an
    unknown product, another drug, strength, form or product, another package without
    substitution, an unknown, expired, quarantined or recalled lot or one expiring before
    the supply ends, short stock, no lot, a later lot without a reason, and a count that
    is missing, not more than 0, more than the fill's quantity or a fraction of a counted
    unit.
    """
    raw = (scan or "").strip()
    if not raw:
        raise WorkflowError(
            "scan_required", "Scan the stock bottle (or type its NDC) before filling.", 400
        )
    rotation_reason = _short_reason(rotation_reason)
    try:
        with transaction.atomic():
            locked = _lock(fill)
            _check_move(locked, to=S.PV2, by=by, expected_from=S.FILL)
            return _fill(
                locked,
                by=by,
                raw=raw,
                quantity=quantity,
                lot_number=(lot_number or "").strip(),
                partial=partial,
                rotation_reason=rotation_reason,
            )
    except ScanRefused as refused:
        _record_refused_scan(fill, FillScan.Step.FILL, raw, refused, by=by)
        raise


def _fill(
    fill: Fill,
    *,
    by: User,
    raw: str,
    quantity,
    lot_number: str,
    partial: bool,
    rotation_reason: str,
) -> Fill:
    """The fill step on the locked fill, in the caller's transaction: each step refuses
    (ScanRefused) before anything is written, in the order a technician fixes things:
    the bottle, the count, the lot, its rotation, the stock."""
    prescription = fill.prescription
    if prescription.product_id is None:
        raise WorkflowError(
            "drug_not_matched",
            f"Rx {prescription.rx_number} has no catalogue drug: send it back to intake.",
        )
    package, parsed = _read_bottle_scan(prescription, raw, lot_number=lot_number)
    until = usable_until(fill)
    quantity = _check_count(fill, quantity, partial=partial, until=until, ndc=package.package_ndc)
    lot, by_hand = _choose_lot(package, parsed, lot_number=lot_number, until=until)
    rotation = _check_rotation(fill, lot, quantity=quantity, until=until, reason=rotation_reason)
    lot = _take_stock(fill, lot, quantity=quantity, until=until, by=by, ndc=package.package_ndc)
    fill.lot_entered_by_hand = by_hand
    fill.rotation_reason = rotation
    return _record_filled(
        fill, package=package, parsed=parsed, lot=lot, quantity=quantity, raw=raw, by=by
    )


def _read_bottle_scan(
    prescription: Prescription, raw: str, *, lot_number: str
) -> tuple[Package, Scan | None]:
    """The package the scan names and what the scan says, refused unless it is the
    verified product (``_check_product``) and its lot is known: read from the scan, typed
    by the technician, or left to FEFO for a typed NDC10."""
    package, parsed = _read_scan(raw)
    ndc = package.package_ndc
    _check_product(prescription, package, ndc)
    typed_ndc10 = raw.isdigit() and len(raw) == 10
    if parsed is None and not typed_ndc10 and not lot_number:
        # A DataMatrix read only in part (a browser dropped its GS characters): the lot
        # it carries is unknown, and a guessed lot on the record would mislead a recall.
        raise ScanRefused(
            "lot_unreadable",
            f"The product ({ndc}) was read but not the lot: scan the bottle again, or type "
            "the lot number.",
            ndc=ndc,
        )
    return package, parsed


def _check_count(fill: Fill, value, *, partial: bool, until: date, ndc: str) -> Decimal:
    """The count entered, refused unless it is more than 0, whole for a counted unit
    (tablets, capsules, each) and at most the fill's quantity, and, when less, unless the
    technician says it is a partial fill and no usable lot holds the whole quantity."""
    unit = fill.prescription.quantity_unit
    quantity = _quantity(value)
    if quantity <= 0:
        raise ScanRefused(
            "invalid_quantity",
            f"The count must be more than 0, not {quantity.normalize():f}.",
            ndc=ndc,
        )
    product = fill.prescription.product
    if quantity != quantity.to_integral_value() and is_counted(
        unit, product.dosage_form if product else ""
    ):
        raise ScanRefused(
            "fractional_count",
            f"{quantity.normalize():f} is not a whole number: count whole units "
            f"({unit or 'each'}), never parts of one.",
            ndc=ndc,
        )
    if quantity > fill.quantity:
        raise ScanRefused(
            "quantity_over_prescribed",
            f"{quantity.normalize():f} is more than this fill's "
            f"{fill.quantity.normalize():f} {unit}.",
            ndc=ndc,
        )
    if quantity == fill.quantity:
        return quantity
    if not partial:
        raise ScanRefused(
            "short_count",
            f"You counted {quantity.normalize():f} of the {fill.quantity.normalize():f} "
            f"{unit} to fill. Count again; if stock is short, fill it as a partial fill.",
            ndc=ndc,
        )
    whole = _fefo_lot(fillable_packages(fill.prescription), quantity=fill.quantity, until=until)
    if whole is not None and whole.quantity_on_hand >= fill.quantity:
        raise ScanRefused(
            "stock_not_short",
            f"Lot {whole.lot_number} holds {whole.quantity_on_hand.normalize():f} usable "
            f"units: fill all {fill.quantity.normalize():f}, not a partial fill.",
            ndc=ndc,
        )
    return quantity


def _choose_lot(
    package: Package, parsed: Scan | None, *, lot_number: str, until: date
) -> tuple[StockLot, bool]:
    """The lot to dispense from and whether it was typed by hand: the one the scan
    carries, else the one typed; refused when neither says one, the scan and the typed
    lot disagree, the lot was never received, or the date printed on the bottle is past
    or before the supply ends."""
    ndc = package.package_ndc
    scanned_lot = parsed.lot if parsed else ""
    if scanned_lot and lot_number and scanned_lot != lot_number:
        raise ScanRefused(
            "lot_mismatch",
            f"The bottle scanned is lot {scanned_lot}, not lot {lot_number}.",
            ndc=ndc,
            lot=scanned_lot,
        )
    wanted_lot = scanned_lot or lot_number
    if not wanted_lot:
        raise ScanRefused(
            "lot_required",
            f"This scan of {ndc} carries no lot number: type the lot printed on the bottle "
            "in your hand (or scan its DataMatrix).",
            400,
            ndc=ndc,
        )
    lot = StockLot.objects.filter(package=package, lot_number=wanted_lot).first()
    if lot is None:
        raise ScanRefused(
            "unknown_lot",
            f"Lot {wanted_lot} of {ndc} was never received into stock; receive it "
            "first, or use a bottle from stock.",
            ndc=ndc,
            lot=wanted_lot,
        )
    if parsed and parsed.expiry is not None:
        # The date printed on the bottle counts as much as the one recorded at receipt.
        if parsed.expiry <= timezone.localdate():
            raise ScanRefused(
                "lot_expired",
                f"This bottle expired on {parsed.expiry}.",
                ndc=ndc,
                lot=lot.lot_number,
            )
        if parsed.expiry <= until:
            raise ScanRefused(
                "lot_expires_too_soon",
                f"This bottle expires on {parsed.expiry}, before the patient finishes this "
                f"supply ({until}); use a later-dated bottle.",
                ndc=ndc,
                lot=lot.lot_number,
            )
    return lot, not scanned_lot


def _check_rotation(
    fill: Fill, lot: StockLot, *, quantity: Decimal, until: date, reason: str
) -> str:
    """First expiring, first out: the rotation reason to keep ("" when the lot is the
    first-expiring usable one, the one ``suggest_lot`` shows). A lot expiring later than
    a usable lot that holds the count is refused (``rotation_reason_required``) until the
    technician says why (the earlier bottle is damaged, already opened elsewhere...)."""
    usable = StockLot.objects.filter(pk=lot.pk).dispensable(usable_until=until, quantity=quantity)
    if not usable.exists():
        return ""  # the ledger refuses this lot with its own reason (``_take_stock``)
    earlier = _fefo_lot(fillable_packages(fill.prescription), quantity=quantity, until=until)
    if earlier is None or earlier.pk == lot.pk or earlier.expiry >= lot.expiry:
        return ""
    if reason:
        return reason
    where = f"bin {earlier.location}" if earlier.location else "bin not recorded"
    raise ScanRefused(
        "rotation_reason_required",
        f"Lot {lot.lot_number} expires on {lot.expiry}, but lot {earlier.lot_number} "
        f"({where}) expires earlier, on {earlier.expiry}, and holds "
        f"{earlier.quantity_on_hand.normalize():f}: take that one, or say why you take "
        "this one.",
        ndc=lot.package.package_ndc if lot.package_id else "",
        lot=lot.lot_number,
    )


def _take_stock(
    fill: Fill, lot: StockLot, *, quantity: Decimal, until: date, by: User, ndc: str
) -> StockLot:
    """Dispense the units from the lot through the stock ledger (``fill:<id>``); returns
    the lot as dispensed from. The ledger's own checks (expired, quarantined, recalled,
    short) come back as ScanRefused with its code."""
    prescription = fill.prescription
    try:
        allocation = dispense_from_lot(
            lot,
            quantity=quantity,
            by=by,
            reference=fill.stock_reference,
            usable_until=until,
            reason=f"Rx {prescription.rx_number} fill {fill.fill_number}",
        )
    except StockError as error:
        raise ScanRefused(error.code, error.detail, ndc=ndc, lot=lot.lot_number) from None
    return allocation.lot


def _record_filled(
    fill: Fill,
    *,
    package: Package,
    parsed: Scan | None,
    lot: StockLot,
    quantity: Decimal,
    raw: str,
    by: User,
) -> Fill:
    """Record what went in the vial (package, NDC, lot, expiry, serial, count, filler)
    and the accepted scan, split off the remainder of a partial fill, move the fill to
    PV2 and record its label (and the remainder's) in the outbox."""
    ndc = package.package_ndc
    is_partial = quantity < fill.quantity
    fill.dispensed_package = package
    fill.dispensed_ndc = ndc
    fill.dispensed_quantity = quantity
    fill.stock_lot = lot
    fill.lot_number = lot.lot_number
    fill.expiry = lot.expiry
    fill.serial_number = (parsed.serial if parsed else "")[:40]
    fill.filled_by = by
    fill.filled_at = timezone.now()
    update_fields = list(DISPENSED_FIELDS)
    FillScan.objects.create(
        fill=fill,
        step=FillScan.Step.FILL,
        raw=raw[:200],
        is_accepted=True,
        scanned_ndc=ndc,
        lot_number=lot.lot_number,
        by=by,
    )
    reason = f"Filled: {quantity.normalize():f} from {ndc} lot {lot.lot_number}"
    if fill.lot_entered_by_hand:
        reason += " (lot typed by hand)"
    if fill.rotation_reason:
        reason += f"; later-expiring lot taken: {fill.rotation_reason}"
    if is_partial:
        remainder = _split_remainder(fill, filled=quantity, by=by)
        update_fields += ["quantity", "days_supply"]
        reason += (
            f"; partial fill, {remainder.quantity.normalize():f} to follow as fill {remainder.pk}"
        )
    move_locked_fill(fill, to=S.PV2, by=by, reason=reason, update_fields=update_fields)
    queue_rx_label(fill)
    if is_partial:
        queue_rx_label(remainder)  # verified at PV1 with the first part: it needs a label
    return fill


def _split_remainder(fill: Fill, *, filled: Decimal, by: User) -> Fill:
    """Split a partial fill: this fill keeps what was filled; the rest becomes a new fill
    (same number, ``partial_of`` this one) in a new order of the patient, on hold as out
    of stock until a technician releases it to the fill queue."""
    total = fill.quantity
    rest = total - filled
    days = fill.days_supply
    filled_days = max(1, int(days * filled / total)) if days else None
    remainder = create_fill(
        fill.prescription,
        by=by,
        order=Order.objects.create(patient_id=fill.order.patient_id) if fill.order else None,
        partial_of=fill,
        status=S.ON_HOLD,
        held_from_status=S.FILL,
        reason_code=HoldReason.OUT_OF_STOCK,
        reason=(
            f"Remainder of fill {fill.pk}: {filled.normalize():f} of {total.normalize():f} "
            f"filled, {rest.normalize():f} short"
        ),
        requested_via="partial_fill",
        quantity=rest,
        days_supply=max(1, days - filled_days) if days else None,
        priority=fill.priority,
        promised_on=fill.promised_on,
    )
    fill.quantity = filled
    fill.days_supply = filled_days
    return remainder
