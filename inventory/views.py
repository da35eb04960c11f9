"""Browser pages of the inventory app: the catalogue.

The search box takes what a person has at hand: a name, an NDC in any form, or the raw
text of a scan. A code that names exactly one package goes straight to its product.
"""

import re
import uuid
from datetime import datetime, time
from decimal import Decimal
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, F, Prefetch, Q, Sum
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.views.decorators.http import require_POST
from django_htmx.http import reswap, retarget

from inventory.forms import (
    AdjustmentForm,
    ApproveCountForm,
    BiennialInventoryForm,
    CatalogueSearchForm,
    CloseOrderForm,
    CountLineForm,
    CountScanForm,
    ProductStorageForm,
    PurchaseOrderForm,
    ReceiptForm,
    ReceivingScanForm,
    ResolveDiscrepancyForm,
    StartCountForm,
)
from inventory.models import (
    PURCHASE_ORDER_MOVES,
    STOCK_LOT_MOVES,
    CycleCount,
    DEASchedule,
    Package,
    Product,
    ProductIngredient,
    PurchaseOrder,
    Receipt,
    ReceivingDiscrepancy,
    ReorderAlert,
    ReorderRule,
    StockLot,
    StockMovement,
    Supplier,
)
from inventory.ndc import (
    InvalidNDCError,
    ScanError,
    is_partial_ndc,
    is_product_ndc,
    looks_like_code,
    normalize_ndc_input,
    parse_scan,
)
from inventory.services.catalogue import set_product_storage
from inventory.services.counts import (
    CONTROLLED_SCHEDULES,
    adjust_stock,
    approve_cycle_count,
    biennial_inventory,
    cancel_cycle_count,
    controlled_perpetual_inventory,
    find_lot,
    record_count,
    start_cycle_count,
    submit_cycle_count,
)
from inventory.services.lots import (
    LotStatusError,
    dispensings_of,
    expiring_lots,
    lots_for_ndc,
    quarantine_lot,
    quarantine_ndc,
    recall_lot,
    recall_ndc,
    release_lot,
)
from inventory.services.receiving import (
    ReceiptLineInput,
    ReceivingError,
    close_purchase_order,
    create_purchase_order,
    package_for_scan,
    receive_stock,
    resolve_discrepancy,
)
from inventory.services.reorder import (
    ReorderError,
    acknowledge_reorder_alert,
    available_units_subquery,
    close_reorder_alert,
    set_reorder_rule,
)
from inventory.services.stock import StockError

SEARCH_PAGE_SIZE = 50
STRENGTHS = Prefetch("strengths", queryset=ProductIngredient.objects.select_related("ingredient"))


def _quantity_text(quantity: Decimal | None) -> str:
    return "" if quantity is None else f"{quantity.normalize():f}"


@permission_required("inventory.view_product", raise_exception=True)
def catalogue_search(request):
    form = CatalogueSearchForm(request.GET or None)
    query = form.cleaned_data["q"] if form.is_valid() else ""
    products = Product.objects.none()
    error = ""
    if query and is_product_ndc(query):
        products = Product.objects.filter(product_ndc=query)
        product = products.first()
        if product is not None:
            return redirect("product_detail", product_ndc=product.product_ndc)
        error = f"No product in the catalogue has the product NDC {query}."
    elif query and looks_like_code(query):
        try:
            packages = list(Package.objects.for_code(query).select_related("product")[:2])
        except ScanError as scan_error:
            if is_partial_ndc(query):
                products = Product.objects.with_ndc_starting(query)
            else:
                error = str(scan_error)
        else:
            if len(packages) == 1:
                package = packages[0]
                url = reverse("product_detail", args=[package.product.product_ndc])
                return redirect(f"{url}?package={package.package_ndc}")
            error = f"No package in the catalogue has the code {query!r}."
    elif query:
        products = Product.objects.search(query)

    page = Paginator(
        products.annotate(package_count=Count("packages", distinct=True))
        .prefetch_related(STRENGTHS)
        .order_by(*Product._meta.ordering),
        SEARCH_PAGE_SIZE,
    ).get_page(request.GET.get("page"))
    return render(
        request,
        "inventory/catalogue_search.html",
        {"form": form, "query": query, "error": error, "page": page},
    )


def _product_page(request, product: Product, storage_form: ProductStorageForm, status=200):
    packages = [
        {"package": package, "quantity": _quantity_text(package.quantity)}
        for package in product.packages.all()
    ]
    return render(
        request,
        "inventory/product_detail.html",
        {
            "product": product,
            "packages": packages,
            "highlight": request.GET.get("package", ""),
            "can_change_storage": request.user.has_perm("inventory.change_product"),
            "storage_form": storage_form,
        },
        status=status,
    )


