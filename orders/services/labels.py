"""Rx vial labels: what a fill's label prints, the PDF, and the stored RxLabel.

A label is rendered by WeasyPrint from ``templates/orders/rx_label.html`` on a 4 x 2.5 inch
label (the common pharmacy thermal and laser label stock), with the fonts bundled in
``static/fonts`` so every host renders the same bytes. It prints the federal minimum and
USP <17>'s patient-centred layout: the drug and strength at the top in large type, then
the patient, the directions, and the rest.

``generate_rx_label`` is idempotent: the label's identity is the SHA-256 of exactly what it
prints (``rx_label_data``), so the same data never renders twice and a delivery that runs
twice, or dies and is taken over, leaves one current label. The workflow calls
``queue_rx_label`` in the transaction of each move that changes what the label prints
(PV1 approval, the fill step, a PV2 rejection), which records an ``orders.rx_label`` side
effect in the outbox; only its deliverer (``orders.effects``) stores labels:
``rx_label_pdf``, what a page or the API shows, reads.
"""

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache

from django.conf import settings
from django.contrib.postgres.expressions import ArraySubquery
from django.db import IntegrityError, transaction
from django.db.models import OuterRef, Q, Subquery
from django.db.models.functions import JSONObject
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.utils import timezone
from django.utils.html import format_html

from inventory.models import (
    DEASchedule,
    Package,
    PharmacologicClass,
    Product,
    ProductIngredient,
    format_strength,
    strength_pairs_of,
)
from orders.models import SCHEDULE_ORDER, Fill, Prescription, RxLabel
from orders.services.pdf import thread_renderer
from outbox.services import record_side_effect
from pharmacy.models import AuxiliaryWarningRule

logger = logging.getLogger(__name__)

# The outbox kind of "make this fill's current label" (delivered by ``orders.effects``).
RX_LABEL_EFFECT = "orders.rx_label"

# Part of the hashed data: a change of the template or its CSS that moves what a label
# shows must change this, so existing labels are made again.
LABEL_LAYOUT = "rx-vial-4x2.5in-v1"
LABEL_CSS = settings.BASE_DIR / "static" / "css" / "rx_label.css"

# A label exists from PV1 approval on; a fill on hold keeps the label of where it was.
PAST_PV1 = frozenset(
    {
        Fill.Status.FILL,
        Fill.Status.PV2,
        Fill.Status.READY_TO_PACK,
        Fill.Status.PACKED,
        Fill.Status.SHIPPED,
    }
)
# Until PV2 approval the vial is still being filled and checked, so what is printed
# follows the data; after it, the label on the vial is the one the pharmacist verified.
BEING_FILLED = frozenset({Fill.Status.FILL, Fill.Status.PV2})

# 21 CFR 290.5: the transfer caution is required on Schedule II, III and IV drugs.
TRANSFER_CAUTION_SCHEDULES = frozenset({DEASchedule.CII, DEASchedule.CIII, DEASchedule.CIV})
TRANSFER_CAUTION = (
    "Caution: Federal law prohibits the transfer of this drug to any person other than "
    "the patient for whom it was prescribed."
)

# A label is rendered in the largest type it fits in, one page: "normal" first, then
# smaller. Directions longer than these (characters) never fit the larger type, even
# beside a one-line drug name and no warnings (measured), so that render is skipped.
DENSITIES = ("normal", "compact", "tight")
NORMAL_FITS_AT_MOST = 270
COMPACT_FITS_AT_MOST = 390

# Attempts at storing a label while the data it prints keep changing under it.
MAX_ATTEMPTS = 3

# Code 128 quiet zone: at least 10 modules on each side.
QUIET_ZONE_MODULES = 10


class RxLabelError(Exception):
    """A label that cannot be made: the fill has not passed PV1, or the text does not fit."""

    def __init__(self, code: str, detail: str):
        super().__init__(detail)
        self.code = code
        self.detail = detail


def has_passed_pv1(fill: Fill) -> bool:
    """True once a pharmacist approved PV1 (a fill on hold counts where it was held)."""
    if fill.status == Fill.Status.ON_HOLD:
        return fill.held_from_status in PAST_PV1
    return fill.status in PAST_PV1


