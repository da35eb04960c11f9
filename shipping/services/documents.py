"""Shipping documents: the 4 x 6 inch carrier label, the patient's packing slip, waves of
labels printed together (label batches), and the end-of-day manifest of each carrier.

Labels and slips are rendered like the Rx vial label (``orders.services.labels``, through
``orders.services.pdf``): WeasyPrint with the bundled fonts and nothing fetched, one
parsed stylesheet per thread, and no clock time in the file, so the same data give the
same bytes. A document's identity is the SHA-256 of exactly what it prints
(``shipping_label_data``, ``packing_slip_data``): the same data are never rendered twice,
and a task that runs twice, or dies and retries, leaves one current document of each kind.

The label goes on the outside of the box: addresses, carrier and service, the tracking
number (Code 128 and text), the package id and the cold-chain or signature marks, and
nothing about what is inside (no drug name, nothing that says "controlled"). The packing
slip goes inside: what is in the box and how to reach the pharmacy; the top of its first
page shows only the package id and the patient's name.

A new shipment queues ``queue_shipping_documents`` (its packing slip, printed before
packing) and ``pack_shipment`` queues it again once the carrier sold the label; pages print
labels through ``start_label_batch`` and manifests through ``build_manifest``. Pages and
the API only read: ``document_pdf`` is the stored document, or, while its task has not
stored it yet, the same PDF rendered from the data without storing it.
"""

import contextlib
import csv
import io
import logging
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef
from django.template.loader import render_to_string
from django.utils import timezone

from orders.services.labels import code128_svg, label_content_hash, rx_label_data
from orders.services.pdf import thread_renderer
from pharmacy.models import Role, User
from shipping.models import Carrier, LabelBatch, Manifest, Shipment, ShippingDocument
from shipping.services.rules import is_cold_chain_fill
from shipping.services.shipments import ShippingError, shipment_fills

logger = logging.getLogger(__name__)

# Part of the hashed data: a change of a template or its CSS that moves what a document
# shows must change its layout name, so existing documents are made again.
LABEL_LAYOUT = "shipping-label-4x6in-v1"
PACKING_SLIP_LAYOUT = "packing-slip-letter-v1"
CSS_DIR = settings.BASE_DIR / "static" / "css"
LABEL_CSS = CSS_DIR / "shipping_label.css"
PACKING_SLIP_CSS = CSS_DIR / "shipping_packing_slip.css"
MANIFEST_CSS = CSS_DIR / "shipping_manifest.css"

# Attempts at storing a document while the data it prints keep changing under it.
MAX_ATTEMPTS = 3

# The carrier bought the label (tracking number) when the package was packed; before
# that, or after a pharmacist unpacked it, there is no label to print.
HAS_LABEL = frozenset(Shipment.Status) - {Shipment.Status.AWAITING_PACKING}
# A package is on a carrier's manifest once handed over, whatever happened to it since.
HANDED_OVER = frozenset(
    {
        Shipment.Status.HANDED_TO_CARRIER,
        Shipment.Status.IN_TRANSIT,
        Shipment.Status.DELIVERED,
        Shipment.Status.EXCEPTION,
        Shipment.Status.RETURNED,
    }
)
STAFF_ROLES = frozenset({Role.TECHNICIAN, Role.PHARMACIST, Role.MANAGER})

# Code 128 of the tracking number: bars of 1.4 pt (19 mil, inside the 13-21 mil carriers
# scan best) unless the code is too long for the label's width; then as wide as fits.
TRACKING_MODULE_PT = Decimal("1.4")
TRACKING_MAX_WIDTH_PT = Decimal(255)
PACKAGE_MODULE_PT = Decimal("1.2")
# The longest ship-to line printed in the large type, and in the middle one.
ADDRESS_LINE = 28
LONG_ADDRESS_LINE = 36

COLD_CHAIN_MARK = {
    "title": "REFRIGERATE - PERISHABLE",
    "note": "Deliver today. Do not leave in heat or sun.",
}
SIGNATURE_MARK = {
    "title": "SIGNATURE REQUIRED",
    "note": "Do not leave the package without a signature.",
}


# --------------------------------------------------------------------------- common


