"""Purchase orders and receiving: deliveries put on the shelf, discrepancies kept.

A delivery is received in one transaction by ``receive_stock``: every line is checked
first (the package is known and its size too, the scan is readable, the lot and expiry
are present and the lot is not expired, whole packages), so a bad line refuses the whole
delivery with every problem named and nothing written. Then the purchase order is locked,
then the lots in primary-key order (the rules of ``inventory.services.stock``), each
lot's units go up with F() and a RECEIPT row in the ledger, and the purchase order's
lines count the packages. A difference between what was ordered and what came is a
ReceivingDiscrepancy row: received but not ordered, or more than ordered, at receipt;
short, when the order is closed.
"""

import calendar
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from inventory.models import (
    PURCHASE_ORDER_MOVES,
    Package,
    PurchaseOrder,
    PurchaseOrderEvent,
    PurchaseOrderLine,
    Receipt,
    ReceiptLine,
    ReceivingDiscrepancy,
    StockLot,
    StockMovement,
    Supplier,
)
from inventory.ndc import InvalidNDCError, ScanError, normalize_ndc_input, parse_scan
from inventory.services.counts import is_schedule_ii, require_pharmacist, require_witness
from inventory.services.stock import StockError
from inventory.services.suppliers import SupplierError, find_supplier

_YEAR_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
LOT_NUMBER_MAX = StockLot._meta.get_field("lot_number").max_length
SERIAL_MAX = 40


class ReceivingError(StockError):
    """A delivery refused for bad input; ``fields`` names each problem where it is, in the
    shape DRF gives its own errors: ``{"lines": [{}, {"scan": ["..."]}], "supplier": [...]}``.
    """

    def __init__(self, code: str, detail: str, *, fields: dict | None = None):
        super().__init__(code, detail)
        self.fields = fields or {}


@dataclass(frozen=True)
class ReceiptLineInput:
    """One line of a delivery as a person or a system gave it.

    ``scan`` is the raw text of a barcode (a GS1 DataMatrix carries lot, expiry and
    serial too) and ``ndc`` a typed NDC; one of the two. ``packages`` is how many
    packages of the NDC arrived, as typed (it must be a positive whole number);
    ``expiry`` a date or text as YYYY-MM-DD or YYYY-MM (the end of that month);
    ``serials`` serial numbers typed or scanned before (a DataMatrix scan adds its own).
    """

    scan: str = ""
    ndc: str = ""
    lot: str = ""
    expiry: date | str | None = None
    packages: object = 1
    serials: Sequence[str] = ()
    location: str = ""


@dataclass
class _Line:
    index: int
    package: Package
    lot_number: str
    expiry: date
    packages: int
    serials: list[str] = field(default_factory=list)
    location: str = ""


# --------------------------------------------------------------------------- parsing


def parse_expiry(value: date | str | None) -> date:
    """A lot's expiry from a date or from text as YYYY-MM-DD or YYYY-MM (the month's last
    day, as drug labels mean it). Raises ValueError with a sentence for people."""
    if isinstance(value, date):
        return value
    text = (value or "").strip()
    if not text:
        raise ValueError("The expiry date is missing: type it as on the label (YYYY-MM-DD).")
    match = _YEAR_MONTH.match(text)
    try:
        if match:
            year, month = int(match[1]), int(match[2])
            return date(year, month, calendar.monthrange(year, month)[1])
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a date: write the expiry as YYYY-MM-DD, or YYYY-MM for the "
            "end of that month."
        ) from None


def parse_packages(value: object) -> int:
    """A number of packages: a positive whole number. Raises ValueError otherwise."""
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValueError(f"{value!r} is not a number of packages.") from None
    if not number.is_finite():
        raise ValueError(f"{value!r} is not a number of packages.")
    shown = f"{number.normalize():f}"
    if number <= 0:
        raise ValueError(f"The number of packages must be more than zero, not {shown}.")
    if number != number.to_integral_value():
        raise ValueError(f"Packages are received whole: {shown} is not a whole number.")
    return int(number)


