"""Refills asked for by phone: the technician types or scans the Rx number and the
patient's date of birth; the page shows the new fill and its drug checks, or the reason
it cannot be made, in plain words."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from orders.models import DurAlert, Fill, FillEvent, Order, Prescription
from orders.tests.factories import (
    FillFactory,
    PrescriptionFactory,
    amoxicillin_product,
    penicillin_allergic_patient,
)
from pharmacy.drug_checks import invalidate_interaction_index
from pharmacy.models import AuditEvent

URL = "/refills/"
BORN = date(1960, 12, 10)
MODELS = (Prescription, Fill, FillEvent, Order, DurAlert, AuditEvent)


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in MODELS}


@pytest.fixture(autouse=True)
def fresh_interaction_index():
    invalidate_interaction_index()
    yield
    invalidate_interaction_index()


@pytest.fixture
def prescription(db) -> Prescription:
    """Ada's amoxicillin, 2 refills, 30 days a fill; the first fill shipped 40 days ago."""
    patient = penicillin_allergic_patient(
        first_name="Ada", last_name="Lovelace", date_of_birth=BORN
    )
    prescription = PrescriptionFactory(
        patient=patient, product=amoxicillin_product(), refills_authorized=2, days_supply=30
    )
    fill = FillFactory(prescription=prescription, status=Fill.Status.SHIPPED)
    Fill.objects.filter(pk=fill.pk).update(created_at=timezone.now() - timedelta(days=40))
    return prescription


def ask(client, rx_number, date_of_birth=BORN):
    return client.post(URL, {"rx_number": rx_number, "date_of_birth": str(date_of_birth)})


def test_the_page_is_scanner_first(client_technician):
    html = client_technician.get(URL).content.decode()

    assert 'name="rx_number" id="id_rx_number" data-scan' in html
    assert 'type="date" name="date_of_birth"' in html


def test_a_refill_due_is_made_and_shown_with_its_alerts(
    client_technician, technician, prescription
):
    response = ask(client_technician, prescription.rx_number)

    assert response.status_code == 200
    fill = prescription.fills.get(fill_number=1)
    assert (fill.status, fill.requested_via) == (Fill.Status.PV1, "refill_request")
    html = response.content.decode()
    assert f'Refill 1 of Rx <a href="/prescriptions/{prescription.pk}/">' in html
    assert "for Ada Lovelace" in html
    assert "Status: <strong>Waiting for PV1</strong>. 1 refill left after this one." in html
    assert 'data-testid="dur-alert-allergy"' in html
    assert "allergic to Penicillin" in html
    # the form is empty again, ready for the next caller
    assert 'placeholder="Type or scan the vial label" value=""' in html
    event = AuditEvent.objects.get()
    assert (event.action, event.actor, event.patient, event.object_id, event.summary) == (
        AuditEvent.Action.CREATE,
        technician,
        prescription.patient,
        str(fill.pk),
        f"Refill of Rx {prescription.rx_number} requested",
    )


@pytest.mark.parametrize("typed", ["Rx {}", "rx#{}", " {} ", "RX NO. {}"])
def test_the_rx_number_may_be_typed_as_printed(client_technician, prescription, typed):
    response = ask(client_technician, typed.format(prescription.rx_number))

    assert response.status_code == 200
    assert prescription.fills.filter(fill_number=1).exists()


def _no_refills_left(prescription):
    Prescription.objects.filter(pk=prescription.pk).update(refills_authorized=0)


def _expired(prescription):
    Prescription.objects.filter(pk=prescription.pk).update(
        expires_on=timezone.localdate() - timedelta(days=1)
    )


def _cancelled(prescription):
    Prescription.objects.filter(pk=prescription.pk).update(status=Prescription.Status.CANCELLED)


def _too_soon(prescription):
    prescription.fills.update(created_at=timezone.now() - timedelta(days=5))


@pytest.mark.parametrize(
    ("make", "status", "reason"),
    [
        (_no_refills_left, 409, "has no refills left; the pharmacy can ask the prescriber"),
        (_expired, 409, "expired on"),
        (_cancelled, 409, "was cancelled and cannot be refilled."),
        (_too_soon, 409, "can be refilled from"),
    ],
    ids=["no refills left", "expired", "cancelled", "too soon"],
)
def test_a_refused_refill_says_why_and_makes_nothing(
    client_technician, prescription, make, status, reason
):
    make(prescription)
    before = counts()

    response = ask(client_technician, prescription.rx_number)

    assert response.status_code == status
    html = response.content.decode()
    assert "The refill cannot be made." in html
    assert f"Rx {prescription.rx_number} " in html
    assert reason in html
    assert counts() == before


@pytest.mark.parametrize(
    ("rx_number", "born"),
    [("{rx}", date(1960, 12, 11)), ("12345", BORN)],
    ids=["wrong birth date", "unknown Rx number"],
)
def test_a_wrong_rx_number_or_birth_date_is_not_found(
    client_technician, prescription, rx_number, born
):
    before = counts()

    response = ask(client_technician, rx_number.format(rx=prescription.rx_number), born)

    assert response.status_code == 404
    assert "No prescription matches that Rx number and date of birth." in (
        response.content.decode()
    )
    assert counts() == before


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"rx_number": "", "date_of_birth": "1960-12-10"}, "Enter or scan the Rx number"),
        ({"rx_number": "Rx #", "date_of_birth": "1960-12-10"}, "Enter or scan the Rx number"),
        ({"rx_number": "9000001", "date_of_birth": ""}, "Enter the patient&#x27;s date of birth."),
        ({"rx_number": "9000001", "date_of_birth": "31/31/1960"}, "as YYYY-MM-DD"),
    ],
)
def test_missing_fields_are_named(client_technician, prescription, data, message):
    before = counts()

    response = client_technician.post(URL, data)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert counts() == before


def test_a_manager_cannot_request_a_refill(client_manager, prescription):
    before = counts()

    response = ask(client_manager, prescription.rx_number)

    assert response.status_code == 403
    assert counts() == before
