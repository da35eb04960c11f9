"""What each role may do, as Django permissions on the role's Group.

``sync_role_groups`` (pharmacy.services) makes the groups match this table; a migration
runs it so every database has the roles from the start.
"""

from pharmacy.models import Role

# "app_label.codename" of every permission a role carries.
ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.TECHNICIAN: [
        "pharmacy.work_technician_queues",
        "pharmacy.view_patient",
        "pharmacy.add_patient",
        "pharmacy.change_patient",
        "pharmacy.add_allergy",
        "pharmacy.view_prescriber",
        "inventory.view_product",
    ],
    Role.PHARMACIST: [
        "pharmacy.work_technician_queues",
        "pharmacy.verify_prescriptions",
        "pharmacy.view_patient",
        "pharmacy.add_patient",
        "pharmacy.change_patient",
        "pharmacy.add_allergy",
        "pharmacy.view_prescriber",
        "inventory.view_product",
        "inventory.change_product",
    ],
    Role.MANAGER: [
        "pharmacy.view_dashboard",
        "pharmacy.manage_staff",
        "pharmacy.view_auditevent",
        "pharmacy.view_prescriber",
        "inventory.view_product",
        "inventory.change_product",
    ],
}

# Where each role lands after logging in.
ROLE_HOME_URL_NAMES = {
    Role.TECHNICIAN: "technician_home",
    Role.PHARMACIST: "pharmacist_home",
    Role.MANAGER: "manager_home",
}
