"""The orders part of `manage.py seed_demo`: prescriptions from every channel, the intake
queue, fills waiting for PV1 with each kind of drug-check alert, refills, idempotence."""

import io
import json
from collections import Counter

import pytest
from django.core.management import call_command
from django.db.models import Q

from inventory.models import StockLot, StockMovement
from orders.demo import PRESCRIPTIONS, fhir_bundle, ncpdp_new_rx, seed_demo
from orders.intake.fhir import parse_fhir_json
from orders.intake.ncpdp import parse_new_rx
from orders.models import (
    Channel,
    Discrepancy,
    DurAlert,
    DurOverride,
    Fill,
    FillEvent,
    FillHold,
    FillScan,
    IntakeIssue,
    Order,
    Prescription,
)
from pharmacy.models import AuditEvent, DrugInteraction, Patient, Prescriber

pytestmark = pytest.mark.django_db


def seed() -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def row_counts() -> dict[str, int]:
    models = [Prescription, Fill, FillEvent, Order, DurAlert, DrugInteraction, Patient,
              Prescriber, AuditEvent, DurOverride, FillHold, FillScan, Discrepancy,
              StockMovement]  # fmt: skip
    return {model.__name__: model.objects.count() for model in models}


def orders_demo_prescriptions():
    """The prescriptions of this demo, by their keys (later apps' demos add their own)."""
    keys = [rx.key for rx in PRESCRIPTIONS]
    return Prescription.objects.filter(Q(message_id__in=keys) | Q(prescriber_order_number__in=keys))


def test_demo_has_prescriptions_from_every_channel():
    seed()

    assert Counter(orders_demo_prescriptions().values_list("channel", flat=True)) == {
        Channel.NCPDP: 9,
        Channel.FHIR: 5,
        Channel.PHONE: 3,
        Channel.FAX: 2,
        Channel.WRITTEN: 2,
    }
    assert orders_demo_prescriptions().count() == len(PRESCRIPTIONS)
    # The e-prescriptions keep the message verbatim, the typed ones have none.
    newrx = Prescription.objects.get(message_id="DEMO-NEWRX-0001")
    assert newrx.raw_message.startswith("<?xml")
    assert "<MessageID>DEMO-NEWRX-0001</MessageID>" in newrx.raw_message
    fhir = Prescription.objects.get(message_id="DEMO-FHIR-0003")
    assert json.loads(fhir.raw_message)["resourceType"] == "Bundle"
    phone = Prescription.objects.get(
        channel=Channel.PHONE, prescriber_order_number="DEMO-PHONE-0001"
    )
    assert (phone.raw_message, phone.message_id, phone.received_by.username) == (
        "",
        None,
        "technician",
    )


def test_demo_messages_parse_as_the_senders_meant():
    rx = next(rx for rx in PRESCRIPTIONS if rx.key == "DEMO-NEWRX-0004")
    written_on = rx.patient.date_of_birth.replace(year=2024)

    newrx = parse_new_rx(ncpdp_new_rx(rx, written_on=written_on))
    bundle = parse_fhir_json(fhir_bundle(rx, written_on=written_on))

    for incoming in (newrx, bundle):
        assert (incoming.patient.last_name, incoming.patient.date_of_birth) == (
            "Hoffman",
            rx.patient.date_of_birth,
        )
        assert incoming.prescriber.npi == rx.prescriber.npi
        assert incoming.drug.ndc == "00406051201"
        assert (incoming.quantity, incoming.days_supply, incoming.refills) == (20, 5, 0)
        assert incoming.written_date == written_on
    assert newrx.drug.dea_schedule == "CII"
    assert (newrx.message_id, bundle.message_id) == ("DEMO-NEWRX-0004", "DEMO-NEWRX-0004")


def test_intake_queue_holds_one_prescription_per_kind_of_problem():
    seed()

    queue = Prescription.objects.in_intake_queue()

    assert sorted(sorted(p.intake_issues) for p in queue) == [
        [IntakeIssue.DEA_REGISTRATION_UNVERIFIED, IntakeIssue.NEW_PRESCRIBER],
        [IntakeIssue.DRUG_NOT_MATCHED],
        [IntakeIssue.PATIENT_UNCERTAIN],
    ]
    assert set(Fill.objects.filter(prescription__in=queue).values_list("status", flat=True)) == {
        Fill.Status.INTAKE
    }
    uncertain = queue.get(intake_issues=[IntakeIssue.PATIENT_UNCERTAIN])
    assert uncertain.patient is None
    assert "Margaret Sullivan" in uncertain.note
    unverified = queue.get(dea_schedule="CIV")
    assert (unverified.prescriber.last_name, unverified.prescriber.needs_review) == (
        "Vasquez",
        True,
    )