def _product_with_details(product_ndc: str) -> Product:
    return get_object_or_404(
        Product.objects.prefetch_related(STRENGTHS, "pharmacologic_classes", "packages"),
        product_ndc=product_ndc,
    )


@permission_required("inventory.view_product", raise_exception=True)
def product_detail(request, product_ndc: str):
    product = _product_with_details(product_ndc)
    form = ProductStorageForm(initial={"storage": product.storage})
    return _product_page(request, product, form)


@require_POST
@permission_required("inventory.change_product", raise_exception=True)
def product_storage(request, product_ndc: str):
    product = _product_with_details(product_ndc)
    form = ProductStorageForm(request.POST)
    if not form.is_valid():
        return _product_page(request, product, form, status=400)
    set_product_storage(product, storage=form.cleaned_data["storage"], by=request.user)
    messages.success(
        request, f"{product.display_name} is stored: {product.get_storage_display().lower()}."
    )
    return redirect("product_detail", product_ndc=product.product_ndc)


# --------------------------------------------------------------------------- reorder, expiry, lots
# Forms of these pages live here, beside the views that use them.

REORDER_ALERT_POLL_SECONDS = 5


class ReorderRuleForm(forms.Form):
    """A product's reorder rule, in dispensing units (tablets, mL, each)."""

    ndc = forms.CharField(
        label="Product or package NDC",
        max_length=20,
        help_text="A product NDC (0002-3227) or the package to order (0002-3227-30).",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    reorder_point = forms.DecimalField(
        label="Reorder point",
        min_value=0,
        max_digits=12,
        decimal_places=3,
        help_text="Alert when available units fall below this.",
    )
    reorder_quantity = forms.DecimalField(
        label="Reorder quantity",
        min_value=Decimal("0.001"),
        max_digits=12,
        decimal_places=3,
        help_text="Units to order.",
    )
    par_level = forms.DecimalField(
        label="Par level",
        required=False,
        min_value=0,
        max_digits=12,
        decimal_places=3,
        help_text="Optional: order up to this many units instead.",
    )
    preferred_supplier = forms.ModelChoiceField(
        label="Preferred supplier", required=False, queryset=Supplier.objects.filter(is_active=True)
    )
    lead_time_days = forms.IntegerField(
        label="Lead time (days)",
        required=False,
        min_value=0,
        max_value=365,
        help_text="Blank: the supplier's lead time.",
    )


class LotStatusForm(forms.Form):
    ACTIONS = {
        "quarantine": "Quarantine",
        "recall": "Recall",
        "release": "Release to stock",
    }

    action = forms.ChoiceField(choices=list(ACTIONS.items()))
    reason = forms.CharField(label="Reason", max_length=255)


class NdcLotStatusForm(forms.Form):
    """Quarantine or recall every lot of an NDC (or one lot number of it)."""

    action = forms.ChoiceField(choices=[("quarantine", "Quarantine"), ("recall", "Recall")])
    ndc = forms.CharField(label="NDC", max_length=20)
    lot = forms.CharField(label="Lot number", max_length=40, required=False)
    reason = forms.CharField(label="Reason", max_length=255)


class LotSearchForm(forms.Form):
    ndc = forms.CharField(
        label="NDC",
        required=False,
        max_length=20,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "off"}),
    )
    lot = forms.CharField(label="Lot number", required=False, max_length=40)


def _reorder_alert_rows(alerts, *, current: bool):
    return alerts.select_related(
        "product", "suggested_package", "suggested_supplier", "acknowledged_by", "closed_by"
    ).filter(status__in=ReorderAlert.CURRENT_STATUSES if current else [ReorderAlert.Status.CLOSED])


@permission_required("inventory.view_reorderrule", raise_exception=True)
def reorder_rules(request):
    """Reorder rules with the units available now; managers set one with the form."""
    can_set = request.user.has_perms(["inventory.add_reorderrule", "inventory.change_reorderrule"])
    form = ReorderRuleForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if not can_set:
            raise PermissionDenied
        rule = _set_rule_from_form(request, form)
        if rule is not None:
            messages.success(
                request,
                f"{rule.product.display_name}: reorder below "
                f"{_quantity_text(rule.reorder_point)} units.",
            )
            return redirect("reorder_rules")
        status = 400
    rules = ReorderRule.objects.select_related(
        "product", "order_package", "preferred_supplier"
    ).annotate(available=available_units_subquery("product_id"))
    return render(
        request,
        "inventory/reorder_rules.html",
        {"rules": rules, "form": form, "can_set": can_set},
        status=status,
    )


