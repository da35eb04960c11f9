"""The receiving station: scan each package of a delivery, check lot, expiry and
packages, and receive them all at once; and a receipt's page."""

import re
import uuid

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.utils import timezone
from django.utils.html import format_html
from django.views.decorators.http import require_POST
from django_htmx.http import reswap, retarget

from inventory.forms import ReceiptForm, ReceivingScanForm
from inventory.models import Package, PurchaseOrder, Receipt, StockMovement
from inventory.services.receiving import (
    ReceiptLineInput,
    ReceivingError,
    package_for_scan,
    receive_stock,
)
from inventory.services.stock import StockError
from inventory.views._common import order_lines


def _receiving_rows(data) -> list[dict]:
    """The scanned rows of the receiving page, as its form posts them (one value per row in
    each ``line_*`` list), with their package from the catalogue."""
    columns = zip(
        data.getlist("line_id"),
        data.getlist("line_ndc"),
        data.getlist("line_lot"),
        data.getlist("line_expiry"),
        data.getlist("line_packages"),
        data.getlist("line_serials"),
        strict=False,
    )
    rows = [
        {
            "id": row_id,
            "ndc": ndc,
            "lot": lot.strip(),
            "expiry": expiry.strip(),
            "packages": packages.strip(),
            "serials": serials.split(),
            "errors": {},
        }
        for row_id, ndc, lot, expiry, packages, serials in columns
    ]
    packages = Package.objects.select_related("product").in_bulk(
        {row["ndc"] for row in rows}, field_name="package_ndc"
    )
    for row in rows:
        row["package"] = packages.get(row["ndc"])
    return rows


# What each field of a receipt line is called on the page.
RECEIVING_FIELD_LABELS = {
    "scan": "Package",
    "ndc": "Package",
    "lot": "Lot",
    "expiry": "Expiry",
    "quantity": "Packages",
    "serial": "Serial",
}


def _row_id(package: Package, lot: str) -> str:
    if not lot:
        return f"line-{package.ndc10}-{uuid.uuid4().hex[:8]}"
    return f"line-{package.ndc10}-{re.sub(r'[^A-Za-z0-9]', '_', lot)}"


def _receiving_page(request, *, form, rows, status=200):
    if form.is_bound:
        order = getattr(form, "cleaned_data", {}).get("purchase_order")
    else:
        order = form.initial.get("purchase_order")
    return render(
        request,
        "inventory/receiving.html",
        {
            "scan_form": ReceivingScanForm(),
            "form": form,
            "rows": rows,
            "order": order,
            "order_lines": order_lines(order),
        },
        status=status,
    )


@permission_required("inventory.add_receipt", raise_exception=True)
def receiving(request):
    """The receiving station: scan each package, check lot, expiry and packages, receive.

    The scanned rows live in the page (each scan posts to ``receiving_scan``, which sends
    back the row); "Receive" posts them all to ``receive_stock`` at once.
    """
    if request.method != "POST":
        initial = {}
        order_id = request.GET.get("purchase_order", "")
        if order_id.isdigit():
            initial["purchase_order"] = (
                PurchaseOrder.objects.filter(pk=order_id).select_related("supplier").first()
            )
        return _receiving_page(request, form=ReceiptForm(initial=initial), rows=[])

    form = ReceiptForm(request.POST)
    rows = _receiving_rows(request.POST)
    if not form.is_valid():
        return _receiving_page(request, form=form, rows=rows, status=400)
    lines = [
        ReceiptLineInput(
            ndc=row["ndc"],
            lot=row["lot"],
            expiry=row["expiry"] or None,
            packages=row["packages"],
            serials=row["serials"],
        )
        for row in rows
    ]
    try:
        receipt = receive_stock(
            lines,
            supplier=form.cleaned_data["supplier"],
            purchase_order=form.cleaned_data["purchase_order"],
            by=request.user,
            note=form.cleaned_data["note"],
        )
    except ReceivingError as refused:
        line_errors = refused.fields.get("lines")
        if line_errors and isinstance(line_errors[0], dict):
            for row, errors in zip(rows, line_errors, strict=False):
                row["errors"] = {
                    RECEIVING_FIELD_LABELS.get(name, name): messages_[0]
                    for name, messages_ in errors.items()
                }
            bad = sum(1 for errors in line_errors if errors)
            form.add_error(
                None,
                f"{bad} line{pluralize(bad)} cannot be received; nothing was received. "
                "Correct the marked lines.",
            )
        elif line_errors:
            form.add_error(None, "Scan the packages of the delivery first.")
        for name in ("supplier", "purchase_order"):
            for message in refused.fields.get(name, []):
                form.add_error(name, message)
        return _receiving_page(request, form=form, rows=rows, status=400)
    except StockError as refused:
        form.add_error(None, refused.detail)
        return _receiving_page(request, form=form, rows=rows, status=409)
    lines_received = list(receipt.lines.all())
    messages.success(
        request,
        f"Received {sum(line.packages for line in lines_received)} "
        f"package{pluralize(sum(line.packages for line in lines_received))} in "
        f"{len(lines_received)} lot{pluralize(len(lines_received))}.",
    )
    return redirect("receipt_detail", pk=receipt.pk)