def _refuse_unless_staff(by: User, what: str) -> None:
    if by.role not in STAFF_ROLES:
        who = by.role_label.lower() if by.role else "user without a role"
        raise ShippingError("role_not_allowed", f"A {who} cannot {what}.", status=403)


def _us_date(iso: str) -> str:
    return date.fromisoformat(iso).strftime("%m/%d/%Y")


def _carrier_name(code: str) -> str:
    """The carrier as printed: "Local delivery", not the admin's "(built in)"."""
    return Carrier(code).label.split(" (")[0] if code else ""


def _printed_carrier(shipment: Shipment) -> str:
    """Who carries the package: through an aggregator (EasyPost) the carrier of the
    service ("USPS:Priority" -> "USPS"), else the carrier itself."""
    service_code = shipment.service.code if shipment.service else ""
    if ":" in service_code:
        return service_code.split(":")[0]
    return _carrier_name(shipment.carrier)


def _weight(weight_oz: Decimal | None) -> str:
    """12.0 -> "12 oz", 20.5 -> "1 lb 4.5 oz"."""
    if weight_oz is None:
        return ""
    pounds, ounces = divmod(Decimal(weight_oz), 16)
    ounces_text = f"{ounces.normalize():f} oz" if ounces else ""
    return " ".join(filter(None, [f"{pounds} lb" if pounds else "", ounces_text])) or "0 oz"


def _city_line(city: str, state: str, postal_code: str) -> str:
    return f"{city}, {state} {postal_code}".strip(" ,")


def _barcode(code: str, *, module_pt: Decimal, height: str, max_width_pt: Decimal) -> dict:
    """The Code 128 of ``code`` (``orders.services.labels.code128_svg``) and the width it
    is printed at: ``module_pt`` a module, narrower when that would not fit."""
    svg = code128_svg(code, height=height)
    modules = int(re.search(r'viewBox="0 0 (\d+) 1"', svg)[1])
    width = min(modules * module_pt, max_width_pt)
    return {"svg": svg, "width": f"{width:.2f}pt"}


def _shipment_date(shipment: Shipment) -> date:
    """The day printed as the ship date: the first day the rules allow it to ship, else
    the day it was packed; fixed, so the same label made again prints the same."""
    if shipment.ship_on:
        return shipment.ship_on
    return timezone.localtime(shipment.packed_at or shipment.created_at).date()


def document_content_hash(data: dict) -> str:
    """SHA-256 of the canonical JSON of a document's data (as the Rx label's)."""
    return label_content_hash(data)


# --------------------------------------------------------------------------- label data


def _refuse_unless_labelled(shipment: Shipment) -> None:
    if shipment.status in HAS_LABEL and shipment.tracking_number and shipment.service_id:
        return
    raise ShippingError(
        "label_not_ready",
        f"Package {shipment.package_code} has no carrier label yet: the carrier sells it "
        "when the package is packed.",
        package_codes=[shipment.package_code],
    )


def _shipments_for_label():
    return Shipment.objects.select_related("service")


def shipping_label_data(shipment: Shipment) -> dict:
    """Everything the shipment's carrier label prints, as plain JSON values, from the
    shipment as given (``generate_shipping_label`` reads it fresh). The content hash is
    taken over exactly this. Nothing of the order's contents is in it."""
    ship_from = settings.SHIP_FROM
    marks = []
    if shipment.is_cold_chain:
        marks.append(COLD_CHAIN_MARK)
    if shipment.signature_required:
        marks.append(SIGNATURE_MARK)
    return {
        "layout": LABEL_LAYOUT,
        "ship_date": _shipment_date(shipment).isoformat(),
        "from": {
            "name": ship_from["name"],
            "line1": ship_from["line1"],
            "line2": ship_from.get("line2", ""),
            "city": ship_from["city"],
            "state": ship_from["state"],
            "postal_code": ship_from["postal_code"],
            "phone": ship_from.get("phone", ""),
        },
        "to": {
            "name": shipment.ship_to_name,
            "line1": shipment.ship_to_line1,
            "line2": shipment.ship_to_line2,
            "city": shipment.ship_to_city,
            "state": shipment.ship_to_state,
            "postal_code": shipment.ship_to_postal_code,
        },
        "carrier": _printed_carrier(shipment),
        "service": shipment.service.name if shipment.service else "",
        "service_code": shipment.service.code if shipment.service else "",
        "tracking_number": shipment.tracking_number,
        "package_code": shipment.package_code,
        "weight": _weight(shipment.weight_oz),
        "marks": marks,
    }