def _package_of(given: ReceiptLineInput, errors: dict) -> tuple[Package | None, object]:
    """The package a line names, and its scan if it was scanned; errors go in ``errors``."""
    scan = None
    if given.scan.strip() and given.ndc.strip():
        errors["ndc"] = ["Give either a scan or an NDC, not both."]
        return None, None
    if given.scan.strip():
        try:
            scan = parse_scan(given.scan)
        except ScanError as error:
            errors["scan"] = [str(error)]
            return None, None
        package = Package.objects.for_scan(scan).select_related("product").first()
        if package is None:
            errors["scan"] = [f"No package in the catalogue has the NDC {scan.ndc} of this scan."]
        return package, scan
    if given.ndc.strip():
        try:
            ndc11 = normalize_ndc_input(given.ndc)
        except InvalidNDCError as error:
            errors["ndc"] = [str(error)]
            return None, None
        package = Package.objects.filter(ndc11=ndc11).select_related("product").first()
        if package is None:
            errors["ndc"] = [f"No package in the catalogue has the NDC {given.ndc.strip()}."]
        return package, None
    errors["scan"] = ["Scan the package or type its NDC."]
    return None, None


def _check_line(index: int, given: ReceiptLineInput, today: date) -> tuple[_Line | None, dict]:
    errors: dict[str, list[str]] = {}
    package, scan = _package_of(given, errors)
    where = "ndc" if given.ndc.strip() else "scan"
    if package is not None and (package.quantity is None or package.quantity <= 0):
        errors[where] = [
            f"The catalogue does not say how many units a package of {package.package_ndc} "
            "holds; set its size in the catalogue before receiving it."
        ]

    # An unreadable scan may have carried the lot and expiry: only it is reported then.
    unreadable = bool(given.scan.strip()) and scan is None
    lot_number = given.lot.strip()
    if scan is not None and scan.lot:
        if lot_number and lot_number != scan.lot:
            errors["lot"] = [f"The scan says lot {scan.lot}, not {lot_number}."]
        lot_number = scan.lot
    if not lot_number:
        if not unreadable:
            errors.setdefault("lot", ["The lot number is missing: type it as on the label."])
    elif len(lot_number) > LOT_NUMBER_MAX:
        errors.setdefault("lot", [f"A lot number has at most {LOT_NUMBER_MAX} characters."])

    expiry = None
    if scan is not None and scan.expiry is not None:
        expiry = scan.expiry
        if given.expiry not in (None, ""):
            try:
                typed = parse_expiry(given.expiry)
            except ValueError as error:
                errors["expiry"] = [str(error)]
            else:
                if typed != expiry:
                    errors["expiry"] = [f"The scan says the lot expires on {expiry}, not {typed}."]
    elif not (unreadable and given.expiry in (None, "")):
        try:
            expiry = parse_expiry(given.expiry)
        except ValueError as error:
            errors["expiry"] = [str(error)]
    if expiry is not None and "expiry" not in errors and expiry <= today:
        errors["expiry"] = [
            f"Lot {lot_number or '(no number)'} expired on {expiry}: expired stock is not "
            "received; set it aside for return to the supplier."
        ]

    try:
        packages = parse_packages(given.packages)
    except ValueError as error:
        errors["quantity"] = [str(error)]
        packages = 0

    serials = [scan.serial if scan else "", *(serial.strip() for serial in given.serials)]
    serials = list(dict.fromkeys(serial for serial in serials if serial))
    if any(len(serial) > SERIAL_MAX for serial in serials):
        errors["serial"] = [f"A serial number has at most {SERIAL_MAX} characters."]
    if serials and packages and len(serials) > packages:
        errors["serial"] = [f"{len(serials)} serial numbers for {packages} package(s)."]

    if errors:
        return None, errors
    return (
        _Line(index, package, lot_number, expiry, packages, serials, given.location.strip()),
        errors,
    )


