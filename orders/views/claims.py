"""Claiming fills: from the queue's button or a scanned Rx number, taking over a stale
claim, putting a fill back, and after each step the next fill of the queue, offered (not
claimed until someone opens it).
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from orders.forms import rx_number_from_text
from orders.models import Fill
from orders.services import workflow
from orders.views._common import TECHNICIAN_WORK
from orders.views.queues import (
    FILL_QUEUES,
    WORK_PAGES,
    _queue_or_404,
    claimed_by_someone_else,
    fill_work_url,
)


def _claim_and_open(request, fill: Fill):
    if fill.status not in WORK_PAGES or fill.claimed_by_id == request.user.pk:
        return redirect(fill_work_url(fill))
    if claimed_by_someone_else(fill, request.user, timezone.now()):
        # Someone else works on it: the page opens read-only, saying who.
        return redirect(fill_work_url(fill))
    try:
        fill = workflow.claim_fill(fill, by=request.user)
    except workflow.WorkflowError as error:
        messages.error(request, error.detail)
        return redirect("fill_queue", status=fill.status)
    return redirect(fill_work_url(fill))


@require_POST
@login_required
def fill_claim(request, pk: int):
    """Claim a fill from its queue and open its work page."""
    fill = get_object_or_404(Fill, pk=pk)
    if fill.status not in FILL_QUEUES:
        return redirect("fill_detail", pk=fill.pk)
    _queue_or_404(request, fill.status)
    return _claim_and_open(request, fill)


@require_POST
@login_required
def fill_queue_open(request, status: str):
    """A scanned or typed Rx number (or vial label code) opens that fill of the queue:
    claimed for the user at a work step, as the row's button would."""
    queue = _queue_or_404(request, status)
    code = request.POST.get("code", "").strip()[:40]
    rx_number = rx_number_from_text(code)
    fill = (
        Fill.objects.in_queue(queue.status)
        .filter(Q(prescription__rx_number=rx_number) | Q(label_code=code.upper()))
        .first()
        if code
        else None
    )
    if fill is None:
        messages.error(
            request,
            f"No fill of Rx “{code}” waits in the {queue.title} queue."
            if code
            else "Scan or type an Rx number first.",
        )
        return redirect("fill_queue", status=queue.status)
    return _claim_and_open(request, fill)


@require_POST
@login_required
def fill_unclaim(request, pk: int):
    """Put a claimed fill back in its queue for someone else."""
    fill = get_object_or_404(Fill, pk=pk)
    if not request.user.has_perm(TECHNICIAN_WORK):
        raise PermissionDenied(f"Your role ({request.user.role_label}) does not work fills.")
    try:
        fill = workflow.unclaim_fill(fill, by=request.user)
    except workflow.WorkflowError as error:
        messages.error(request, error.detail)
        return redirect(fill_work_url(fill))
    messages.success(request, f"Rx {fill.prescription.rx_number} is back in the queue.")
    return redirect("fill_queue", status=fill.status)


def next_offer(status: str, user) -> Fill | None:
    """The fill the station offers next: the most urgent of the queue nobody claims (at
    PV2, never one ``user`` filled). Read only: it is claimed when someone opens it, so
    nothing is kept from the others meanwhile (issue 13)."""
    candidates = Fill.objects.in_queue(status).filter(claimed_by__isnull=True)
    if status == Fill.Status.PV2:
        candidates = candidates.exclude(filled_by=user)
    return candidates.select_related("prescription").first()


def _next_page(request, status: str, done: str, *, scan_confirmed: bool = False):
    """After a step is done: the queue, offering its next fill (open it to claim it).
    ``scan_confirmed`` marks the message as a good scan's confirmation (shown large)."""
    tags = "scan-confirmed" if scan_confirmed else ""
    following = next_offer(status, request.user)
    if following is None:
        messages.success(request, f"{done} Nothing else waits in the queue.", extra_tags=tags)
        return redirect("fill_queue", status=status)
    messages.success(request, done, extra_tags=tags)
    return redirect(f"{reverse('fill_queue', args=[status])}?offer={following.pk}")
