"""Migration 0002 hands to the outbox what the old shipping task queues may have left
undone (their tasks are gone), and nothing else; the deliveries then finish it."""

import importlib
from datetime import timedelta

import pytest
from django.apps import apps
from django.utils import timezone

from orders.models import Fill
from outbox.models import OutboxMessage
from pharmacy.models import Patient
from shipping.models import LabelBatch, Shipment
from shipping.services.documents import generate_packing_slip, generate_shipping_label
from shipping.tests.factories import (
    ShipmentFactory,
    deliver_side_effects,
    labelled_shipment,
    ready_order,
)

pytestmark = pytest.mark.django_db

S = Shipment.Status
migration = importlib.import_module("shipping.migrations.0002_record_undone_side_effects")


def run_the_migration() -> None:
    # No schema change since: today's models stand for the migration's historical ones.
    migration.record_undone_side_effects(apps, None)


def recorded() -> list[tuple]:
    return list(
        OutboxMessage.objects.order_by("kind", "target_id").values_list(
            "kind", "target_id", "payload", "dedupe_key"
        )
    )


def test_what_the_old_queues_left_undone_is_recorded_once_and_then_delivered(
    technician, mailoutbox
):
    # Packed (its one packing event), and the carrier failed: no label.
    unlabelled = labelled_shipment(status=S.PACKED, tracking_number="x")
    Shipment.objects.filter(pk=unlabelled.pk).update(tracking_number="")
    # Labelled, its slip made but its label's task lost.
    without_label = labelled_shipment()
    generate_packing_slip(without_label)
    # Awaiting packing, its slip's task lost.
    without_slip = ShipmentFactory()
    # Complete: nothing to do.
    complete = labelled_shipment()
    generate_shipping_label(complete)
    generate_packing_slip(complete)
    # A wave stopped after its first label.
    batch = LabelBatch.objects.create(created_by=technician, total=2, done=1)
    batch.shipments.set([complete, without_label])
    # Handed over an hour ago, the patient never told; and one told, one long delivered.
    untold = labelled_shipment(order=ready_order(status=Fill.Status.PACKED))
    told = labelled_shipment(order=ready_order(status=Fill.Status.PACKED))
    long_ago = labelled_shipment(order=ready_order(status=Fill.Status.PACKED))
    now = timezone.now()
    Shipment.objects.filter(pk=untold.pk).update(
        status=S.HANDED_TO_CARRIER, handed_over_at=now - timedelta(hours=1)
    )
    Shipment.objects.filter(pk=told.pk).update(
        status=S.IN_TRANSIT, handed_over_at=now, patient_notified_at=now
    )
    Shipment.objects.filter(pk=long_ago.pk).update(
        status=S.IN_TRANSIT, handed_over_at=now - timedelta(days=4)
    )
    # A patient without an e-mail address is not written to.
    no_address = labelled_shipment(order=ready_order(status=Fill.Status.PACKED))
    Shipment.objects.filter(pk=no_address.pk).update(status=S.HANDED_TO_CARRIER, handed_over_at=now)
    Patient.objects.filter(pk=no_address.order.patient_id).update(email="")

    run_the_migration()

    purchase_key = f"shipping.buy_label:{unlabelled.pk}:1"
    expected = [
        ("shipping.buy_label", unlabelled.pk, {"packing": 1}, purchase_key),
        ("shipping.documents", unlabelled.pk, {}, None),  # no slip either
        ("shipping.documents", without_slip.pk, {}, None),
        ("shipping.documents", without_label.pk, {}, None),
        ("shipping.label_batch", batch.pk, {}, f"shipping.label_batch:{batch.pk}:1"),
        ("shipping.shipped_email", untold.pk, {}, f"shipping.shipped_email:{untold.pk}"),
    ]  # fmt: skip
    assert recorded() == sorted(expected, key=lambda row: (row[0], row[1]))

    deliver_side_effects()

    unlabelled.refresh_from_db()
    batch.refresh_from_db()
    assert unlabelled.status == S.LABELLED
    assert batch.finished_at is not None
    assert [mail.to for mail in mailoutbox] == [[untold.order.patient.email]]
    assert set(OutboxMessage.objects.values_list("status", flat=True)) == {"delivered"}
