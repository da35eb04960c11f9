"""Shipping documents: the 4 x 6 inch carrier label, the patient's packing slip, waves of
labels printed together (label batches), and the end-of-day manifest of each carrier.
One module per part:

``label``: what the carrier label prints, and its PDF.
``packing_slip``: what the packing slip prints, and its PDF.
``storage``: each shipment's current label and slip, made once per content, recorded in
the outbox and made by its worker, read by pages and the API.
``batches``: label batches, printed by the outbox's worker, with their progress and
merged PDF.
``manifests``: the carriers' end-of-day manifests.
``_common``: who may print, how dates, weights and addresses print, the barcodes.

Documents are rendered like the Rx vial label (``orders.services.labels``, through
``orders.services.pdf``): WeasyPrint with the bundled fonts and nothing fetched, one
parsed stylesheet per thread, and no clock time in the file, so the same data give the
same bytes.

The names below are what other modules import from ``shipping.services.documents``;
a test or benchmark that replaces one patches it in its own module.
"""

from shipping.services.documents._common import CSS_DIR, HAS_LABEL, STAFF_ROLES
from shipping.services.documents.batches import (
    LABEL_BATCH,
    label_batch_progress,
    label_batch_slice_seconds,
    merge_pdfs,
    print_label_batch,
    shipments_without_label,
    start_label_batch,
)
from shipping.services.documents.label import (
    ADDRESS_LINE,
    COLD_CHAIN_MARK,
    LABEL_CSS,
    LABEL_LAYOUT,
    LONG_ADDRESS_LINE,
    SIGNATURE_MARK,
    TRACKING_MAX_WIDTH_PT,
    TRACKING_MODULE_PT,
    render_shipping_label_pdf,
    shipping_label_data,
)
from shipping.services.documents.manifests import (
    HANDED_OVER,
    MANIFEST_COLUMNS,
    MANIFEST_CSS,
    build_manifest,
    manifest_csv,
    manifest_shipments,
    render_manifest_pdf,
)
from shipping.services.documents.packing_slip import (
    PACKAGE_MODULE_PT,
    PACKING_SLIP_CSS,
    PACKING_SLIP_LAYOUT,
    packing_slip_data,
    render_packing_slip_pdf,
)
from shipping.services.documents.storage import (
    SHIPPING_DOCUMENTS,
    current_document,
    document_content_hash,
    document_pdf,
    generate_packing_slip,
    generate_shipping_documents,
    generate_shipping_label,
    record_shipping_documents,
)

__all__ = [
    "ADDRESS_LINE",
    "COLD_CHAIN_MARK",
    "CSS_DIR",
    "HANDED_OVER",
    "HAS_LABEL",
    "LABEL_BATCH",
    "LABEL_CSS",
    "LABEL_LAYOUT",
    "LONG_ADDRESS_LINE",
    "MANIFEST_COLUMNS",
    "MANIFEST_CSS",
    "PACKAGE_MODULE_PT",
    "PACKING_SLIP_CSS",
    "PACKING_SLIP_LAYOUT",
    "SHIPPING_DOCUMENTS",
    "SIGNATURE_MARK",
    "STAFF_ROLES",
    "TRACKING_MAX_WIDTH_PT",
    "TRACKING_MODULE_PT",
    "build_manifest",
    "current_document",
    "document_content_hash",
    "document_pdf",
    "generate_packing_slip",
    "generate_shipping_documents",
    "generate_shipping_label",
    "label_batch_progress",
    "label_batch_slice_seconds",
    "manifest_csv",
    "manifest_shipments",
    "merge_pdfs",
    "packing_slip_data",
    "print_label_batch",
    "record_shipping_documents",
    "render_manifest_pdf",
    "render_packing_slip_pdf",
    "render_shipping_label_pdf",
    "shipments_without_label",
    "shipping_label_data",
    "start_label_batch",
]
