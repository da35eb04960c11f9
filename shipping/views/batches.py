"""Label batches: tick the labelled packages (all are ticked), print them as one wave,
follow its progress bar, then open every label merged in one PDF."""

from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from pharmacy.access import staff_permission_required
from pharmacy.models import AuditEvent, Patient
from pharmacy.services import record_audit_event
from shipping.forms import LabelBatchForm
from shipping.models import LabelBatch, Shipment
from shipping.services.documents import label_batch_progress, start_label_batch
from shipping.services.shipments import ShippingError
from shipping.views._common import PRINT_BATCHES, VIEW_BATCHES, Status, _pdf_response

BATCH_POLL_SECONDS = 1


def _printable():
    """The packages a wave prints: labelled, not yet handed over, the oldest first."""
    return (
        Shipment.objects.filter(status=Status.LABELLED)
        .select_related("service", "order__patient")
        .order_by("-is_cold_chain", "status_changed_at", "pk")
    )


def _batch_page(request, form: LabelBatchForm, *, error="", status=200):
    shipments = list(form.fields["shipments"].queryset[:500])
    today = timezone.localdate()
    ticked = {str(pk) for pk in form.data.getlist("shipments")} if form.is_bound else None
    for shipment in shipments:
        shipment.is_today = timezone.localdate(shipment.status_changed_at) == today
        shipment.ticked = str(shipment.pk) in ticked if ticked is not None else True
    context = {
        "form": form,
        "shipments": shipments,
        "error": error,
        "batches": list(
            LabelBatch.objects.defer("pdf").select_related("created_by").order_by("-pk")[:10]
        ),
    }
    record_audit_event(
        actor=request.user,
        action=AuditEvent.Action.VIEW,
        request=request,
        patients=[shipment.order.patient for shipment in shipments],
        summary=f"Label batch printing ({len(shipments)} packages shown)",
    )
    return render(request, "shipping/label_batches.html", context, status=status)


@staff_permission_required(PRINT_BATCHES)
def label_batches(request):
    """Print a wave of carrier labels: tick the packages (every labelled one is ticked),
    start the batch, and follow its progress."""
    if request.method != "POST":
        return _batch_page(request, LabelBatchForm(shipments=_printable()))
    form = LabelBatchForm(request.POST, shipments=_printable())
    if request.POST.get("wave") == "today":
        today = timezone.localdate()
        todays = [
            str(pk)
            for pk, changed in _printable().values_list("pk", "status_changed_at")
            if timezone.localdate(changed) == today
        ]
        data = request.POST.copy()
        data.setlist("shipments", todays)
        form = LabelBatchForm(data, shipments=_printable())
    if not form.is_valid():
        return _batch_page(request, form, status=400)
    try:
        batch = start_label_batch(list(form.cleaned_data["shipments"]), by=request.user)
    except ShippingError as error:
        return _batch_page(request, form, error=error.detail, status=error.status)
    return redirect("label_batch", pk=batch.pk)


def _batch_context(batch: LabelBatch) -> dict:
    return {
        "batch": batch,
        "progress": label_batch_progress(batch),
        "poll_seconds": BATCH_POLL_SECONDS,
    }


def _batch_or_404(pk: int) -> LabelBatch:
    return get_object_or_404(LabelBatch.objects.defer("pdf").select_related("created_by"), pk=pk)


@require_GET
@staff_permission_required(VIEW_BATCHES)
def label_batch(request, pk: int):
    """A wave's progress bar, refreshed until every label is printed; then its PDF."""
    batch = _batch_or_404(pk)
    shipments = list(batch.shipments.select_related("order__patient").order_by("pk"))
    record_audit_event(
        actor=request.user,
        action=AuditEvent.Action.VIEW,
        request=request,
        obj=batch,
        patients=[shipment.order.patient for shipment in shipments],
        summary=f"Label batch {batch.pk} ({len(shipments)} packages)",
    )
    context = {**_batch_context(batch), "shipments": shipments}
    return render(request, "shipping/label_batch.html", context)


@require_GET
@staff_permission_required(VIEW_BATCHES)
def label_batch_poll(request, pk: int):
    """The progress bar alone, polled by the batch page (counts only, no patient data)."""
    return render(request, "shipping/_batch_progress.html", _batch_context(_batch_or_404(pk)))


@require_GET
@staff_permission_required(VIEW_BATCHES)
def label_batch_pdf(request, pk: int):
    """Every label of the wave merged in one PDF, audited as a view of their patients."""
    batch = get_object_or_404(LabelBatch, pk=pk)
    if batch.finished_at is None or not batch.pdf:
        raise Http404("The batch is still printing.")
    patients = Patient.objects.filter(orders__shipments__label_batches=batch).distinct()
    record_audit_event(
        actor=request.user,
        action=AuditEvent.Action.VIEW,
        request=request,
        obj=batch,
        patients=list(patients),
        summary=f"Labels of batch {batch.pk}",
    )
    return _pdf_response(bytes(batch.pdf), f"labels-batch-{batch.pk}.pdf")
