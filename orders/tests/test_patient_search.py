"""Patient search (issue 13): one normalization of names, phones and addresses, and one
search by name (whatever its accents, case, apostrophes and hyphens), date of birth,
phone, Rx number and order number, on the staff page, the intake picker and the API."""

import datetime
import importlib

import pytest
from django.apps import apps

from orders.tests.factories import OrderFactory, PrescriptionFactory
from pharmacy.models import AuditEvent, Patient, PatientAddress, PatientSearchError
from pharmacy.patient_keys import (
    address_key,
    name_key,
    name_words,
    names_look_alike,
    patient_search_values,
    phone_key,
)
from pharmacy.tests.factories import PatientAddressFactory, PatientFactory

BORN = datetime.date(1971, 7, 22)


# --------------------------------------------------------------------------- keys


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("Hernández", "hernandez"),
        ("HERNANDEZ", "hernandez"),
        ("O'Connor", "oconnor"),
        ("O\u2019Connor", "oconnor"),
        ("Mary-Jo", "maryjo"),
        ("De la Cruz", "delacruz"),
        ("Zoë", "zoe"),
        ("Straße", "strasse"),
        ("Ｊｏｈｎ", "john"),  # full-width letters (NFKD)
        ("", ""),
    ],
)
def test_name_key_drops_accents_case_apostrophes_hyphens_and_spaces(typed, key):
    assert name_key(typed) == key


def test_name_words_keep_each_part_of_a_double_name():
    assert name_words("María José", "", "García-López") == [
        "mariajose",
        "maria",
        "jose",
        "garcialopez",
        "garcia",
        "lopez",
    ]


@pytest.mark.parametrize(
    "typed", ["(614) 555-0103", "614.555.0103", "+1 614 555 0103", "6145550103"]
)
def test_phone_key_is_the_last_ten_digits(typed):
    assert phone_key(typed) == "6145550103"


def test_address_key_is_line_one_with_street_words_shortened_and_the_zip():
    assert address_key("12 North Main Street", "43215-1234") == "12 n main st|43215"
    assert address_key("12 N. Main St", "43215") == "12 n main st|43215"
    assert address_key("", "43215") == ""
    assert address_key("12 Main St", "") == ""


@pytest.mark.parametrize(
    ("a", "b", "alike"),
    [
        (("Maria", "Hernández"), ("María", "Hernandez"), True),
        (("Bob", "Smith"), ("Bobby", "Smith"), True),
        (("Jonh", "Smith"), ("John", "Smith"), True),  # two letters swapped
        (("John", "Smith"), ("Smith", "John"), True),  # first and last swapped
        (("Ada", "Lovelace"), ("Adrian", "Mole"), False),
        (("", "Smith"), ("John", "Smith"), False),
    ],
)
def test_names_look_alike(a, b, alike):
    assert names_look_alike(*a, *b) is alike


# --------------------------------------------------------------------------- search


@pytest.fixture
def maria(db):
    patient = PatientFactory(
        first_name="María", last_name="Hernández", date_of_birth=BORN, phone="(614) 555-0103"
    )
    PatientAddressFactory(patient=patient)
    return patient


@pytest.fixture
def kevin(db):
    return PatientFactory(first_name="Kevin", last_name="O'Connor", phone="(412) 555-0108")


def found(text: str) -> list[Patient]:
    return list(Patient.objects.search(text))


def test_a_search_ignores_accents_case_apostrophes_and_hyphens(maria, kevin):
    garcia = PatientFactory(first_name="Luis", last_name="García-López")

    assert found("hernandez") == [maria]
    assert found("HERNÁNDEZ maria") == [maria]
    assert found("hern") == [maria]
    assert found("oconnor") == [kevin]
    assert found("o'con") == [kevin]
    assert found("lopez") == [garcia]
    assert found("garcia lopez") == [garcia]
    assert found("smith") == []


def test_a_search_finds_by_phone_in_any_layout(maria, kevin):
    assert found("614-555-0103") == [maria]
    assert found("(614) 5550103") == [maria]
    assert found("5550103") == [maria]
    assert found("+1 412 555 0108") == [kevin]


def test_a_search_finds_by_date_of_birth_alone_or_with_a_name(maria, kevin):
    assert found("1971-07-22") == [maria]
    assert found("07/22/1971") == [maria]
    assert found("hernandez 1971-07-22") == [maria]
    assert found("oconnor 1971-07-22") == []


def test_a_search_finds_by_rx_number_and_order_number(maria, kevin):
    prescription = PrescriptionFactory(patient=maria, rx_number="9000123")
    order = OrderFactory(patient=kevin)

    assert found(prescription.rx_number) == [maria]
    assert found(f"order {order.pk}") == [kevin]
    assert found(f"#{order.pk}") == [kevin]