def _refuse_unless_past_pv1(fill: Fill) -> None:
    if has_passed_pv1(fill):
        return
    if fill.status == Fill.Status.CANCELLED:
        raise RxLabelError("fill_cancelled", f"Fill {fill.pk} was cancelled: it has no label.")
    waiting = fill.held_from_status if fill.status == Fill.Status.ON_HOLD else fill.status
    raise RxLabelError(
        "label_not_ready",
        f"Fill {fill.pk} has not passed PV1 yet ({Fill.Status(waiting).label}"
        f"{', on hold' if fill.status == Fill.Status.ON_HOLD else ''}): its label is made "
        "once a pharmacist approves PV1.",
    )


# --------------------------------------------------------------------------- label data


def fill_date(fill: Fill) -> date:
    """The date printed as the fill date: the day it was filled, before that the day PV1
    approved it; fixed for the fill, so the same label made again prints the same."""
    return timezone.localtime(fill.filled_at or fill.pv1_at or fill.created_at).date()


def one_year_after(day: date) -> date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year + 1, day=28)


def discard_after(day: date, lot_expiry: date | None) -> date:
    """The beyond-use date printed on the vial: the earlier of the dispensed lot's expiry
    and one year from the fill date (USP <17>; most state boards). Before the fill step
    records a lot, one year from the fill date."""
    a_year_on = one_year_after(day)
    return min(a_year_on, lot_expiry) if lot_expiry else a_year_on


def _number(value: Decimal) -> str:
    """30.000 -> "30", 2.500 -> "2.5"."""
    return f"{value.normalize():f}"


UNIT_PLURALS = {"tablet": "tablets", "capsule": "capsules"}


def _quantity_unit(unit: str, quantity: Decimal) -> str:
    return unit if quantity == 1 else UNIT_PLURALS.get(unit, unit)


def _strictest_schedule(*schedules: str) -> str:
    named = [schedule for schedule in schedules if schedule]
    return min(named, key=SCHEDULE_ORDER.index) if named else DEASchedule.NONE


def _warnings(
    *, product, rule_rows: list[dict], schedule: str, child_resistant_waived: bool
) -> list[str]:
    """Auxiliary warnings: those of the pharmacists' rules the product meets
    (``_rule_warnings``), then those that follow from the prescription's own data
    (schedule, packaging). A warning the data cannot support is left to the pharmacist."""
    warnings = _rule_warnings(product, rule_rows)
    if schedule:
        warnings.append(f"Controlled substance: Schedule {schedule[1:]}.")
    if child_resistant_waived:
        warnings.append("This container is not child-resistant.")
    return warnings


def _rule_rows(product_id: str, storage: str) -> ArraySubquery:
    """The active ``AuxiliaryWarningRule`` rows whose class, ingredient and storage the
    product meets, in the rules' order, as ``{warning, dosage_form, route}`` objects:
    a subquery of the label's own statement, so the rules cost it no query of their own.
    ``product_id`` and ``storage`` name the product's id and storage in the outer query
    (``dispensed_package__product_id``...)."""
    classes = PharmacologicClass.objects.filter(products=OuterRef(OuterRef(product_id))).values(
        "name"
    )
    ingredients = ProductIngredient.objects.filter(
        product_id=OuterRef(OuterRef(product_id))
    ).values("ingredient__normalized_name")
    return ArraySubquery(
        AuxiliaryWarningRule.objects.filter(is_active=True)
        .filter(
            Q(pharmacologic_class_name="") | Q(pharmacologic_class_name__in=Subquery(classes)),
            Q(ingredient_key="") | Q(ingredient_key__in=Subquery(ingredients)),
            Q(storage="") | Q(storage=OuterRef(storage)),
        )
        .order_by("position", "pk")
        .values(json=JSONObject(warning="warning", dosage_form="dosage_form", route="route"))
    )


def _rule_warnings(product, rule_rows: list[dict]) -> list[str]:
    """The warnings of the rules (``_rule_rows``) whose dosage form and route words the
    product's dosage form and route contain, each text once."""
    if product is None:
        return []
    form, route = (product.dosage_form or "").upper(), (product.route or "").upper()
    warnings = []
    for rule in rule_rows or []:
        if rule["dosage_form"] in form and rule["route"] in route:
            if rule["warning"] not in warnings:
                warnings.append(rule["warning"])
    return warnings


