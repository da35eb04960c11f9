"""What a checker compares at the fill station and at PV2: the prescribed package beside
the one scanned (description, manufacturer, NDC, what a unit looks like, with each
difference said in words), and the Rx label shown inline exactly as it prints."""

from dataclasses import dataclass

from inventory.models import Package, Product
from orders.models import Fill, Prescription
from orders.services.labels import RxLabelError, rx_label_preview_html


def prescribed_package(prescription: Prescription) -> Package | None:
    """The package the prescription names by its NDC (``Package.objects.by_ndc11``), with
    its product; None when it names only a product."""
    if not prescription.prescribed_ndc:
        return None
    return (
        Package.objects.by_ndc11(prescription.prescribed_ndc)
        .select_related("product")
        .prefetch_related("product__strengths")
        .first()
    )


@dataclass(frozen=True)
class CompareRow:
    """One line of the PV2 table: what was prescribed, what was filled, and the
    difference in words ("" when they agree or there is nothing to compare)."""

    label: str
    prescribed: str
    filled: str
    difference: str = ""
    testid: str = ""


def _product_of(package: Package | None, fallback: Product | None) -> Product | None:
    return package.product if package is not None else fallback


def compare_rows(fill: Fill, package: Package | None) -> list[CompareRow]:
    """Product, package, manufacturer, NDC and unit of what was prescribed (``package``,
    else the prescription's product) beside what the fill step recorded. Another product
    (a substitution PV1 allowed), another package of the same product, or another
    manufacturer is said on its row."""
    prescription = fill.prescription
    prescribed = _product_of(package, prescription.product)
    dispensed_package = fill.dispensed_package
    dispensed = dispensed_package.product if dispensed_package else None
    filled = dispensed_package is not None
    same_product = filled and prescribed is not None and dispensed.pk == prescribed.pk
    rows = [
        CompareRow(
            "Drug",
            prescribed.full_description if prescribed else prescription.drug_description,
            dispensed.full_description if filled else "–",
            "Another product than the one prescribed" if filled and not same_product else "",
            "filled-product",
        ),
        CompareRow(
            "Package",
            package.description if package else "Any package of this product",
            dispensed_package.description if filled else "–",
            "Another package of the same product"
            if same_product and package is not None and dispensed_package.pk != package.pk
            else "",
            "filled-package",
        ),
        CompareRow(
            "Manufacturer",
            prescribed.labeler_name if prescribed else "–",
            dispensed.labeler_name if filled else "–",
            "Another manufacturer"
            if filled and prescribed and dispensed.labeler_name != prescribed.labeler_name
            else "",
            "filled-manufacturer",
        ),
        CompareRow(
            "NDC",
            package.package_ndc
            if package
            else f"Product {prescribed.product_ndc}"
            if prescribed
            else prescription.prescribed_ndc or "–",
            fill.dispensed_ndc if filled else "–",
            "",
            "filled-ndc",
        ),
        CompareRow(
            "One unit looks like",
            (prescribed.unit_description or "Not described") if prescribed else "–",
            (dispensed.unit_description or "Not described") if filled else "–",
            "Looks different: check the units in the vial"
            if filled
            and prescribed
            and dispensed.unit_description
            and prescribed.unit_description
            and dispensed.unit_description != prescribed.unit_description
            else "",
            "filled-unit",
        ),
    ]
    return rows


def label_preview(fill: Fill) -> dict:
    """The page context of the inline label: its HTML (``label_html``), or why there is
    none (``label_error``)."""
    try:
        return {"label_html": rx_label_preview_html(fill), "label_error": ""}
    except RxLabelError as error:
        return {"label_html": "", "label_error": error.detail}
