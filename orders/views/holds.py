"""Holding a fill with a coded reason, releasing it, and the fill's summary page (its
history, holds, scans and discrepancies).
"""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from orders.forms import HoldForm, ReleaseForm
from orders.models import HoldReason
from orders.services import workflow
from orders.views._common import TECHNICIAN_WORK
from orders.views.queues import FILL_QUEUES, WORK_PAGE_LABELS, WORK_PAGES, fill_work_url, step_words
from orders.views.work import _audit_fill_page, _label_url, _work_context, _work_fill
from pharmacy.access import staff_permission_required
from pharmacy.models import Role


def _form_problems(form) -> str:
    """Every problem of the form in one line; a note's named (the hold reason's messages
    say what they are about)."""
    return " ".join(
        f"{form.fields[name].label}: {message}" if name == "note" else message
        for name, errors in form.errors.items()
        for message in errors
    )


@require_POST
@staff_permission_required(TECHNICIAN_WORK)
def fill_hold(request, pk: int):
    """Put a fill on hold with a coded reason and a note; back to the queue it was in."""
    fill = _work_fill(pk)
    form = HoldForm(request.POST, prefix="hold")
    if not form.is_valid():
        messages.error(request, "Not held: " + _form_problems(form))
        return redirect(fill_work_url(fill))
    was = fill.status
    try:
        workflow.hold_fill(
            fill,
            by=request.user,
            reason_code=form.cleaned_data["reason_code"],
            note=form.cleaned_data["note"].strip(),
        )
    except workflow.WorkflowError as error:
        messages.error(request, f"Not held: {error.detail}")
        return redirect(fill_work_url(fill))
    reason = HoldReason(form.cleaned_data["reason_code"]).label.lower()
    messages.success(request, f"Rx {fill.prescription.rx_number} is on hold ({reason}).")
    return (
        redirect("fill_queue", status=was)
        if was in FILL_QUEUES
        else redirect("fill_detail", pk=fill.pk)
    )


@require_POST
@staff_permission_required(TECHNICIAN_WORK)
def fill_release(request, pk: int):
    """Release a held fill: it returns to the step it was held at."""
    fill = _work_fill(pk)
    form = ReleaseForm(request.POST, prefix="release")
    if not form.is_valid():
        messages.error(request, "Not released: " + _form_problems(form))
        return redirect("fill_detail", pk=pk)
    try:
        fill = workflow.release_fill(
            fill,
            by=request.user,
            note=form.cleaned_data.get("note", "").strip(),
            correction=form.correction(),
        )
    except workflow.WorkflowError as error:
        messages.error(request, f"Not released: {error.detail}")
        return redirect("fill_detail", pk=pk)
    messages.success(
        request,
        f"Rx {fill.prescription.rx_number} is released: {step_words(fill.status)}.",
    )
    return redirect("fill_detail", pk=fill.pk)


@require_GET
@staff_permission_required(TECHNICIAN_WORK)
def fill_detail(request, pk: int):
    """A fill's summary: where it is, who claimed it, what went into the vial, its
    history, holds, scans and discrepancies; the hold or release form."""
    fill = _work_fill(pk)
    open_hold = fill.holds.filter(released_at__isnull=True).select_related("placed_by").first()
    context = _work_context(
        request,
        fill,
        events=list(fill.events.select_related("actor")),
        holds=list(fill.holds.select_related("placed_by", "released_by")),
        scans=list(fill.scans.select_related("by")),
        discrepancies=list(fill.discrepancies.select_related("found_by", "resolved_by")),
        open_hold=open_hold,
        held_from=step_words(open_hold.from_status) if open_hold else "",
        release_form=ReleaseForm(prefix="release"),
        # A clinical question is a pharmacist's to close; only a pharmacist corrects.
        release_needs_pharmacist=bool(open_hold)
        and open_hold.reason_code in workflow.PHARMACIST_RELEASED_HOLDS,
        may_correct=request.user.role == Role.PHARMACIST,
        work_url=fill_work_url(fill) if fill.status in WORK_PAGES else "",
        work_label=WORK_PAGE_LABELS.get(fill.status, ""),
        label_url=_label_url(fill),
    )
    _audit_fill_page(request, fill, "Fill")
    return render(request, "orders/fill_detail.html", context)