def _grouped(code: str) -> str:
    """A tracking number in groups of four, as carriers print it for people to read."""
    return " ".join(code[i : i + 4] for i in range(0, len(code), 4))


def _address_size(lines: list[str]) -> str:
    """The type of the ship-to address: large while its longest line fits the label's
    width in it (28 wide capitals at 13 pt, 36 at 10.5 pt), else smaller; longer
    still wraps inside its box."""
    longest = max(len(line) for line in lines)
    if longest > LONG_ADDRESS_LINE:
        return "longer"
    if longest > ADDRESS_LINE:
        return "long"
    return ""


def render_shipping_label_pdf(data: dict) -> bytes:
    """The label as PDF bytes: one 4 x 6 inch page, the same bytes for the same data (its
    creation date is the ship date, no clock time; no random file identifier)."""
    barcode = _barcode(
        data["tracking_number"],
        module_pt=TRACKING_MODULE_PT,
        height="0.85in",
        max_width_pt=TRACKING_MAX_WIDTH_PT,
    )
    ship_from, to = data["from"], data["to"]
    from_lines = [
        ship_from["name"],
        ship_from["line1"],
        ship_from["line2"],
        _city_line(ship_from["city"], ship_from["state"], ship_from["postal_code"]),
        ship_from["phone"],
    ]
    to_lines = [
        to["name"],
        to["line1"],
        to["line2"],
        f"{to['city']} {to['state']} {to['postal_code']}",
    ]
    facts = [
        f"Ship date {_us_date(data['ship_date'])}",
        f"Weight {data['weight']}" if data["weight"] else "",
        data["service_code"],
    ]
    html = render_to_string(
        "shipping/label_4x6.html",
        {
            "label": data,
            "from_text": "\n".join(filter(None, from_lines)),
            # Capitals here, not by CSS (the same look for less layout work).
            "service_text": f"{data['carrier'] or '-'}\n{data['service']}".upper(),
            "to_text": "\n".join(filter(None, to_lines)).upper(),
            "to_size": _address_size(to_lines),
            "barcode": barcode["svg"],
            "barcode_width": barcode["width"],
            "tracking_text": _grouped(data["tracking_number"]),
            "facts": "\t".join(filter(None, facts)),
        },
    )
    renderer = thread_renderer(LABEL_CSS, document="shipping label", user_agent_stylesheet=False)
    document = renderer.render(html)
    return document.write_pdf()


# --------------------------------------------------------------------------- packing slip


def _medication(drug: dict) -> str:
    """ "Atomoxetine hydrochloride 10 mg capsule (Strattera)" from the Rx label's drug."""
    text = " ".join(filter(None, [drug["generic"], drug["strength"], drug["dosage_form"].lower()]))
    text = text[:1].upper() + text[1:]
    return f"{text} ({drug['brand']})" if drug["brand"] else text


def packing_slip_data(shipment: Shipment) -> dict:
    """Everything the shipment's packing slip prints, as plain JSON values: the package
    id and patient, each fill in the box as its Rx label names it (Rx number, drug,
    quantity, refills left), the handling notes and the pharmacy's contact. Nothing the
    packing step decides (carrier, tracking number, packaging): the slip is printed and
    scanned before the package is packed, so the one in the box stays the current one."""
    order = shipment.order
    items = []
    for fill in shipment_fills(shipment):
        label = rx_label_data(fill)
        items.append(
            {
                "rx_number": label["rx_number"],
                "medication": _medication(label["drug"]),
                "quantity": f"{label['quantity']} {label['quantity_unit']}".strip(),
                "refills_remaining": label["refills_remaining"],
                "refrigerate": is_cold_chain_fill(fill),
                "is_controlled": bool(label["dea_schedule"]),
            }
        )
    return {
        "layout": PACKING_SLIP_LAYOUT,
        "package_code": shipment.package_code,
        "patient_name": order.patient.full_name,
        "order": order.pk,
        "order_date": timezone.localtime(order.created_at).date().isoformat(),
        "pharmacy": {
            "name": settings.PHARMACY_NAME,
            "address": settings.PHARMACY_ADDRESS,
            "phone": settings.PHARMACY_PHONE,
        },
        "items": items,
        "cold_chain": any(item["refrigerate"] for item in items),
        "has_controlled": any(item["is_controlled"] for item in items),
    }


