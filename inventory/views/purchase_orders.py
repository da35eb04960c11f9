"""Purchase orders: the list, a new order, an order's page (its lines, receipts,
discrepancies and events), closing it, and resolving its discrepancies."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.db.models import Count, Q, Sum
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.views.decorators.http import require_POST

from inventory.forms import CloseOrderForm, PurchaseOrderForm, ResolveDiscrepancyForm
from inventory.models import PURCHASE_ORDER_MOVES, DEASchedule, PurchaseOrder, ReceivingDiscrepancy
from inventory.services.receiving import (
    close_purchase_order,
    create_purchase_order,
    resolve_discrepancy,
)
from inventory.services.stock import StockError
from inventory.views._common import PAGE_SIZE, order_lines


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
    page = Paginator(orders, PAGE_SIZE).get_page(request.GET.get("page"))
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
            "lines": order_lines(order),
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
