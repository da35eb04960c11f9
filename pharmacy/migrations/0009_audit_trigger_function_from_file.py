"""Install ``pharmacy_audit_event_append_only``, the audit trail's trigger function, from
``pharmacy/database/pharmacy_audit_event_append_only.sql`` (the text of migration 0002,
unchanged): from now on the file is its source, and a change to it is a new migration
that installs the file again (README, "Contributor notes")."""

from django.db import migrations

from lib.migrations import RunSQLFile


class Migration(migrations.Migration):
    dependencies = [("pharmacy", "0008_reorder_role_permissions")]

    operations = [
        RunSQLFile(
            "pharmacy/database/pharmacy_audit_event_append_only.sql",
            # Migration 0002 installed the same text.
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