def render_packing_slip_pdf(data: dict) -> bytes:
    """The packing slip as PDF bytes (US Letter, as many pages as the items need, each
    page's foot naming the package and the page), the same bytes for the same data."""
    barcode = _barcode(
        data["package_code"],
        module_pt=PACKAGE_MODULE_PT,
        height="0.45in",
        max_width_pt=Decimal(300),
    )
    html = render_to_string(
        "shipping/packing_slip.html",
        {
            "slip": data,
            "barcode": barcode["svg"],
            "barcode_width": barcode["width"],
            "order_date": _us_date(data["order_date"]),
        },
    )
    document = thread_renderer(PACKING_SLIP_CSS, document="packing slip").render(html)
    return document.write_pdf()


# --------------------------------------------------------------------------- stored documents


def current_document(shipment: Shipment, kind: str) -> ShippingDocument | None:
    """The shipment's current document of this kind (ShippingDocument.Kind), or None."""
    return ShippingDocument.objects.filter(
        shipment_id=shipment.pk, kind=kind, is_current=True
    ).first()


def _store(shipment_id: int, kind: str, content_hash: str, pdf: bytes | None):
    """Inside the caller's transaction (the shipment row locked): the document with this
    hash becomes the one current document of its kind, inserted when new. None when its
    PDF is needed but was not rendered."""
    documents = ShippingDocument.objects.filter(shipment_id=shipment_id, kind=kind)
    document = documents.filter(content_hash=content_hash).first()
    if document is not None and document.is_current:
        return document
    if document is None and pdf is None:
        return None
    documents.filter(is_current=True).update(is_current=False)
    if document is not None:
        ShippingDocument.objects.filter(pk=document.pk).update(is_current=True)
        document.is_current = True
        return document
    return ShippingDocument.objects.create(
        shipment_id=shipment_id, kind=kind, content_hash=content_hash, pdf=pdf, is_current=True
    )


@dataclass(frozen=True)
class _DocumentKind:
    kind: str
    data: object  # (shipment) -> dict; raises ShippingError when there is none to make
    render: object  # (dict) -> bytes


def _check_label(shipment: Shipment) -> dict:
    _refuse_unless_labelled(shipment)
    return shipping_label_data(shipment)


LABEL = _DocumentKind(ShippingDocument.Kind.LABEL, _check_label, render_shipping_label_pdf)
PACKING_SLIP = _DocumentKind(
    ShippingDocument.Kind.PACKING_SLIP, packing_slip_data, render_packing_slip_pdf
)


def _generate(shipment: Shipment, document: _DocumentKind) -> ShippingDocument:
    """The shipment's current document of this kind, made for its data as they are now.

    When a document with the same content hash exists it becomes (or stays) current and
    nothing is rendered. Otherwise the PDF is rendered outside any transaction, then one
    transaction locks the shipment row (serialising document writers of one shipment),
    checks the data did not change meanwhile (else renders again), marks the old
    document not current and inserts the new one."""
    data = document.data(_shipments_for_label().get(pk=shipment.pk))
    content_hash = document_content_hash(data)
    for _attempt in range(MAX_ATTEMPTS):
        stored = ShippingDocument.objects.filter(
            shipment_id=shipment.pk, kind=document.kind, content_hash=content_hash
        ).first()
        if stored is not None and stored.is_current:
            return stored
        pdf = None if stored is not None else document.render(data)
        try:
            with transaction.atomic():
                locked = _shipments_for_label().select_for_update(of=("self",)).get(pk=shipment.pk)
                fresh = document.data(locked)
                if document_content_hash(fresh) == content_hash:
                    stored = _store(shipment.pk, document.kind, content_hash, pdf)
                    if stored is not None:
                        return stored
                # The data changed while the PDF was rendered: render them as they are.
                data, content_hash = fresh, document_content_hash(fresh)
        except IntegrityError:
            # A writer that did not take the shipment lock stored this hash first.
            logger.info("%s of shipment %s: stored by another writer.", document.kind, shipment.pk)
    raise ShippingError(
        "document_data_changing",
        f"The data of package {shipment.package_code} kept changing while its "
        f"{ShippingDocument.Kind(document.kind).label.lower()} was made; try again.",
    )


