"""Inventory API: the catalogue (products by name or NDC, packages by NDC or scan), lots of
stock, suppliers, and receipts of deliveries (DESIGN.md section 6)."""

from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response

from inventory.api.serializers import (
    ErrorSerializer,
    LotTraceSerializer,
    PackageWithProductSerializer,
    ProductSerializer,
    RecallInputSerializer,
    RecallResultSerializer,
    ReceiptInputSerializer,
    ReceiptSerializer,
    ReorderAlertCloseSerializer,
    ReorderAlertSerializer,
    ReorderRuleInputSerializer,
    ReorderRuleSerializer,
    ScanSerializer,
    StockLotSerializer,
    SupplierInputSerializer,
    SupplierSerializer,
)
from inventory.models import (
    Package,
    Product,
    ProductIngredient,
    Receipt,
    ReceiptLine,
    ReceivingDiscrepancy,
    ReorderAlert,
    ReorderRule,
    StockLot,
    Supplier,
)
from inventory.ndc import (
    InvalidNDCError,
    ScanError,
    is_product_ndc,
    normalize_ndc_input,
    parse_scan,
)
from inventory.services.lots import LotStatusError, lots_for_ndc, recall_ndc, trace_lot
from inventory.services.receiving import ReceiptLineInput, ReceivingError, receive_stock
from inventory.services.reorder import (
    ReorderError,
    acknowledge_reorder_alert,
    close_reorder_alert,
    set_reorder_rule,
)
from inventory.services.stock import StockError
from inventory.services.suppliers import (
    SupplierError,
    clean_supplier_name,
    create_supplier,
    update_supplier,
)
from lib.api_errors import APIError

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


# --------------------------------------------------------------------------- receiving and stock

RECEIPT_PREFETCH = (
    Prefetch(
        "lines",
        queryset=ReceiptLine.objects.select_related("lot__package__product", "movement").order_by(
            "pk"
        ),
    ),
    Prefetch("discrepancies", queryset=ReceivingDiscrepancy.objects.select_related("package")),
)


def _receipts():
    return Receipt.objects.select_related("supplier", "purchase_order", "received_by")


def _as_line_list(errors: dict, data) -> dict:
    """Line errors as one entry per line ({} for a good one), as the service gives them:
    DRF keys a list's errors by index."""
    errors = dict(errors)
    lines = errors.get("lines")
    if isinstance(lines, dict):
        count = len(data.get("lines") or []) if isinstance(data, dict) else 0
        errors["lines"] = [lines.get(index, {}) for index in range(count)]
    return errors


class ReceiptListView(generics.ListAPIView):
    """Deliveries received, newest first; and receiving one (DESIGN.md section 6)."""

    serializer_class = ReceiptSerializer
    required_permissions = {
        "GET": ["inventory.view_receipt"],
        "POST": ["inventory.add_receipt"],
    }

    def get_queryset(self):
        receipts = _receipts().prefetch_related(*RECEIPT_PREFETCH)
        number = self.request.query_params.get("purchase_order", "").strip()
        if number:
            receipts = receipts.filter(purchase_order__number=number)
        return receipts

    @extend_schema(
        parameters=[OpenApiParameter("purchase_order", str, description="A PO number")],
    )
    def get(self, request, *args, **kwargs):
        return self.list(request, *args, **kwargs)

    @extend_schema(
        request=ReceiptInputSerializer,
        responses={
            201: ReceiptSerializer,
            400: OpenApiResponse(
                ErrorSerializer,
                description="Bad input (unknown NDC or GTIN, wrong check digit, missing or "
                "past expiry, packages not a positive whole number, an unknown or inactive "
                "supplier ...); nothing written. `fields.lines[i]` names each problem of "
                "line i, `fields.supplier` the supplier's.",
            ),
            409: OpenApiResponse(
                ErrorSerializer,
                description="The purchase order is closed, received or cancelled.",
            ),
        },
    )
    def post(self, request):
        """Receive a delivery: each line a scan (or NDC), lot, expiry and packages; the
        supplier by id or exact name."""
        given = ReceiptInputSerializer(data=request.data)
        if not given.is_valid():
            raise APIError(
                "invalid_receipt",
                "The receipt is not valid; nothing was received. See fields.",
                fields=_as_line_list(given.errors, request.data),
            )
        data = given.validated_data
        lines = [
            ReceiptLineInput(
                scan=line.get("scan", ""),
                ndc=line.get("ndc", ""),
                lot=line.get("lot", ""),
                expiry=line.get("expiry") or None,
                packages=line["quantity"],
                serials=[line["serial"]] if line.get("serial") else [],
                location=line.get("location", ""),
            )
            for line in data["lines"]
        ]
        try:
            receipt = receive_stock(
                lines,
                supplier=data.get("supplier"),
                purchase_order=data.get("purchase_order"),
                by=request.user,
            )
        except ReceivingError as error:
            raise APIError(error.code, error.detail, fields=error.fields) from None
        except StockError as error:
            raise APIError(error.code, error.detail, status_code=409) from None
        receipt = _receipts().prefetch_related(*RECEIPT_PREFETCH).get(pk=receipt.pk)
        return Response(ReceiptSerializer(receipt).data, status=status.HTTP_201_CREATED)


