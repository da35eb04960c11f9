"""Helpers shared by several inventory pages: the page size of long lists, quantities
as text, a purchase order's outstanding lines, and the package or lot a scan names."""

from decimal import Decimal

from django.db.models import F

from inventory.models import Package, PurchaseOrder, StockLot
from inventory.ndc import ScanError, parse_scan
from inventory.services.counts import find_lot
from inventory.services.stock import StockError

PAGE_SIZE = 50


def quantity_text(quantity: Decimal | None) -> str:
    return "" if quantity is None else f"{quantity.normalize():f}"


def order_lines(order: PurchaseOrder | None):
    if order is None:
        return []
    return order.lines.select_related("package__product").annotate(
        outstanding=F("quantity_ordered") - F("quantity_received")
    )


def package_of_code(text: str):
    """The package a scan or typed NDC names, and the scan; StockError with the reason."""
    try:
        scan = parse_scan(text)
    except ScanError as error:
        raise StockError("invalid_scan", str(error)) from None
    package = Package.objects.for_scan(scan).select_related("product").first()
    if package is None:
        raise StockError("unknown_package", f"No package in the catalogue has NDC {scan.ndc}.")
    return package, scan


def lot_of_scan(text: str, lot_number: str) -> StockLot:
    """The lot a scan (DataMatrix: NDC and lot) or a typed NDC plus lot number names.
    Raises StockError with the reason."""
    package, scan = package_of_code(text)
    if scan.lot and lot_number.strip() and scan.lot != lot_number.strip():
        raise StockError("lot_mismatch", f"The scan says lot {scan.lot}, not {lot_number}.")
    lot_number = scan.lot or lot_number
    if not lot_number.strip():
        raise StockError("lot_required", "Type the lot number: this code does not carry it.")
    return find_lot(package, lot_number)
