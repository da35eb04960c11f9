"""Label batches: a wave of carrier labels printed together, counted shipment by
shipment for the browser's progress bar and merged into one PDF.

Starting a batch records ``shipping.label_batch`` in the outbox; a worker prints it
(``print_label_batch``) for at most a slice of time, and a wave longer than that records
its continuation from where it stopped, so no delivery runs into the task time limit.
Printing is resumable and safe to run twice (the counters move with conditional
UPDATEs): a worker that died is followed by the outbox's sweep, which delivers the
message again, and the print goes on from the first shipment not counted.
"""

import contextlib
import io
import logging
import time

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from outbox.services import record_side_effect
from pharmacy.models import User
from shipping.models import LabelBatch, Shipment, ShippingDocument
from shipping.services.documents._common import HAS_LABEL, _refuse_unless_staff
from shipping.services.documents.storage import generate_shipping_label
from shipping.services.shipments import ShippingError

LABEL_BATCH = "shipping.label_batch"

logger = logging.getLogger(__name__)


def start_label_batch(shipments, *, by: User) -> LabelBatch:
    """A wave of carrier labels printed together: records the batch (its shipments, total
    0 done) and, in the same transaction, its printing in the outbox
    (``shipping.label_batch``: a worker prints it). Shipments given twice count once.
    Raises ShippingError: no shipments (400), one without a label yet (409,
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
        _record_printing(batch, position=0)
    return batch


def _record_printing(batch: LabelBatch, *, position: int) -> None:
    """The batch's printing from ``position`` on, to deliver (one message per start)."""
    record_side_effect(
        LABEL_BATCH,
        target_id=batch.pk,
        description=f"Label batch {batch.pk} from label {position + 1}",
        dedupe_key=f"{LABEL_BATCH}:{batch.pk}:{position}",
    )


def label_batch_slice_seconds() -> float:
    """How long one delivery prints before it leaves the rest to the next: half the
    task's soft time limit, so the merge at the end fits too."""
    return settings.CELERY_TASK_SOFT_TIME_LIMIT / 2


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
    """One PDF of every page of the given PDFs, in order (pikepdf, on qpdf, chosen over
    pypdf for speed: ``make bench`` measures the merge)."""
    import pikepdf  # noqa: PLC0415 (only batch printing needs it)

    out = io.BytesIO()
    # The sources stay open until the merged PDF is saved: their pages are copied then.
    with contextlib.ExitStack() as sources, pikepdf.Pdf.new() as merged:
        for pdf in pdfs:
            merged.pages.extend(sources.enter_context(pikepdf.Pdf.open(io.BytesIO(pdf))).pages)
        merged.save(out, deterministic_id=True)
    return out.getvalue()


def print_label_batch(batch: LabelBatch, *, seconds: float | None = None) -> LabelBatch:
    """Print a wave: each shipment's current label, made where missing or out of date
    (``generate_shipping_label``; a current one is reused), in primary-key order, each
    counted done or failed with a conditional UPDATE; then every label merged into one
    PDF stored on the batch, and the batch finished. What the outbox's
    ``shipping.label_batch`` delivers.

    With ``seconds``, it stops after the label that used them up (at least one label a
    run) and records its continuation in the outbox; the batch is returned unfinished.

    Resumable and idempotent: a run starts at the first shipment not yet counted, so a
    delivery repeated after a worker died, or run twice, counts and stores each label
    once. A shipment whose label cannot be made (no longer labelled) is counted failed
    and left out of the merged PDF (``shipments_without_label`` names them)."""
    shipments = list(batch.shipments.order_by("pk"))
    state = LabelBatch.objects.filter(pk=batch.pk).values("done", "failed", "finished_at").get()
    if state["finished_at"] is not None:
        batch.refresh_from_db()
        return batch
    first = state["done"] + state["failed"]
    until = None if seconds is None else time.monotonic() + seconds
    for position in range(first, len(shipments)):
        if until is not None and position > first and time.monotonic() >= until:
            _record_printing(batch, position=position)
            batch.refresh_from_db()
            return batch
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
