"""Technicians and pharmacists may create patients and record allergies (patients API).

New databases get these from 0002, which reads ``pharmacy.roles``; this gives them to the
role groups of databases migrated before. The permissions are listed here, not read from
the table, so the migration does the same thing whenever it runs.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ADDED = {
    "technician": ["add_patient", "change_patient", "add_allergy"],
    "pharmacist": ["add_patient", "change_patient", "add_allergy"],
}


def _permissions(apps, codenames):
    Permission = apps.get_model("auth", "Permission")
    return Permission.objects.filter(content_type__app_label="pharmacy", codename__in=codenames)


def add_permissions(apps, schema_editor):
    # Permissions are normally created after all migrations; the groups need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    for role, codenames in ADDED.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.add(*_permissions(apps, codenames))


def remove_permissions(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for role, codenames in ADDED.items():
        for group in Group.objects.filter(name=role):
            group.permissions.remove(*_permissions(apps, codenames))


class Migration(migrations.Migration):
    dependencies = [
        ("pharmacy", "0004_records_to_review"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(add_permissions, remove_permissions)]
