"""The patients API: creating patients with their addresses and recording allergies."""

import importlib

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.db.migrations.loader import MigrationLoader

from inventory.models import PharmacologicClass
from inventory.tests.factories import IngredientFactory, PharmacologicClassFactory
from pharmacy.models import Allergy, AuditEvent, Patient, PatientAddress
from pharmacy.tests.factories import PatientFactory

URL = "/api/v1/patients/"
MODELS = (Patient, PatientAddress, Allergy, AuditEvent)


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in MODELS}


def new_patient(**changes) -> dict:
    return {
        "first_name": "Lena",
        "middle_name": "J",
        "last_name": "Okonkwo",
        "date_of_birth": "1990-02-03",
        "sex": "F",
        "phone": "(614) 555-0188",
        "email": "lena@example.com",
        "addresses": [
            {"label": "Home", "line1": "12 Elm St", "city": "Columbus", "state": "OH",
             "postal_code": "43215"},
            {"label": "Work", "line1": "400 High St", "line2": "Floor 3", "city": "Columbus",
             "state": "oh", "postal_code": "43215-1234", "is_default_shipping": True},
        ],
        **changes,
    }  # fmt: skip


# --------------------------------------------------------------------------- create


def test_a_patient_is_created_with_addresses(api_technician, technician):
    before = counts()

    response = api_technician.post(URL, new_patient(), format="json")

    assert response.status_code == 201
    patient = Patient.objects.get(last_name="Okonkwo")
    body = response.json()
    assert body["id"] == patient.pk
    assert {key: body[key] for key in ("first_name", "middle_name", "last_name", "sex")} == {
        "first_name": "Lena",
        "middle_name": "J",
        "last_name": "Okonkwo",
        "sex": "F",
    }
    assert body["date_of_birth"] == "1990-02-03"
    assert body["allergies"] == []
    assert body["no_known_allergies"] is False
    # The flagged address ships by default and is listed first.
    assert [(a["label"], a["state"], a["is_default_shipping"]) for a in body["addresses"]] == [
        ("Work", "OH", True),
        ("Home", "OH", False),
    ]
    assert counts() == {
        **before,
        "Patient": before["Patient"] + 1,
        "PatientAddress": before["PatientAddress"] + 2,
        "AuditEvent": before["AuditEvent"] + 1,
    }
    audit = AuditEvent.objects.order_by("-pk").first()
    assert (audit.actor, audit.action, audit.patient) == (technician, "create", patient)


def test_a_patient_without_addresses_can_be_created(api_pharmacist):
    response = api_pharmacist.post(
        URL,
        {"first_name": "Bo", "last_name": "Ng", "date_of_birth": "2001-01-01"},
        format="json",
    )

    assert response.status_code == 201
    assert response.json()["addresses"] == []
    assert response.json()["sex"] == "U"


def refused(response, before: dict, fields: dict) -> None:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"] == "invalid"
    assert body["fields"] == fields
    assert counts() == before, "a refused patient wrote something"


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        (
            {"date_of_birth": "2999-01-01"},
            {"date_of_birth": ["The date of birth is in the future."]},
        ),
        ({"first_name": "   "}, {"first_name": ["This field may not be blank."]}),
        (
            {"addresses": [{"line1": "1 A St", "city": "X", "state": "ZZ", "postal_code": "4321"}]},
            {
                "addresses[0].state": ["'ZZ' is not a US state or territory code."],
                "addresses[0].postal_code": [
                    "'4321' is not a ZIP code (5 digits, or 5+4 as 12345-6789)."
                ],
            },
        ),
        (
            {"addresses": [
                {"line1": "1 A St", "city": "X", "state": "OH", "postal_code": "43215",
                 "is_default_shipping": True},
                {"line1": "2 B St", "city": "X", "state": "OH", "postal_code": "43215",
                 "is_default_shipping": True},
            ]},
            {"addresses": ["Only one address can be the default shipping address."]},
        ),
    ],
    ids=["future-birth", "blank-name", "bad-address", "two-defaults"],
)  # fmt: skip
def test_patient_data_the_service_refuses_is_a_400_with_field_errors(
    api_technician, changes, fields
):
    before = counts()

    response = api_technician.post(URL, new_patient(**changes), format="json")

    refused(response, before, fields)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"date_of_birth": "02/03/1990"}, "date_of_birth"),
        ({"sex": "X"}, "sex"),
        ({"email": "not-an-email"}, "email"),
        ({"addresses": [{"city": "Columbus"}]}, "addresses"),
        ({"addresses": "12 Elm St"}, "addresses"),
    ],
)
def test_malformed_patient_input_is_a_400(api_technician, changes, field):
    before = counts()

    response = api_technician.post(URL, new_patient(**changes), format="json")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid"
    assert list(response.json()["fields"]) == [field]
    assert counts() == before


def test_a_missing_last_name_is_a_400(api_technician):
    before = counts()
    data = new_patient()
    del data["last_name"]

    response = api_technician.post(URL, data, format="json")

    refused(response, before, {"last_name": ["This field is required."]})


@pytest.mark.parametrize(("role", "expected"), [("technician", 201), ("pharmacist", 201),
                                                ("manager", 403)])  # fmt: skip
def test_technicians_and_pharmacists_create_patients(request, role, expected):
    client = request.getfixturevalue(f"api_{role}")

    response = client.post(URL, new_patient(), format="json")

    assert response.status_code == expected
    assert Patient.objects.filter(last_name="Okonkwo").count() == (1 if expected == 201 else 0)


