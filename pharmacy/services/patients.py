"""New patients and their allergies: creating a patient with their addresses, and recording
an allergy coded to the catalogue's ingredient or pharmacologic class."""

import re
from datetime import date

from django.db import transaction
from django.utils import timezone

from inventory.ingredients import normalize_ingredient_name
from inventory.models import Ingredient, PharmacologicClass
from lib.text import text_errors
from lib.us_addresses import address_problems
from pharmacy.models import Allergy, AuditEvent, Patient, PatientAddress, User
from pharmacy.patient_keys import address_key, patient_search_values
from pharmacy.services._common import PatientDataError
from pharmacy.services.audit import record_audit_event
from pharmacy.services.identity import (
    PossibleDuplicatesFound,
    find_possible_duplicates,
    lock_patient_for_new_work,
)

__all__ = ["PatientDataError", "create_patient", "record_allergy", "resolve_allergen"]


def create_patient(
    *,
    first_name: str,
    last_name: str,
    date_of_birth: date,
    by: User,
    middle_name: str = "",
    sex: str = Patient.Sex.UNKNOWN,
    phone: str = "",
    email: str = "",
    preferred_language: str = "English",
    no_known_allergies: bool = False,
    child_resistant_waiver_on: date | None = None,
    addresses: list[dict] = (),
    today: date | None = None,
    confirm_not_duplicate: bool = False,
    needs_review: bool = False,
) -> Patient:
    """Create a patient with their addresses (the first, or the one flagged, ships by default).

    Raises PatientDataError with every problem at once; nothing is written then. Names,
    contact details and addresses must be text that shows what it holds
    (``lib.text``). Raises PossibleDuplicatesFound (a PatientDataError, nothing
    written) when patients on file may be the same person
    (``identity.find_possible_duplicates``), unless a person confirmed that this is
    someone else (``confirm_not_duplicate``); the audit row then names the records they
    were shown. ``needs_review``: made from an incoming prescription, for a technician to
    complete.
    """
    today = today or timezone.localdate()
    errors = {}
    if not first_name.strip():
        errors["first_name"] = "This field is required."
    if not last_name.strip():
        errors["last_name"] = "This field is required."
    if date_of_birth > today:
        errors["date_of_birth"] = "The date of birth is in the future."
    elif date_of_birth.year < today.year - 130:
        errors["date_of_birth"] = "The date of birth is more than 130 years ago."
    if sex not in Patient.Sex.values:
        errors["sex"] = f"Use one of {', '.join(Patient.Sex.values)}."
    if child_resistant_waiver_on and child_resistant_waiver_on > today:
        errors["child_resistant_waiver_on"] = "The waiver date is in the future."
    names_and_contact = {
        "first_name": first_name,
        "middle_name": middle_name,
        "last_name": last_name,
        "phone": phone,
        "email": email,
        "preferred_language": preferred_language,
    }
    errors = {**text_errors(names_and_contact), **errors}
    for number, address in enumerate(addresses):
        for name, problem in address_problems(address).items():
            errors[f"addresses[{number}].{name}"] = problem
        errors.update(text_errors(address, prefix=f"addresses[{number}]."))
    if sum(bool(a.get("is_default_shipping")) for a in addresses) > 1:
        errors["addresses"] = "Only one address can be the default shipping address."
    if errors:
        raise PatientDataError(errors)
    duplicates = find_possible_duplicates(
        first_name=first_name,
        last_name=last_name,
        date_of_birth=date_of_birth,
        phone=phone,
        addresses=list(addresses),
    )
    if duplicates and not confirm_not_duplicate:
        raise PossibleDuplicatesFound(duplicates)
    with transaction.atomic():
        patient = Patient.objects.create(
            first_name=first_name.strip(),
            middle_name=middle_name.strip(),
            last_name=last_name.strip(),
            date_of_birth=date_of_birth,
            sex=sex,
            phone=phone,
            email=email,
            preferred_language=preferred_language or "English",
            no_known_allergies=no_known_allergies,
            child_resistant_waiver_on=child_resistant_waiver_on,
            needs_review=needs_review,
            **patient_search_values(
                first_name=first_name.strip(),
                middle_name=middle_name.strip(),
                last_name=last_name.strip(),
                phone=phone,
            ),
        )
        default_index = next(
            (n for n, a in enumerate(addresses) if a.get("is_default_shipping")), 0
        )
        PatientAddress.objects.bulk_create(
            PatientAddress(
                patient=patient,
                label=a.get("label") or "Home",
                line1=a["line1"].strip(),
                line2=a.get("line2", "").strip(),
                city=a["city"].strip(),
                state=a["state"].strip().upper(),
                postal_code=a["postal_code"].strip(),
                is_default_shipping=(n == default_index),
                match_key=address_key(a["line1"], a["postal_code"]),
            )
            for n, a in enumerate(addresses)
        )
        record_audit_event(
            actor=by,
            action=AuditEvent.Action.CREATE,
            obj=patient,
            patient=patient,
            summary="Patient created, confirmed not a duplicate of "
            + ", ".join(f"#{d.patient.pk}" for d in duplicates)
            if duplicates
            else "",
        )
    return patient


