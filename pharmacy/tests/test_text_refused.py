"""Names and free text of patients and prescribers never hold a control character or an
invisible text-direction character (lib.text), which could disguise a name on a label:
every refusal names its field, and nothing is written."""

import datetime

import pytest

from pharmacy.models import Allergy, AuditEvent, Condition, Patient, PatientAddress, Prescriber
from pharmacy.services import (
    PatientDataError,
    PrescriberDataError,
    add_patient_address,
    create_patient,
    create_prescriber,
    record_allergy,
    record_condition,
    update_patient,
    update_patient_address,
    update_prescriber,
)
from pharmacy.tests.factories import PatientAddressFactory, PatientFactory, PrescriberFactory

MODELS = (Patient, PatientAddress, Allergy, Condition, Prescriber, AuditEvent)
RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE: "\u202enadA" prints "Adan"
OVERRIDE = (
    "Contains an invisible text-direction character (U+202E), which can make it display "
    "differently from what is stored; remove it."
)
BELL = "Contains a control character (U+0007), which cannot be shown or printed; remove it."
NEWLINE = "Contains a line break or tab (U+000A) but must be one line."
ADDRESS = {"line1": "12 Elm St", "city": "Columbus", "state": "OH", "postal_code": "43215"}


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in MODELS}


@pytest.fixture
def patient(db):
    return PatientFactory(first_name="Ada", last_name="Lovelace")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("first_name", f"{RLO}nadA", OVERRIDE),
        ("middle_name", "J\u2066", OVERRIDE.replace("202E", "2066")),
        ("last_name", "Love\nlace", NEWLINE),
        ("last_name", "Lovelace\u0007", BELL),
        ("phone", "614\u200f555", OVERRIDE.replace("202E", "200F")),
        ("preferred_language", "English\u0085", BELL.replace("0007", "0085")),
    ],
)
def test_a_new_patient_with_a_disguised_name_or_detail_is_refused(
    technician, field, value, message
):
    before = counts()
    details = {"first_name": "Ada", "last_name": "Lovelace", field: value}

    with pytest.raises(PatientDataError) as refused:
        create_patient(**details, date_of_birth=datetime.date(1960, 12, 10), by=technician)

    assert refused.value.errors == {field: message}
    assert counts() == before


@pytest.mark.parametrize("field", ["line1", "line2", "city", "label"])
def test_a_new_patients_address_is_checked_field_by_field(technician, field):
    before = counts()

    with pytest.raises(PatientDataError) as refused:
        create_patient(
            first_name="Ada",
            last_name="Lovelace",
            date_of_birth=datetime.date(1960, 12, 10),
            addresses=[{**ADDRESS, field: f"Home{RLO}"}],
            by=technician,
        )

    assert refused.value.errors == {f"addresses[0].{field}": OVERRIDE}
    assert counts() == before


def test_a_patients_changed_name_is_checked(technician, patient):
    before = counts()

    with pytest.raises(PatientDataError) as refused:
        update_patient(patient, by=technician, last_name=f"{RLO}ecalevol")

    assert refused.value.errors == {"last_name": OVERRIDE}
    patient.refresh_from_db()
    assert patient.last_name == "Lovelace"
    assert counts() == before


def test_an_added_or_changed_address_is_checked(technician, patient):
    address = PatientAddressFactory(patient=patient)
    before = counts()

    with pytest.raises(PatientDataError) as added:
        add_patient_address(patient, by=technician, **{**ADDRESS, "city": "Colum\u0000bus"})
    with pytest.raises(PatientDataError) as changed:
        update_patient_address(address, by=technician, line2=f"Apt 4{RLO}")

    assert added.value.errors == {"city": BELL.replace("0007", "0000")}
    assert changed.value.errors == {"line2": OVERRIDE}
    assert counts() == before


def test_an_allergy_is_one_line_its_reaction_free_text(technician, patient):
    before = counts()

    with pytest.raises(PatientDataError) as allergen:
        record_allergy(patient, by=technician, allergen="Sulfa\nmethoxazole")
    with pytest.raises(PatientDataError) as reaction:
        record_allergy(patient, by=technician, allergen="Sulfa", reaction=f"Hives{RLO}")

    assert allergen.value.errors == {"allergen": NEWLINE}
    assert reaction.value.errors == {"reaction": OVERRIDE}
    assert counts() == before
    # A reaction may run over lines.
    kept = record_allergy(patient, by=technician, allergen="Sulfa", reaction="Hives\nthen fever")
    assert kept.reaction == "Hives\nthen fever"


def test_a_condition_is_checked(technician, patient):
    before = counts()

    with pytest.raises(PatientDataError) as refused:
        record_condition(patient, by=technician, name=f"Diabetes{RLO}")

    assert refused.value.errors == {"name": OVERRIDE}
    assert counts() == before


@pytest.mark.parametrize(
    "field", ["first_name", "last_name", "credentials", "practice_name", "address_line1", "city"]
)
def test_a_prescriber_is_checked_field_by_field(technician, field):
    before = counts()
    details = {"first_name": "Sarah", "last_name": "Chen", "npi": "1234567893", field: "X\u202e"}

    with pytest.raises(PrescriberDataError) as refused:
        create_prescriber(by=technician, **details)

    assert refused.value.errors == {field: OVERRIDE}
    assert counts() == before


def test_a_prescribers_changed_name_is_checked(technician):
    prescriber = PrescriberFactory(last_name="Chen")
    before = counts()

    with pytest.raises(PrescriberDataError) as refused:
        update_prescriber(prescriber, by=technician, last_name="Ch\ten")

    assert refused.value.errors == {"last_name": NEWLINE.replace("000A", "0009")}
    prescriber.refresh_from_db()
    assert prescriber.last_name == "Chen"
    assert counts() == before


# --------------------------------------------------------------------------- the API


def test_the_patients_api_answers_400_naming_the_field(api_technician):
    before = counts()

    response = api_technician.post(
        "/api/v1/patients/",
        {"first_name": f"{RLO}nadA", "last_name": "Lovelace", "date_of_birth": "1960-12-10"},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid"
    assert response.json()["fields"] == {"first_name": [OVERRIDE]}
    assert counts() == before


def test_the_allergy_api_answers_400_naming_the_field(api_technician, patient):
    before = counts()

    response = api_technician.post(
        f"/api/v1/patients/{patient.pk}/allergies/",
        {"allergen": "Peni\u0007cillin"},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["fields"] == {"allergen": [BELL]}
    assert counts() == before


def test_the_patient_page_shows_the_refusal_beside_the_field(client_technician, patient):
    response = client_technician.post(
        f"/patients/{patient.pk}/edit/",
        {
            "first_name": "Ada",
            "last_name": f"{RLO}ecalevoL",
            "date_of_birth": "1960-12-10",
            "sex": "F",
            "preferred_language": "English",
        },
    )

    assert response.context["form"].errors == {"last_name": [OVERRIDE]}
    patient.refresh_from_db()
    assert patient.last_name == "Lovelace"