class ReceiptDetailView(generics.RetrieveAPIView):
    """One delivery with its lines, lots and discrepancies."""

    serializer_class = ReceiptSerializer
    required_permissions = ["inventory.view_receipt"]

    def get_queryset(self):
        return _receipts().prefetch_related(*RECEIPT_PREFETCH)


@extend_schema(
    parameters=[
        OpenApiParameter(
            "ndc", str, description="Package NDC, hyphenated 10-digit or plain 11-digit"
        ),
        OpenApiParameter("lot", str, description="Lot number, exactly"),
        OpenApiParameter("status", str, enum=StockLot.Status.values),
        OpenApiParameter("in_stock", bool, description="Only lots with units on hand"),
    ]
)
class StockLotListView(generics.ListAPIView):
    """Lots of stock with their quantity on hand, first-expiring first."""

    serializer_class = StockLotSerializer
    required_permissions = ["inventory.view_stocklot"]

    def get_queryset(self):
        lots = StockLot.objects.select_related("package__product").order_by("expiry", "pk")
        params = self.request.query_params
        ndc = params.get("ndc", "").strip()
        if ndc:
            lots = lots.filter(package__ndc11=_ndc11(ndc))
        if params.get("lot", "").strip():
            lots = lots.filter(lot_number=params["lot"].strip())
        if params.get("status", "").strip():
            if params["status"] not in StockLot.Status.values:
                raise APIError(
                    "invalid_status",
                    f"status must be one of {', '.join(StockLot.Status.values)}.",
                )
            lots = lots.filter(status=params["status"])
        if params.get("in_stock", "").lower() in ("1", "true", "yes"):
            lots = lots.filter(quantity_on_hand__gt=0)
        return lots


# --------------------------------------------------------------------------- suppliers


def _supplier_input(request, *, partial: bool) -> dict:
    given = SupplierInputSerializer(data=request.data, partial=partial)
    if not given.is_valid():
        problems = " ".join(
            f"{field}: {messages[0]}" for field, messages in given.errors.items() if messages
        )
        raise APIError(
            "invalid_supplier",
            f"The supplier is not valid; nothing was saved. {problems}",
            fields=given.errors,
        )
    return given.validated_data


def _supplier_refused(error: SupplierError) -> APIError:
    status_code = 409 if error.code == "supplier_has_open_orders" else 400
    return APIError(error.code, error.detail, status_code=status_code, fields=error.fields)


SUPPLIER_REFUSED = OpenApiResponse(
    ErrorSerializer,
    description="Bad input (a name another supplier has in any case, an e-mail that is not "
    "one, a lead time outside 0-365 days, a control character, a field that is not a "
    "supplier's ...); `fields` names each problem; nothing written.",
)


