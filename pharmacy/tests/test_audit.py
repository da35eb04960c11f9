"""The audit trail: one row per view of patient data, append-only in the database."""

import pytest
from django.db import DatabaseError, connection, transaction

from pharmacy.models import AuditEvent
from pharmacy.tests.factories import AllergyFactory, PatientFactory


@pytest.fixture
def patient(db):
    patient = PatientFactory(last_name="Okafor", first_name="Ada")
    AllergyFactory(patient=patient)
    return patient


def test_viewing_a_patient_page_writes_exactly_one_audit_row(
    client_technician, technician, patient
):
    response = client_technician.get(f"/patients/{patient.pk}/", REMOTE_ADDR="10.1.2.3")

    assert response.status_code == 200
    assert b"Penicillin" in response.content
    event = AuditEvent.objects.get()
    assert (event.actor, event.action, event.patient, event.object_type, event.object_id) == (
        technician,
        "view",
        patient,
        "pharmacy.Patient",
        str(patient.pk),
    )
    assert (event.ip_address, event.path) == ("10.1.2.3", f"/patients/{patient.pk}/")


def test_a_patient_search_writes_one_row_listing_every_patient_shown(client_technician, patient):
    other = PatientFactory(last_name="Okafor", first_name="Ben")
    PatientFactory(last_name="Smith")

    response = client_technician.get("/patients/", {"q": "okafor"})

    assert response.status_code == 200
    event = AuditEvent.objects.get()
    assert event.action == "search"
    assert event.patient is None
    assert event.patient_ids == sorted([patient.pk, other.pk])


def test_api_patient_read_writes_one_row(api_technician, technician, patient):
    response = api_technician.get(f"/api/v1/patients/{patient.pk}/")

    assert response.status_code == 200
    assert response.json()["allergies"][0]["allergen"] == "Penicillin"
    event = AuditEvent.objects.get()
    assert (event.actor, event.action, event.patient) == (technician, "view", patient)


def test_api_patient_search_writes_one_row(api_technician, patient):
    response = api_technician.get(
        "/api/v1/patients/",
        {"last_name": "OKAFOR", "date_of_birth": patient.date_of_birth.isoformat()},
    )

    assert response.status_code == 200
    assert [p["id"] for p in response.json()["results"]] == [patient.pk]
    event = AuditEvent.objects.get()
    assert (event.action, event.patient_ids) == ("search", [patient.pk])


def test_a_refused_read_writes_no_patient_audit_row(client_manager, patient):
    response = client_manager.get(f"/patients/{patient.pk}/")

    assert response.status_code == 403
    assert not AuditEvent.objects.filter(patient=patient).exists()


def test_the_database_refuses_to_update_audit_rows(patient, technician):
    event = AuditEvent.objects.create(actor=technician, action="view", patient=patient)

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(action="search")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        event.delete()
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM pharmacy_auditevent")

    event.refresh_from_db()
    assert event.action == "view"
    assert AuditEvent.objects.count() == 1


def test_managers_search_the_audit_trail(client_manager, client_technician, patient, technician):
    client_technician.get(f"/patients/{patient.pk}/")
    client_technician.get("/patients/", {"q": "okafor"})

    by_patient = client_manager.get("/audit/", {"patient": patient.pk})
    by_action = client_manager.get("/audit/", {"username": "tech", "action": "search"})
    bad_dates = client_manager.get("/audit/", {"date_from": "2026-02-01", "date_to": "2026-01-01"})

    assert [e.action for e in by_patient.context["page"]] == ["search", "view"]
    assert [e.action for e in by_action.context["page"]] == ["search"]
    assert b"The start date is after the end date." in bad_dates.content


def test_only_managers_see_the_audit_trail(client_technician, client_pharmacist):
    assert client_technician.get("/audit/").status_code == 403
    assert client_pharmacist.get("/audit/").status_code == 403


def test_reading_the_trail_is_audited_naming_the_patients_it_shows(
    client_manager, client_technician, manager, patient
):
    other = PatientFactory(last_name="Okafor", first_name="Ben")
    client_technician.get(f"/patients/{patient.pk}/")
    client_technician.get("/patients/", {"q": "okafor"})

    response = client_manager.get("/audit/")

    assert response.status_code == 200
    assert b"q=okafor" in response.content  # the search typed, as the trail keeps it
    read = AuditEvent.objects.order_by("-pk").first()
    assert (read.actor, read.action, read.summary) == (
        manager,
        "view",
        "Audit trail (2 events shown)",
    )
    assert read.patient_ids == sorted([patient.pk, other.pk])


def test_reading_a_trail_that_names_no_patient_writes_nothing(client_manager, manager):
    assert client_manager.get("/audit/").status_code == 200
    assert AuditEvent.objects.count() == 0