_PRODUCT_FIELDS = (
    "nonproprietary_name",
    "proprietary_name",
    "proprietary_name_suffix",
    "product_ndc",
    "dosage_form",
    "route",
    "labeler_name",
    "dea_schedule",
    "storage",
)
# The columns the label prints from, and no others (the prescription's raw message and the
# catalogue's many columns stay in the database).
_FILL_FIELDS = (
    *("status", "held_from_status", "fill_number", "quantity", "dispensed_quantity"),
    *("expiry", "label_code", "filled_at", "pv1_at", "created_at"),
)
_PRESCRIPTION_FIELDS = (
    *("product", "rx_number", "prescribed_ndc", "drug_description", "dea_schedule"),
    *("quantity_unit", "directions", "child_resistant_waived", "refills_authorized"),
)
_PATIENT_FIELDS = ("first_name", "middle_name", "last_name", "child_resistant_waiver_on")
_PRESCRIBER_FIELDS = ("first_name", "last_name", "credentials")


def _under(path: str, fields: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f"{path}__{field}" for field in fields)


_LABEL_FIELDS = (
    *_FILL_FIELDS,
    *_under("prescription", _PRESCRIPTION_FIELDS),
    *_under("prescription__patient", _PATIENT_FIELDS),
    *_under("prescription__prescriber", _PRESCRIBER_FIELDS),
    "dispensed_package__package_ndc",
    *_under("dispensed_package__product", _PRODUCT_FIELDS),
)


@cache
def _label_fills():
    """Fills read with everything their label prints, in one statement: it runs twice
    per label (before rendering, and under the fill lock to see whether the data changed
    meanwhile). The dispensings (``with_refills_used``) are those up to this fill's
    number (partial and replacement fills share it), so a later refill does not change
    an earlier label. Built once per process (each ``get`` is a copy): resolving its
    subqueries and joins cost more than running them."""
    dispensings = (
        Prescription.objects.filter(pk=OuterRef("prescription_id"))
        .order_by()
        .with_refills_used(through_fill_number=OuterRef(OuterRef("fill_number")))
        .values("dispensings")
    )
    return (
        Fill.objects.select_related(
            "prescription__patient", "prescription__prescriber", "dispensed_package__product"
        )
        .only(*_LABEL_FIELDS)
        .annotate(
            dispensings=Subquery(dispensings),
            strength_pairs=strength_pairs_of(OuterRef("dispensed_package__product_id")),
            rule_rows=_rule_rows(
                "dispensed_package__product_id", "dispensed_package__product__storage"
            ),
        )
    )


def _named_before_filling(
    prescription: Prescription,
) -> tuple[Package | None, Product | None, list[dict], list[dict]]:
    """What a label names before the fill step records a package: the prescribed package
    (``Package.objects.by_ndc11``) and its product, else the prescription's product;
    with the product's strength pairs and warning rules (``_rule_rows``)."""
    if prescription.prescribed_ndc:
        package = (
            Package.objects.by_ndc11(prescription.prescribed_ndc)
            .select_related("product")
            .only("package_ndc", *_under("product", _PRODUCT_FIELDS))
            .annotate(
                strength_pairs=strength_pairs_of(OuterRef("product_id")),
                rule_rows=_rule_rows("product_id", "product__storage"),
            )
            .first()
        )
        if package is not None:
            return package, package.product, package.strength_pairs, package.rule_rows
    if prescription.product_id is None:
        return None, None, [], []
    product = (
        Product.objects.only(*_PRODUCT_FIELDS)
        .annotate(
            strength_pairs=strength_pairs_of(OuterRef("pk")), rule_rows=_rule_rows("pk", "storage")
        )
        .get(pk=prescription.product_id)
    )
    return None, product, product.strength_pairs, product.rule_rows


@dataclass
class _LabelRow:
    """What ``_read_label_row`` read: the fill with its prescription, patient and
    prescriber (``fill.prescription.patient``...), and the package and product the label
    names."""

    fill: Fill
    package: Package | None
    product: Product | None
    strengths: list[tuple[str, str]]
    dispensings: int
    rule_rows: list[dict]


