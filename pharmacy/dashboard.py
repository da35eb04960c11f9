"""Each role's home page: read-only counts from every app.

Like the manager dashboard of DESIGN.md section 3, this module may read from every app
(inventory, pharmacy, orders, ...) and no app imports it: only the root URLconf does.
"""

from datetime import datetime, time, timedelta

from django.db.models import Count, Q
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from inventory.models import Package, Product, ReorderAlert
from orders.models import Fill, Prescription
from orders.views import FILL_QUEUES
from pharmacy.access import staff_permission_required
from pharmacy.models import AuditEvent, Patient, Prescriber, Role, User
from shipping.models import DeliveryException, Shipment
from shipping.services.shipments import blocked_orders


def _today_start():
    return timezone.make_aware(datetime.combine(timezone.localdate(), time.min))


def _fill_queues(statuses: list[str]) -> list[dict]:
    """A card per fill queue: how many wait there (one grouped count), linked to it."""
    waiting = dict(
        Fill.objects.filter(status__in=statuses)
        .values_list("status")
        .annotate(n=Count("id"))
        .order_by()
    )
    return [
        {
            "label": FILL_QUEUES[status].title,
            "count": waiting.get(status, 0),
            "url": reverse("fill_queue", args=[status]),
            "note": FILL_QUEUES[status].note,
        }
        for status in statuses
    ]


def _shipping_cards(statuses: list[str], *, blocked: bool = False) -> list[dict]:
    """A card per shipment list (one grouped count), the orders that cannot ship, and
    the delivery exceptions still open."""
    counts = dict(
        Shipment.objects.filter(status__in=statuses)
        .values_list("status")
        .annotate(n=Count("id"))
        .order_by()
    )
    notes = {
        Shipment.Status.AWAITING_PACKING: "Orders whose every fill passed PV2.",
        Shipment.Status.LABELLED: "Labelled packages waiting for the driver.",
        Shipment.Status.IN_TRANSIT: "Packages on their way.",
    }
    cards = [
        {
            "label": Shipment.Status(status).label,
            "count": counts.get(status, 0),
            "url": reverse("shipment_list", args=[status]),
            "note": notes.get(status, ""),
        }
        for status in statuses
    ]
    if blocked:
        cards.append(
            {
                "label": "Cannot ship",
                "count": len(blocked_orders()),
                "url": reverse("cannot_ship"),
                "note": "Orders ready to pack whose address cannot be shipped to.",
            }
        )
    cards.append(
        {
            "label": "Delivery exceptions",
            "count": DeliveryException.objects.filter(resolved_at__isnull=True).count(),
            "url": reverse("shipment_list", args=[Shipment.Status.EXCEPTION]),
            "note": "Damaged, lost, returned or too warm: open until resolved.",
        }
    )
    return cards


@staff_permission_required("pharmacy.work_technician_queues")
def technician_home(request):
    context = {
        "queues": [
            {
                "label": "Intake",
                "count": Prescription.objects.in_intake_queue().count(),
                "url_name": "intake_queue",
                "note": "Prescriptions waiting for a technician.",
            },
            *_fill_queues([Fill.Status.FILL, Fill.Status.READY_TO_PACK, Fill.Status.ON_HOLD]),
        ],
        "shipping": _shipping_cards(
            [Shipment.Status.AWAITING_PACKING, Shipment.Status.LABELLED], blocked=True
        ),
        "patients": Patient.objects.count(),
        "patients_added_this_week": Patient.objects.filter(
            created_at__gte=timezone.now() - timedelta(days=7)
        ).count(),
        "prescribers": Prescriber.objects.count(),
        "products": Product.objects.count(),
    }
    return render(request, "pharmacy/technician_home.html", context)


@staff_permission_required("pharmacy.verify_prescriptions")
def pharmacist_home(request):
    context = {
        "queues": _fill_queues([Fill.Status.PV1, Fill.Status.PV2, Fill.Status.ON_HOLD]),
        "shipping": _shipping_cards([Shipment.Status.AWAITING_PACKING]),
        "patients_with_allergies": Patient.objects.filter(allergies__isnull=False)
        .distinct()
        .count(),
        "patients_no_allergy_record": Patient.objects.filter(
            allergies__isnull=True, no_known_allergies=False
        ).count(),
        "controlled_products": Product.objects.controlled().count(),
        "refrigerated_products": Product.objects.filter(storage="refrigerated").count(),
    }
    return render(request, "pharmacy/pharmacist_home.html", context)


@staff_permission_required("pharmacy.view_dashboard")
def manager_home(request):
    staff = dict(
        User.objects.filter(is_active=True)
        .values_list("groups__name")
        .annotate(n=Count("id"))
        .filter(groups__name__in=Role.values)
    )
    today = AuditEvent.objects.filter(occurred_at__gte=_today_start()).aggregate(
        events=Count("id"),
        failed_logins=Count("id", filter=Q(action=AuditEvent.Action.LOGIN_FAILED)),
        record_views=Count("id", filter=Q(action=AuditEvent.Action.VIEW)),
    )
    context = {
        "staff": [(role.label, staff.get(role.value, 0)) for role in Role],
        "patients": Patient.objects.count(),
        "prescribers": Prescriber.objects.count(),
        "products": Product.objects.count(),
        "packages": Package.objects.count(),
        "controlled_products": Product.objects.controlled().count(),
        "open_reorder_alerts": ReorderAlert.objects.current().count(),
        "today": today,
        "shipping": _shipping_cards(
            [Shipment.Status.AWAITING_PACKING, Shipment.Status.IN_TRANSIT], blocked=True
        ),
        "handed_over_today": Shipment.objects.filter(handed_over_at__gte=_today_start()).count(),
    }
    return render(request, "pharmacy/manager_home.html", context)
