"""Likely duplicates (issue 13): creating a patient on the staff page, through the API or
from an incoming prescription warns of patients on file with the same birth date and a
similar name, the same phone or the same address; a person confirms before a second
record is made."""

import datetime

import pytest

from orders.models import IntakeIssue, Prescription
from orders.services.intake import resolve_intake
from orders.tests.test_intake_queue import message, receive
from pharmacy.models import AuditEvent, Patient
from pharmacy.services import (
    PossibleDuplicatesFound,
    create_patient,
    find_possible_duplicates,
)
from pharmacy.tests.factories import (
    HERNANDEZ_BORN,
    PatientFactory,
    PrescriberFactory,
    hernandez_patient,
)
from pharmacy.tests.second_factor import signed_in_client

BORN = HERNANDEZ_BORN


@pytest.fixture
def maria(db):
    return hernandez_patient()


def duplicates(**fields) -> dict[int, list[str]]:
    values = {"first_name": "Someone", "last_name": "Else", "date_of_birth": None, **fields}
    return {d.patient.pk: d.reasons for d in find_possible_duplicates(**values)}


# --------------------------------------------------------------------------- detection


def test_the_same_birth_date_with_a_similar_name_is_a_likely_duplicate(maria):
    assert duplicates(first_name="Maria", last_name="Hernandez", date_of_birth=BORN) == {
        maria.pk: ["same date of birth and a similar name"]
    }
    assert duplicates(first_name="Mario", last_name="Hernandes", date_of_birth=BORN) == {
        maria.pk: ["same date of birth and a similar name"]
    }
    # Same birth date, another person's name; a similar name born another day.
    assert duplicates(first_name="Kevin", last_name="Smith", date_of_birth=BORN) == {}
    assert (
        duplicates(
            first_name="Maria", last_name="Hernandez", date_of_birth=datetime.date(1980, 1, 1)
        )
        == {}
    )


def test_the_same_phone_in_any_layout_is_a_likely_duplicate(maria):
    assert duplicates(phone="+1 614.555.0103") == {maria.pk: ["same phone number"]}
    assert duplicates(phone="555-0199") == {}


def test_the_same_address_line_and_zip_is_a_likely_duplicate(maria):
    same = [{"line1": "77 OAK ST.", "postal_code": "43215-0001"}]
    other_zip = [{"line1": "77 Oak Street", "postal_code": "45402"}]

    assert duplicates(addresses=same) == {maria.pk: ["same address"]}
    assert duplicates(addresses=other_zip) == {}


def test_every_reason_is_listed_and_the_strongest_candidates_come_first(maria):
    phone_only = PatientFactory(phone="614 555 0103")

    found = find_possible_duplicates(
        first_name="Maria",
        last_name="Hernandez",
        date_of_birth=BORN,
        phone="6145550103",
        addresses=[{"line1": "77 Oak Street", "postal_code": "43215"}],
    )

    assert [(d.patient, d.reasons) for d in found] == [
        (maria, ["same date of birth and a similar name", "same phone number", "same address"]),
        (phone_only, ["same phone number"]),
    ]


def test_a_patient_without_phone_or_address_is_checked_without_error(maria):
    no_contact = PatientFactory(first_name="Ana", last_name="Rivera", date_of_birth=BORN, phone="")

    assert duplicates(first_name="Ana", last_name="Rivera", date_of_birth=BORN) == {
        no_contact.pk: ["same date of birth and a similar name"]
    }
    assert duplicates(first_name="Ana", last_name="Rivera", date_of_birth=None, phone="") == {}


def test_merged_records_are_not_candidates(maria):
    Patient.objects.filter(pk=maria.pk).update(
        merged_into=PatientFactory(), merged_at=datetime.datetime.now(tz=datetime.UTC)
    )

    assert duplicates(phone="(614) 555-0103") == {}


# --------------------------------------------------------------------------- the service


def test_create_patient_refuses_a_likely_duplicate_and_writes_nothing(technician, maria):
    with pytest.raises(PossibleDuplicatesFound) as refused:
        create_patient(first_name="Maria", last_name="Hernandez", date_of_birth=BORN, by=technician)

    assert [c.patient for c in refused.value.candidates] == [maria]
    assert "María Hernández (#" in refused.value.errors["possible_duplicates"]
    assert (Patient.objects.count(), AuditEvent.objects.count()) == (1, 0)


def test_create_patient_creates_once_a_person_confirmed_and_audits_it(technician, maria):
    patient = create_patient(
        first_name="Maria",
        last_name="Hernandez",
        date_of_birth=BORN,
        by=technician,
        confirm_not_duplicate=True,
    )

    event = AuditEvent.objects.get()
    assert (event.patient, event.summary) == (
        patient,
        f"Patient created, confirmed not a duplicate of #{maria.pk}",
    )