DOCUMENT_KINDS = {LABEL.kind: LABEL, PACKING_SLIP.kind: PACKING_SLIP}


def document_pdf(shipment: Shipment, kind: str) -> bytes:
    """The PDF of the shipment's current document of this kind (a label or a packing
    slip) to show or print; while its task has not stored one yet, the same PDF rendered
    from the shipment's data as they are now, stored by nobody (a read never writes).
    Raises ShippingError ``label_not_ready`` for a label the carrier has not sold yet."""
    stored = current_document(shipment, kind)
    if stored is not None:
        return bytes(stored.pdf)
    document = DOCUMENT_KINDS[kind]
    return document.render(document.data(_shipments_for_label().get(pk=shipment.pk)))


def generate_shipping_label(shipment: Shipment) -> ShippingDocument:
    """The shipment's current 4 x 6 inch carrier label (ShippingDocument LABEL), made
    when its printed data changed (a new one only then). Locks the shipment row while
    storing. Raises ShippingError ``label_not_ready`` before the carrier sold the label
    (no tracking number, awaiting packing)."""
    return _generate(shipment, LABEL)


def generate_packing_slip(shipment: Shipment) -> ShippingDocument:
    """The shipment's current packing slip (ShippingDocument PACKING_SLIP), made when what
    it prints changed. Locks the shipment row while storing."""
    return _generate(shipment, PACKING_SLIP)


def generate_shipping_documents(shipment: Shipment) -> dict:
    """The label once the carrier sold it, and the packing slip: what the documents task
    does. Returns the ids made or found (``label`` None while there is no label yet)."""
    result = {"label": None, "packing_slip": None}
    try:
        # The label first: the package waits for it at the packing station.
        result["label"] = generate_shipping_label(shipment).pk
    except ShippingError as error:
        if error.code != "label_not_ready":
            raise
        logger.info("Shipment %s: no label yet: %s", shipment.pk, error.detail)
    result["packing_slip"] = generate_packing_slip(shipment).pk
    return result


# --------------------------------------------------------------------------- queueing


def _send(task, args: tuple, what: str) -> bool:
    """Queue a task; False (logged) when the broker cannot take it. Fails fast (one
    connection attempt, no result to wait for): the catch-up task does it later."""
    app = task.app
    try:
        with app.producer_pool.acquire(block=True, timeout=2) as producer:
            producer.connection.ensure_connection(
                max_retries=1, interval_start=0, interval_step=0, timeout=2
            )
            task.apply_async(args, producer=producer, retry=False, ignore_result=True)
    except Exception:
        logger.warning(
            "%s: could not queue it (is the broker down?); the catch-up task will.",
            what,
            exc_info=True,
        )
        return False
    return True


def queue_shipping_documents(shipment: Shipment) -> None:
    """After the current transaction commits, queue the task that makes the shipment's
    label and packing slip (at once when no transaction is open). A broker failure is
    logged, never raised."""
    from shipping.tasks import generate_shipping_documents_task  # noqa: PLC0415 (tasks import us)

    shipment_id = shipment.pk
    transaction.on_commit(
        lambda: _send(
            generate_shipping_documents_task,
            (shipment_id,),
            f"Documents of shipment {shipment_id}",
        )
    )


def _catch_up_after() -> timedelta:
    return timedelta(seconds=settings.SHIPPING_DOCUMENTS_CATCH_UP_AFTER_SECONDS)