def test_listing_patients_still_writes_one_search_row(api_technician):
    PatientFactory(last_name="Okonkwo")
    rows = AuditEvent.objects.count()

    response = api_technician.get(URL, {"last_name": "okonkwo"})

    assert response.status_code == 200
    assert len(response.json()["results"]) == 1
    assert AuditEvent.objects.count() == rows + 1


# --------------------------------------------------------------------------- allergies


@pytest.fixture
def patient(db):
    return PatientFactory(first_name="Ana", last_name="Rivera", no_known_allergies=True)


@pytest.fixture
def penicillins(db):
    return PharmacologicClassFactory(
        name="Penicillin-class Antibacterial", kind=PharmacologicClass.Kind.ESTABLISHED
    )


def allergies_url(patient) -> str:
    return f"{URL}{patient.pk}/allergies/"


def test_an_allergy_to_a_class_is_coded_to_the_class(
    api_technician, technician, patient, penicillins
):
    before = counts()

    response = api_technician.post(
        allergies_url(patient),
        {"allergen": "Penicillin", "reaction": "Hives", "severity": "severe"},
        format="json",
    )

    assert response.status_code == 201
    allergy = patient.allergies.get()
    assert response.json() == {
        "id": allergy.pk,
        "allergen": "Penicillin",
        "ingredient": None,
        "pharmacologic_class": "Penicillin-class Antibacterial",
        "is_coded": True,
        "reaction": "Hives",
        "severity": "severe",
        "recorded_at": response.json()["recorded_at"],
    }
    assert allergy.pharmacologic_class == penicillins
    assert allergy.recorded_by == technician
    patient.refresh_from_db()
    assert patient.no_known_allergies is False
    assert counts() == {
        **before,
        "Allergy": before["Allergy"] + 1,
        "AuditEvent": before["AuditEvent"] + 1,
    }


def test_an_allergy_to_an_ingredient_is_coded_to_the_ingredient(api_pharmacist, patient):
    IngredientFactory(name="Sulfamethoxazole")

    response = api_pharmacist.post(
        allergies_url(patient), {"allergen": "sulfamethoxazole"}, format="json"
    )

    assert response.status_code == 201
    body = response.json()
    assert (body["ingredient"], body["pharmacologic_class"], body["is_coded"]) == (
        "Sulfamethoxazole",
        None,
        True,
    )
    assert body["severity"] == "unknown"


def test_an_allergen_the_catalogue_does_not_know_is_kept_as_written(api_technician, patient):
    response = api_technician.post(
        allergies_url(patient), {"allergen": "Latex", "reaction": "Rash"}, format="json"
    )

    assert response.status_code == 201
    body = response.json()
    assert (body["allergen"], body["ingredient"], body["pharmacologic_class"]) == (
        "Latex",
        None,
        None,
    )
    assert body["is_coded"] is False


def test_the_patient_shows_the_recorded_allergy(api_technician, patient, penicillins):
    api_technician.post(allergies_url(patient), {"allergen": "Penicillin"}, format="json")

    shown = api_technician.get(f"{URL}{patient.pk}/").json()

    assert [(a["allergen"], a["is_coded"]) for a in shown["allergies"]] == [("Penicillin", True)]
    assert shown["no_known_allergies"] is False


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"allergen": ""}, "allergen"),
        ({"allergen": "   "}, "allergen"),
        ({}, "allergen"),
        ({"allergen": "Penicillin", "severity": "deadly"}, "severity"),
        ({"allergen": "x" * 256}, "allergen"),
    ],
)
def test_a_bad_allergy_is_a_400(api_technician, patient, body, field):
    before = counts()

    response = api_technician.post(allergies_url(patient), body, format="json")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid"
    assert list(response.json()["fields"]) == [field]
    assert counts() == before


def test_an_allergy_of_an_unknown_patient_is_404(api_technician, db):
    before = counts()

    response = api_technician.post(f"{URL}999999/allergies/", {"allergen": "Latex"}, format="json")

    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "detail": "Not found."}
    assert counts() == before


def test_a_manager_cannot_record_allergies(api_manager, patient):
    before = counts()

    response = api_manager.post(allergies_url(patient), {"allergen": "Latex"}, format="json")

    assert response.status_code == 403
    assert counts() == before


# --------------------------------------------------------------------------- migration


def test_the_migration_gives_existing_role_groups_the_new_permissions(db):
    name = "0005_role_permissions_patients"
    migration = importlib.import_module(f"pharmacy.migrations.{name}")
    # The models as the migration sees them (never the live registry, which the
    # migration's create_permissions call would alter).
    historical = MigrationLoader(connection).project_state(("pharmacy", name)).apps
    technicians = Group.objects.get(name="technician")
    managers = Group.objects.get(name="manager")
    migration.remove_permissions(historical, None)
    assert not technicians.permissions.filter(codename="add_patient").exists()

    migration.add_permissions(historical, None)

    for group in (technicians, Group.objects.get(name="pharmacist")):
        assert set(
            group.permissions.filter(
                codename__in=["add_patient", "change_patient", "add_allergy"]
            ).values_list("codename", flat=True)
        ) == {"add_patient", "change_patient", "add_allergy"}
    assert not managers.permissions.filter(codename="add_patient").exists()