# --------------------------------------------------------------------------- the page


def patient_form(**fields) -> dict:
    return {
        "first_name": "Maria",
        "middle_name": "",
        "last_name": "Hernandez",
        "date_of_birth": BORN.isoformat(),
        "sex": "F",
        "phone": "",
        "email": "",
        "preferred_language": "English",
        "child_resistant_waiver_on": "",
        "address-label": "Home",
        "address-line1": "9 Elm Street",
        "address-line2": "",
        "address-city": "Dayton",
        "address-state": "OH",
        "address-postal_code": "45402",
        **fields,
    }


def test_the_page_warns_with_a_link_to_each_candidate_and_creates_nothing(client_technician, maria):
    response = client_technician.post("/patients/new/", patient_form())

    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="possible-duplicates"' in html
    assert f'href="/patients/{maria.pk}/"' in html
    assert "same date of birth and a similar name" in html
    assert 'name="confirm_not_duplicate"' in html
    assert Patient.objects.count() == 1
    event = AuditEvent.objects.get()
    assert (event.action, event.patient_ids) == (AuditEvent.Action.SEARCH, [maria.pk])


def test_the_page_creates_the_patient_once_the_person_confirms(client_technician, maria):
    response = client_technician.post("/patients/new/", patient_form(confirm_not_duplicate="on"))

    created = Patient.objects.exclude(pk=maria.pk).get()
    assert response.status_code == 302
    assert response["Location"] == f"/patients/{created.pk}/"


# --------------------------------------------------------------------------- the API


def api_body(**fields) -> dict:
    return {"first_name": "Maria", "last_name": "Hernandez", "date_of_birth": "1971-07-22",
            **fields}  # fmt: skip


def test_the_api_answers_409_with_the_candidates_and_creates_nothing(api_technician, maria):
    response = api_technician.post("/api/v1/patients/", api_body(), format="json")

    assert response.status_code == 409
    body = response.json()
    assert body["error"] == "possible_duplicates"
    assert "confirm_not_duplicate" in body["detail"]
    assert body["candidates"] == [
        {
            "id": maria.pk,
            "first_name": "María",
            "last_name": "Hernández",
            "date_of_birth": "1971-07-22",
            "reasons": ["same date of birth and a similar name"],
        }
    ]
    assert Patient.objects.count() == 1


def test_the_api_creates_the_patient_when_confirmed(api_technician, maria):
    response = api_technician.post(
        "/api/v1/patients/", api_body(confirm_not_duplicate=True), format="json"
    )

    assert response.status_code == 201
    assert response.json()["merged_into"] is None
    assert Patient.objects.count() == 2


# --------------------------------------------------------------------------- intake


def received(**patient) -> Prescription:
    """An e-prescription from a prescriber on file for the patient named (Ada Lovelace's
    message with these changes)."""
    prescriber = PrescriberFactory(first_name="Grace", last_name="Hopper")
    return receive(message(patient=patient, prescriber={"npi": prescriber.npi}))


MARIE = {"first_name": "Marie", "last_name": "Hernandez", "date_of_birth": BORN}


def test_an_erx_for_a_likely_duplicate_creates_no_patient_and_waits_for_a_technician(maria):
    prescription = received(**MARIE)

    assert prescription.patient is None
    assert prescription.status == Prescription.Status.INTAKE
    assert IntakeIssue.PATIENT_UNCERTAIN in prescription.intake_issues
    assert f"María Hernández (#{maria.pk}" in prescription.note
    assert Patient.objects.count() == 1


def test_an_erx_matches_the_record_whatever_the_accents_of_the_name(maria):
    prescription = received(first_name="MARIA", last_name="HERNANDEZ", date_of_birth=BORN)

    assert prescription.patient == maria
    assert IntakeIssue.PATIENT_UNCERTAIN not in prescription.intake_issues


def test_an_erx_with_the_phone_of_a_patient_on_file_is_flagged(maria):
    prescription = received(phone="614-555-0103")

    assert prescription.patient is None
    assert "same phone number" in prescription.note


def test_the_technician_creating_the_patient_as_received_is_the_confirmation(technician, maria):
    prescription = received(**MARIE)

    resolved = resolve_intake(prescription, by=technician, create_patient_as_received=True)

    assert resolved.patient not in (None, maria)
    assert IntakeIssue.NEW_PATIENT in resolved.intake_issues


def test_the_intake_page_shows_phone_and_address_of_each_candidate(technician, maria):
    prescription = received(**MARIE)

    html = signed_in_client(technician).get(f"/intake/{prescription.pk}/").content.decode()

    assert "Possible match: same date of birth and a similar name" in html
    assert "Phone (614) 555-0103" in html
    assert "Ships to 77 Oak Street" in html
