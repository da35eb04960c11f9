"""Hand the shipping side effects left undone by the old task queues to the outbox.

Until this release the shipping app queued its own Celery tasks for the carrier label's
purchase, the label and packing slip PDFs, label batches and the patient's "shipped"
e-mail, with catch-up tasks behind some of them. Those tasks are gone: a message of
theirs still in the broker finds no task. This records in the outbox what they may have
left undone, so the outbox's sweep delivers it; every deliverer does nothing when the
effect already happened.

- A packed package without its label (the carrier failed, or its worker died).
- A package before the hand-over without its current packing slip, or labelled without
  its current label.
- A label batch not finished.
- The "shipped" e-mail of a package handed over in the last three days, still on its way
  and its patient never told (a broker down at the hand-over lost it for good).
"""

from datetime import timedelta

from django.db import migrations
from django.db.models import Exists, OuterRef
from django.utils import timezone

BEFORE_HANDOVER = ("awaiting_packing", "packed", "labelled")
ON_ITS_WAY = ("handed_to_carrier", "in_transit")
EMAIL_WINDOW = timedelta(days=3)


def record_undone_side_effects(apps, schema_editor):
    Shipment = apps.get_model("shipping", "Shipment")
    ShipmentEvent = apps.get_model("shipping", "ShipmentEvent")
    ShippingDocument = apps.get_model("shipping", "ShippingDocument")
    LabelBatch = apps.get_model("shipping", "LabelBatch")
    OutboxMessage = apps.get_model("outbox", "OutboxMessage")
    now = timezone.now()
    messages = []

    def record(kind, target_id, description, *, dedupe_key=None, payload=None):
        messages.append(
            OutboxMessage(
                kind=kind,
                target_id=target_id,
                payload=payload or {},
                description=description[:200],
                dedupe_key=dedupe_key,
                next_attempt_at=now,
            )
        )

    for shipment in Shipment.objects.filter(status="packed", tracking_number="").order_by("pk"):
        packing = ShipmentEvent.objects.filter(shipment=shipment, to_status="packed").count()
        record(
            "shipping.buy_label",
            shipment.pk,
            f"Carrier label of package {shipment.package_code} (packing {packing})",
            payload={"packing": packing},
            dedupe_key=f"shipping.buy_label:{shipment.pk}:{packing}",
        )

    def current(kind):
        return Exists(
            ShippingDocument.objects.filter(shipment=OuterRef("pk"), kind=kind, is_current=True)
        )

    without_documents = (
        Shipment.objects.filter(status__in=BEFORE_HANDOVER)
        .alias(has_slip=current("packing_slip"), has_label=current("label"))
        .exclude(has_slip=True, has_label=True)
        .exclude(has_slip=True, tracking_number="")
        .order_by("pk")
    )
    for shipment in without_documents:
        record(
            "shipping.documents",
            shipment.pk,
            f"Label and packing slip of package {shipment.package_code}",
        )

    for batch in LabelBatch.objects.filter(finished_at__isnull=True).order_by("pk"):
        position = batch.done + batch.failed
        record(
            "shipping.label_batch",
            batch.pk,
            f"Label batch {batch.pk} from label {position + 1}",
            dedupe_key=f"shipping.label_batch:{batch.pk}:{position}",
        )

    untold = (
        Shipment.objects.filter(
            status__in=ON_ITS_WAY,
            patient_notified_at__isnull=True,
            handed_over_at__gte=now - EMAIL_WINDOW,
        )
        .exclude(order__patient__email="")
        .order_by("pk")
    )
    for shipment in untold:
        record(
            "shipping.shipped_email",
            shipment.pk,
            f"Shipped e-mail of package {shipment.package_code}",
            dedupe_key=f"shipping.shipped_email:{shipment.pk}",
        )

    OutboxMessage.objects.bulk_create(messages, ignore_conflicts=True)


class Migration(migrations.Migration):
    dependencies = [
        ("outbox", "0001_side_effects"),
        ("shipping", "0001_shipping"),
    ]

    operations = [
        migrations.RunPython(record_undone_side_effects, migrations.RunPython.noop, elidable=True),
    ]
