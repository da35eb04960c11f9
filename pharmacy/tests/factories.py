"""factory_boy factories of the pharmacy app's models."""

import datetime
import secrets

import factory
from django.utils import timezone

from pharmacy.identifiers import dea_number_with_check_digit, npi_with_check_digit
from pharmacy.models import (
    Allergy,
    ApiToken,
    Patient,
    PatientAddress,
    Prescriber,
    Role,
    hash_api_key,
)
from pharmacy.patient_keys import address_key, patient_search_values
from pharmacy.services import create_staff

STAFF_PASSWORD = "Correct-Horse-Battery-42"


def make_staff(username: str, role: str = Role.TECHNICIAN, **fields):
    """A staff member created through the same service as `manage.py create_staff`."""
    return create_staff(username, role=role, password=STAFF_PASSWORD, **fields)


def make_api_key(user, *, days: int = 90) -> str:
    """The key of a new API token of ``user``, stored as ``create_api_token`` stores one but
    without its audit row: for tests of what a token does, whose audit rows are the
    requests' own (``pharmacy/tests/test_api_tokens.py`` tests issuing one)."""
    key = secrets.token_urlsafe(30)
    ApiToken.objects.create(
        user=user,
        prefix=key[:8],
        key_hash=hash_api_key(key),
        expires_at=timezone.now() + datetime.timedelta(days=days),
    )
    return key


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient

    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    date_of_birth = factory.Faker(
        "date_between", start_date=datetime.date(1930, 1, 1), end_date=datetime.date(2010, 1, 1)
    )
    sex = Patient.Sex.FEMALE
    # Each patient a phone of their own: a shared one would make every new patient a
    # likely duplicate of every other (pharmacy.services.find_possible_duplicates).
    phone = factory.Sequence(lambda n: f"(614) 555-{n % 10000:04d}")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        # The search keys the patient services write (patient_keys.patient_search_values).
        kwargs.update(
            patient_search_values(
                first_name=kwargs.get("first_name", ""),
                middle_name=kwargs.get("middle_name", ""),
                last_name=kwargs.get("last_name", ""),
                phone=kwargs.get("phone", ""),
            )
        )
        return super()._create(model_class, *args, **kwargs)


class PatientAddressFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PatientAddress

    patient = factory.SubFactory(PatientFactory)
    line1 = factory.Sequence(lambda n: f"{100 + n} Main Street")
    city = "Columbus"
    state = "OH"
    postal_code = "43215"
    is_default_shipping = True
    match_key = factory.LazyAttribute(lambda a: address_key(a.line1, a.postal_code))


HERNANDEZ_BORN = datetime.date(1971, 7, 22)


def hernandez_patient() -> Patient:
    """María Hernández (accents in both names), phone (614) 555-0103, shipping to
    77 Oak Street, Columbus, OH 43215: whom "hernandez" must find."""
    patient = PatientFactory(
        first_name="María",
        last_name="Hernández",
        date_of_birth=HERNANDEZ_BORN,
        phone="(614) 555-0103",
    )
    PatientAddressFactory(patient=patient, line1="77 Oak Street", postal_code="43215")
    return patient


class AllergyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Allergy

    patient = factory.SubFactory(PatientFactory)
    allergen = "Penicillin"
    reaction = "Hives"
    severity = Allergy.Severity.MODERATE


class PrescriberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Prescriber

    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    credentials = "MD"
    npi = factory.Sequence(lambda n: npi_with_check_digit(f"1{n:08d}"))
    dea_number = factory.Sequence(lambda n: dea_number_with_check_digit("BS", f"{n % 1000000:06d}"))
    dea_schedules = factory.LazyFunction(lambda: ["CII", "CIII", "CIV", "CV"])