def _set_rule_from_form(request, form: ReorderRuleForm) -> ReorderRule | None:
    if not form.is_valid():
        return None
    ndc = form.cleaned_data["ndc"].strip()
    package = None
    if is_product_ndc(ndc):
        product = Product.objects.filter(product_ndc=ndc).first()
    else:
        try:
            package = Package.objects.filter(ndc11=normalize_ndc_input(ndc)).first()
        except InvalidNDCError as error:
            form.add_error("ndc", str(error))
            return None
        product = package.product if package else None
    if product is None:
        form.add_error("ndc", f"No product in the catalogue has the NDC {ndc}.")
        return None
    data = form.cleaned_data
    try:
        rule, _created = set_reorder_rule(
            product,
            by=request.user,
            reorder_point=data["reorder_point"],
            reorder_quantity=data["reorder_quantity"],
            par_level=data["par_level"],
            order_package=package,
            preferred_supplier=data["preferred_supplier"],
            lead_time_days=data["lead_time_days"],
        )
    except ReorderError as error:
        form.add_error(None, error.detail)
        return None
    return rule


def _alerts_context(request, *, current: bool) -> dict:
    alerts = _reorder_alert_rows(ReorderAlert.objects.all(), current=current)
    return {
        "alerts": alerts if current else alerts[:100],
        "current": current,
        "can_change": request.user.has_perm("inventory.change_reorderalert"),
        "poll_seconds": REORDER_ALERT_POLL_SECONDS,
    }


@permission_required("inventory.view_reorderalert", raise_exception=True)
def reorder_alerts(request):
    """Current alerts (refreshing themselves) and the latest closed ones."""
    current = request.GET.get("show") != "closed"
    return render(
        request, "inventory/reorder_alerts.html", _alerts_context(request, current=current)
    )


@permission_required("inventory.view_reorderalert", raise_exception=True)
def reorder_alert_rows(request):
    """The rows of the alerts table: what the alerts page polls."""
    current = request.GET.get("show") != "closed"
    return render(
        request, "inventory/reorder_alert_rows.html", _alerts_context(request, current=current)
    )


@permission_required("inventory.view_reorderalert", raise_exception=True)
def reorder_alert_count(request):
    """The dashboard's "Open reorder alerts" card: it polls itself."""
    return render(
        request,
        "inventory/reorder_alert_count.html",
        {
            "open_reorder_alerts": ReorderAlert.objects.current().count(),
            "poll_seconds": REORDER_ALERT_POLL_SECONDS,
        },
    )


@require_POST
@permission_required("inventory.change_reorderalert", raise_exception=True)
def reorder_alert_move(request, pk: int, move: str):
    alert = get_object_or_404(ReorderAlert.objects.select_related("product"), pk=pk)
    try:
        if move == "acknowledge":
            acknowledge_reorder_alert(alert, by=request.user)
            messages.success(request, f"Acknowledged the alert for {alert.product.display_name}.")
        else:
            close_reorder_alert(alert, by=request.user, note=request.POST.get("note", ""))
            messages.success(request, f"Closed the alert for {alert.product.display_name}.")
    except ReorderError as error:
        messages.error(request, error.detail)
    return redirect("reorder_alerts")


@permission_required("inventory.view_stocklot", raise_exception=True)
def expiry_report(request):
    """Lots expiring within the warning window, and expired lots still holding units."""
    today = timezone.localdate()
    try:
        days = max(1, min(int(request.GET.get("days", "")), 3650))
    except ValueError:
        days = settings.EXPIRY_WARNING_DAYS
    expired = (
        StockLot.objects.filter(
            # Past its date but not swept yet, or set aside before it expired: still expired.
            Q(status=StockLot.Status.EXPIRED)
            | Q(
                status__in=[StockLot.Status.AVAILABLE, StockLot.Status.QUARANTINED],
                expiry__lte=today,
            ),
            quantity_on_hand__gt=0,
        )
        .select_related("package__product")
        .order_by("expiry", "pk")
    )
    return render(
        request,
        "inventory/expiry_report.html",
        {
            "today": today,
            "days": days,
            "expiring": expiring_lots(today=today, window_days=days),
            "expired": expired,
        },
    )


