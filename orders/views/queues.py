"""The fill queues: one read-only page per status, most urgent first, a page of 50 at a
time, the waiting count capped. The table refreshes itself (htmx polls ``.../rows/``)
without touching the rest of the page, so a scan being typed stays. Also what the other
fill pages and the role home pages need to know of the queues: who works which queue,
which statuses have a work page, and how a wait or a step reads.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.postgres.expressions import ArraySubquery
from django.core.exceptions import PermissionDenied
from django.db.models import Func, IntegerField, OuterRef, Q, Subquery
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from inventory.models import strength_pairs_of
from orders.models import (
    DurAlert,
    Fill,
    FillHold,
    HoldReason,
    Prescription,
    QueueWaitLimit,
    severity_label,
)
from orders.views._common import TECHNICIAN_WORK, VERIFY_WORK, _quantity_words
from orders.views.pv1_checks import SERIOUS, worst_severity
from pharmacy.models import Patient, User
from pharmacy.services import record_list_view

# What a queue row reads of the prescription's product to name it with its strength and
# form (``Product.full_description``); the strength comes from one subquery per row.
_PRODUCT_NAME_FIELDS = tuple(
    f"prescription__product__{field}"
    for field in (
        "proprietary_name",
        "proprietary_name_suffix",
        "nonproprietary_name",
        "product_ndc",
        "dosage_form",
    )
)

QUEUE_ROWS_PER_PAGE = 50
# The waiting count stops here: counting a long queue on every poll would cost more than
# the rows themselves, and past a thousand "more than 1,000" says all a person needs.
QUEUE_COUNT_CAP = 1000
QUEUE_REFRESH_SECONDS = 10


@dataclass(frozen=True)
class FillQueue:
    """One work queue: the fills at one status, and who may see it."""

    status: str
    title: str
    permission: str
    note: str


FILL_QUEUES = {
    queue.status: queue
    for queue in (
        FillQueue(
            Fill.Status.INTAKE,
            "Intake",
            TECHNICIAN_WORK,
            "Fills whose prescription waits for a technician to resolve it.",
        ),
        FillQueue(Fill.Status.PV1, "PV1", VERIFY_WORK, "Data entry and drug checks to verify."),
        FillQueue(Fill.Status.FILL, "Fill", TECHNICIAN_WORK, "Verified prescriptions to fill."),
        FillQueue(Fill.Status.PV2, "PV2", VERIFY_WORK, "Filled products to verify."),
        FillQueue(
            Fill.Status.READY_TO_PACK,
            "Ready to pack",
            TECHNICIAN_WORK,
            "Fills that passed PV2, waiting for packing.",
        ),
        FillQueue(Fill.Status.ON_HOLD, "On hold", TECHNICIAN_WORK, "Fills held with a reason."),
    )
}
# The statuses whose fills are worked on one at a time, claimed first; the page each opens.
WORK_PAGES = {
    Fill.Status.PV1: "fill_pv1",
    Fill.Status.FILL: "fill_station",
    Fill.Status.PV2: "fill_pv2",
}
WORK_PAGE_LABELS = {
    Fill.Status.PV1: "Open PV1",
    Fill.Status.FILL: "Open the fill station",
    Fill.Status.PV2: "Open PV2",
}


def step_words(status: str) -> str:
    """A fill status inside a sentence: "waiting for PV1", "on hold"."""
    label = Fill.Status(status).label
    return label[0].lower() + label[1:]


def fill_work_url(fill: Fill) -> str:
    """Where a fill is worked on at its status: its work page, or its summary page."""
    if fill.status == Fill.Status.INTAKE:
        return reverse("intake_detail", args=[fill.prescription_id])
    return reverse(WORK_PAGES.get(fill.status, "fill_detail"), args=[fill.pk])


def claimed_by_someone_else(fill: Fill, user, now: datetime) -> bool:
    """True while another person's claim on the fill is live: the page opens read-only.
    A claim older than FILL_CLAIM_MINUTES is stale and anyone may take it over (the
    workflow's rule; it enforces it again on every step)."""
    return (
        fill.claimed_by_id not in (None, user.pk)
        and fill.claimed_at is not None
        and fill.claimed_at > now - timedelta(minutes=settings.FILL_CLAIM_MINUTES)
    )


def age_words(since: datetime, now: datetime) -> str:
    """How long something has waited, in the queue's words: "4 min", "3 h 12 min", "2 d 5 h"."""
    minutes = max(0, int((now - since).total_seconds() // 60))
    if minutes < 1:
        return "under 1 min"
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"


def _queue_or_404(request, status: str) -> FillQueue:
    queue = FILL_QUEUES.get(status)
    if queue is None:
        raise Http404("There is no such queue.")
    if not request.user.has_perm(queue.permission):
        raise PermissionDenied(
            f"Your role ({request.user.role_label}) does not work the {queue.title} queue."
        )
    return queue


def _after_fill(queryset, after: str):
    """The fills that come after fill ``after`` in the queue order (keyset pagination):
    a page follows on from the last row shown however the queue moved meanwhile. The
    first page, the one people work from and the poll refreshes, reads 51 index entries;
    a page deep down reads the index up to its place, as PostgreSQL cannot turn the
    mixed-direction keys into one index range."""
    if not after:
        return queryset
    keys = (
        Fill.objects.filter(pk=int(after))
        .values("promised_on", "is_cold_chain", "priority", "created_at", "pk")
        .first()
    )
    if keys is None:
        return queryset
    # QUEUE_ORDER: promised date (none last), cold chain first, urgent first, oldest first.
    later = Q(is_cold_chain=keys["is_cold_chain"]) & (
        Q(priority__gt=keys["priority"])
        | Q(priority=keys["priority"], created_at__gt=keys["created_at"])
        | Q(priority=keys["priority"], created_at=keys["created_at"], pk__gt=keys["pk"])
    )
    if keys["is_cold_chain"]:
        later |= Q(is_cold_chain=False)
    if keys["promised_on"] is None:
        return queryset.filter(Q(promised_on__isnull=True) & later)
    return queryset.filter(
        Q(promised_on__gt=keys["promised_on"])
        | Q(promised_on__isnull=True)
        | (Q(promised_on=keys["promised_on"]) & later)
    )


def count_up_to(fills, cap: int) -> Func:
    """How many ``fills`` there are, counted no further than ``cap`` + 1 (more than ``cap``
    reads "more than"): the number of their first ``cap`` + 1 ids. Uncorrelated, so
    PostgreSQL works it out once (an InitPlan) inside the statement it annotates."""
    first_ids = fills.order_by().values("pk")[: cap + 1]
    return Func(ArraySubquery(first_ids), function="cardinality", output_field=IntegerField())


def queue_tabs(request, *, current: str) -> list[dict]:
    """The tabs of the queues the person works: each with how many wait (capped), the
    oldest wait and whether it is past the managers' limit (``QueueWaitLimit``); one
    statement for all of them. The intake tab is the prescriptions' intake queue, the
    one intake queue (its fills wait with their prescription)."""
    user = request.user
    queues = [
        q for q in FILL_QUEUES.values() if user.has_perm(q.permission)
    ]  # in the order of the workflow
    waiting, oldest = {}, {}
    for queue in queues:
        if queue.status == Fill.Status.INTAKE:
            items = Prescription.objects.in_intake_queue()
            since = (
                Prescription.objects.filter(status=Prescription.Status.INTAKE)
                .order_by("received_at")
                .values("received_at")[:1]
            )
        else:
            items = Fill.objects.in_queue(queue.status)
            since = (
                Fill.objects.filter(status=queue.status)
                .order_by("status_changed_at")
                .values("status_changed_at")[:1]
            )
        waiting[f"n_{queue.status}"] = count_up_to(items, QUEUE_COUNT_CAP)
        oldest[f"t_{queue.status}"] = Subquery(since)
    if not queues:
        return []
    row = (
        User.objects.filter(pk=user.pk)
        .annotate(**waiting, **oldest)
        .values(*waiting, *oldest)
        .get()
    )
    limits = dict(QueueWaitLimit.objects.values_list("queue", "minutes"))
    now = timezone.now()
    tabs = []
    for queue in queues:
        count, since = row[f"n_{queue.status}"], row[f"t_{queue.status}"]
        limit = limits.get(queue.status)
        tabs.append(
            {
                "status": queue.status,
                "title": queue.title,
                "url": reverse("intake_queue")
                if queue.status == Fill.Status.INTAKE
                else reverse("fill_queue", args=[queue.status]),
                "count": count,
                "count_text": f"{QUEUE_COUNT_CAP}+" if count > QUEUE_COUNT_CAP else str(count),
                "oldest": age_words(since, now) if count and since else "",
                "is_late": bool(
                    count and since and limit and now - since > timedelta(minutes=limit)
                ),
                "limit": age_words(now - timedelta(minutes=limit), now) if limit else "",
                "current": queue.status == current,
            }
        )
    return tabs


def _queue_rows(request, queue: FillQueue) -> dict:
    """One page of a queue in one SQL statement: the rows, their patient, drug and claim,
    and the waiting count (capped, ``count_up_to``) computed once by the same statement."""
    after = request.GET.get("after", "")
    after = after if after.isdigit() else ""
    queued = Fill.objects.in_queue(queue.status)
    fills = (
        _after_fill(queued, after)
        .select_related("prescription__patient", "prescription__product", "claimed_by")
        .only(
            "status",
            "quantity",
            "priority",
            "promised_on",
            "is_cold_chain",
            "created_at",
            "status_changed_at",
            "claimed_at",
            "prescription__rx_number",
            "prescription__drug_description",
            "prescription__quantity_unit",
            "prescription__dea_schedule",
            "prescription__received_data",
            "prescription__patient__first_name",
            "prescription__patient__middle_name",
            "prescription__patient__last_name",
            *_PRODUCT_NAME_FIELDS,
            "claimed_by__username",
            "claimed_by__first_name",
            "claimed_by__last_name",
        )
        .annotate(
            waiting=count_up_to(queued, QUEUE_COUNT_CAP),
            product_strengths=strength_pairs_of(OuterRef("prescription__product_id")),
        )
    )
    if queue.status == Fill.Status.PV1:
        # Each row's drug-check alerts (DurAlert.objects.for_fill), severities only.
        alerts = DurAlert.objects.for_fill_ids(OuterRef("pk"), OuterRef("prescription_id"))
        fills = fills.annotate(alert_severities=ArraySubquery(alerts.values("severity")))
    if queue.status == Fill.Status.ON_HOLD:
        open_hold = FillHold.objects.filter(fill=OuterRef("pk"), released_at__isnull=True)
        fills = fills.annotate(
            hold_reason=Subquery(open_hold.values("reason_code")[:1]),
            held_from=Subquery(open_hold.values("from_status")[:1]),
        )
    rows = list(fills[: QUEUE_ROWS_PER_PAGE + 1])
    more = len(rows) > QUEUE_ROWS_PER_PAGE
    rows = rows[:QUEUE_ROWS_PER_PAGE]
    now = timezone.now()
    for fill in rows:
        fill.age = age_words(fill.status_changed_at or fill.created_at, now)
        fill.claimed_by_other = claimed_by_someone_else(fill, request.user, now)
        fill.claim_is_stale = fill.claimed_by_id is not None and not (
            fill.claimed_by_other or fill.claimed_by_id == request.user.pk
        )
        fill.quantity_text = _quantity_words(fill.quantity, fill.prescription.quantity_unit)
        fill.work_url = fill_work_url(fill)
        if fill.prescription.product is not None:
            fill.prescription.product.strength_pairs = fill.product_strengths or []
        if queue.status == Fill.Status.PV1:
            fill.alert_count = len(fill.alert_severities)
            fill.worst_alert = severity_label(worst_severity(fill.alert_severities))
            fill.worst_is_serious = worst_severity(fill.alert_severities) in SERIOUS
        if queue.status == Fill.Status.ON_HOLD:
            fill.hold_reason_label = (
                HoldReason(fill.hold_reason).label if fill.hold_reason else "No open hold"
            )
            fill.held_from_label = Fill.Status(fill.held_from).label if fill.held_from else ""
    if rows:
        waiting = rows[0].waiting
    else:
        waiting = 0 if not after else None
    return {
        "queue": queue,
        "rows": rows,
        "after": after,
        "next_after": rows[-1].pk if more else None,
        "waiting": waiting,
        "waiting_capped": waiting is not None and waiting > QUEUE_COUNT_CAP,
        "count_cap": QUEUE_COUNT_CAP,
        "is_work_step": queue.status in WORK_PAGES,
        "refresh_seconds": QUEUE_REFRESH_SECONDS,
    }


def _shown_patients(rows: list[Fill]) -> list[Patient]:
    return [fill.prescription.patient for fill in rows if fill.prescription.patient_id]


def _audit_queue(request, context: dict, *, refresh: bool) -> None:
    """One audit row per page view naming the patients shown; a refresh (the htmx poll)
    only when it shows someone new (``record_list_view``)."""
    record_list_view(
        request,
        list_name=f"fill-queue:{context['queue'].status}",
        page=context["after"],
        patients=_shown_patients(context["rows"]),
        summary=f"{context['queue'].title} queue ({len(context['rows'])} shown)",
        refresh=refresh,
    )


@require_GET
@login_required
def fill_queue(request, status: str):
    """One work queue, most urgent first, with a scan field to open a fill by its Rx
    number; the table refreshes itself every 10 seconds (``fill_queue_rows``)."""
    queue = _queue_or_404(request, status)
    context = _queue_rows(request, queue)
    _audit_queue(request, context, refresh=False)
    context["tabs"] = queue_tabs(request, current=queue.status)
    context["offer"] = _offered(request, queue.status)
    return render(request, "orders/queue.html", context)


def _offered(request, status: str) -> Fill | None:
    """The fill offered after a step (``?offer=<id>``), while it still waits in this
    queue and nobody else has it; None otherwise (it was taken meanwhile: the queue
    shows what is left)."""
    offered = request.GET.get("offer", "")
    if not offered.isdigit() or len(offered) > 18:
        return None
    fill = (
        Fill.objects.in_queue(status)
        .select_related("prescription__product", "prescription__patient")
        .filter(pk=int(offered))
        .first()
    )
    if fill is None or claimed_by_someone_else(fill, request.user, timezone.now()):
        return None
    return fill


@require_GET
@login_required
def fill_queue_rows(request, status: str):
    """The queue's table alone, polled by its page."""
    queue = _queue_or_404(request, status)
    context = _queue_rows(request, queue)
    _audit_queue(request, context, refresh=True)
    return render(request, "orders/_queue_rows.html", context)
