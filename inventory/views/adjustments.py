"""Adjusting one lot by hand: damaged, expired, destroyed (witnessed), or a correction."""

from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.shortcuts import get_object_or_404, redirect, render

from inventory.forms import AdjustmentForm
from inventory.models import StockLot
from inventory.services.counts import adjust_stock
from inventory.services.stock import StockError
from inventory.views._common import lot_of_scan


def _decimal_text(quantity) -> str:
    return "" if quantity is None else f"{Decimal(quantity).normalize():f}"


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
                    lot = lot_of_scan(data["scan"], data["lot_number"])
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