class SupplierListView(generics.ListAPIView):
    """Suppliers by name; and adding one (DESIGN.md section 6). Receiving needs the list,
    so every role reads it; managers add and change suppliers."""

    serializer_class = SupplierSerializer
    required_permissions = {
        "GET": ["inventory.view_supplier"],
        "POST": ["inventory.add_supplier"],
    }

    def get_queryset(self):
        suppliers = Supplier.objects.order_by("name", "pk")
        params = self.request.query_params
        active = params.get("active", "").strip().lower()
        if active:
            if active not in ("true", "false", "1", "0"):
                raise APIError("invalid_parameter", "active is true or false.")
            suppliers = suppliers.filter(is_active=active in ("true", "1"))
        if "name" in params:
            suppliers = suppliers.filter(name__iexact=clean_supplier_name(params["name"]))
        return suppliers

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "active", bool, description="true: active suppliers; false: inactive ones"
            ),
            OpenApiParameter("name", str, description="Exact name (trimmed, any case)"),
        ],
    )
    def get(self, request, *args, **kwargs):
        return self.list(request, *args, **kwargs)

    @extend_schema(
        request=SupplierInputSerializer,
        responses={201: SupplierSerializer, 400: SUPPLIER_REFUSED},
    )
    def post(self, request):
        """Add a supplier: only the name is required."""
        data = _supplier_input(request, partial=False)
        try:
            supplier = create_supplier(by=request.user, **data)
        except SupplierError as error:
            raise _supplier_refused(error) from None
        return Response(SupplierSerializer(supplier).data, status=status.HTTP_201_CREATED)


class SupplierDetailView(generics.RetrieveAPIView):
    """One supplier; and changing some of its fields (DESIGN.md section 6)."""

    serializer_class = SupplierSerializer
    required_permissions = {
        "GET": ["inventory.view_supplier"],
        "PATCH": ["inventory.change_supplier"],
    }
    queryset = Supplier.objects.all()

    @extend_schema(
        request=SupplierInputSerializer,
        responses={
            200: SupplierSerializer,
            400: SUPPLIER_REFUSED,
            404: OpenApiResponse(ErrorSerializer, description="No supplier has that id."),
            409: OpenApiResponse(
                ErrorSerializer,
                description="Deactivating a supplier with purchase orders still open.",
            ),
        },
    )
    def patch(self, request, pk: int):
        """Change any of the supplier's fields; `"is_active": false` deactivates it
        (suppliers are never deleted: receipts and orders refer to them)."""
        supplier = self.get_object()
        data = _supplier_input(request, partial=True)
        try:
            supplier = update_supplier(supplier, by=request.user, **data)
        except SupplierError as error:
            raise _supplier_refused(error) from None
        return Response(SupplierSerializer(supplier).data)


# --------------------------------------------------------------------------- reorder, recalls


def _product_and_package(ndc: str) -> tuple[Product, Package | None]:
    """The product a product NDC or package NDC names (and the package, for the latter).
    400 ``invalid_ndc`` for text that is no NDC, 404 ``unknown_ndc`` when none matches."""
    ndc = ndc.strip()
    if is_product_ndc(ndc):
        product = Product.objects.filter(product_ndc=ndc).first()
        package = None
    else:
        package = Package.objects.select_related("product").filter(ndc11=_ndc11(ndc)).first()
        product = package.product if package else None
    if product is None:
        raise APIError("unknown_ndc", f"No product in the catalogue has the NDC {ndc}.", 404)
    return product, package


def _invalid(serializer, what: str):
    return APIError(
        f"invalid_{what}",
        f"The {what.replace('_', ' ')} is not valid; nothing was changed. See fields.",
        fields=serializer.errors,
    )


def _reorder_rules():
    return ReorderRule.objects.select_related("product", "order_package", "preferred_supplier")


