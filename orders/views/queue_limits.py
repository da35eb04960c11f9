"""Managers set how long work may wait in each queue before its tab shows it late."""

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render

from orders.models import QueueWaitLimit
from orders.services.queue_limits import MAX_LIMIT_MINUTES, QueueLimitError, set_queue_wait_limits
from pharmacy.access import staff_permission_required


def _limits_form(data=None) -> forms.Form:
    """One whole-minutes field per queue, filled with today's limits."""
    current = dict(QueueWaitLimit.objects.values_list("queue", "minutes"))
    form = forms.Form(data)
    for queue, label in QueueWaitLimit.Queue.choices:
        form.fields[queue] = forms.IntegerField(
            label=f"{label} (minutes)",
            initial=current.get(queue),
            min_value=1,
            max_value=MAX_LIMIT_MINUTES,
            error_messages={
                "required": f"Give the {label} limit in minutes.",
                "invalid": f"The {label} limit is a whole number of minutes.",
                "min_value": f"The {label} limit is at least 1 minute.",
                "max_value": f"The {label} limit is at most {MAX_LIMIT_MINUTES} minutes.",
            },
        )
    return form


@staff_permission_required("orders.change_queuewaitlimit")
def queue_limits(request):
    form = _limits_form(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            set_queue_wait_limits(dict(form.cleaned_data), by=request.user)
        except QueueLimitError as refused:
            for queue, message in refused.errors.items():
                form.add_error(queue if queue in form.fields else None, message)
        else:
            messages.success(request, "Queue wait limits saved.")
            return redirect("queue_limits")
    status = 400 if form.errors else 200
    return render(request, "orders/queue_limits.html", {"form": form}, status=status)
