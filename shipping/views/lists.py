"""The shipments at each status (refreshing themselves), the most urgent first, one page
at a time; each page and its capped count in one SQL statement."""

from dataclasses import dataclass

from django.db.models import F, Func, Q, Subquery
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from orders.views import age_words
from pharmacy.access import staff_permission_required
from pharmacy.services import record_list_view
from shipping.forms import HandOverForm
from shipping.models import Shipment
from shipping.views._common import VIEW_SHIPMENTS, WORK_SHIPMENTS, Status

ROWS_PER_PAGE = 50
# As the fill queues: counting stops here (a year of delivered packages is a big count).
COUNT_CAP = 1000
REFRESH_SECONDS = 10


@dataclass(frozen=True)
class ShipmentList:
    """The shipments at one status, and in which order they are shown."""

    status: str
    title: str
    note: str
    oldest_first: bool = True  # work lists: the longest waiting first; finished: newest


SHIPMENT_LISTS = {
    item.status: item
    for item in (
        ShipmentList(
            Status.AWAITING_PACKING,
            "Awaiting packing",
            "Orders whose every fill passed PV2. Scan the packing slip at the packing station.",
        ),
        ShipmentList(Status.PACKED, "Packed", "Closed packages waiting for the carrier's label."),
        ShipmentList(
            Status.LABELLED, "Labelled", "Packages with their label, waiting for the driver."
        ),
        ShipmentList(
            Status.HANDED_TO_CARRIER,
            "Handed to carrier",
            "Packages the carrier took; no tracking event yet.",
        ),
        ShipmentList(Status.IN_TRANSIT, "In transit", "Packages on their way."),
        ShipmentList(
            Status.EXCEPTION,
            "Exceptions",
            "Packages the carrier or a person reported a problem with.",
        ),
        ShipmentList(Status.DELIVERED, "Delivered", "Delivered packages.", oldest_first=False),
        ShipmentList(Status.RETURNED, "Returned", "Packages back at the pharmacy.", False),
    )
}


def _list_or_404(status: str) -> ShipmentList:
    shipment_list = SHIPMENT_LISTS.get(status)
    if shipment_list is None:
        raise Http404("There is no such list of shipments.")
    return shipment_list


def _after_shipment(queryset, shipment_list: ShipmentList, after: str):
    """The shipments after shipment ``after`` in the list's order (keyset pagination, as
    the fill queues): a page follows on from the last row shown however the list moved."""
    if not after:
        return queryset
    keys = (
        Shipment.objects.filter(pk=int(after))
        .values("is_cold_chain", "status_changed_at", "pk")
        .first()
    )
    if keys is None:
        return queryset
    if not shipment_list.oldest_first:
        return queryset.filter(
            Q(status_changed_at__lt=keys["status_changed_at"])
            | Q(status_changed_at=keys["status_changed_at"], pk__lt=keys["pk"])
        )
    # Cold chain first, then the oldest.
    later = Q(is_cold_chain=keys["is_cold_chain"]) & (
        Q(status_changed_at__gt=keys["status_changed_at"])
        | Q(status_changed_at=keys["status_changed_at"], pk__gt=keys["pk"])
    )
    if keys["is_cold_chain"]:
        later |= Q(is_cold_chain=False)
    return queryset.filter(later)


def _capped_count(queryset, cap: int) -> Subquery:
    """How many rows ``queryset`` has, counting no further than ``cap``: a subquery the
    page's statement evaluates once."""
    capped = queryset.order_by().values("pk")[:cap]
    # COUNT as a plain function: an aggregate in values() would group by the primary key.
    count = Func(F("pk"), function="COUNT")
    return Subquery(queryset.model.objects.filter(pk__in=capped).order_by().values(n=count))


def _list_rows(request, shipment_list: ShipmentList) -> dict:
    """One page of a list and its waiting count (capped), in one statement."""
    after = request.GET.get("after", "")
    after = after if after.isdigit() else ""
    order = (
        ("-is_cold_chain", "status_changed_at", "pk")
        if shipment_list.oldest_first
        else ("-status_changed_at", "-pk")
    )
    listed = Shipment.objects.filter(status=shipment_list.status)
    shipments = (
        _after_shipment(listed, shipment_list, after)
        .select_related("service", "order__patient")
        .only(
            "status",
            "package_code",
            "order_id",
            "order__patient__first_name",
            "order__patient__middle_name",
            "order__patient__last_name",
            "reship_of_id",
            "ship_to_name",
            "ship_to_city",
            "ship_to_state",
            "is_cold_chain",
            "is_controlled",
            "signature_required",
            "packaging",
            "cold_packs",
            "carrier",
            "service__name",
            "tracking_number",
            "ship_on",
            "created_at",
            "status_changed_at",
        )
        .annotate(waiting=_capped_count(listed, COUNT_CAP + 1))
        .order_by(*order)
    )
    rows = list(shipments[: ROWS_PER_PAGE + 1])
    more = len(rows) > ROWS_PER_PAGE
    rows = rows[:ROWS_PER_PAGE]
    now = timezone.now()
    for shipment in rows:
        shipment.age = age_words(shipment.status_changed_at, now)
    waiting = rows[0].waiting if rows else (0 if not after else None)
    return {
        "list": shipment_list,
        "rows": rows,
        "after": after,
        "next_after": rows[-1].pk if more else None,
        "waiting": waiting,
        "waiting_capped": waiting is not None and waiting > COUNT_CAP,
        "count_cap": COUNT_CAP,
        "refresh_seconds": REFRESH_SECONDS,
        "can_work": request.user.has_perm(WORK_SHIPMENTS),
    }


def _audit_list(request, context: dict, *, refresh: bool) -> None:
    """One audit row per page view naming the patients shown; a refresh only when it
    shows someone new (``record_list_view``, as the fill queues)."""
    record_list_view(
        request,
        list_name=f"shipments:{context['list'].status}",
        page=context["after"],
        patients=[shipment.order.patient for shipment in context["rows"]],
        summary=f"Shipments {context['list'].title.lower()} ({len(context['rows'])} shown)",
        refresh=refresh,
    )


def _tabs() -> list[dict]:
    return [
        {"title": item.title, "url": reverse("shipment_list", args=[item.status]), "key": status}
        for status, item in SHIPMENT_LISTS.items()
    ]


@require_GET
@staff_permission_required(VIEW_SHIPMENTS)
def shipping_home(request):
    return redirect("shipment_list", status=Status.AWAITING_PACKING)


@require_GET
@staff_permission_required(VIEW_SHIPMENTS)
def shipment_list(request, status: str):
    """The shipments at one status, the most urgent first; the table refreshes itself
    every 10 seconds (``shipment_list_rows``) without touching what is typed above it."""
    shipment_list = _list_or_404(status)
    context = _list_rows(request, shipment_list)
    _audit_list(request, context, refresh=False)
    context["tabs"] = _tabs()
    context["hand_over_form"] = HandOverForm()
    return render(request, "shipping/shipment_list.html", context)


@require_GET
@staff_permission_required(VIEW_SHIPMENTS)
def shipment_list_rows(request, status: str):
    """The list's table alone, polled by its page."""
    shipment_list = _list_or_404(status)
    context = _list_rows(request, shipment_list)
    _audit_list(request, context, refresh=True)
    return render(request, "shipping/_shipment_rows.html", context)
