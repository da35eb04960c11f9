"""Services that keep patient and prescriber records: every rule, and that a refused
change writes nothing (no record, no audit row)."""

import datetime

import pytest
from django.db import IntegrityError

from inventory.tests.factories import IngredientFactory, PharmacologicClassFactory
from pharmacy.drug_checks import allergy_profiles_for_patient
from pharmacy.identifiers import dea_number_with_check_digit, npi_with_check_digit
from pharmacy.models import AuditEvent, Condition, Patient, PatientAddress, Prescriber
from pharmacy.services import (
    PatientDataError,
    PrescriberDataError,
    add_patient_address,
    create_patient,
    create_prescriber,
    record_allergy,
    record_condition,
    remove_allergy,
    remove_condition,
    remove_patient_address,
    set_no_known_allergies,
    update_patient,
    update_patient_address,
    update_prescriber,
)
from pharmacy.tests.factories import (
    AllergyFactory,
    PatientAddressFactory,
    PatientFactory,
    PrescriberFactory,
)

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2025, 6, 15)
VALID_NPI = npi_with_check_digit("123456789")  # 1234567893
VALID_DEA = dea_number_with_check_digit("BC", "482910")


def audit_rows() -> list[tuple[str, str, str]]:
    return list(AuditEvent.objects.order_by("pk").values_list("action", "object_type", "summary"))


def address(**fields) -> dict:
    return {"line1": "12 Oak St", "city": "Columbus", "state": "OH", "postal_code": "43215",
            **fields}  # fmt: skip


# --------------------------------------------------------------------------- patient details


def test_update_patient_saves_the_changed_fields_with_one_audit_row(technician):
    patient = PatientFactory(first_name="Ana", phone="(614) 555-0100", email="")

    update_patient(
        patient,
        by=technician,
        today=TODAY,
        first_name=" Ana ",
        phone="(614) 555-0199",
        email="ana@example.com",
        child_resistant_waiver_on=datetime.date(2025, 6, 1),
    )

    patient.refresh_from_db()
    assert (patient.phone, patient.email, patient.child_resistant_waiver_on) == (
        "(614) 555-0199",
        "ana@example.com",
        datetime.date(2025, 6, 1),
    )
    assert audit_rows() == [
        (
            "update",
            "pharmacy.Patient",
            "Patient details changed: phone, email, child_resistant_waiver_on",
        )
    ]
    assert AuditEvent.objects.get().patient == patient


def test_update_patient_with_nothing_changed_writes_nothing(technician):
    patient = PatientFactory(first_name="Ana")

    update_patient(patient, by=technician, first_name="Ana", today=TODAY)

    assert audit_rows() == []


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"date_of_birth": datetime.date(2025, 6, 16)}, {"date_of_birth"}),
        ({"date_of_birth": datetime.date(1894, 1, 1)}, {"date_of_birth"}),
        ({"first_name": "  ", "last_name": ""}, {"first_name", "last_name"}),
        ({"sex": "X"}, {"sex"}),
        ({"email": "not-an-address"}, {"email"}),
        ({"child_resistant_waiver_on": datetime.date(2025, 7, 1)}, {"child_resistant_waiver_on"}),
        ({"phone": "5" * 31}, {"phone"}),
    ],
)
def test_update_patient_refuses_bad_details_and_writes_nothing(technician, fields, errors):
    patient = PatientFactory(first_name="Ana", last_name="Rivera", phone="(614) 555-0100")
    before = Patient.objects.values().get()

    with pytest.raises(PatientDataError) as raised:
        update_patient(patient, by=technician, today=TODAY, **fields)

    assert set(raised.value.errors) == errors
    assert Patient.objects.values().get() == before
    assert (patient.first_name, patient.last_name) == ("Ana", "Rivera")
    assert audit_rows() == []


def test_update_patient_names_a_future_birth_date_plainly(technician):
    patient = PatientFactory()

    with pytest.raises(PatientDataError) as raised:
        update_patient(patient, by=technician, today=TODAY, date_of_birth=datetime.date(2030, 1, 1))

    assert raised.value.errors == {"date_of_birth": "The date of birth is in the future."}


def test_update_patient_refuses_fields_it_does_not_own(technician):
    with pytest.raises(TypeError, match="no_known_allergies"):
        update_patient(PatientFactory(), by=technician, no_known_allergies=True)


