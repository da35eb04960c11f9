"""The stock home page (the inventory pages a person may use), the lots of an NDC with
quarantine and recall of them all, one lot's page, and the expiry report."""

from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils import timezone

from inventory.models import STOCK_LOT_MOVES, StockLot
from inventory.ndc import InvalidNDCError
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


# Forms of these pages live here, beside the views that use them.


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


@permission_required("inventory.view_stocklot", raise_exception=True)
def expiry_report(request):
    """Lots expiring within the warning window, and expired lots still holding units."""
    today = timezone.localdate()
    try:
        days = max(1, min(int(request.GET.get("days", "")), 3650))
    except ValueError:
        days = settings.EXPIRY_WARNING_DAYS
    expired = (
        (
            StockLot.objects.filter(status=StockLot.Status.EXPIRED)
            # Past its date but not swept yet, or set aside before it expired: still expired.
            | StockLot.objects.filter(
                status__in=[StockLot.Status.AVAILABLE, StockLot.Status.QUARANTINED]
            ).past_expiry(today=today)
        )
        .filter(quantity_on_hand__gt=0)
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
