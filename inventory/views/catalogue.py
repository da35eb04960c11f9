"""Catalogue pages: the search and a product's page (with its storage flag).

The search box takes what a person has at hand: a name, an NDC in any form, or the raw
text of a scan. A code that names exactly one package goes straight to its product.
"""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from inventory.forms import CatalogueSearchForm, ProductStorageForm, UnitDescriptionForm
from inventory.models import Package, Product, ProductIngredient
from inventory.ndc import ScanError, is_partial_ndc, is_product_ndc, looks_like_code
from inventory.services.catalogue import set_product_storage
from inventory.services.products import DESCRIBE_UNITS, set_unit_description
from inventory.views._common import PAGE_SIZE, quantity_text

STRENGTHS = Prefetch("strengths", queryset=ProductIngredient.objects.select_related("ingredient"))


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
        PAGE_SIZE,
    ).get_page(request.GET.get("page"))
    return render(
        request,
        "inventory/catalogue_search.html",
        {"form": form, "query": query, "error": error, "page": page},
    )


def _product_page(
    request,
    product: Product,
    storage_form: ProductStorageForm,
    status=200,
    unit_form: UnitDescriptionForm | None = None,
):
    packages = [
        {"package": package, "quantity": quantity_text(package.quantity)}
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
            "can_describe_units": request.user.has_perm(DESCRIBE_UNITS),
            "unit_form": unit_form
            or UnitDescriptionForm(initial={"unit_description": product.unit_description}),
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


@require_POST
@permission_required(DESCRIBE_UNITS, raise_exception=True)
def product_unit_description(request, product_ndc: str):
    """A pharmacist records what one unit of the product looks like."""
    product = _product_with_details(product_ndc)
    storage_form = ProductStorageForm(initial={"storage": product.storage})
    form = UnitDescriptionForm(request.POST)
    if form.is_valid():
        try:
            set_unit_description(
                product, description=form.cleaned_data["unit_description"], by=request.user
            )
        except ValidationError as error:
            form.add_error("unit_description", error)
    if form.errors:
        return _product_page(request, product, storage_form, status=400, unit_form=form)
    messages.success(request, f"Saved what one unit of {product.full_description} looks like.")
    return redirect("product_detail", product_ndc=product.product_ndc)