def _scan_status(request, message: str, *, error: bool):
    """The scan field's status line; an error takes the place of the row (htmx retarget)."""
    css = "error" if error else "ok"
    html = format_html('<span class="{}" data-testid="scan-status">{}</span>', css, message)
    response = HttpResponse(html)
    if error:
        response = reswap(retarget(response, "#scan-status"), "innerHTML")
    return response


@require_POST
@permission_required("inventory.add_receipt", raise_exception=True)
def receiving_scan(request):
    """One scan at the receiving station: the new row, or the row it adds a package to.

    A DataMatrix of a lot already in the list adds a package (and its serial) to that
    row; a serial scanned twice, an unknown package or an expired lot is said at once.
    """
    text = request.POST.get("scan", "")
    try:
        package, scan = package_for_scan(text)
    except StockError as refused:
        return _scan_status(request, refused.detail, error=True)
    today = timezone.localdate()
    lot = scan.lot if scan else ""
    expiry = scan.expiry if scan else None
    serial = scan.serial if scan else ""
    if expiry is not None and expiry <= today:
        return _scan_status(
            request,
            f"Lot {lot} of {package.package_ndc} expired on {expiry}: do not receive it; set "
            "it aside for return to the supplier.",
            error=True,
        )
    rows = _receiving_rows(request.POST)
    if serial and any(serial in row["serials"] and row["ndc"] == package.package_ndc
                      for row in rows):  # fmt: skip
        return _scan_status(
            request, f"Serial number {serial} is in the list already: scanned twice?", error=True
        )
    if (
        serial
        and StockMovement.objects.filter(
            kind=StockMovement.Kind.RECEIPT, lot__package=package, serial_numbers__contains=[serial]
        ).exists()
    ):
        return _scan_status(
            request,
            f"Serial number {serial} of {package.package_ndc} was received before: the same "
            "package cannot arrive twice. Set it aside.",
            error=True,
        )
    same = next(
        (row for row in rows if lot and row["ndc"] == package.package_ndc and row["lot"] == lot),
        None,
    )
    if same is not None:
        row = {**same, "packages": str(_whole_number(same["packages"]) + 1)}
        row["serials"] = [*same["serials"], serial] if serial else same["serials"]
    else:
        row = {
            "id": _row_id(package, lot),
            "ndc": package.package_ndc,
            "package": package,
            "lot": lot,
            "expiry": expiry.isoformat() if expiry else "",
            "packages": "1",
            "serials": [serial] if serial else [],
            "errors": {},
        }
    status = (
        f"{package.package_ndc} {package.product.display_name}"
        + (f", lot {lot}" if lot else ": type the lot and expiry")
        + f" — {row['packages']} package{pluralize(int(row['packages']))}."
    )
    return render(
        request,
        "inventory/receiving_row.html",
        {"row": row, "oob": same is not None, "just_scanned": True, "status": status},
    )


def _whole_number(text: str) -> int:
    try:
        return max(int(text), 0)
    except (TypeError, ValueError):
        return 0


@permission_required("inventory.add_receipt", raise_exception=True)
def receiving_order(request):
    """The lines of the purchase order chosen on the receiving page (htmx panel)."""
    order_id = request.GET.get("purchase_order", "")
    order = None
    if order_id.isdigit():
        order = PurchaseOrder.objects.filter(pk=order_id).select_related("supplier").first()
    return render(
        request,
        "inventory/receiving_order.html",
        {"order": order, "order_lines": order_lines(order)},
    )


@permission_required("inventory.view_receipt", raise_exception=True)
def receipt_detail(request, pk: int):
    receipt = get_object_or_404(
        Receipt.objects.select_related("supplier", "purchase_order", "received_by"), pk=pk
    )
    return render(
        request,
        "inventory/receiving_receipt.html",
        {
            "receipt": receipt,
            "lines": receipt.lines.select_related("lot__package__product", "movement"),
            "discrepancies": receipt.discrepancies.select_related("package__product"),
        },
    )
