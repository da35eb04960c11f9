"""Browser pages of suppliers: the list every stock role reads, and the forms managers use
to add a supplier or change one (deactivating it too: suppliers are never deleted)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render

from inventory.forms import SupplierForm
from inventory.models import PurchaseOrder, Supplier
from inventory.services.suppliers import (
    EDITABLE_FIELDS,
    SupplierError,
    create_supplier,
    update_supplier,
)
from inventory.views._common import PAGE_SIZE

FILTERS = [("active", "Active"), ("inactive", "Inactive"), ("all", "All")]


@login_required
@permission_required("inventory.view_supplier", raise_exception=True)
def supplier_list(request):
    shown = request.GET.get("show", "active")
    if shown not in dict(FILTERS):
        shown = "active"
    suppliers = Supplier.objects.order_by("name", "pk").annotate(
        open_orders=Count(
            "purchase_orders",
            filter=Q(
                purchase_orders__status__in=[
                    PurchaseOrder.Status.OPEN,
                    PurchaseOrder.Status.PARTIALLY_RECEIVED,
                ]
            ),
        )
    )
    if shown != "all":
        suppliers = suppliers.filter(is_active=shown == "active")
    return render(
        request,
        "inventory/supplier_list.html",
        {
            "page": Paginator(suppliers, PAGE_SIZE).get_page(request.GET.get("page")),
            "shown": shown,
            "filters": FILTERS,
            "can_add": request.user.has_perm("inventory.add_supplier"),
            "can_change": request.user.has_perm("inventory.change_supplier"),
        },
    )


@login_required
@permission_required("inventory.add_supplier", raise_exception=True)
def supplier_create(request):
    form = SupplierForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                supplier = create_supplier(by=request.user, **form.cleaned_data)
            except SupplierError as refused:
                form.add_service_errors(refused.fields, refused.detail)
            else:
                messages.success(request, f"{supplier} is added.")
                return redirect("supplier_list")
        form.focus_first_error()
        status = 400
    return render(
        request, "inventory/supplier_form.html", {"form": form, "supplier": None}, status=status
    )


@login_required
@permission_required("inventory.change_supplier", raise_exception=True)
def supplier_edit(request, pk: int):
    supplier = get_object_or_404(Supplier, pk=pk)
    current = {field: getattr(supplier, field) for field in EDITABLE_FIELDS}
    form = SupplierForm(request.POST if request.method == "POST" else None, initial=current)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                update_supplier(supplier, by=request.user, **form.cleaned_data)
            except SupplierError as refused:
                form.add_service_errors(refused.fields, refused.detail)
            else:
                messages.success(
                    request,
                    f"{supplier} is saved"
                    + ("." if supplier.is_active else ": inactive, no new orders or deliveries."),
                )
                return redirect("supplier_list")
        form.focus_first_error()
        status = 400
    return render(
        request,
        "inventory/supplier_form.html",
        {"form": form, "supplier": supplier},
        status=status,
    )