def shipments_missing_label(*, older_than: timedelta):
    """Shipments the carrier sold a label for (packed or labelled), without a current
    label, whose status changed more than ``older_than`` ago (their task had its chance)."""
    return (
        Shipment.objects.filter(
            status__in=[Shipment.Status.PACKED, Shipment.Status.LABELLED],
            status_changed_at__lte=timezone.now() - older_than,
        )
        .exclude(tracking_number="")
        .exclude(
            Exists(
                ShippingDocument.objects.filter(
                    shipment=OuterRef("pk"), kind=ShippingDocument.Kind.LABEL, is_current=True
                )
            )
        )
        .order_by("pk")
    )


def generate_missing_shipping_documents(
    *, limit: int = 200, older_than: timedelta | None = None
) -> int:
    """Make the labels (and slips) whose task never ran (broker down at commit, a worker
    killed before the message came back, a task that failed for good); returns how many
    shipments got a label. Each is ``generate_shipping_documents``, so a document a task
    makes at the same time is still made once."""
    if older_than is None:
        older_than = _catch_up_after()
    made = 0
    for shipment in shipments_missing_label(older_than=older_than)[:limit]:
        try:
            generate_shipping_documents(shipment)
        except ShippingError as error:
            logger.warning("Shipment %s: no documents made: %s", shipment.pk, error.detail)
            continue
        made += 1
    return made


# --------------------------------------------------------------------------- label batches


def start_label_batch(shipments, *, by: User) -> LabelBatch:
    """A wave of carrier labels printed together: records the batch (its shipments, total
    0 done) and queues ``print_label_batch_task`` after commit. Shipments given twice
    count once. Raises ShippingError: no shipments (400), one without a label yet (409,
    ``package_codes`` names them; nothing recorded), a role that does not ship (403)."""
    _refuse_unless_staff(by, "print shipping labels")
    ids = list(dict.fromkeys(shipment.pk for shipment in shipments))
    if not ids:
        raise ShippingError("no_shipments", "Choose at least one package to print.", status=400)
    found = {shipment.pk: shipment for shipment in Shipment.objects.filter(pk__in=ids)}
    missing = [pk for pk in ids if pk not in found]
    if missing:
        raise ShippingError(
            "unknown_shipment", f"No such shipment: {missing[0]}.", status=400, shipments=missing
        )
    not_ready = [
        found[pk].package_code
        for pk in ids
        if found[pk].status not in HAS_LABEL or not found[pk].tracking_number
    ]
    if not_ready:
        raise ShippingError(
            "label_not_ready",
            f"{len(not_ready)} of the packages have no carrier label yet (not packed): "
            f"{', '.join(not_ready)}.",
            package_codes=not_ready,
        )
    with transaction.atomic():
        batch = LabelBatch.objects.create(created_by=by, total=len(ids))
        batch.shipments.set(ids)
        queue_label_batch(batch)
    return batch


def queue_label_batch(batch: LabelBatch) -> None:
    """After commit, queue the task that prints the batch; a broker failure is logged
    (the catch-up task resumes unfinished batches)."""
    from shipping.tasks import print_label_batch_task  # noqa: PLC0415 (tasks import us)

    batch_id = batch.pk
    transaction.on_commit(
        lambda: _send(print_label_batch_task, (batch_id,), f"Label batch {batch_id}")
    )


def _count(batch_id: int, position: int, field: str) -> bool:
    """Count the shipment at ``position`` (in primary-key order) as done or failed: one
    conditional UPDATE that moves the counter only while it stands at that position, so
    two runs of one batch (a retry, a redelivered message) count each shipment once."""
    return bool(
        LabelBatch.objects.filter(pk=batch_id, finished_at__isnull=True)
        .alias(position=F("done") + F("failed"))
        .filter(position=position)
        .update(**{field: F(field) + 1})
    )


def merge_pdfs(pdfs) -> bytes:
    """One PDF of every page of the given PDFs, in order (pikepdf, on qpdf: under a
    millisecond a label, a fifth of what pypdf takes)."""
    import pikepdf  # noqa: PLC0415 (only batch printing needs it)

    out = io.BytesIO()
    # The sources stay open until the merged PDF is saved: their pages are copied then.
    with contextlib.ExitStack() as sources, pikepdf.Pdf.new() as merged:
        for pdf in pdfs:
            merged.pages.extend(sources.enter_context(pikepdf.Pdf.open(io.BytesIO(pdf))).pages)
        merged.save(out, deterministic_id=True)
    return out.getvalue()