def _read_label_row(fill_id: int, *, lock: bool = False) -> _LabelRow:
    """The fill's label data as they are in the database: one statement once the fill
    step recorded the package (the label's whole life after PV2), two before; with
    ``lock``, inside the caller's transaction, the fill row locked (``FOR UPDATE`` of the
    fill only). Raises Fill.DoesNotExist."""
    fills = _label_fills()
    if lock:
        fills = fills.select_for_update(of=("self",))
    fill = fills.get(pk=fill_id)
    package = fill.dispensed_package
    if package is not None:
        product, pairs, rule_rows = package.product, fill.strength_pairs, fill.rule_rows
    else:
        package, product, pairs, rule_rows = _named_before_filling(fill.prescription)
    return _LabelRow(
        fill=fill,
        package=package,
        product=product,
        strengths=[(pair["strength"], pair["unit"]) for pair in pairs or []],
        dispensings=fill.dispensings,
        rule_rows=rule_rows,
    )


def rx_label_data(fill: Fill) -> dict:
    """Everything the fill's label prints, read fresh from the database, as plain JSON
    values. The label's content hash is taken over exactly this."""
    return _label_data(_read_label_row(fill.pk))


def _label_data(row: _LabelRow) -> dict:
    """``rx_label_data`` of what ``_read_label_row`` read."""
    fill, package, product, strengths = row.fill, row.package, row.product, row.strengths
    prescription = fill.prescription
    if product:
        generic = product.nonproprietary_name or prescription.drug_description
        brand = " ".join(filter(None, [product.proprietary_name, product.proprietary_name_suffix]))
        if brand.lower() == generic.lower():
            brand = ""
        ndc = package.package_ndc if package else product.product_ndc
    else:
        generic, brand, ndc = prescription.drug_description, "", prescription.prescribed_ndc
    schedule = _strictest_schedule(
        prescription.dea_schedule, product.dea_schedule if product else ""
    )
    quantity = fill.dispensed_quantity or fill.quantity
    patient = prescription.patient
    day = fill_date(fill)
    return {
        "layout": LABEL_LAYOUT,
        "pharmacy": {
            "name": settings.PHARMACY_NAME,
            "address": settings.PHARMACY_ADDRESS,
            "phone": settings.PHARMACY_PHONE,
        },
        "rx_number": prescription.rx_number,
        "label_code": fill.label_code,
        "fill_date": day.isoformat(),
        "patient_name": patient.full_name if patient else "",
        "drug": {
            "generic": generic,
            "brand": brand,
            "strength": format_strength(strengths),
            "dosage_form": (product.dosage_form if product else "").split(",")[0].strip(),
        },
        "directions": prescription.directions,
        "quantity": _number(quantity),
        "quantity_unit": _quantity_unit(prescription.quantity_unit, quantity),
        "prescriber": str(prescription.prescriber) if prescription.prescriber else "",
        # As of this fill: a later refill request does not change a vial already made.
        "refills_remaining": prescription.refills_remaining(dispensings=row.dispensings),
        "discard_after": discard_after(day, fill.expiry).isoformat(),
        "ndc": ndc,
        "manufacturer": product.labeler_name if product else "",
        "dea_schedule": schedule,
        "warnings": _warnings(
            product=product,
            rule_rows=row.rule_rows,
            schedule=schedule,
            child_resistant_waived=prescription.child_resistant_waived
            or bool(patient and patient.child_resistant_waiver_on),
        ),
        "transfer_caution": TRANSFER_CAUTION if schedule in TRANSFER_CAUTION_SCHEDULES else "",
    }


