"""The managers' page of side effects: what is waiting, what failed and why, and a way
to send a failed one again."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from outbox.models import OutboxMessage
from outbox.services import OutboxError, retry_side_effect

PAGE_ROWS = 200

FILTERS = {
    "attention": ("Failed or retrying", OutboxMessage.objects.needing_attention),
    "pending": (
        "Waiting",
        lambda: OutboxMessage.objects.filter(status=OutboxMessage.Status.PENDING),
    ),
    "failed": ("Failed", lambda: OutboxMessage.objects.filter(status=OutboxMessage.Status.FAILED)),
    "delivered": (
        "Delivered (latest)",
        lambda: OutboxMessage.objects.filter(status=OutboxMessage.Status.DELIVERED),
    ),
}


@login_required
@permission_required("outbox.view_outboxmessage", raise_exception=True)
def side_effect_list(request):
    """Side effects by state, newest first (no patient data: kinds, ids and errors)."""
    shown = request.GET.get("show", "attention")
    if shown not in FILTERS:
        shown = "attention"
    label, queryset = FILTERS[shown]
    rows = list(queryset().select_related("retried_by")[:PAGE_ROWS])
    counts = {
        "pending": OutboxMessage.objects.filter(status=OutboxMessage.Status.PENDING).count(),
        "failed": OutboxMessage.objects.filter(status=OutboxMessage.Status.FAILED).count(),
    }
    return render(
        request,
        "outbox/side_effect_list.html",
        {
            "rows": rows,
            "shown": shown,
            "shown_label": label,
            "filters": [(key, name) for key, (name, _) in FILTERS.items()],
            "counts": counts,
            "can_retry": request.user.has_perm("outbox.retry_outboxmessage"),
            "page_rows": PAGE_ROWS,
        },
    )


@login_required
@permission_required("outbox.retry_outboxmessage", raise_exception=True)
@require_POST
def side_effect_retry(request, pk: int):
    message = get_object_or_404(OutboxMessage, pk=pk)
    try:
        retry_side_effect(message, by=request.user)
    except OutboxError as error:
        messages.error(request, error.detail)
    else:
        messages.success(request, f"Side effect {message.pk} ({message.kind}) will be sent again.")
    return redirect(f"{reverse('side_effect_list')}?show=failed")
