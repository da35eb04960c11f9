"""pharmacy.sql, the plain SQL of the hot paths, against what the ORM does: prepared
statements, model instances from rows, and insert(). Here rather than in pharmacy's
tests because the cases that matter (a JSON field, the Rx number's database default)
are the orders app's models."""

import uuid
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.db.models import F, signals
from django.test.utils import CaptureQueriesContext

from orders.models import Fill, FillEvent, Order, Prescription
from orders.tests.factories import FillFactory, PrescriptionFactory
from pharmacy.sql import fetch_models, insert, prepared


def unique(name: str) -> str:
    """A statement name this connection cannot hold yet (it outlives a test)."""
    return f"{name}_{uuid.uuid4().hex[:8]}"


def plus_one(name: str, number: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute(prepared(name, "SELECT %s::int + 1, 'a%%b'"), [number])
        result, literal = cursor.fetchone()
    assert literal == "a%b"
    return result


def test_a_prepared_statement_runs_as_one_execute_even_the_first_time(db):
    name = unique("plus_one")

    with CaptureQueriesContext(connection) as first:
        assert plus_one(name, 1) == 2
    with CaptureQueriesContext(connection) as again:
        assert plus_one(name, 41) == 42

    assert [query["sql"] for query in first] == [f"EXECUTE {name}(1)"]
    assert [query["sql"] for query in again] == [f"EXECUTE {name}(41)"]


def test_a_prepared_statement_outlives_a_rollback(db):
    name = unique("plus_one")

    def prepare_then_fail():
        with transaction.atomic():
            assert plus_one(name, 1) == 2  # prepared inside the transaction
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        prepare_then_fail()

    assert plus_one(name, 2) == 3


@pytest.mark.django_db(transaction=True)
def test_a_new_connection_prepares_again():
    name = unique("plus_one")
    assert plus_one(name, 1) == 2

    connection.close()

    assert plus_one(name, 2) == 3


def test_only_positional_parameters_and_plain_names():
    with pytest.raises(ValueError, match="positional"):
        prepared("named", "SELECT %(value)s")
    with pytest.raises(ValueError, match="not a statement name"):
        prepared("drop table; --", "SELECT 1")


def test_fetch_models_makes_what_raw_makes(db):
    first, second = PrescriptionFactory.create_batch(2)
    sql = "SELECT * FROM orders_prescription WHERE id = ANY(%s) ORDER BY id"

    fetched = fetch_models(Prescription, sql, [[first.pk, second.pk]])
    raw = list(Prescription.objects.raw(sql, [[first.pk, second.pk]]))

    assert fetched == raw == [first, second]
    for made, expected in zip(fetched, raw, strict=True):
        for field in Prescription._meta.concrete_fields:
            assert getattr(made, field.attname) == getattr(expected, field.attname), field.name
    assert isinstance(fetched[0].received_data, dict)  # the JSON field's converter ran
    assert fetched[0]._state.adding is False


def test_fetch_models_defers_what_is_not_selected_and_keeps_other_columns(db):
    prescription = PrescriptionFactory(quantity=Decimal(30))

    (made,) = fetch_models(
        Prescription,
        "SELECT id, rx_number, quantity * 2 AS doubled FROM orders_prescription WHERE id = %s",
        [prescription.pk],
    )

    assert (made.rx_number, made.doubled) == (prescription.rx_number, Decimal(60))
    assert "sig_text" in made.get_deferred_fields()
    assert made.sig_text == prescription.sig_text  # loaded on first use


def test_fetch_models_needs_the_primary_key(db):
    with pytest.raises(ValueError, match="primary key"):
        fetch_models(Prescription, "SELECT rx_number FROM orders_prescription", [])


def test_insert_stores_what_create_stores(db):
    template = PrescriptionFactory()
    values = {
        field.attname: getattr(template, field.attname)
        for field in Prescription._meta.concrete_fields
        if field.name not in ("id", "rx_number", "message_id", "received_at", "updated_at")
    }

    inserted = insert(Prescription(**values, message_id="INSERTED"))
    created = Prescription.objects.create(**values, message_id="CREATED")

    assert inserted.pk
    assert inserted._state.adding is False
    # The Rx number is the database's default (its sequence), read back on insert.
    assert inserted.rx_number
    assert int(created.rx_number) == int(inserted.rx_number) + 1
    stored = Prescription.objects.get(pk=inserted.pk)
    # auto_now_add and auto_now, as save() sets them.
    assert (stored.received_at, stored.updated_at) == (inserted.received_at, inserted.updated_at)
    assert inserted.received_at is not None
    for field in Prescription._meta.concrete_fields:
        if field.name not in ("id", "rx_number", "message_id", "received_at", "updated_at"):
            assert getattr(stored, field.attname) == getattr(created, field.attname), field.name


def test_insert_sets_defaults_and_relations(db, technician):
    prescription = PrescriptionFactory()
    order = insert(Order(patient=prescription.patient))
    fill = insert(Fill(prescription=prescription, order=order, quantity=Decimal(30)))
    event = insert(FillEvent(fill=fill, from_status="", to_status=fill.status, actor=technician))

    stored = Fill.objects.get(pk=fill.pk)
    assert (stored.order, stored.status, stored.priority) == (
        order,
        Fill.Status.INTAKE,
        Fill.Priority.NORMAL,
    )
    assert stored.label_code == fill.label_code
    assert stored.label_code
    assert FillEvent.objects.get(pk=event.pk).actor == technician


def test_insert_saves_through_the_model_when_a_receiver_listens(db):
    prescription = PrescriptionFactory()
    heard = []

    def receiver(sender, instance, created, **kwargs):
        heard.append((instance.pk, created))

    signals.post_save.connect(receiver, sender=Order)
    try:
        order = insert(Order(patient=prescription.patient))
    finally:
        signals.post_save.disconnect(receiver, sender=Order)

    assert heard == [(order.pk, True)]


def test_insert_takes_values_not_expressions(db):
    fill = FillFactory()

    with pytest.raises(ValueError, match="not expressions"):
        insert(Fill(prescription=fill.prescription, quantity=F("days_supply")))
