"""Matching the patient and prescriber an incoming prescription names to the records on
file, creating them when nobody on file could be meant."""

from dataclasses import dataclass
from datetime import date

from django.db.models import Q

from pharmacy.models import Patient, PatientAddress, Prescriber
from pharmacy.patient_keys import address_key, name_key, patient_search_values
from pharmacy.services.identity import find_possible_duplicates


@dataclass(frozen=True)
class RecordMatch:
    """The outcome of matching a person named in an incoming prescription.

    ``record`` is the matched or newly created Patient/Prescriber, or None when the
    match is uncertain; ``uncertain`` then says why, in words a technician acts on.
    """

    record: Patient | Prescriber | None
    created: bool = False
    uncertain: str = ""


# What intake reads of a matched patient and prescriber (their other fields load if
# anything ever asks): on the e-prescription path every message matches both.
_MATCHED_PATIENT = ("first_name", "last_name", "date_of_birth", "no_known_allergies")
_MATCHED_PRESCRIBER = (
    "first_name", "last_name", "credentials", "npi", "dea_number", "dea_schedules",
    "needs_review",
)  # fmt: skip


def match_or_create_patient(
    *,
    first_name: str,
    last_name: str,
    date_of_birth: date | None,
    middle_name: str = "",
    sex: str = "",
    phone: str = "",
    address: dict | None = None,
) -> RecordMatch:
    """Find the patient a prescription names, or create them when nobody could be meant.

    Names are compared as keys (``pharmacy.patient_keys.name_key``: "Hernandez" is
    "Hernández", "OConnor" is "O'Connor"); merged records are never matched. Certain:
    exactly one patient with the same first and last name and date of birth. Uncertain
    (nothing created, the prescription waits for a technician): several exact matches,
    no date of birth, the same name with another date of birth, or any likely duplicate
    (``identity.find_possible_duplicates``: same birth date and a similar name, same
    phone, same address). Otherwise a new patient is created, marked ``needs_review``
    for a technician to complete. One query for a patient on file, three before
    creating one.
    """
    name = f"{first_name} {last_name}".strip()
    if date_of_birth is None:
        return RecordMatch(None, uncertain=f"No date of birth was sent for {name}.")
    patients = Patient.objects.active()
    same_name = Q(search_first_name=name_key(first_name), search_last_name=name_key(last_name))
    exact = list(
        patients.filter(same_name, date_of_birth=date_of_birth).only(*_MATCHED_PATIENT)[:2]
    )
    if len(exact) == 1:
        return RecordMatch(exact[0])
    if len(exact) > 1:
        return RecordMatch(
            None, uncertain=f"Several patients are called {name}, born {date_of_birth}."
        )
    addresses = [address] if address and address.get("line1") else []
    duplicates = find_possible_duplicates(
        first_name=first_name,
        last_name=last_name,
        date_of_birth=date_of_birth,
        phone=phone,
        addresses=addresses,
    )
    if duplicates:
        found = "; ".join(
            f"{d.patient.first_name} {d.patient.last_name} (#{d.patient.pk}, born "
            f"{d.patient.date_of_birth}): {d.why}"
            for d in duplicates[:3]
        )
        return RecordMatch(None, uncertain=f"{name}, born {date_of_birth}, may be {found}.")
    other_birthdays = list(patients.filter(same_name).values_list("pk", "date_of_birth")[:3])
    if other_birthdays:
        found = ", ".join(f"#{pk} born {born}" for pk, born in other_birthdays)
        return RecordMatch(
            None, uncertain=f"{name} born {date_of_birth} may be the patient {found}."
        )
    patient = Patient.objects.create(
        first_name=first_name,
        middle_name=middle_name,
        last_name=last_name,
        date_of_birth=date_of_birth,
        sex=sex if sex in Patient.Sex.values else Patient.Sex.UNKNOWN,
        phone=phone,
        needs_review=True,
        **patient_search_values(
            first_name=first_name, middle_name=middle_name, last_name=last_name, phone=phone
        ),
    )
    if address and address.get("line1") and address.get("city"):
        PatientAddress.objects.create(
            patient=patient,
            line1=address["line1"],
            line2=address.get("line2", ""),
            city=address["city"],
            state=address.get("state", "")[:2],
            postal_code=address.get("postal_code", "")[:10],
            is_default_shipping=True,
            match_key=address_key(address["line1"], address.get("postal_code", "")),
        )
    return RecordMatch(patient, created=True)


def match_or_create_prescriber(
    *,
    npi: str,
    first_name: str,
    last_name: str,
    dea_number: str = "",
    state_license: str = "",
    phone: str = "",
    fax: str = "",
    address: dict | None = None,
) -> RecordMatch:
    """Find the prescriber by NPI, or create them when the NPI is new.

    An NPI on file under another last name is uncertain (nothing changed, the
    prescription waits). A new prescriber is created with the DEA number sent but no
    verified schedules, marked ``needs_review``. One indexed query.
    """
    if not npi:
        return RecordMatch(None, uncertain=f"No NPI was sent for {first_name} {last_name}.")
    # NPIs are unique: one prescriber at most.
    prescriber = Prescriber.objects.filter(npi=npi).only(*_MATCHED_PRESCRIBER).first()
    if prescriber is not None:
        if prescriber.last_name.casefold() != last_name.casefold():
            return RecordMatch(
                None,
                uncertain=f"NPI {npi} belongs to {prescriber} on file, but the prescription "
                f"names {first_name} {last_name}.",
            )
        return RecordMatch(prescriber)
    address = address or {}
    prescriber = Prescriber.objects.create(
        npi=npi,
        first_name=first_name,
        last_name=last_name,
        dea_number=dea_number,
        state_license_number=state_license,
        phone=phone,
        fax=fax,
        address_line1=address.get("line1", ""),
        address_line2=address.get("line2", ""),
        city=address.get("city", ""),
        state=address.get("state", "")[:2],
        postal_code=address.get("postal_code", "")[:10],
        needs_review=True,
    )
    return RecordMatch(prescriber, created=True)