@permission_required("inventory.view_stocklot", raise_exception=True)
def lots(request):
    """Lots of an NDC (and lot number), with quarantine or recall of them all at once."""
    search = LotSearchForm(request.GET or None)
    found = StockLot.objects.none()
    error = ""
    ndc = lot_number = ""
    if search.is_valid() and search.cleaned_data["ndc"]:
        ndc, lot_number = search.cleaned_data["ndc"], search.cleaned_data["lot"]
        try:
            found = lots_for_ndc(ndc, lot_number).select_related("package__product")
        except InvalidNDCError as invalid:
            error = str(invalid)
    can_change = request.user.has_perm("inventory.change_stocklot")
    bulk = NdcLotStatusForm(request.POST or None, initial={"ndc": ndc, "lot": lot_number})
    status = 200
    if request.method == "POST":
        if not can_change:
            raise PermissionDenied
        if bulk.is_valid():
            data = bulk.cleaned_data
            change = quarantine_ndc if data["action"] == "quarantine" else recall_ndc
            try:
                changed = change(
                    data["ndc"], by=request.user, reason=data["reason"], lot_number=data["lot"]
                )
            except (InvalidNDCError, LotStatusError) as refused:
                bulk.add_error(None, str(refused))
            else:
                verb = "Quarantined" if data["action"] == "quarantine" else "Recalled"
                messages.success(request, f"{verb} {len(changed)} lot{pluralize(len(changed))}.")
                query = urlencode({"ndc": data["ndc"], "lot": data["lot"]})
                return redirect(f"{reverse('lots')}?{query}")
        status = 400
    return render(
        request,
        "inventory/lots.html",
        {
            "search": search,
            "lots": found.order_by("expiry", "pk"),
            "searched": bool(ndc),
            "error": error,
            "bulk": bulk,
            "can_change": can_change,
        },
        status=status,
    )


@permission_required("inventory.view_stocklot", raise_exception=True)
def lot_detail(request, pk: int):
    """One lot: status and its history, ledger, who received it; quarantine, recall or
    release it (pharmacists and managers)."""
    lot = get_object_or_404(StockLot.objects.select_related("package__product"), pk=pk)
    form = LotStatusForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if not request.user.has_perm("inventory.change_stocklot"):
            raise PermissionDenied
        if form.is_valid():
            action, reason = form.cleaned_data["action"], form.cleaned_data["reason"]
            change = {"quarantine": quarantine_lot, "recall": recall_lot, "release": release_lot}
            try:
                lot = change[action](lot, by=request.user, reason=reason)
            except LotStatusError as refused:
                form.add_error(None, refused.detail)
            else:
                messages.success(
                    request, f"Lot {lot.lot_number} is now {lot.get_status_display().lower()}."
                )
                return redirect("lot_detail", pk=lot.pk)
        status = 400
    actions = {
        "quarantine": StockLot.Status.QUARANTINED in STOCK_LOT_MOVES[lot.status]
        and lot.status != StockLot.Status.EXPIRED,
        "recall": StockLot.Status.RECALLED in STOCK_LOT_MOVES[lot.status],
        "release": lot.status == StockLot.Status.QUARANTINED,
    }
    return render(
        request,
        "inventory/lots_detail.html",
        {
            "lot": lot,
            "form": form,
            "actions": [
                (name, LotStatusForm.ACTIONS[name]) for name, shown in actions.items() if shown
            ],
            "can_change": request.user.has_perm("inventory.change_stocklot"),
            "status_changes": lot.status_changes.select_related("actor"),
            "movements": lot.movements.select_related("actor").order_by("-occurred_at", "-pk")[
                :200
            ],
            "dispensings": dispensings_of(StockLot.objects.filter(pk=lot.pk)),
        },
        status=status,
    )


# --------------------------------------------------------------------------- receiving and counts
# Receiving, purchase orders, adjustments, cycle counts and the controlled-substance
# inventories. Every write is a service of inventory.services.receiving or .counts.


def _decimal_text(quantity) -> str:
    return "" if quantity is None else f"{Decimal(quantity).normalize():f}"


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
            "order_lines": _order_lines(order),
        },
        status=status,
    )


