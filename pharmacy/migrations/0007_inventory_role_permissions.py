"""The roles get the stock permissions of issue 4: receiving, adjustments, cycle counts,
purchase orders and the controlled-substance inventories.

New databases also get these from 0002, which reads ``pharmacy.roles``; this gives them to
the role groups of databases migrated before. The permissions are listed here, not read
from the table, so the migration does the same thing whenever it runs.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations
from django.db.models import Q

TECHNICIAN = [
    "inventory.view_stocklot",
    "inventory.add_stockmovement",
    "inventory.add_receipt",
    "inventory.view_receipt",
    "inventory.view_purchaseorder",
    "inventory.view_cyclecount",
    "inventory.add_cyclecount",
]
ADDED = {
    "technician": TECHNICIAN,
    "pharmacist": [
        *TECHNICIAN,
        "inventory.change_cyclecount",
        "inventory.change_receivingdiscrepancy",
        "inventory.view_controlled_inventory",
    ],
    "manager": [
        "inventory.view_stocklot",
        "inventory.view_receipt",
        "inventory.view_purchaseorder",
        "inventory.add_purchaseorder",
        "inventory.change_purchaseorder",
        "inventory.view_cyclecount",
        "inventory.add_cyclecount",
        "inventory.change_cyclecount",
        "inventory.change_receivingdiscrepancy",
        "inventory.view_controlled_inventory",
    ],
}


def _permissions(apps, names):
    Permission = apps.get_model("auth", "Permission")
    match = Q(pk__in=[])
    for name in names:
        app_label, codename = name.split(".")
        match |= Q(content_type__app_label=app_label, codename=codename)
    found = list(Permission.objects.filter(match))
    if len(found) != len(set(names)):
        missing = set(names) - {f"{p.content_type.app_label}.{p.codename}" for p in found}
        raise LookupError(f"permissions missing: {sorted(missing)}")
    return found


def add_permissions(apps, schema_editor):
    # Permissions are normally created after all migrations; the groups need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    for role, names in ADDED.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.add(*_permissions(apps, names))


def remove_permissions(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for role, names in ADDED.items():
        for group in Group.objects.filter(name=role):
            group.permissions.remove(*_permissions(apps, names))


class Migration(migrations.Migration):
    dependencies = [
        ("pharmacy", "0006_patient_conditions"),
        ("inventory", "0004_receiving_and_counts"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(add_permissions, remove_permissions)]