def test_create_patient_refuses_two_default_addresses_and_writes_nothing(technician):
    with pytest.raises(PatientDataError) as raised:
        create_patient(
            first_name="Ana",
            last_name="Rivera",
            date_of_birth=datetime.date(1961, 4, 12),
            by=technician,
            addresses=[address(is_default_shipping=True), address(is_default_shipping=True)],
        )

    assert raised.value.errors == {
        "addresses": "Only one address can be the default shipping address."
    }
    assert (Patient.objects.count(), PatientAddress.objects.count(), audit_rows()) == (0, 0, [])


# --------------------------------------------------------------------------- addresses


def test_first_address_becomes_the_default_shipping_address(technician):
    patient = PatientFactory()

    first = add_patient_address(patient, by=technician, **address(state="oh"))
    second = add_patient_address(patient, by=technician, **address(line1="9 Elm St"))

    assert (first.is_default_shipping, first.state) == (True, "OH")
    assert second.is_default_shipping is False
    assert [row[2] for row in audit_rows()] == [
        "Address added as the default shipping address",
        "Address added",
    ]


def test_a_new_default_address_takes_over_from_the_old_one(technician):
    patient = PatientFactory()
    old = PatientAddressFactory(patient=patient, is_default_shipping=True)

    new = add_patient_address(
        patient, by=technician, is_default_shipping=True, **address(label="Winter")
    )

    assert list(patient.addresses.filter(is_default_shipping=True)) == [new]
    old.refresh_from_db()
    assert old.is_default_shipping is False


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        (
            {"postal_code": "4321"},
            {"postal_code": "'4321' is not a ZIP code (5 digits, or 5+4 as 12345-6789)."},
        ),
        ({"state": "ZZ"}, {"state": "'ZZ' is not a US state or territory code."}),
        ({"line1": " ", "city": ""}, {"line1": "This field is required.",
                                      "city": "This field is required."}),
    ],
)  # fmt: skip
def test_add_address_refuses_bad_addresses_and_writes_nothing(technician, fields, errors):
    patient = PatientFactory()

    with pytest.raises(PatientDataError) as raised:
        add_patient_address(patient, by=technician, **address(**fields))

    assert raised.value.errors == errors
    assert (PatientAddress.objects.count(), audit_rows()) == (0, [])


def test_making_an_address_the_default_moves_the_flag(technician):
    patient = PatientFactory()
    home = PatientAddressFactory(patient=patient, is_default_shipping=True)
    work = PatientAddressFactory(patient=patient, is_default_shipping=False)

    update_patient_address(work, by=technician, is_default_shipping=True)

    assert set(patient.addresses.values_list("pk", "is_default_shipping")) == {
        (home.pk, False),
        (work.pk, True),
    }
    assert audit_rows() == [
        ("update", "pharmacy.PatientAddress", "Made the default shipping address")
    ]


def test_the_default_address_cannot_be_switched_off(technician):
    patient = PatientFactory()
    home = PatientAddressFactory(patient=patient, is_default_shipping=True, city="Columbus")

    with pytest.raises(PatientDataError) as raised:
        update_patient_address(home, by=technician, is_default_shipping=False, city="Dublin")

    assert set(raised.value.errors) == {"is_default_shipping"}
    home.refresh_from_db()
    assert (home.is_default_shipping, home.city, audit_rows()) == (True, "Columbus", [])


def test_update_address_checks_the_address_as_it_will_be(technician):
    home = PatientAddressFactory(state="OH")

    with pytest.raises(PatientDataError) as raised:
        update_patient_address(home, by=technician, state="Ohio", postal_code="ABCDE")

    assert set(raised.value.errors) == {"state", "postal_code"}
    update_patient_address(home, by=technician, line2="Apt 2")
    home.refresh_from_db()
    assert home.line2 == "Apt 2"
    assert audit_rows() == [("update", "pharmacy.PatientAddress", "Address changed: line2")]


def test_removing_the_default_address_makes_the_oldest_other_the_default(technician):
    patient = PatientFactory()
    home = PatientAddressFactory(patient=patient, is_default_shipping=True)
    work = PatientAddressFactory(patient=patient, is_default_shipping=False)
    winter = PatientAddressFactory(patient=patient, is_default_shipping=False)

    new_default = remove_patient_address(home, by=technician)

    assert new_default == work
    assert set(patient.addresses.values_list("pk", "is_default_shipping")) == {
        (work.pk, True),
        (winter.pk, False),
    }
    assert audit_rows() == [
        (
            "delete",
            "pharmacy.PatientAddress",
            f"Address removed; address #{work.pk} ships by default now",
        )
    ]


def test_removing_the_last_address_leaves_none(technician):
    home = PatientAddressFactory(is_default_shipping=True)

    assert remove_patient_address(home, by=technician) is None

    assert PatientAddress.objects.count() == 0