def _order_lines(order: PurchaseOrder | None):
    if order is None:
        return []
    return order.lines.select_related("package__product").annotate(
        outstanding=F("quantity_ordered") - F("quantity_received")
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
        {"order": order, "order_lines": _order_lines(order)},
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


# --------------------------------------------------------------------------- purchase orders


@permission_required("inventory.view_purchaseorder", raise_exception=True)
def purchase_order_list(request):
    status = request.GET.get("status", "open")
    orders = PurchaseOrder.objects.select_related("supplier").order_by("-ordered_on", "-pk")
    orders = orders.annotate(
        ordered=Sum("lines__quantity_ordered"),
        received=Sum("lines__quantity_received"),
        unresolved=Count(
            "discrepancies",
            filter=Q(discrepancies__resolved_at__isnull=True),
            distinct=True,
        ),
    )
    if status == "open":
        orders = orders.filter(
            status__in=[PurchaseOrder.Status.OPEN, PurchaseOrder.Status.PARTIALLY_RECEIVED]
        )
    elif status in PurchaseOrder.Status.values:
        orders = orders.filter(status=status)
    page = Paginator(orders, SEARCH_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "inventory/purchase_order_list.html",
        {
            "page": page,
            "status": status,
            "statuses": [("open", "Open"), *PurchaseOrder.Status.choices, ("all", "All")],
            "can_create": request.user.has_perm("inventory.add_purchaseorder"),
        },
    )


@permission_required("inventory.add_purchaseorder", raise_exception=True)
def purchase_order_create(request):
    form = PurchaseOrderForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                order = create_purchase_order(
                    data["supplier"], lines=data["lines"], by=request.user, number=data["number"],
                    expected_on=data["expected_on"], note=data["note"],
                )  # fmt: skip
            except StockError as refused:
                form.add_error(None, refused.detail)
            else:
                messages.success(request, f"{order} to {order.supplier} is open.")
                return redirect("purchase_order_detail", pk=order.pk)
        status = 400
    return render(request, "inventory/purchase_order_form.html", {"form": form}, status=status)


def _purchase_order_page(request, order, *, close_form=None, resolve_forms=None, status=200):
    discrepancies = list(order.discrepancies.select_related("package__product", "resolved_by"))
    resolve_forms = resolve_forms or {}
    for discrepancy in discrepancies:
        discrepancy.form = resolve_forms.get(discrepancy.pk) or ResolveDiscrepancyForm(
            prefix=f"d{discrepancy.pk}"
        )
        discrepancy.needs_witness = discrepancy.package.product.dea_schedule == DEASchedule.CII
    user = request.user
    return render(
        request,
        "inventory/purchase_order_detail.html",
        {
            "order": order,
            "lines": _order_lines(order),
            "receipts": order.receipts.select_related("received_by").annotate(
                packages=Sum("lines__packages")
            ),
            "discrepancies": discrepancies,
            "events": order.events.select_related("by"),
            "close_form": close_form or CloseOrderForm(),
            "can_receive": order.accepts_receipts and user.has_perm("inventory.add_receipt"),
            "can_close": order.status != PurchaseOrder.Status.CLOSED
            and PurchaseOrder.Status.CLOSED in PURCHASE_ORDER_MOVES[order.status]
            and user.has_perm("inventory.change_purchaseorder"),
            "can_resolve": user.has_perm("inventory.change_receivingdiscrepancy"),
        },
        status=status,
    )


@permission_required("inventory.view_purchaseorder", raise_exception=True)
def purchase_order_detail(request, pk: int):
    order = get_object_or_404(PurchaseOrder.objects.select_related("supplier"), pk=pk)
    return _purchase_order_page(request, order)


@require_POST
@permission_required("inventory.change_purchaseorder", raise_exception=True)
def purchase_order_close(request, pk: int):
    order = get_object_or_404(PurchaseOrder.objects.select_related("supplier"), pk=pk)
    form = CloseOrderForm(request.POST)
    if form.is_valid():
        try:
            close_purchase_order(order, by=request.user, note=form.cleaned_data["note"])
        except StockError as refused:
            form.add_error(None, refused.detail)
        else:
            short = order.discrepancies.filter(kind=ReceivingDiscrepancy.Kind.SHORT_AT_CLOSE)
            messages.success(
                request,
                f"{order} is closed"
                + (f"; {short.count()} short line{pluralize(short.count())} kept." if short
                   else "."),
            )  # fmt: skip
            return redirect("purchase_order_detail", pk=order.pk)
    return _purchase_order_page(request, order, close_form=form, status=409)


@require_POST
@permission_required("inventory.change_receivingdiscrepancy", raise_exception=True)
def discrepancy_resolve(request, pk: int):
    discrepancy = get_object_or_404(ReceivingDiscrepancy, pk=pk)
    form = ResolveDiscrepancyForm(request.POST, prefix=f"d{pk}", request=request)
    if form.is_valid():
        try:
            resolve_discrepancy(
                discrepancy, by=request.user, resolution=form.cleaned_data["resolution"],
                witness=form.cleaned_data["witness"],
            )  # fmt: skip
        except StockError as refused:
            form.add_error(None, refused.detail)
        else:
            messages.success(request, "The discrepancy is resolved.")
            return redirect("purchase_order_detail", pk=discrepancy.purchase_order_id)
    order = PurchaseOrder.objects.select_related("supplier").get(pk=discrepancy.purchase_order_id)
    return _purchase_order_page(request, order, resolve_forms={pk: form}, status=400)


# --------------------------------------------------------------------------- adjustments


def _package_of_code(text: str):
    """The package a scan or typed NDC names, and the scan; StockError with the reason."""
    try:
        scan = parse_scan(text)
    except ScanError as error:
        raise StockError("invalid_scan", str(error)) from None
    package = Package.objects.for_scan(scan).select_related("product").first()
    if package is None:
        raise StockError("unknown_package", f"No package in the catalogue has NDC {scan.ndc}.")
    return package, scan


def _lot_of_scan(text: str, lot_number: str) -> StockLot:
    """The lot a scan (DataMatrix: NDC and lot) or a typed NDC plus lot number names.
    Raises StockError with the reason."""
    package, scan = _package_of_code(text)
    if scan.lot and lot_number.strip() and scan.lot != lot_number.strip():
        raise StockError("lot_mismatch", f"The scan says lot {scan.lot}, not {lot_number}.")
    lot_number = scan.lot or lot_number
    if not lot_number.strip():
        raise StockError("lot_required", "Type the lot number: this code does not carry it.")
    return find_lot(package, lot_number)


@permission_required("inventory.add_stockmovement", raise_exception=True)
def adjust(request):
    """Adjust one lot by hand: damaged, expired, destroyed (witnessed), or a correction."""
    lot = None
    lot_id = request.POST.get("lot") or request.GET.get("lot", "")
    if lot_id.isdigit():
        lot = get_object_or_404(StockLot.objects.select_related("package__product"), pk=lot_id)
    form = AdjustmentForm(request.POST if request.method == "POST" else None, request=request)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                if lot is None:
                    lot = _lot_of_scan(data["scan"], data["lot_number"])
                adjust_stock(
                    lot, reason=data["reason"], quantity_change=data["quantity_change"],
                    by=request.user, note=data["note"], witness=data["witness"],
                )  # fmt: skip
            except StockError as refused:
                form.add_error(None, refused.detail)
            else:
                lot.refresh_from_db()
                messages.success(
                    request,
                    f"Lot {lot.lot_number} of {lot.package.package_ndc} adjusted: "
                    f"{_decimal_text(lot.quantity_on_hand)} units on hand.",
                )
                return redirect("lot_detail", pk=lot.pk)
        status = 400
    return render(
        request,
        "inventory/adjust_form.html",
        {"form": form, "lot": lot, "on_hand": _decimal_text(lot.quantity_on_hand) if lot else ""},
        status=status,
    )


# --------------------------------------------------------------------------- cycle counts


@permission_required("inventory.view_cyclecount", raise_exception=True)
def count_list(request):
    form = StartCountForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if not request.user.has_perm("inventory.add_cyclecount"):
            raise PermissionDenied
        if form.is_valid():
            data = form.cleaned_data
            try:
                package = None
                if data["ndc"].strip():
                    package = _package_of_code(data["ndc"])[0]
                count = start_cycle_count(
                    by=request.user, location=data["location"], package=package,
                    controlled_only=data["controlled_only"], note=data["note"],
                )  # fmt: skip
            except StockError as refused:
                form.add_error(None, refused.detail)
            else:
                messages.success(request, f"Count {count.pk} started: {count.lines.count()} lots.")
                return redirect("count_detail", pk=count.pk)
        status = 400
    counts = CycleCount.objects.select_related("created_by", "approved_by").annotate(
        lot_count=Count("lines"),
        counted=Count("lines", filter=Q(lines__counted_quantity__isnull=False)),
    )
    return render(
        request,
        "inventory/count_list.html",
        {
            "form": form,
            "open_counts": counts.open(),
            "closed_counts": counts.exclude(pk__in=counts.open().values("pk"))[:50],
            "can_start": request.user.has_perm("inventory.add_cyclecount"),
        },
        status=status,
    )


def _count_page(request, count: CycleCount, *, approve_form=None, status=200):
    lines = list(count.lines.select_related("lot__package__product", "correction", "counted_by"))
    corrections = [line for line in lines if line.variance and not line.is_estimate]
    focus = request.GET.get("line", "")
    user = request.user
    return render(
        request,
        "inventory/count_detail.html",
        {
            "count": count,
            # The counter never sees what the ledger expects: the counting page is given
            # no expected quantity at all, not just a hidden one.
            "blind": count.status == CycleCount.Status.COUNTING,
            "lines": lines,
            "counted": sum(1 for line in lines if line.is_counted),
            "corrections": corrections,
            "units_short": sum((-line.variance for line in corrections if line.variance < 0), 0),
            "units_over": sum((line.variance for line in corrections if line.variance > 0), 0),
            "schedule_ii_variance": any(
                line.lot.package.product.dea_schedule == DEASchedule.CII for line in corrections
            ),
            "focus_line": int(focus) if focus.isdigit() else None,
            "scan_form": CountScanForm(),
            "approve_form": approve_form or ApproveCountForm(),
            "can_count": count.status == CycleCount.Status.COUNTING
            and user.has_perm("inventory.add_cyclecount"),
            "can_approve": count.status == CycleCount.Status.SUBMITTED
            and user.has_perm("inventory.change_cyclecount"),
            "can_cancel": count.status in (CycleCount.Status.COUNTING, CycleCount.Status.SUBMITTED)
            and (user.has_perm("inventory.change_cyclecount") or count.created_by_id == user.pk),
        },
        status=status,
    )


@permission_required("inventory.view_cyclecount", raise_exception=True)
def count_detail(request, pk: int):
    count = get_object_or_404(CycleCount.objects.select_related("created_by"), pk=pk)
    return _count_page(request, count)


@require_POST
@permission_required("inventory.add_cyclecount", raise_exception=True)
def count_scan(request, pk: int):
    """Find the line of the scanned lot and put the cursor in its count."""
    count = get_object_or_404(CycleCount, pk=pk)
    form = CountScanForm(request.POST)
    url = reverse("count_detail", args=[count.pk])
    if not form.is_valid():
        messages.error(request, "Scan the lot's DataMatrix, or type its NDC and lot number.")
        return redirect(url)
    try:
        lot = _lot_of_scan(form.cleaned_data["scan"], form.cleaned_data["lot_number"])
        line = count.lines.filter(lot=lot).first()
        if line is None:
            raise StockError(
                "lot_not_in_count",
                f"Lot {lot.lot_number} of {lot.package.package_ndc} is not part of count "
                f"{count.pk}; count only the lots listed.",
            )
    except StockError as refused:
        messages.error(request, refused.detail)
        return redirect(url)
    return redirect(f"{url}?line={line.pk}#line-{line.pk}")


@require_POST
@permission_required("inventory.add_cyclecount", raise_exception=True)
def count_record(request, pk: int, line_pk: int):
    count = get_object_or_404(CycleCount, pk=pk)
    line = get_object_or_404(count.lines.select_related("lot__package"), pk=line_pk)
    form = CountLineForm(request.POST)
    url = reverse("count_detail", args=[count.pk])
    if not form.is_valid():
        messages.error(request, "Type the number you counted.")
        return redirect(f"{url}?line={line.pk}#line-{line.pk}")
    try:
        record_count(
            count, lot=line.lot, counted_quantity=form.cleaned_data["counted_quantity"],
            by=request.user, is_estimate=form.cleaned_data["is_estimate"],
        )  # fmt: skip
    except StockError as refused:
        messages.error(request, f"Lot {line.lot.lot_number}: {refused.detail}")
        return redirect(f"{url}?line={line.pk}#line-{line.pk}")
    messages.success(request, f"Lot {line.lot.lot_number} counted.")
    return redirect(url)


@require_POST
@permission_required("inventory.add_cyclecount", raise_exception=True)
def count_submit(request, pk: int):
    count = get_object_or_404(CycleCount, pk=pk)
    try:
        submit_cycle_count(count, by=request.user)
    except StockError as refused:
        messages.error(request, refused.detail)
    else:
        messages.success(request, f"Count {count.pk} is submitted for approval.")
    return redirect("count_detail", pk=count.pk)


@require_POST
@permission_required("inventory.change_cyclecount", raise_exception=True)
def count_approve(request, pk: int):
    count = get_object_or_404(CycleCount.objects.select_related("created_by"), pk=pk)
    form = ApproveCountForm(request.POST, request=request)
    if form.is_valid():
        try:
            approve_cycle_count(
                count, by=request.user, witness=form.cleaned_data["witness"],
                note=form.cleaned_data["note"],
            )  # fmt: skip
        except StockError as refused:
            form.add_error(None, refused.detail)
        else:
            posted = count.lines.filter(correction__isnull=False).count()
            messages.success(
                request,
                f"Count {count.pk} is approved; {posted} correction{pluralize(posted)} posted.",
            )
            return redirect("count_detail", pk=count.pk)
    return _count_page(request, count, approve_form=form, status=400)


@require_POST
@permission_required("inventory.view_cyclecount", raise_exception=True)
def count_cancel(request, pk: int):
    count = get_object_or_404(CycleCount, pk=pk)
    user = request.user
    if not (user.has_perm("inventory.change_cyclecount") or count.created_by_id == user.pk):
        raise PermissionDenied
    try:
        cancel_cycle_count(count, by=user)
    except StockError as refused:
        messages.error(request, refused.detail)
    else:
        messages.success(request, f"Count {count.pk} is cancelled; nothing was posted.")
    return redirect("count_detail", pk=count.pk)


# --------------------------------------------------------------------------- controlled


@permission_required("inventory.view_controlled_inventory", raise_exception=True)
def controlled_inventory(request):
    """The perpetual inventory of controlled substances, per schedule, NDC and lot."""
    schedule = request.GET.get("schedule", "")
    if schedule not in CONTROLLED_SCHEDULES:
        schedule = ""
    groups: dict[str, dict[str, dict]] = {}
    for lot in controlled_perpetual_inventory(schedule=schedule):
        by_package = groups.setdefault(lot.package.product.dea_schedule, {})
        entry = by_package.setdefault(
            lot.package.package_ndc, {"package": lot.package, "lots": [], "total": Decimal(0)}
        )
        entry["lots"].append(lot)
        entry["total"] += lot.quantity_on_hand
    return render(
        request,
        "inventory/controlled_inventory.html",
        {
            "groups": [
                (DEASchedule(key).label, key, list(packages.values()))
                for key, packages in sorted(groups.items())
            ],
            "schedule": schedule,
            "schedules": [(s, DEASchedule(s).label) for s in CONTROLLED_SCHEDULES],
            "biennial_form": BiennialInventoryForm(initial={"date": timezone.localdate()}),
        },
    )


@permission_required("inventory.view_controlled_inventory", raise_exception=True)
def controlled_biennial(request):
    """The biennial inventory (21 CFR 1304.11) as of the opening or close of a day,
    computed from the ledger; printable."""
    form = BiennialInventoryForm(
        request.GET or None,
        initial={"date": timezone.localdate(), "taken_at": BiennialInventoryForm.CLOSE},
    )
    if not form.is_valid():
        return render(
            request,
            "inventory/controlled_biennial.html",
            {"form": form, "report": None},
            status=400 if form.is_bound else 200,
        )
    day, taken_at = form.cleaned_data["date"], form.cleaned_data["taken_at"]
    moment = time.min if taken_at == BiennialInventoryForm.OPENING else time.max
    as_of = timezone.make_aware(datetime.combine(day, moment))
    return render(
        request,
        "inventory/controlled_biennial.html",
        {
            "form": form,
            "report": biennial_inventory(as_of=as_of),
            "day": day,
            "taken_at": dict(form.fields["taken_at"].choices)[taken_at],
            "registrant": {
                "name": settings.PHARMACY_NAME,
                "address": settings.PHARMACY_ADDRESS,
                "dea": settings.PHARMACY_DEA,
            },
            "printed_at": timezone.localtime(),
        },
    )


# (label, url name, permission, what it is for) of the stock pages, in working order.
STOCK_PAGES = [
    ("Receiving", "receiving", "inventory.add_receipt", "Scan a delivery in."),
    (
        "Purchase orders",
        "purchase_order_list",
        "inventory.view_purchaseorder",
        "Orders to suppliers, what arrived and what did not.",
    ),
    (
        "Suppliers",
        "supplier_list",
        "inventory.view_supplier",
        "Who we buy from: accounts, contacts, lead times.",
    ),
    ("Lots", "lots", "inventory.view_stocklot", "Every lot on the shelf; quarantine and recall."),
    (
        "Adjustments",
        "adjust",
        "inventory.add_stockmovement",
        "Damaged, expired or destroyed stock, with a coded reason.",
    ),
    (
        "Cycle counts",
        "count_list",
        "inventory.view_cyclecount",
        "Blind counts and their variances.",
    ),
    (
        "Controlled substances",
        "controlled_inventory",
        "inventory.view_controlled_inventory",
        "Perpetual inventory and the biennial inventory.",
    ),
    ("Expiry", "expiry_report", "inventory.view_stocklot", "Lots expiring soon and expired."),
    ("Reorder rules", "reorder_rules", "inventory.view_reorderrule", "When to buy more."),
    (
        "Reorder alerts",
        "reorder_alerts",
        "inventory.view_reorderalert",
        "Products below their reorder point.",
    ),
]


@login_required
@permission_required("inventory.view_stocklot", raise_exception=True)
def stock_home(request):
    """The inventory pages this person may use."""
    pages = [
        {"label": label, "url": reverse(name), "note": note}
        for label, name, permission, note in STOCK_PAGES
        if request.user.has_perm(permission)
    ]
    return render(request, "inventory/stock_home.html", {"pages": pages})