def print_label_batch(batch: LabelBatch) -> LabelBatch:
    """Print a wave: each shipment's current label, made where missing or out of date
    (``generate_shipping_label``; a current one is reused), in primary-key order, each
    counted done or failed with a conditional UPDATE; then every label merged into one
    PDF stored on the batch, and the batch finished.

    Resumable and idempotent: a run starts at the first shipment not yet counted, so a
    task retried after a worker died, or run twice, counts and stores each label once.
    A shipment whose label cannot be made (no longer packed) is counted failed and left
    out of the merged PDF (``shipments_without_label`` names them)."""
    shipments = list(batch.shipments.order_by("pk"))
    state = LabelBatch.objects.filter(pk=batch.pk).values("done", "failed", "finished_at").get()
    if state["finished_at"] is not None:
        batch.refresh_from_db()
        return batch
    for position in range(state["done"] + state["failed"], len(shipments)):
        shipment = shipments[position]
        try:
            generate_shipping_label(shipment)
        except ShippingError as error:
            logger.warning("Label batch %s: %s: %s", batch.pk, shipment.package_code, error.detail)
            _count(batch.pk, position, "failed")
        else:
            _count(batch.pk, position, "done")
    labels = (
        ShippingDocument.objects.filter(
            shipment__in=batch.shipments.all(), kind=ShippingDocument.Kind.LABEL, is_current=True
        )
        .order_by("shipment_id")
        .values_list("pdf", flat=True)
    )
    merged = merge_pdfs(bytes(pdf) for pdf in labels.iterator(chunk_size=50))
    LabelBatch.objects.filter(
        pk=batch.pk, finished_at__isnull=True, done=F("total") - F("failed")
    ).update(pdf=merged, finished_at=timezone.now())
    batch.refresh_from_db()
    return batch


def label_batch_progress(batch: LabelBatch) -> dict:
    """The batch's progress as the browser's progress bar reads it, fresh from the
    database: ``total``, ``done``, ``failed``, ``percent`` (done and failed of total) and
    ``finished``."""
    state = LabelBatch.objects.filter(pk=batch.pk).values("total", "done", "failed", "finished_at")
    state = state.get()
    counted = state["done"] + state["failed"]
    return {
        "total": state["total"],
        "done": state["done"],
        "failed": state["failed"],
        "percent": round(100 * counted / state["total"]) if state["total"] else 100,
        "finished": state["finished_at"] is not None,
    }


def shipments_without_label(batch: LabelBatch):
    """The batch's shipments that have no current label (those counted failed)."""
    return batch.shipments.exclude(
        Exists(
            ShippingDocument.objects.filter(
                shipment=OuterRef("pk"), kind=ShippingDocument.Kind.LABEL, is_current=True
            )
        )
    ).order_by("pk")


def unfinished_label_batches(*, older_than: timedelta):
    """Batches not finished that were started more than ``older_than`` ago."""
    return LabelBatch.objects.filter(
        finished_at__isnull=True, created_at__lte=timezone.now() - older_than
    ).order_by("pk")


def resume_unfinished_label_batches(*, older_than: timedelta | None = None) -> int:
    """Print the batches whose task never finished (broker down at commit, a worker
    killed mid-wave and its message not yet back); returns how many. Each resumes where
    its counters stand, so one a task prints at the same time still counts once."""
    if older_than is None:
        older_than = _catch_up_after()
    resumed = 0
    for batch in unfinished_label_batches(older_than=older_than):
        print_label_batch(batch)
        resumed += 1
    return resumed


# --------------------------------------------------------------------------- manifests


MANIFEST_COLUMNS = [
    "package_id",
    "tracking_number",
    "service_code",
    "service",
    "weight_oz",
    "signature_required",
    "cold_chain",
    "destination_zip",
    "handed_over_at",
]


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    """The pharmacy's local day as an aware [start, end) range."""
    start = timezone.make_aware(datetime.combine(day, time.min))
    return start, timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))