# --------------------------------------------------------------------------- allergies


def test_no_known_allergies_is_not_the_same_as_nothing_recorded(technician):
    asked = PatientFactory()
    never_asked = PatientFactory()

    set_no_known_allergies(asked, by=technician)

    asked.refresh_from_db()
    assert (asked.no_known_allergies, never_asked.no_known_allergies) == (True, False)
    # The drug checks see "none known" for one and "never asked" (None) for the other.
    assert allergy_profiles_for_patient(asked) == ()
    assert allergy_profiles_for_patient(never_asked) is None
    assert audit_rows() == [("update", "pharmacy.Patient", "No known allergies recorded")]


def test_no_known_allergies_is_refused_while_an_allergy_is_recorded(technician):
    patient = PatientFactory(first_name="Ana", last_name="Rivera")
    AllergyFactory(patient=patient)

    with pytest.raises(PatientDataError) as raised:
        set_no_known_allergies(patient, by=technician)

    assert raised.value.errors == {
        "no_known_allergies": "Ana Rivera has 1 allergy on file. Remove it first if "
        "recorded in error."
    }
    patient.refresh_from_db()
    assert (patient.no_known_allergies, patient.allergies.count(), audit_rows()) == (
        False,
        1,
        [],
    )


def test_no_known_allergies_twice_writes_once(technician):
    patient = PatientFactory()

    set_no_known_allergies(patient, by=technician)
    set_no_known_allergies(patient, by=technician)

    assert len(audit_rows()) == 1


def test_recording_an_allergy_clears_no_known_allergies_and_removing_it_asks_again(
    technician,
):
    patient = PatientFactory(no_known_allergies=True)

    allergy = record_allergy(patient, allergen="Latex", by=technician)
    patient.refresh_from_db()
    assert patient.no_known_allergies is False

    remove_allergy(allergy, by=technician)

    patient.refresh_from_db()
    assert (patient.allergies.count(), patient.no_known_allergies) == (0, False)
    assert allergy_profiles_for_patient(patient) is None
    assert audit_rows()[-1] == ("delete", "pharmacy.Allergy", "Allergy removed: Latex")


def test_an_allergy_to_a_class_is_resolved_to_the_class(technician):
    penicillins = PharmacologicClassFactory(name="Penicillin-class Antibacterial", kind="EPC")
    PharmacologicClassFactory(name="Penicillins", kind="CS")
    amoxicillin = IngredientFactory(name="AMOXICILLIN")
    patient = PatientFactory()

    by_class = record_allergy(patient, allergen="Penicillin", by=technician, severity="severe")
    by_ingredient = record_allergy(patient, allergen="Amoxicillin", by=technician)
    unknown = record_allergy(patient, allergen="Peanuts", by=technician)

    assert (by_class.pharmacologic_class, by_class.ingredient) == (penicillins, None)
    assert (by_ingredient.ingredient, by_ingredient.pharmacologic_class) == (amoxicillin, None)
    assert (unknown.ingredient, unknown.pharmacologic_class) == (None, None)


# --------------------------------------------------------------------------- conditions


def test_record_condition_normalises_the_icd10_code(technician):
    patient = PatientFactory()

    condition = record_condition(
        patient, by=technician, name=" Type 2 diabetes ", icd10_code="e119", today=TODAY
    )

    assert (condition.name, condition.icd10_code, condition.noted_on) == (
        "Type 2 diabetes",
        "E11.9",
        TODAY,
    )
    assert condition.recorded_by == technician
    assert audit_rows() == [
        ("update", "pharmacy.Condition", "Condition recorded: Type 2 diabetes (E11.9)")
    ]


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"name": ""}, {"name"}),
        ({"icd10_code": "11.9"}, {"icd10_code"}),
        ({"icd10_code": "E11.12345"}, {"icd10_code"}),
        ({"noted_on": datetime.date(2025, 6, 16)}, {"noted_on"}),
    ],
)
def test_record_condition_refuses_bad_input_and_writes_nothing(technician, fields, errors):
    patient = PatientFactory()

    with pytest.raises(PatientDataError) as raised:
        record_condition(patient, by=technician, today=TODAY, **{"name": "Asthma", **fields})

    assert set(raised.value.errors) == errors
    assert (Condition.objects.count(), audit_rows()) == (0, [])


def test_the_database_refuses_a_malformed_icd10_code():
    with pytest.raises(IntegrityError):
        Condition.objects.create(
            patient=PatientFactory(), name="Asthma", icd10_code="asthma", noted_on=TODAY
        )


