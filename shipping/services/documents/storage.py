"""Stored shipping documents: each shipment's current label and packing slip, made by a
worker when what they print changed, and read by pages and the API.

A document's identity is the SHA-256 of exactly what it prints (``shipping_label_data``,
``packing_slip_data``): the same data are never rendered twice, and a delivery that runs
twice, or dies and is delivered again, leaves one current document of each kind. A new
shipment records ``shipping.documents`` in the outbox (its packing slip, printed before
packing), and the label's purchase records it again with the tracking number; the
outbox's worker makes them (``generate_shipping_documents``) and its sweep delivers what
a dead worker or a lost message left. Pages and the API only read: ``document_pdf`` is
the stored document, or, while the worker has not stored it yet, the same PDF rendered
from the data without storing it.
"""

import logging
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from orders.services.labels import label_content_hash
from outbox.services import record_side_effect
from shipping.models import Shipment, ShippingDocument
from shipping.services.documents.label import (
    _refuse_unless_labelled,
    render_shipping_label_pdf,
    shipping_label_data,
)
from shipping.services.documents.packing_slip import packing_slip_data, render_packing_slip_pdf
from shipping.services.shipments import ShippingError

logger = logging.getLogger(__name__)

SHIPPING_DOCUMENTS = "shipping.documents"
# Attempts at storing a document while the data it prints keep changing under it.
MAX_ATTEMPTS = 3


def document_content_hash(data: dict) -> str:
    """SHA-256 of the canonical JSON of a document's data (as the Rx label's)."""
    return label_content_hash(data)


def _shipments_for_label():
    return Shipment.objects.select_related("service")


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
    """The label once the carrier sold it, and the packing slip: what the outbox's
    ``shipping.documents`` delivers. Returns the ids made or found (``label`` None while
    there is no label yet). Raises ShippingError ``document_data_changing``."""
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


def record_shipping_documents(shipment: Shipment) -> None:
    """In the caller's transaction: the shipment's label and packing slip to make once
    it commits (``generate_shipping_documents``, by a worker)."""
    record_side_effect(
        SHIPPING_DOCUMENTS,
        target_id=shipment.pk,
        description=f"Label and packing slip of package {shipment.package_code}",
    )