def label_content_hash(data: dict) -> str:
    """SHA-256 of the canonical JSON of the label's data (sorted keys, no spaces)."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


# --------------------------------------------------------------------------- rendering


def code128_svg(code: str, *, height: str = "0.3in") -> str:
    """The code as a Code 128 barcode, inline SVG: python-barcode encodes it, and every
    bar is one rectangle of a single path (one module = one SVG unit), with the quiet
    zones on either side."""
    from barcode import Code128  # noqa: PLC0415 (imported by the processes that render)

    modules = Code128(code).build()[0]
    bars = []
    for match in re.finditer("1+", modules):
        start, width = match.start() + QUIET_ZONE_MODULES, match.end() - match.start()
        bars.append(f"M{start} 0h{width}v1h-{width}z")
    total = len(modules) + 2 * QUIET_ZONE_MODULES
    return format_html(
        '<svg class="barcode" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {} 1" '
        'preserveAspectRatio="none" width="{}pt" height="{}" shape-rendering="crispEdges">'
        '<path d="{}"/></svg>',
        total,
        # 0.75 pt (10.4 mil) a module: a 10 mil X-dimension, read by any scanner.
        _number(Decimal(total) * Decimal("0.75")),
        height,
        "".join(bars),
    )


def _densities(data: dict) -> tuple[str, ...]:
    """The type sizes worth trying for these data, largest first."""
    length = len(data["directions"])
    if length > COMPACT_FITS_AT_MOST:
        return DENSITIES[2:]
    if length > NORMAL_FITS_AT_MOST:
        return DENSITIES[1:]
    return DENSITIES


def _us_date(iso: str) -> str:
    return date.fromisoformat(iso).strftime("%m/%d/%Y")


def _facts(data: dict) -> str:
    """The label's facts as lines of text, a tab before the second column: one text box
    lays out faster than the same lines as elements."""
    refills = data["refills_remaining"]
    quantity = f"Qty: {data['quantity']} {data['quantity_unit']}"
    ndc = f"NDC {data['ndc']}" + (f"  Mfr: {data['manufacturer']}" if data["manufacturer"] else "")
    return "\n".join(
        [
            f"{quantity}\tFilled: {_us_date(data['fill_date'])}",
            f"{f'Refills left: {refills}' if refills else 'No refills left'}"
            f"\tDiscard after: {_us_date(data['discard_after'])}",
            f"Prescriber: {data['prescriber']}",
            ndc,
        ]
    )


def _fitting_label(data: dict, **extra) -> tuple[str, object]:
    """The label's HTML in the largest type whose layout fits one 4 x 2.5 inch page, with
    that layout (a ``weasyprint.Document``). ``extra`` goes to the template only after
    the layout is chosen. Raises RxLabelError when even the smallest type overflows."""
    # The label's stylesheet holds the few user-agent rules it needs (``display`` of its
    # elements), so WeasyPrint's own large sheet is not cascaded for every label.
    renderer = thread_renderer(LABEL_CSS, document="Rx label", user_agent_stylesheet=False)
    context = {"label": data, "facts": _facts(data), "barcode": code128_svg(data["label_code"])}
    for density in _densities(data):
        html = render_to_string("orders/rx_label.html", {**context, "density": density})
        document = renderer.render(html)
        if len(document.pages) == 1:
            if extra:
                html = render_to_string(
                    "orders/rx_label.html", {**context, "density": density, **extra}
                )
            return html, document
    raise RxLabelError(
        "label_too_long",
        f"The label of Rx {data['rx_number']} does not fit on one 4 x 2.5 inch label even "
        "in the smallest type: shorten the directions.",
    )


def render_rx_label_pdf(data: dict) -> bytes:
    """The label as PDF bytes: one 4 x 2.5 inch page in the largest type the text fits,
    the same bytes for the same data (its creation date is the fill date, no clock time;
    no random file identifier). Raises RxLabelError when the text does not fit on one
    label even in the smallest type."""
    _html, document = _fitting_label(data)
    return document.write_pdf()


def rx_label_preview_html(fill: Fill) -> str:
    """The fill's label as the HTML document its PDF is printed from: the same template,
    data, type size and stylesheet (linked, with a screen sheet that stands in for the
    print page's size and margins), for a page to show inline (the PV2 page and the fill
    station put it in an ``<iframe srcdoc>``, which keeps the label's CSS to itself).
    A rendering, not a rasterised PDF: no PDF rasteriser is installed, and the HTML
    holds the same bundled fonts. One difference: the vial code and its barcode are a
    blank box of their size (``on_screen``), since the code is scanned from the printed
    label at PV2 and packing, never from a screen or typed from it. Stores nothing. Raises
    RxLabelError before PV1 or when the text does not fit (the print says the same)."""
    _refuse_unless_past_pv1(fill)
    data = rx_label_data(fill)
    stylesheets = [static("css/rx_label.css"), static("css/rx_label_screen.css")]
    html, _document = _fitting_label(data, stylesheets=stylesheets, on_screen=True)
    return html


# --------------------------------------------------------------------------- stored labels


def current_rx_label(fill: Fill) -> RxLabel | None:
    """The fill's current label, or None."""
    return RxLabel.objects.filter(fill_id=fill.pk, is_current=True).first()


def _store(fill_id: int, content_hash: str, pdf: bytes | None) -> RxLabel | None:
    """Inside the caller's transaction: the label with this hash becomes the one current
    label, inserted when new. None when its PDF is needed but was not rendered."""
    label = RxLabel.objects.filter(fill_id=fill_id, content_hash=content_hash).first()
    if label is not None and label.is_current:
        return label
    if label is None and pdf is None:
        return None
    RxLabel.objects.filter(fill_id=fill_id, is_current=True).update(is_current=False)
    if label is not None:
        RxLabel.objects.filter(pk=label.pk).update(is_current=True)
        label.is_current = True
        return label
    return RxLabel.objects.create(
        fill_id=fill_id, content_hash=content_hash, pdf=pdf, is_current=True
    )


def generate_rx_label(fill: Fill) -> RxLabel:
    """The fill's current label, made for its data as they are now.

    When a label with the same content hash exists it becomes (or stays) current and
    nothing is rendered. Otherwise the PDF is rendered outside any transaction, then one
    transaction locks the fill row (serialising label writers of one fill), checks the
    data did not change meanwhile (else renders again), marks the old label not current
    and inserts the new one. Raises RxLabelError for a fill that has not passed PV1 or
    whose text does not fit.
    """
    row = _read_label_row(fill.pk)
    _refuse_unless_past_pv1(row.fill)
    data = _label_data(row)
    content_hash = label_content_hash(data)
    for _attempt in range(MAX_ATTEMPTS):
        label = RxLabel.objects.filter(fill_id=fill.pk, content_hash=content_hash).first()
        if label is not None and label.is_current:
            return label
        pdf = None if label is not None else render_rx_label_pdf(data)
        try:
            with transaction.atomic():
                # The same read again, the fill row locked.
                locked = _read_label_row(fill.pk, lock=True)
                _refuse_unless_past_pv1(locked.fill)
                fresh = _label_data(locked)
                if label_content_hash(fresh) == content_hash:
                    label = _store(fill.pk, content_hash, pdf)
                    if label is not None:
                        return label
                # The data changed while the PDF was rendered: render them as they are.
                data, content_hash = fresh, label_content_hash(fresh)
        except IntegrityError:
            # A writer that did not take the fill lock stored this hash first: read it.
            logger.info("Label of fill %s: stored by another writer; re-reading.", fill.pk)
    raise RxLabelError(
        "label_data_changing",
        f"The data of fill {fill.pk} kept changing while its label was made; try again.",
    )


def rx_label_pdf(fill: Fill) -> bytes:
    """The PDF of the fill's label to show or print; stores nothing (a read never writes:
    the deliverer of ``queue_rx_label``'s side effect stores labels). After PV2, the stored
    label the pharmacist verified. Before that, or while no label is stored yet, the stored
    current label when it prints the fill's data as they are now, else the same PDF
    rendered from them. Raises RxLabelError before PV1 or when the text does not fit."""
    _refuse_unless_past_pv1(fill)
    label = current_rx_label(fill)
    status = fill.held_from_status if fill.status == Fill.Status.ON_HOLD else fill.status
    if label is not None and status not in BEING_FILLED:
        return bytes(label.pdf)
    data = rx_label_data(fill)
    if label is not None and label.content_hash == label_content_hash(data):
        return bytes(label.pdf)
    return render_rx_label_pdf(data)


# --------------------------------------------------------------------------- recording


def queue_rx_label(fill: Fill) -> None:
    """Record, in the caller's transaction, that the fill needs its label made for its
    data as they will be on commit: an ``orders.rx_label`` side effect (``outbox``),
    delivered by a worker with ``generate_rx_label`` (``orders.effects``). Called by every
    move that changes what the label prints (PV1 approval, the fill step, a PV2 rejection,
    a reship's replacement fill); a rolled-back move leaves no side effect behind."""
    record_side_effect(
        RX_LABEL_EFFECT, target_id=fill.pk, description=f"Rx label of fill {fill.pk}"
    )