def test_a_merged_record_is_hidden_from_searches(maria):
    twin = PatientFactory(first_name="Maria", last_name="Hernandez", date_of_birth=BORN)
    Patient.objects.filter(pk=twin.pk).update(
        merged_into=maria, merged_at=datetime.datetime.now(tz=datetime.UTC)
    )

    assert found("hernandez") == [maria]


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("h", "Type at least 2 characters"),
        (" h ", "Type at least 2 characters"),
        ("h" * 500, "The search is too long (500 characters; at most 100)"),
        ("hern\x00andez", "control or invisible character"),
        ("hern\u202eandez", "control or invisible character"),
    ],
)
def test_a_search_too_short_too_long_or_with_control_characters_is_refused(maria, typed, message):
    with pytest.raises(PatientSearchError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Patient.objects.search(typed)


def test_the_services_keep_the_search_keys_current(technician, maria):
    from pharmacy.services import add_patient_address, update_patient

    update_patient(maria, by=technician, last_name="Hernández-Ruiz", phone="937 555 0142")
    add_patient_address(
        maria, by=technician, line1="418 Maple Avenue", city="Dayton", state="OH",
        postal_code="45402",
    )  # fmt: skip

    maria.refresh_from_db()
    assert (maria.search_last_name, maria.search_phone) == ("hernandezruiz", "9375550142")
    assert "ruiz" in maria.search_name_words
    assert maria.addresses.filter(match_key="418 maple ave|45402").exists()
    assert found("ruiz") == [maria]


def test_the_data_migration_fills_the_keys_of_existing_rows(maria):
    Patient.objects.update(search_last_name="", search_first_name="", search_name_words=[])
    PatientAddress.objects.update(match_key="")
    migration = importlib.import_module("pharmacy.migrations.0013_fill_patient_search_keys")

    migration.fill_keys(apps, None)

    maria.refresh_from_db()
    assert {name: getattr(maria, name) for name in ("search_last_name", "search_first_name")} == {
        "search_last_name": "hernandez",
        "search_first_name": "maria",
    }
    assert (
        maria.search_name_words
        == patient_search_values(
            first_name="María", middle_name="", last_name="Hernández", phone=""
        )["search_name_words"]
    )
    address = maria.addresses.get()
    assert address.match_key == address_key(address.line1, address.postal_code) != ""


# --------------------------------------------------------------------------- pages, API


def test_the_staff_patient_search_finds_hernandez_and_is_audited(client_technician, maria):
    response = client_technician.get("/patients/", {"q": "hernandez"})

    assert response.status_code == 200
    assert "Hernández, María" in response.content.decode()
    event = AuditEvent.objects.get()
    assert (event.action, event.patient_ids) == (AuditEvent.Action.SEARCH, [maria.pk])


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("h", "Type at least 2 characters"),
        ("h" * 500, "The search is too long"),
        ("a\x07b", "control or invisible character"),
    ],
)
def test_the_staff_patient_search_refuses_bad_input_with_a_message(
    client_technician, maria, typed, message
):
    response = client_technician.get("/patients/", {"q": typed})

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not AuditEvent.objects.exists()


def test_the_intake_picker_finds_by_accentless_name_and_by_phone(client_technician, maria):
    by_name = client_technician.get("/intake/search/patients/", {"q": "hernandez"})
    by_phone = client_technician.get("/intake/search/patients/", {"q": "614 555 0103"})
    too_long = client_technician.get("/intake/search/patients/", {"q": "x" * 500})

    assert f'data-value="{maria.pk}"' in by_name.content.decode()
    assert "Phone (614) 555-0103" in by_name.content.decode()
    assert f'data-value="{maria.pk}"' in by_phone.content.decode()
    assert "The search is too long" in too_long.content.decode()


def test_the_api_searches_with_q_and_matches_last_name_without_accents(
    api_technician, maria, kevin
):
    by_q = api_technician.get("/api/v1/patients/", {"q": "hernandez"})
    by_last_name = api_technician.get("/api/v1/patients/", {"last_name": "OCONNOR"})
    bad = api_technician.get("/api/v1/patients/", {"q": "x"})

    assert [p["id"] for p in by_q.json()["results"]] == [maria.pk]
    assert [p["id"] for p in by_last_name.json()["results"]] == [kevin.pk]
    assert (bad.status_code, bad.json()["error"]) == (400, "invalid_search")
    assert "at least 2 characters" in bad.json()["detail"]
