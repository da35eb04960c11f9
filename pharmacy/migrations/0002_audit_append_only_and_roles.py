"""The audit trail refuses UPDATE and DELETE in the database itself, and the role groups exist.

The trigger makes the trail append-only for every client of the database, not only for
this application's Python code (HIPAA 45 CFR 164.312(b): audit controls).
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

APPEND_ONLY = """
CREATE FUNCTION pharmacy_audit_event_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only: % on pharmacy_auditevent is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER pharmacy_audit_event_append_only
    BEFORE UPDATE OR DELETE ON pharmacy_auditevent
    FOR EACH ROW EXECUTE FUNCTION pharmacy_audit_event_append_only();
"""

DROP_APPEND_ONLY = """
DROP TRIGGER pharmacy_audit_event_append_only ON pharmacy_auditevent;
DROP FUNCTION pharmacy_audit_event_append_only();
"""


def create_role_groups(apps, schema_editor):
    # Permissions are normally created after all migrations; the role groups need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = None
    from pharmacy.roles import ROLE_PERMISSIONS  # noqa: PLC0415 (the table, not a model)

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, names in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        for name in names:
            app_label, codename = name.split(".")
            permission = Permission.objects.filter(
                content_type__app_label=app_label, codename=codename
            ).first()
            # Apps migrated after this one (shipping) have no permissions yet: the sync
            # after migrate (pharmacy/apps.py) gives them to the groups.
            if permission is not None:
                group.permissions.add(permission)


class Migration(migrations.Migration):
    dependencies = [
        ("pharmacy", "0001_initial"),
        ("inventory", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunSQL(APPEND_ONLY, DROP_APPEND_ONLY),
        migrations.RunPython(create_role_groups, migrations.RunPython.noop),
    ]
