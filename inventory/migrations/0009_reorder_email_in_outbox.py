"""Reorder alert e-mails become outbox side effects (``inventory.reorder_email``): the
alert's own claim (``email_claimed_at``) and the index its periodic sweep read go. The
e-mails of current alerts not yet sent when this runs are recorded in the outbox, so the
sweep that used to send them is not missed."""

from django.db import migrations

EFFECT = "inventory.reorder_email"


def record_unsent_emails(apps, schema_editor):
    ReorderAlert = apps.get_model("inventory", "ReorderAlert")
    OutboxMessage = apps.get_model("outbox", "OutboxMessage")
    unsent = ReorderAlert.objects.filter(
        status__in=["open", "acknowledged"], email_sent_at__isnull=True
    ).values_list("pk", flat=True)
    OutboxMessage.objects.bulk_create(
        [
            OutboxMessage(
                kind=EFFECT,
                target_id=alert_id,
                description=f"Reorder e-mail of alert {alert_id}",
                dedupe_key=f"{EFFECT}:{alert_id}",
            )
            for alert_id in unsent
        ],
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0008_stock_rules_in_python"),
        ("outbox", "0001_side_effects"),
    ]

    operations = [
        migrations.RunPython(record_unsent_emails, migrations.RunPython.noop),
        migrations.RemoveIndex(
            model_name="reorderalert",
            name="reorder_alert_unsent_idx",
        ),
        migrations.RemoveField(
            model_name="reorderalert",
            name="email_claimed_at",
        ),
    ]