class ReorderRuleListView(generics.ListAPIView):
    """Reorder rules of products; and setting one (DESIGN.md section 6)."""

    serializer_class = ReorderRuleSerializer
    required_permissions = {
        "GET": ["inventory.view_reorderrule"],
        "POST": ["inventory.add_reorderrule", "inventory.change_reorderrule"],
    }

    def get_queryset(self):
        return _reorder_rules()

    @extend_schema(
        request=ReorderRuleInputSerializer,
        responses={
            201: ReorderRuleSerializer,
            200: OpenApiResponse(ReorderRuleSerializer, description="The rule was replaced."),
            400: OpenApiResponse(ErrorSerializer, description="Bad input; nothing written."),
            404: OpenApiResponse(ErrorSerializer, description="No product has that NDC."),
        },
    )
    def post(self, request):
        """Set a product's reorder rule (replacing the one it had). Quantities are
        dispensing units; when the stock is already below the new reorder point the
        alert is raised at once."""
        given = ReorderRuleInputSerializer(data=request.data)
        if not given.is_valid():
            raise _invalid(given, "reorder_rule")
        data = given.validated_data
        product, package = _product_and_package(data["ndc"])
        try:
            rule, created = set_reorder_rule(
                product,
                by=request.user,
                reorder_point=data["reorder_point"],
                reorder_quantity=data["reorder_quantity"],
                par_level=data.get("par_level"),
                order_package=package,
                preferred_supplier=data.get("preferred_supplier"),
                lead_time_days=data.get("lead_time_days"),
            )
        except ReorderError as error:
            raise APIError(error.code, error.detail) from None
        return Response(
            ReorderRuleSerializer(_reorder_rules().get(pk=rule.pk)).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


def _reorder_alerts():
    return ReorderAlert.objects.select_related(
        "product", "suggested_package", "suggested_supplier", "acknowledged_by", "closed_by"
    )


@extend_schema(
    parameters=[
        OpenApiParameter("status", str, enum=ReorderAlert.Status.values),
        OpenApiParameter("current", bool, description="Only open and acknowledged alerts"),
        OpenApiParameter("ndc", str, description="Product NDC"),
    ]
)
class ReorderAlertListView(generics.ListAPIView):
    """Reorder alerts, open and past, newest first (DESIGN.md section 6)."""

    serializer_class = ReorderAlertSerializer
    required_permissions = ["inventory.view_reorderalert"]

    def get_queryset(self):
        alerts = _reorder_alerts()
        params = self.request.query_params
        wanted = params.get("status", "").strip()
        if wanted:
            if wanted not in ReorderAlert.Status.values:
                raise APIError(
                    "invalid_status",
                    f"status must be one of {', '.join(ReorderAlert.Status.values)}.",
                )
            alerts = alerts.filter(status=wanted)
        if params.get("current", "").lower() in ("1", "true", "yes"):
            alerts = alerts.current()
        if params.get("ndc", "").strip():
            alerts = alerts.filter(product__product_ndc=params["ndc"].strip())
        return alerts


class ReorderAlertDetailView(generics.RetrieveAPIView):
    serializer_class = ReorderAlertSerializer
    required_permissions = ["inventory.view_reorderalert"]

    def get_queryset(self):
        return _reorder_alerts()


class _ReorderAlertMoveView(generics.GenericAPIView):
    serializer_class = ReorderAlertSerializer
    required_permissions = ["inventory.change_reorderalert"]

    def get_queryset(self):
        return _reorder_alerts()

    def move(self, request, alert) -> ReorderAlert:
        raise NotImplementedError

    def post(self, request, pk: int):
        alert = self.get_object()
        try:
            self.move(request, alert)
        except ReorderError as error:
            raise APIError(error.code, error.detail, status_code=409) from None
        return Response(ReorderAlertSerializer(_reorder_alerts().get(pk=alert.pk)).data)


@extend_schema(
    request=None,
    responses={
        200: ReorderAlertSerializer,
        409: OpenApiResponse(ErrorSerializer, description="The alert is not open."),
    },
)
class ReorderAlertAcknowledgeView(_ReorderAlertMoveView):
    """A manager has seen the alert; it stays current (no new alert) until closed."""

    def move(self, request, alert):
        return acknowledge_reorder_alert(alert, by=request.user)


@extend_schema(
    request=ReorderAlertCloseSerializer,
    responses={
        200: ReorderAlertSerializer,
        409: OpenApiResponse(ErrorSerializer, description="The alert is closed already."),
    },
)
class ReorderAlertCloseView(_ReorderAlertMoveView):
    """The alert is dealt with; the next fall below the reorder point raises a new one."""

    def move(self, request, alert):
        given = ReorderAlertCloseSerializer(data=request.data)
        if not given.is_valid():
            raise _invalid(given, "close")
        return close_reorder_alert(
            alert, by=request.user, note=given.validated_data.get("note", "")
        )


# The query of the recall trace (also orders.api.views.RecallTraceView's).
LOT_TRACE_PARAMETERS = [
    OpenApiParameter(
        "ndc",
        str,
        required=True,
        description="Package NDC (hyphenated 10-digit or plain 11-digit), or a product "
        "NDC for the lot number across all its packages",
    ),
    OpenApiParameter("lot", str, required=True, description="Manufacturer lot number"),
]


@extend_schema(
    parameters=LOT_TRACE_PARAMETERS,
    responses={
        200: LotTraceSerializer,
        400: OpenApiResponse(ErrorSerializer, description="ndc or lot missing or malformed."),
        404: OpenApiResponse(ErrorSerializer, description="No such lot in stock records."),
    },
)
class LotTraceView(generics.GenericAPIView):
    """Every dispensing that received units of a lot, from the stock ledger, oldest first
    (DESIGN.md section 6).

    Each row is one dispensing (``reference`` ``fill:<id>``) of one lot with the units it
    took, returned and still out. The API serves ``orders.api.views.RecallTraceView``, this
    view with the fill and patient of each row (the ledger knows only the reference).
    """

    serializer_class = LotTraceSerializer
    required_permissions = ["inventory.change_stocklot"]

    def get(self, request):
        ndc = request.query_params.get("ndc", "").strip()
        lot_number = request.query_params.get("lot", "").strip()
        if not ndc or not lot_number:
            raise APIError(
                "missing_parameter", "Give both ndc and lot, e.g. ?ndc=0002-3227-30&lot=A123."
            )
        try:
            trace = self.lot_trace(ndc, lot_number)
        except InvalidNDCError as error:
            raise APIError("invalid_ndc", str(error)) from None
        if not trace.lots:
            raise APIError(
                "unknown_lot", f"No lot {lot_number} of NDC {ndc} is in the stock records.", 404
            )
        return Response(
            self.get_serializer(
                {
                    "ndc": ndc,
                    "lot": lot_number,
                    "lots": trace.lots,
                    "dispensings": trace.dispensings,
                }
            ).data
        )

    def lot_trace(self, ndc: str, lot_number: str):
        """The lots and their dispensings (the orders app names their fills and patients).
        Not ``trace``: a view's method of that name would answer HTTP TRACE."""
        return trace_lot(ndc, lot_number)


@extend_schema(
    request=RecallInputSerializer,
    responses={
        201: RecallResultSerializer,
        400: OpenApiResponse(ErrorSerializer, description="Bad input; nothing changed."),
        404: OpenApiResponse(ErrorSerializer, description="No lot of that NDC (and lot)."),
    },
)
class RecallView(generics.GenericAPIView):
    """Recall every lot of an NDC, or one lot number of it: none can be allocated or
    dispensed any more. Answers the lots that were recalled now (already recalled ones
    are left as they are), as ``{"count", "results"}``."""

    serializer_class = RecallResultSerializer
    required_permissions = ["inventory.change_stocklot"]

    def post(self, request):
        given = RecallInputSerializer(data=request.data)
        if not given.is_valid():
            raise _invalid(given, "recall")
        data = given.validated_data
        try:
            lots = lots_for_ndc(data["ndc"], data.get("lot", ""))
        except InvalidNDCError as error:
            raise APIError("invalid_ndc", str(error)) from None
        if not lots.exists():
            raise APIError("unknown_lot", "No lot of that NDC is in the stock records.", 404)
        try:
            changed = recall_ndc(
                data["ndc"], by=request.user, reason=data["reason"], lot_number=data.get("lot", "")
            )
        except LotStatusError as error:
            raise APIError(error.code, error.detail) from None
        lots = StockLot.objects.select_related("package__product").filter(
            pk__in=[lot.pk for lot in changed]
        )
        body = RecallResultSerializer({"count": len(lots), "results": lots}).data
        return Response(body, status=status.HTTP_201_CREATED)
