"""The orders ready to pack that cannot ship, with the reason (an address a carrier
cannot take): fix the patient's address and the shipment appears by itself."""

from django.shortcuts import render
from django.views.decorators.http import require_GET

from pharmacy.access import staff_permission_required
from pharmacy.models import AuditEvent
from pharmacy.services import record_audit_event
from shipping.services.shipments import blocked_orders
from shipping.views._common import VIEW_SHIPMENTS
from shipping.views.lists import _tabs


@require_GET
@staff_permission_required(VIEW_SHIPMENTS)
def cannot_ship(request):
    """Orders ready to pack that cannot ship, with the reason: fix the patient's address
    and the shipment appears by itself."""
    rows = blocked_orders()
    record_audit_event(
        actor=request.user,
        action=AuditEvent.Action.VIEW,
        request=request,
        patients=[row.order.patient for row in rows],
        summary=f"Orders that cannot ship ({len(rows)} shown)",
    )
    context = {"rows": rows, "tabs": _tabs(), "blocked_tab": True}
    return render(request, "shipping/cannot_ship.html", context)
