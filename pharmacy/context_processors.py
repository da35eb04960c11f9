"""Template context every page needs: the pharmacy's name and the navigation of the role."""

from django.conf import settings
from django.urls import reverse

from pharmacy.access import held_at_second_factor

# (label, url name, permission needed) in the order the navigation shows them.
NAVIGATION = [
    ("Technician", "technician_home", "pharmacy.work_technician_queues"),
    ("Pharmacist", "pharmacist_home", "pharmacy.verify_prescriptions"),
    ("Intake", "intake_queue", "pharmacy.work_technician_queues"),
    ("Dashboard", "manager_home", "pharmacy.view_dashboard"),
    ("Patients", "patient_list", "pharmacy.view_patient"),
    ("Prescribers", "prescriber_list", "pharmacy.view_prescriber"),
    ("Catalogue", "catalogue_search", "inventory.view_product"),
    ("Inventory", "stock_home", "inventory.view_stocklot"),
    ("Shipping", "shipping_home", "shipping.view_shipment"),
    ("Audit trail", "audit_log", "pharmacy.view_auditevent"),
]


def pharmacy(request):
    user = getattr(request, "user", None)
    navigation = []
    # A session held at the second sign-in step could follow no link of the navigation.
    if user is not None and user.is_authenticated and not held_at_second_factor(request):
        navigation = [
            {"label": label, "url": reverse(name), "active": request.path.startswith(reverse(name))}
            for label, name, permission in NAVIGATION
            if user.has_perm(permission)
        ]
    return {"pharmacy_name": settings.PHARMACY_NAME, "navigation": navigation}
