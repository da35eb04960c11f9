"""The navigation bar of every page (a template context processor): the person's home,
every work queue their role works with how many wait there, then the other areas, the
rarely used ones under "More". Exactly one item is marked current: the one whose address
is the longest start of the page's (a fill's PV1, fill or PV2 page belongs to that queue).

It lives in the shipping app because it counts the queues of every app before it
(prescriptions, fills, shipments, delivery exceptions). The counts are one SQL statement,
made only when a page draws the bar (never for an htmx fragment), each capped like the
queue pages' own count.
"""

import re
from dataclasses import dataclass

from django.urls import reverse
from django.utils.functional import SimpleLazyObject

from orders.models import Fill, Prescription
from orders.views.queues import count_up_to
from pharmacy.access import held_at_second_factor
from pharmacy.models import User
from pharmacy.roles import ROLE_HOME_URL_NAMES
from shipping.models import DeliveryException, Shipment

TECHNICIAN_WORK = "pharmacy.work_technician_queues"
VERIFY_WORK = "pharmacy.verify_prescriptions"
# Past this a count reads "999+": the bar has no room for more, nor a person a use for it.
NAV_COUNT_CAP = 999


@dataclass(frozen=True)
class NavQueue:
    """One work queue in the bar: its key, words, page, who works it, what waits there."""

    key: str
    label: str
    url_name: str
    url_args: tuple
    permission: str
    title: str


QUEUES = (
    NavQueue("intake", "Intake", "intake_queue", (), TECHNICIAN_WORK, "Prescriptions to resolve"),
    NavQueue("pv1", "PV1", "fill_queue", ("pv1",), VERIFY_WORK, "Data entry to verify"),
    NavQueue("fill", "Fill", "fill_queue", ("fill",), TECHNICIAN_WORK, "Verified, to fill"),
    NavQueue("pv2", "PV2", "fill_queue", ("pv2",), VERIFY_WORK, "Filled products to verify"),
    NavQueue(
        "pack",
        "Pack",
        "shipment_list",
        (Shipment.Status.AWAITING_PACKING,),
        "shipping.change_shipment",
        "Packages awaiting packing",
    ),
    NavQueue("holds", "Holds", "fill_queue", ("on_hold",), TECHNICIAN_WORK, "Fills on hold"),
    NavQueue(
        "exceptions",
        "Exceptions",
        "shipment_list",
        (Shipment.Status.EXCEPTION,),
        "shipping.view_deliveryexception",
        "Open delivery exceptions",
    ),
)
# (label, url name, permission) after the queues, then under "More".
AREAS = (
    ("Dashboard", "manager_home", "pharmacy.view_dashboard"),
    ("Patients", "patient_list", "pharmacy.view_patient"),
    ("Shipping", "shipping_home", "shipping.view_shipment"),
)
MORE = (
    ("Prescribers", "prescriber_list", "pharmacy.view_prescriber"),
    ("Catalogue", "catalogue_search", "inventory.view_product"),
    ("Inventory", "stock_home", "inventory.view_stocklot"),
    ("Refill by phone", "refill_request", TECHNICIAN_WORK),
    ("Label warnings", "warning_rules", VERIFY_WORK),
    ("Audit trail", "audit_log", "pharmacy.view_auditevent"),
)
# A fill's work page belongs to the queue of its step.
WORK_PAGE = re.compile(r"^/fills/\d+/(pv1|fill|pv2)/")


def _waiting(key: str):
    if key == "intake":
        return Prescription.objects.in_intake_queue()
    if key == "pack":
        return Shipment.objects.filter(status=Shipment.Status.AWAITING_PACKING)
    if key == "exceptions":
        return DeliveryException.objects.filter(resolved_at__isnull=True)
    return Fill.objects.in_queue({"holds": Fill.Status.ON_HOLD}.get(key, key))


def queue_counts(user, queues) -> dict[str, int]:
    """How many wait in each of ``queues``, in one statement (annotations of the user's
    own row, which always exists)."""
    if not queues:
        return {}
    counts = {queue.key: count_up_to(_waiting(queue.key), NAV_COUNT_CAP) for queue in queues}
    return User.objects.filter(pk=user.pk).annotate(**counts).values(*counts).get()


def _item(label: str, url: str, **extra) -> dict:
    return {"label": label, "url": url, "active": False, **extra}


def build_navigation(request) -> dict:
    """The bar's items for the signed-in person: ``home``, ``queues`` (with ``count``
    and ``count_text``), ``areas`` and ``more``; one of them ``active``."""
    user = request.user
    home_name = ROLE_HOME_URL_NAMES.get(user.role)
    home = [_item("Home", reverse(home_name))] if home_name else []
    queues = [queue for queue in QUEUES if user.has_perm(queue.permission)]
    counts = queue_counts(user, queues)
    queue_items = []
    for queue in queues:
        count = counts[queue.key]
        queue_items.append(
            _item(
                queue.label,
                reverse(queue.url_name, args=queue.url_args),
                key=queue.key,
                count=count,
                count_text=f"{NAV_COUNT_CAP}+" if count > NAV_COUNT_CAP else str(count),
                title=f"{queue.title}: {count if count <= NAV_COUNT_CAP else 'more than 999'}",
            )
        )
    areas = [_item(label, reverse(name)) for label, name, perm in AREAS if user.has_perm(perm)]
    more = [_item(label, reverse(name)) for label, name, perm in MORE if user.has_perm(perm)]
    path = request.path
    work_page = WORK_PAGE.match(path)
    if work_page:
        path = reverse("fill_queue", args=[work_page.group(1)])
    candidates = [
        item for item in (*home, *queue_items, *areas, *more) if path.startswith(item["url"])
    ]
    if candidates:
        max(candidates, key=lambda item: len(item["url"]))["active"] = True
    return {
        "home": home,
        "queues": queue_items,
        "areas": areas,
        "more": more,
        "more_active": any(item["active"] for item in more),
    }


def navigation(request) -> dict:
    """Context processor: ``navigation`` for ``base.html``, built only when drawn; empty
    for a visitor, a session held at the second sign-in step (it could follow no link)
    and an htmx fragment (which has no bar)."""
    user = getattr(request, "user", None)
    if (
        user is None
        or not user.is_authenticated
        or request.headers.get("HX-Request")
        or held_at_second_factor(request)
    ):
        return {"navigation": {}}
    return {"navigation": SimpleLazyObject(lambda: build_navigation(request))}
