"""Matching the patient and prescriber an incoming prescription names to the records on
file, creating them when nobody on file could be meant."""

from dataclasses import dataclass
from datetime import date
from difflib import SequenceMatcher

from django.db.models import Q

from pharmacy.models import Patient, PatientAddress, Prescriber


@dataclass(frozen=True)
class RecordMatch:
    """The outcome of matching a person named in an incoming prescription.

    ``record`` is the matched or newly created Patient/Prescriber, or None when the
    match is uncertain; ``uncertain`` then says why, in words a technician acts on.
    """

    record: Patient | Prescriber | None
    created: bool = False
    uncertain: str = ""


def _similar(a: str, b: str) -> bool:
    return SequenceMatcher(None, a.casefold(), b.casefold()).ratio() >= 0.8


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

    Certain: exactly one patient with the same first and last name (any case) and date of
    birth. Uncertain (nothing created, the prescription waits for a technician): the
    same name with another date of birth, the same date of birth with a similar name,
    several exact matches, or no date of birth. Otherwise a new patient is created,
    marked ``needs_review`` for a technician to complete. One query for a patient on
    file, two before creating one.
    """
    name = f"{first_name} {last_name}".strip()
    if date_of_birth is None:
        return RecordMatch(None, uncertain=f"No date of birth was sent for {name}.")
    same_name = Q(first_name__iexact=first_name, last_name__iexact=last_name)
    exact = list(
        Patient.objects.filter(same_name, date_of_birth=date_of_birth).only(*_MATCHED_PATIENT)[:2]
    )
    if len(exact) == 1:
        return RecordMatch(exact[0])
    if len(exact) > 1:
        return RecordMatch(
            None, uncertain=f"Several patients are called {name}, born {date_of_birth}."
        )
    # Who else could be meant: the same birth date (any name), or the same name (any
    # birth date).
    candidates = list(
        Patient.objects.filter(same_name | Q(date_of_birth=date_of_birth)).values_list(
            "id", "first_name", "last_name", "date_of_birth"
        )
    )
    # No exact match, so a candidate with another birth date is one with the same name.
    similar = [
        (pk, first, last)
        for pk, first, last, born in candidates
        if born == date_of_birth
        and (
            _similar(f"{first} {last}", name)
            or last.casefold() == last_name.casefold()
            or first.casefold() == first_name.casefold()
        )
    ]
    if similar:
        names = ", ".join(f"{first} {last} (#{pk})" for pk, first, last in similar[:3])
        return RecordMatch(
            None, uncertain=f"{name}, born {date_of_birth}, may be {names}: same birth date."
        )
    other_birthdays = [(pk, born) for pk, _, _, born in candidates if born != date_of_birth][:3]
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