def _check_lines(given: Sequence[ReceiptLineInput]) -> list[_Line]:
    """Every line checked, or ReceivingError naming every problem of every line."""
    if not given:
        raise ReceivingError(
            "invalid_receipt",
            "A receipt needs at least one line: scan the packages that arrived.",
            fields={"lines": ["A receipt needs at least one line."]},
        )
    today = timezone.localdate()
    lines, errors = [], []
    for index, line_input in enumerate(given):
        line, line_errors = _check_line(index, line_input, today)
        errors.append(line_errors)
        if line is not None:
            lines.append(line)

    # Across lines: one lot has one expiry, and a serial number is one package.
    expiry_of: dict[tuple[int, str], date] = {}
    serials_seen: dict[tuple[int, str], int] = {}
    for line in lines:
        key = (line.package.pk, line.lot_number)
        if expiry_of.setdefault(key, line.expiry) != line.expiry:
            errors[line.index]["expiry"] = [
                f"Lot {line.lot_number} is given two expiry dates in this delivery "
                f"({expiry_of[key]} and {line.expiry})."
            ]
        for serial in line.serials:
            first = serials_seen.setdefault((line.package.pk, serial), line.index)
            if first != line.index:
                errors[line.index]["serial"] = [
                    f"Serial number {serial} is scanned twice in this delivery (line {first + 1})."
                ]
    for line in lines:
        if line.serials and not errors[line.index]:
            earlier = (
                StockMovement.objects.filter(
                    kind=StockMovement.Kind.RECEIPT,
                    lot__package=line.package,
                    serial_numbers__overlap=line.serials,
                )
                .values_list("serial_numbers", flat=True)
                .first()
            )
            if earlier is not None:
                repeated = sorted(set(earlier) & set(line.serials))
                errors[line.index]["serial"] = [
                    f"Serial number {', '.join(repeated)} of {line.package.package_ndc} was "
                    "received before: the same package cannot arrive twice."
                ]

    if any(errors):
        raise _line_errors(errors)
    return lines


def _line_errors(errors: list[dict]) -> ReceivingError:
    problems = [
        f"line {index + 1}: {' '.join(messages[0] for messages in line_errors.values())}"
        for index, line_errors in enumerate(errors)
        if line_errors
    ]
    count = len(problems)
    return ReceivingError(
        "invalid_receipt",
        f"{count} line{'s' if count != 1 else ''} cannot be received; nothing was received. "
        + "; ".join(problems[:5])
        + ("" if count <= 5 else f"; and {count - 5} more."),
        fields={"lines": errors},
    )


# --------------------------------------------------------------------------- purchase orders


def transition_purchase_order(
    purchase_order: PurchaseOrder, to_status: str, *, by, note: str = ""
) -> PurchaseOrder:
    """Move a purchase order to ``to_status`` if PURCHASE_ORDER_MOVES allows it, with
    its event row. The caller holds the order's row lock (or this takes it).

    Raises StockError ``purchase_order_<status>`` when the move is not allowed.
    """
    with transaction.atomic():
        current = PurchaseOrder.objects.select_for_update().get(pk=purchase_order.pk)
        if to_status not in PURCHASE_ORDER_MOVES[current.status]:
            raise StockError(
                f"purchase_order_{current.status}",
                f"{current} is {current.get_status_display().lower()}; it cannot become "
                f"{PurchaseOrder.Status(to_status).label.lower()}.",
            )
        PurchaseOrderEvent.objects.create(
            purchase_order=current, from_status=current.status, to_status=to_status, by=by,
            note=note[:255],
        )  # fmt: skip
        purchase_order.status = to_status
        purchase_order.save(update_fields=["status"])
        return purchase_order


def create_purchase_order(
    supplier: Supplier,
    *,
    lines: Sequence[tuple[Package, object]],
    by,
    number: str = "",
    ordered_on: date | None = None,
    expected_on: date | None = None,
    note: str = "",
) -> PurchaseOrder:
    """An open purchase order to a supplier for whole packages of each package NDC.

    The number is ``PO-<id>`` unless given. Raises StockError for an inactive supplier,
    no lines, an NDC listed twice, or a quantity that is not a positive whole number.
    """
    if not supplier.is_active:
        raise StockError("supplier_inactive", f"{supplier} is not an active supplier.")
    if not lines:
        raise StockError("no_lines", "A purchase order needs at least one line.")
    quantities: dict[int, int] = {}
    for package, quantity in lines:
        if package.pk in quantities:
            raise StockError(
                "duplicate_line", f"{package.package_ndc} is listed twice; list each NDC once."
            )
        try:
            quantities[package.pk] = parse_packages(quantity)
        except ValueError as error:
            raise StockError("invalid_quantity", f"{package.package_ndc}: {error}") from None
    number = number.strip()
    if number and PurchaseOrder.objects.filter(number=number).exists():
        raise StockError("duplicate_number", f"A purchase order numbered {number} exists.")
    with transaction.atomic():
        purchase_order = PurchaseOrder.objects.create(
            number=number or f"new-{uuid.uuid4().hex[:24]}",
            supplier=supplier,
            ordered_on=ordered_on or timezone.localdate(),
            expected_on=expected_on,
            note=note,
            created_by=by,
        )
        if not number:
            purchase_order.number = f"PO-{purchase_order.pk:06d}"
            purchase_order.save(update_fields=["number"])
        PurchaseOrderLine.objects.bulk_create(
            PurchaseOrderLine(
                purchase_order=purchase_order, package_id=package_id, quantity_ordered=quantity
            )
            for package_id, quantity in quantities.items()
        )
        return purchase_order


