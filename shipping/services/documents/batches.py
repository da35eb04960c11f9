"""Label batches: a wave of carrier labels printed together, counted shipment by
shipment for the browser's progress bar and merged into one PDF; safe to run twice and
resumed where it stopped after a worker died."""

import contextlib
import io
import logging
from datetime import timedelta

from django.db import transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from lib.queueing import send_task_fast
from pharmacy.models import User
from shipping.models import LabelBatch, Shipment, ShippingDocument
from shipping.services.documents._common import HAS_LABEL, _catch_up_after, _refuse_unless_staff
from shipping.services.documents.storage import generate_shipping_label
from shipping.services.shipments import ShippingError

logger = logging.getLogger(__name__)


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
    transaction.on_commit(lambda: send_task_fast(print_label_batch_task, (batch_id,)))


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