def test_fills_waiting_for_pv1_show_every_kind_of_drug_check_alert():
    seed()

    alerts = DurAlert.objects.filter(fill__status=Fill.Status.PV1)
    types = set(alerts.values_list("type", flat=True))

    assert types == {
        DurAlert.Type.INTERACTION,
        DurAlert.Type.ALLERGY,
        DurAlert.Type.DUPLICATE_THERAPY,
        DurAlert.Type.EARLY_REFILL,
        DurAlert.Type.DOSE,
    }
    # The interaction data is loaded, so nothing is reported as unchecked.
    assert not DurAlert.objects.filter(type=DurAlert.Type.NO_DATA).exists()
    interaction = alerts.get(type=DurAlert.Type.INTERACTION)
    assert interaction.detail["interacting_ingredient"] == "WARFARIN"
    assert interaction.prescription.patient.last_name == "Kowalczyk"
    class_allergy = alerts.get(type=DurAlert.Type.ALLERGY, detail__match="class")
    assert class_allergy.prescription.patient.last_name == "Rahman"
    assert alerts.get(type=DurAlert.Type.EARLY_REFILL).fill.fill_number == 1


def test_refills_follow_a_first_fill_shipped_weeks_ago():
    seed()

    refills = Fill.objects.filter(fill_number__gt=0)

    assert refills.count() == 3
    assert set(refills.values_list("status", "requested_via")) == {
        (Fill.Status.PV1, "refill_request")
    }
    for refill in refills:
        first = refill.prescription.fills.get(fill_number=0)
        assert first.status == Fill.Status.SHIPPED
        assert first.created_at < refill.created_at
        assert list(first.events.values_list("to_status", flat=True)) == [
            Fill.Status.PV1,
            Fill.Status.FILL,
            Fill.Status.PV2,
            Fill.Status.READY_TO_PACK,
            Fill.Status.PACKED,
            Fill.Status.SHIPPED,
        ]
        assert refill.order.patient == refill.prescription.patient


def test_seeding_twice_creates_and_changes_nothing():
    seed()
    before = row_counts()
    imported_at = set(DrugInteraction.objects.values_list("imported_at", flat=True))

    output = seed()

    assert row_counts() == before
    assert set(DrugInteraction.objects.values_list("imported_at", flat=True)) == imported_at
    assert "Demo prescriptions:" in output
    assert "Demo data already complete; nothing new loaded." in output


def test_orders_demo_returns_what_it_created():
    call_command("seed_demo", stdout=io.StringIO())
    Prescription.objects.filter(message_id="DEMO-FHIR-0004").update(message_id="GONE")

    created = seed_demo(stdout=io.StringIO())

    assert created == {
        "curated interactions": 0,
        "prescriptions": 1,
        "refills": 0,
        "fills moved along the workflow": 0,
    }
    assert Prescription.objects.filter(message_id="DEMO-FHIR-0004").count() == 1


def test_every_queue_has_work_and_some_fills_are_on_hold():
    seed()

    queues = Counter(Fill.objects.values_list("status", flat=True))

    for status in ("intake", "pv1", "fill", "pv2", "ready_to_pack"):
        assert queues[status] >= 1, status
    held = Fill.objects.filter(status=Fill.Status.ON_HOLD)
    assert sorted(held.values_list("held_from_status", flat=True)) == ["fill", "fill", "pv1"]
    assert sorted(
        FillHold.objects.filter(released_at=None).values_list("reason_code", flat=True)
    ) == ["clarification", "insurance", "out_of_stock"]


def test_the_demo_staff_moved_fills_through_the_services():
    seed()

    ready = Fill.objects.get(
        status=Fill.Status.READY_TO_PACK, prescription__in=orders_demo_prescriptions()
    )
    assert (ready.pv1_by.username, ready.filled_by.username, ready.pv2_by.username) == (
        "pharmacist",
        "technician2",
        "pharmacist2",
    )
    assert list(ready.events.values_list("to_status", flat=True)) == [
        "pv1", "fill", "pv2", "fill", "pv2", "ready_to_pack",
    ]  # fmt: skip
    # The PV2 rejection put the units back on the lot and left a discrepancy to resolve.
    discrepancy = Discrepancy.objects.get()
    assert (discrepancy.fill, discrepancy.kind, discrepancy.is_open) == (ready, "wrong_count", True)
    assert discrepancy.stock_movement.kind == "return"
    assert set(FillScan.objects.values_list("is_accepted", flat=True)) == {True}
    # PV1 passed only with every alert of the fill overridden.
    for fill in Fill.objects.exclude(pv1_by=None):
        alerts = set(DurAlert.objects.for_fill(fill).values_list("pk", flat=True))
        assert set(fill.dur_overrides.values_list("alert", flat=True)) == alerts
    for lot in StockLot.objects.all():
        assert sum(lot.movements.values_list("quantity_change", flat=True)) == lot.quantity_on_hand


def test_the_demo_partial_fill_holds_its_remainder_in_an_order_of_its_own():
    seed()

    remainder = Fill.objects.get(partial_of__isnull=False)
    filled = remainder.partial_of

    assert filled.prescription.substitutions_allowed is False
    assert (filled.status, remainder.status, remainder.held_from_status) == (
        "pv2",
        "on_hold",
        "fill",
    )
    assert filled.quantity + remainder.quantity == 180
    assert filled.dispensed_quantity == filled.quantity < 180
    assert remainder.order != filled.order
    assert remainder.order.patient == filled.order.patient
    assert remainder.order.status == "on_hold"