def close_purchase_order(purchase_order: PurchaseOrder, *, by, note: str = "") -> PurchaseOrder:
    """Close a purchase order: nothing more will arrive. Every line still short is kept as
    a ``short_at_close`` discrepancy. Locks the order. Raises StockError when the order
    is closed or cancelled already."""
    with transaction.atomic():
        locked = PurchaseOrder.objects.select_for_update().get(pk=purchase_order.pk)
        transition_purchase_order(locked, PurchaseOrder.Status.CLOSED, by=by, note=note)
        ReceivingDiscrepancy.objects.bulk_create(
            ReceivingDiscrepancy(
                purchase_order=locked,
                package_id=line.package_id,
                kind=ReceivingDiscrepancy.Kind.SHORT_AT_CLOSE,
                quantity_ordered=line.quantity_ordered,
                quantity_received=line.quantity_received,
                note=note[:255],
                recorded_by=by,
            )
            for line in locked.lines.filter(quantity_received__lt=F("quantity_ordered"))
        )
        purchase_order.status = locked.status
        return purchase_order


def cancel_purchase_order(purchase_order: PurchaseOrder, *, by, note: str = "") -> PurchaseOrder:
    """Cancel an order nothing has been received against. Raises StockError otherwise."""
    return transition_purchase_order(
        purchase_order, PurchaseOrder.Status.CANCELLED, by=by, note=note
    )


def resolve_discrepancy(
    discrepancy: ReceivingDiscrepancy, *, by, resolution: str, witness=None
) -> ReceivingDiscrepancy:
    """Record how a receiving discrepancy was settled (credit, back order, return).

    For a schedule II package the person resolving it is a pharmacist and another person
    witnesses it. Claims the row with a conditional UPDATE, so it is resolved once.
    Raises StockError when it is resolved already or the resolution is empty.
    """
    resolution = resolution.strip()
    if not resolution:
        raise StockError("resolution_required", "Say how the discrepancy was settled.")
    package = Package.objects.select_related("product").get(pk=discrepancy.package_id)
    if is_schedule_ii(package):
        # Any schedule II discrepancy needs a pharmacist and a witness.
        require_pharmacist(by, why="Resolving a schedule II discrepancy")
        require_witness(witness, by=by, why="Resolving a schedule II discrepancy")
    now = timezone.now()
    claimed = ReceivingDiscrepancy.objects.filter(
        pk=discrepancy.pk, resolved_at__isnull=True
    ).update(resolved_at=now, resolved_by=by, resolution=resolution[:255])
    if not claimed:
        raise StockError("already_resolved", "This discrepancy has been resolved already.")
    discrepancy.refresh_from_db()
    return discrepancy


# --------------------------------------------------------------------------- receiving