def manifest_shipments(carrier: str, day: date):
    """Every package handed to the carrier on that local day (handed over or later)."""
    start, end = _day_bounds(day)
    return (
        Shipment.objects.filter(
            carrier=carrier,
            status__in=HANDED_OVER,
            handed_over_at__gte=start,
            handed_over_at__lt=end,
        )
        .select_related("service")
        .order_by("handed_over_at", "pk")
    )


def _manifest_rows(shipments) -> list[dict]:
    return [
        {
            "package_id": shipment.package_code,
            "tracking_number": shipment.tracking_number,
            "service_code": shipment.service.code if shipment.service else "",
            "service": shipment.service.name if shipment.service else "",
            "weight_oz": f"{shipment.weight_oz:f}" if shipment.weight_oz is not None else "",
            "weight": _weight(shipment.weight_oz),
            "signature_required": shipment.signature_required,
            "cold_chain": shipment.is_cold_chain,
            "destination_zip": shipment.ship_to_postal_code,
            "handed_over_at": timezone.localtime(shipment.handed_over_at).isoformat(
                timespec="seconds"
            ),
            "handed_over_time": timezone.localtime(shipment.handed_over_at).strftime("%H:%M"),
        }
        for shipment in shipments
    ]


def manifest_csv(rows: list[dict]) -> str:
    """The manifest as CSV (a header row, then one row a package; yes/no for marks)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(MANIFEST_COLUMNS)
    for row in rows:
        writer.writerow(
            [
                "yes" if row[column] is True else "no" if row[column] is False else row[column]
                for column in MANIFEST_COLUMNS
            ]
        )
    return out.getvalue()


def render_manifest_pdf(*, carrier: str, day: date, rows: list[dict]) -> bytes:
    """The manifest as PDF: the shipper, the carrier and day, one table row a package
    (no names, nothing of the contents), the totals and the carrier's signature lines."""
    total_oz = sum(Decimal(row["weight_oz"]) for row in rows if row["weight_oz"])
    ship_from = settings.SHIP_FROM
    html = render_to_string(
        "shipping/manifest.html",
        {
            "carrier": _carrier_name(carrier),
            "day": day,
            "rows": rows,
            "total_weight": _weight(total_oz),
            "ship_from": "\n".join(
                filter(
                    None,
                    [
                        ship_from["name"],
                        ship_from["line1"],
                        ship_from.get("line2", ""),
                        _city_line(ship_from["city"], ship_from["state"], ship_from["postal_code"]),
                        ship_from.get("phone", ""),
                    ],
                )
            ),
        },
    )
    document = thread_renderer(MANIFEST_CSS, document="manifest").render(html)
    return document.write_pdf()


def build_manifest(carrier: str, day: date, *, by: User | None) -> Manifest:
    """The end-of-day manifest of one carrier: every package handed to it that local day
    (status handed to carrier or later), as PDF and CSV.

    One manifest per carrier and day: building it again replaces the PDF, the CSV and its
    packages (a package handed over after the first print is on the next build), under
    the same row, with who built it and when. Raises ShippingError: an unknown carrier
    (400), no package handed to it that day (409; nothing stored), a role that does not
    ship (403)."""
    if by is not None:
        _refuse_unless_staff(by, "build a carrier manifest")
    if carrier not in Carrier.values:
        raise ShippingError("unknown_carrier", f"No such carrier: {carrier}.", status=400)
    shipments = list(manifest_shipments(carrier, day))
    if not shipments:
        raise ShippingError(
            "manifest_empty",
            f"No package was handed to {_carrier_name(carrier)} on {day:%m/%d/%Y}.",
        )
    rows = _manifest_rows(shipments)
    pdf = render_manifest_pdf(carrier=carrier, day=day, rows=rows)
    with transaction.atomic():
        manifest, _created = Manifest.objects.update_or_create(
            carrier=carrier,
            day=day,
            defaults={
                "pdf": pdf,
                "csv": manifest_csv(rows),
                "created_by": by,
                "created_at": timezone.now(),
            },
        )
        manifest.shipments.set(shipments)
    return manifest
