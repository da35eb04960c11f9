"""Hand the Rx labels left undone by the old label task to the outbox.

Until this release a fill's label was made by a Celery task queued after commit, with a
catch-up task for those whose task never ran. Both are gone: the side effect
``orders.rx_label`` (``outbox``) replaces them. This records one for every fill past PV1
and not yet shipped that has no current label (its task lost, or still in the broker and
now without a task), so the outbox's sweep makes it; making a label that already exists
changes nothing (its content hash).
"""

from django.db import migrations
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

WAITING_FOR_A_LABEL = ("fill", "pv2", "ready_to_pack", "packed")


def record_missing_rx_labels(apps, schema_editor):
    Fill = apps.get_model("orders", "Fill")
    RxLabel = apps.get_model("orders", "RxLabel")
    OutboxMessage = apps.get_model("outbox", "OutboxMessage")
    now = timezone.now()
    fills = (
        Fill.objects.filter(
            Q(status__in=WAITING_FOR_A_LABEL)
            | Q(status="on_hold", held_from_status__in=WAITING_FOR_A_LABEL)
        )
        .exclude(Exists(RxLabel.objects.filter(fill=OuterRef("pk"), is_current=True)))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    OutboxMessage.objects.bulk_create(
        OutboxMessage(
            kind="orders.rx_label",
            target_id=fill_id,
            description=f"Rx label of fill {fill_id}",
            next_attempt_at=now,
        )
        for fill_id in fills.iterator()
    )


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0006_rx_number_db_default"),
        ("outbox", "0001_side_effects"),
    ]

    operations = [migrations.RunPython(record_missing_rx_labels, migrations.RunPython.noop)]