def test_remove_condition_writes_an_audit_row(technician):
    condition = record_condition(PatientFactory(), by=technician, name="Asthma", today=TODAY)

    remove_condition(condition, by=technician)

    assert Condition.objects.count() == 0
    assert audit_rows()[-1] == ("delete", "pharmacy.Condition", "Condition removed: Asthma")


# --------------------------------------------------------------------------- prescribers


def prescriber_fields(**fields) -> dict:
    return {"first_name": "Sarah", "last_name": "Chen", "npi": VALID_NPI, "credentials": "MD",
            "dea_number": VALID_DEA, "dea_schedules": ["CIV", "CII"], **fields}  # fmt: skip


def test_create_prescriber_stores_the_record_with_one_audit_row(technician):
    prescriber = create_prescriber(
        by=technician, **prescriber_fields(dea_number=VALID_DEA.lower(), license_state="oh")
    )

    assert (prescriber.npi, prescriber.dea_number, prescriber.dea_schedules) == (
        VALID_NPI,
        VALID_DEA,
        ["CII", "CIV"],
    )
    assert (prescriber.license_state, prescriber.needs_review) == ("OH", False)
    assert audit_rows() == [
        ("create", "pharmacy.Prescriber", f"Prescriber created: Sarah Chen, MD (NPI {VALID_NPI})")
    ]


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"npi": "1234567890"}, {"npi"}),
        ({"npi": "12345"}, {"npi"}),
        ({"npi": ""}, {"npi"}),
        ({"dea_number": "BC4829102"}, {"dea_number"}),  # wrong check digit
        ({"dea_number": "B14829103"}, {"dea_number"}),
        ({"dea_number": ""}, {"dea_number"}),  # schedules without a DEA number
        ({"dea_schedules": ["CI"]}, {"dea_schedules"}),
        ({"first_name": "", "last_name": " "}, {"first_name", "last_name"}),
        ({"state": "XX", "license_state": "Ohio"}, {"state", "license_state"}),
        ({"postal_code": "432"}, {"postal_code"}),
    ],
)
def test_create_prescriber_refuses_bad_input_and_writes_nothing(technician, fields, errors):
    with pytest.raises(PrescriberDataError) as raised:
        create_prescriber(by=technician, **prescriber_fields(**fields))

    assert set(raised.value.errors) == errors
    assert (Prescriber.objects.count(), audit_rows()) == (0, [])


def test_schedules_without_a_dea_number_say_what_is_missing(technician):
    with pytest.raises(PrescriberDataError) as raised:
        create_prescriber(by=technician, **prescriber_fields(dea_number=""))

    assert raised.value.errors == {
        "dea_number": "A DEA number is required to prescribe controlled substances "
        "(schedules CII, CIV)."
    }


def test_a_prescriber_without_dea_registration_is_fine(technician):
    prescriber = create_prescriber(
        by=technician, **prescriber_fields(dea_number="", dea_schedules=[])
    )

    assert (prescriber.dea_number, prescriber.dea_schedules) == ("", [])


def test_an_npi_on_file_is_refused(technician):
    existing = PrescriberFactory(npi=VALID_NPI)

    with pytest.raises(PrescriberDataError) as raised:
        create_prescriber(by=technician, **prescriber_fields())

    assert raised.value.errors == {
        "npi": f"NPI {VALID_NPI} already belongs to {existing} (prescriber #{existing.pk})."
    }


def test_update_prescriber_checks_the_record_as_it_will_be(technician):
    prescriber = PrescriberFactory(dea_schedules=["CII"], needs_review=True, fax="")

    with pytest.raises(PrescriberDataError) as raised:
        update_prescriber(prescriber, by=technician, dea_number="")
    assert set(raised.value.errors) == {"dea_number"}

    update_prescriber(prescriber, by=technician, npi=prescriber.npi, fax="(614) 555-0143",
                      needs_review=False)  # fmt: skip

    prescriber.refresh_from_db()
    assert (prescriber.fax, prescriber.needs_review) == ("(614) 555-0143", False)
    assert audit_rows() == [
        ("update", "pharmacy.Prescriber", "Prescriber changed: fax, needs_review")
    ]


def test_update_prescriber_may_keep_its_own_npi_but_not_take_another(technician):
    other = PrescriberFactory()
    prescriber = PrescriberFactory()

    with pytest.raises(PrescriberDataError) as raised:
        update_prescriber(prescriber, by=technician, npi=other.npi)

    assert set(raised.value.errors) == {"npi"}
    prescriber.refresh_from_db()
    assert prescriber.npi != other.npi