def _check_order(
    supplier: Supplier | int | str | None, purchase_order: PurchaseOrder | None
) -> Supplier:
    if supplier is not None and not isinstance(supplier, Supplier):
        try:
            supplier = find_supplier(supplier)
        except SupplierError as error:
            raise ReceivingError(
                "invalid_receipt",
                f"{error.detail} Nothing was received.",
                fields={"supplier": [error.detail]},
            ) from None
    if purchase_order is not None:
        if supplier is not None and supplier.pk != purchase_order.supplier_id:
            raise ReceivingError(
                "invalid_receipt",
                f"{purchase_order} is from {purchase_order.supplier}, not {supplier}.",
                fields={
                    "purchase_order": [
                        f"{purchase_order} is from {purchase_order.supplier}, not {supplier}."
                    ]
                },
            )
        supplier = purchase_order.supplier
    if supplier is None:
        raise ReceivingError(
            "invalid_receipt",
            "Say which supplier the delivery is from.",
            fields={"supplier": ["Choose the supplier (or the purchase order) of the delivery."]},
        )
    if not supplier.is_active:
        raise ReceivingError(
            "invalid_receipt",
            f"{supplier} is not an active supplier.",
            fields={"supplier": [f"{supplier} is not an active supplier."]},
        )
    return supplier


def _lock_lots(lines: list[_Line]) -> dict[tuple[int, str], StockLot]:
    """Create the lots that do not exist yet, then lock all of them in primary-key order.

    INSERT ... ON CONFLICT DO NOTHING in (package, lot number) order: two deliveries of the
    same new lot queue on the unique index instead of failing, and always in one order.
    """
    first = {}
    for line in sorted(lines, key=lambda line: (line.package.pk, line.lot_number)):
        first.setdefault((line.package.pk, line.lot_number), line)
    StockLot.objects.bulk_create(
        [
            StockLot(
                package=line.package,
                lot_number=line.lot_number,
                expiry=line.expiry,
                location=line.location,
            )
            for line in first.values()
        ],
        ignore_conflicts=True,
    )
    match = Q()
    for package_id, lot_number in first:
        match |= Q(package_id=package_id, lot_number=lot_number)
    lots = StockLot.objects.filter(match).order_by("pk").select_for_update(of=("self",))
    return {(lot.package_id, lot.lot_number): lot for lot in lots}


def receive_stock(
    lines: Sequence[ReceiptLineInput],
    *,
    by,
    supplier: Supplier | int | str | None = None,
    purchase_order: PurchaseOrder | None = None,
    note: str = "",
) -> Receipt:
    """Put a delivery on the shelf: one Receipt, one ledger row per lot, PO lines counted.

    The supplier is a Supplier, its id or its exact name (``find_supplier``: trimmed, any
    case), and must be active; it may be left out when a purchase order is given (it is
    the order's).
    Lines of the same lot are merged into one ledger row carrying all their serials.
    A lot that exists keeps its expiry: a delivery that says otherwise is refused.
    Locks the purchase order, then the lots in primary-key order.

    Raises ReceivingError (``invalid_receipt``, with ``fields``) for bad input (an
    unknown or inactive supplier among it) and
    StockError ``purchase_order_<status>`` when the order takes no more receipts;
    either way nothing is written.
    """
    # Every problem is named at once: the order's and the lines'.
    order_error = None
    try:
        supplier = _check_order(supplier, purchase_order)
    except ReceivingError as error:
        order_error = error
    try:
        checked = _check_lines(lines)
    except ReceivingError as error:
        if order_error is not None:
            error.fields.update(order_error.fields)
        raise
    if order_error is not None:
        raise order_error

    with transaction.atomic():
        if purchase_order is not None:
            purchase_order = (
                PurchaseOrder.objects.select_for_update(of=("self",))
                .select_related("supplier")
                .get(pk=purchase_order.pk)
            )
            if not purchase_order.accepts_receipts:
                raise StockError(
                    f"purchase_order_{purchase_order.status}",
                    f"{purchase_order} is {purchase_order.get_status_display().lower()}: it "
                    "takes no more deliveries. Receive without the order, or ask a manager.",
                )
        lots = _lock_lots(checked)
        errors: list[dict] = [{} for _ in lines]
        for line in checked:
            lot = lots[(line.package.pk, line.lot_number)]
            if lot.expiry != line.expiry:
                errors[line.index]["expiry"] = [
                    f"Lot {lot.lot_number} of {line.package.package_ndc} is on the shelf with "
                    f"expiry {lot.expiry}, not {line.expiry}: check the label."
                ]
            elif lot.status == StockLot.Status.RECALLED:
                errors[line.index]["lot"] = [
                    f"Lot {lot.lot_number} of {line.package.package_ndc} is recalled: do not "
                    "shelve it; set it aside for return."
                ]
        if any(errors):
            raise _line_errors(errors)

        receipt = Receipt.objects.create(
            supplier=supplier, purchase_order=purchase_order, received_by=by, note=note[:255]
        )
        order_lines = _count_on_order(receipt, checked, by=by) if purchase_order else {}

        merged: dict[tuple[int, str], list[_Line]] = {}
        for line in checked:
            merged.setdefault((line.package.pk, line.lot_number), []).append(line)
        for key, same_lot in merged.items():
            lot = lots[key]
            package = same_lot[0].package
            packages = sum(line.packages for line in same_lot)
            units = package.quantity * packages
            StockLot.objects.filter(pk=lot.pk).update(
                quantity_on_hand=F("quantity_on_hand") + units
            )
            order_line = order_lines.get(package.pk)
            movement = StockMovement.objects.create(
                lot=lot,
                kind=StockMovement.Kind.RECEIPT,
                quantity_change=units,
                reason=f"Received from {supplier}"[:255],
                reference=receipt.reference,
                purchase_order_line=order_line,
                serial_numbers=[serial for line in same_lot for serial in line.serials],
                actor=by,
            )
            ReceiptLine.objects.create(
                receipt=receipt, lot=lot, purchase_order_line=order_line, packages=packages,
                movement=movement,
            )  # fmt: skip

        if purchase_order is not None:
            outstanding = purchase_order.lines.filter(
                quantity_received__lt=F("quantity_ordered")
            ).exists()
            status = (
                PurchaseOrder.Status.PARTIALLY_RECEIVED
                if outstanding
                else PurchaseOrder.Status.RECEIVED
            )
            if status != purchase_order.status:
                transition_purchase_order(
                    purchase_order, status, by=by, note=f"Receipt {receipt.pk}"
                )
        return receipt


