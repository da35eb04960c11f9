"""Catalogue API, read-only: products by name or NDC, packages by NDC or scan."""

from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics

from inventory.api.serializers import (
    PackageWithProductSerializer,
    ProductSerializer,
    ScanSerializer,
)
from inventory.models import Package, Product, ProductIngredient
from inventory.ndc import (
    InvalidNDCError,
    ScanError,
    is_product_ndc,
    normalize_ndc_input,
    parse_scan,
)
from pharmacy.api.errors import APIError

PRODUCT_PREFETCH = (
    Prefetch("strengths", queryset=ProductIngredient.objects.select_related("ingredient")),
    "pharmacologic_classes",
    "packages",
)


def _ndc11(text: str) -> str:
    try:
        return normalize_ndc_input(text)
    except InvalidNDCError as error:
        raise APIError("invalid_ndc", str(error)) from None


@extend_schema(
    parameters=[
        OpenApiParameter("search", str, description="Part of a brand, generic or ingredient name"),
        OpenApiParameter(
            "ndc",
            str,
            description="A product NDC (0002-3227), or a package NDC hyphenated (0002-3227-30) "
            "or as 11 digits (00002322730)",
        ),
    ]
)
class ProductListView(generics.ListAPIView):
    """Products of the catalogue with ingredients, classes and packages."""

    serializer_class = ProductSerializer
    required_permissions = ["inventory.view_product"]

    def get_queryset(self):
        products = Product.objects.prefetch_related(*PRODUCT_PREFETCH)
        search = self.request.query_params.get("search", "").strip()
        ndc = self.request.query_params.get("ndc", "").strip()
        if search:
            products = products.search(search)
        if ndc:
            if is_product_ndc(ndc):
                products = products.filter(product_ndc=ndc)
            else:
                products = products.filter(packages__ndc11=_ndc11(ndc))
        return products


class ProductDetailView(generics.RetrieveAPIView):
    """One product by its hyphenated product NDC."""

    serializer_class = ProductSerializer
    required_permissions = ["inventory.view_product"]
    queryset = Product.objects.prefetch_related(*PRODUCT_PREFETCH)
    lookup_field = "product_ndc"


@extend_schema(
    parameters=[
        OpenApiParameter(
            "ndc", str, description="Package NDC, hyphenated 10-digit or plain 11-digit"
        ),
        OpenApiParameter(
            "scan",
            str,
            description="Raw barcode text: GS1 DataMatrix (with ]d2 and GS characters), UPC-A, "
            "GTIN-14 or an NDC. The response then also carries the scan's lot, expiry and serial.",
        ),
    ]
)
class PackageListView(generics.ListAPIView):
    """Packages with their product, found by NDC or by the raw text of a scan."""

    serializer_class = PackageWithProductSerializer
    required_permissions = ["inventory.view_product"]

    def get_queryset(self):
        packages = Package.objects.select_related("product")
        ndc = self.request.query_params.get("ndc", "").strip()
        if ndc:
            packages = packages.filter(ndc11=_ndc11(ndc))
        scan = self.scan()
        if scan is not None:
            packages = packages.for_scan(scan)
        return packages

    def scan(self):
        text = self.request.query_params.get("scan", "")
        if not text.strip():
            return None
        try:
            return parse_scan(text)
        except ScanError as error:
            raise APIError("invalid_scan", str(error)) from None

    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        scan = self.scan()
        if scan is not None:
            response.data["scan"] = ScanSerializer(
                {
                    "kind": scan.kind,
                    "ndc": scan.ndc,
                    "gtin": scan.gtin,
                    "lot": scan.lot,
                    "expiry": scan.expiry,
                    "serial": scan.serial,
                }
            ).data
        return response