def resolve_allergen(allergen: str) -> tuple[Ingredient | None, PharmacologicClass | None]:
    """The catalogue ingredient or pharmacologic class an allergen names, if any.

    An ingredient (after salt words are removed) wins; then a class by its name
    ("Penicillin-class Antibacterial", with or without "[EPC]"), then a class whose name
    starts with the word ("Penicillin" -> "Penicillin-class Antibacterial").
    """
    text = allergen.strip()
    ingredient = Ingredient.objects.filter(normalized_name=normalize_ingredient_name(text)).first()
    if ingredient is not None:
        return ingredient, None
    name = re.sub(r"\s*\[[A-Za-z]+\]\s*$", "", text)
    classes = PharmacologicClass.objects.order_by("kind", "name")
    found = (
        classes.filter(name__iexact=name, kind=PharmacologicClass.Kind.ESTABLISHED).first()
        or classes.filter(name__iexact=name).first()
        or classes.filter(
            name__istartswith=f"{name}-class", kind=PharmacologicClass.Kind.ESTABLISHED
        ).first()
        or classes.filter(
            name__istartswith=f"{name} ", kind=PharmacologicClass.Kind.ESTABLISHED
        ).first()
    )
    return None, found


def record_allergy(
    patient: Patient, *, allergen: str, by: User, reaction: str = "", severity: str = "unknown"
) -> Allergy:
    """Record an allergy, coded to an ingredient or class when the catalogue knows it.

    An allergen the catalogue does not know (latex, a food) is kept as written; the drug
    checks then warn that it could not be checked. Recording an allergy clears "no known
    allergies". Raises PatientDataError for an empty allergen or an unknown severity.
    """
    errors = text_errors({"allergen": allergen, "reaction": reaction}, free_text=["reaction"])
    if not allergen.strip():
        errors["allergen"] = "Name the ingredient or pharmacologic class."
    if severity not in Allergy.Severity.values:
        errors["severity"] = f"Use one of {', '.join(Allergy.Severity.values)}."
    if errors:
        raise PatientDataError(errors)
    ingredient, pharmacologic_class = resolve_allergen(allergen)
    with transaction.atomic():
        lock_patient_for_new_work(patient)
        allergy = Allergy.objects.create(
            patient=patient,
            allergen=allergen.strip(),
            ingredient=ingredient,
            pharmacologic_class=pharmacologic_class,
            reaction=reaction.strip(),
            severity=severity,
            recorded_by=by,
        )
        if patient.no_known_allergies:
            patient.no_known_allergies = False
            patient.save(update_fields=["no_known_allergies", "updated_at"])
        record_audit_event(
            actor=by,
            action=AuditEvent.Action.UPDATE,
            obj=allergy,
            patient=patient,
            summary=f"Allergy recorded: {allergy.allergen}",
        )
    return allergy