def _count_on_order(receipt: Receipt, lines: list[_Line], *, by) -> dict[int, PurchaseOrderLine]:
    """Add the delivery's packages to its order's lines (the order is locked) and record
    what was not ordered, or more than ordered. Returns the order line of each package."""
    purchase_order = receipt.purchase_order
    arrived: dict[int, int] = {}
    for line in lines:
        arrived[line.package.pk] = arrived.get(line.package.pk, 0) + line.packages
    order_lines = {line.package_id: line for line in purchase_order.lines.all()}
    discrepancies = []
    for package_id, packages in arrived.items():
        order_line = order_lines.get(package_id)
        if order_line is None:
            order_line = PurchaseOrderLine.objects.create(
                purchase_order=purchase_order, package_id=package_id, quantity_ordered=0
            )
            order_lines[package_id] = order_line
        PurchaseOrderLine.objects.filter(pk=order_line.pk).update(
            quantity_received=F("quantity_received") + packages
        )
        order_line.refresh_from_db(fields=["quantity_received"])
        if order_line.quantity_ordered == 0:
            kind = ReceivingDiscrepancy.Kind.NOT_ORDERED
        elif order_line.quantity_received > order_line.quantity_ordered:
            kind = ReceivingDiscrepancy.Kind.OVER_RECEIVED
        else:
            continue
        discrepancies.append(
            ReceivingDiscrepancy(
                purchase_order=purchase_order,
                package_id=package_id,
                kind=kind,
                quantity_ordered=order_line.quantity_ordered,
                quantity_received=order_line.quantity_received,
                receipt=receipt,
                recorded_by=by,
            )
        )
    ReceivingDiscrepancy.objects.bulk_create(discrepancies)
    return order_lines


def package_for_scan(text: str):
    """The package a scan (or typed NDC) names and what the scan says, for the receiving
    page to show a line as soon as it is scanned. Raises StockError with the reason."""
    errors: dict[str, list[str]] = {}
    package, scan = _package_of(ReceiptLineInput(scan=text), errors)
    if errors:
        raise StockError("invalid_scan", next(iter(errors.values()))[0])
    if package.quantity is None or package.quantity <= 0:
        raise StockError(
            "package_size_unknown",
            f"The catalogue does not say how many units a package of {package.package_ndc} "
            "holds; set its size in the catalogue before receiving it.",
        )
    return package, scan
