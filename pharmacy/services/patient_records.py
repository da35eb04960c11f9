"""Keeping a patient's record current: their details, addresses (exactly one the default
shipping address), "no known allergies", allergies removed, and medical conditions."""

import re
from datetime import date

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from lib.text import text_errors
from lib.us_addresses import address_problems
from pharmacy.models import (
    ICD10_CODE_PATTERN,
    Allergy,
    AuditEvent,
    Condition,
    Patient,
    PatientAddress,
    User,
)
from pharmacy.patient_keys import address_key, search_values_of
from pharmacy.services._common import PatientDataError, too_long_errors
from pharmacy.services.audit import record_audit_event
from pharmacy.services.identity import lock_patient_for_new_work

# What update_patient may change; allergies and addresses have their own services.
PATIENT_FIELDS = (
    "first_name",
    "middle_name",
    "last_name",
    "date_of_birth",
    "sex",
    "phone",
    "email",
    "preferred_language",
    "child_resistant_waiver_on",
    "needs_review",
)
ADDRESS_FIELDS = ("label", "line1", "line2", "city", "state", "postal_code")


def _patient_field_errors(values: dict, *, today: date) -> dict[str, str]:
    """The rules of ``create_patient`` for the fields present in ``values``, plus the
    e-mail address's form and the columns' lengths."""
    errors = too_long_errors(Patient, {k: v for k, v in values.items() if k in PATIENT_FIELDS})
    errors.update(text_errors({k: v for k, v in values.items() if k in PATIENT_FIELDS}))
    for name in ("first_name", "last_name"):
        if name in values and not str(values[name] or "").strip():
            errors[name] = "This field is required."
    if "date_of_birth" in values:
        born = values["date_of_birth"]
        if not isinstance(born, date):
            errors["date_of_birth"] = "This field is required."
        elif born > today:
            errors["date_of_birth"] = "The date of birth is in the future."
        elif born.year < today.year - 130:
            errors["date_of_birth"] = "The date of birth is more than 130 years ago."
    if "sex" in values and values["sex"] not in Patient.Sex.values:
        errors["sex"] = f"Use one of {', '.join(Patient.Sex.values)}."
    waiver = values.get("child_resistant_waiver_on")
    if waiver and waiver > today:
        errors["child_resistant_waiver_on"] = "The waiver date is in the future."
    if values.get("email"):
        try:
            validate_email(values["email"].strip())
        except ValidationError:
            errors["email"] = "Enter an e-mail address such as name@example.com."
    return errors


def update_patient(patient: Patient, *, by: User, today: date | None = None, **fields) -> Patient:
    """Change a patient's own details (the names in ``PATIENT_FIELDS``), with the rules of
    ``create_patient``. Saves only the fields that changed, with one audit row naming
    them; when nothing changed nothing is written.

    Raises PatientDataError with every problem at once (nothing written), TypeError for
    a field that is not a patient detail.
    """
    unknown = sorted(set(fields) - set(PATIENT_FIELDS))
    if unknown:
        raise TypeError(f"update_patient() cannot change {', '.join(unknown)}")
    errors = _patient_field_errors(fields, today=today or timezone.localdate())
    if errors:
        raise PatientDataError(errors)
    values = {
        name: value.strip() if isinstance(value, str) else value for name, value in fields.items()
    }
    if "preferred_language" in values:
        values["preferred_language"] = values["preferred_language"] or "English"
    changed = [name for name, value in values.items() if getattr(patient, name) != value]
    if not changed:
        return patient
    for name in changed:
        setattr(patient, name, values[name])
    update_fields = [*changed, "updated_at"]
    if {"first_name", "middle_name", "last_name", "phone"} & set(changed):
        keys = search_values_of(patient)
        for name, value in keys.items():
            setattr(patient, name, value)
        update_fields += list(keys)
    with transaction.atomic():
        lock_patient_for_new_work(patient)
        patient.save(update_fields=update_fields)
        record_audit_event(
            actor=by,
            action=AuditEvent.Action.UPDATE,
            obj=patient,
            patient=patient,
            summary=f"Patient details changed: {', '.join(changed)}",
        )
    return patient


def _address_values(values: dict) -> tuple[dict, dict[str, str]]:
    """Cleaned address fields and the problems with them, keyed by field name."""
    cleaned = {name: str(values.get(name) or "").strip() for name in ADDRESS_FIELDS}
    cleaned["state"] = cleaned["state"].upper()
    cleaned["label"] = cleaned["label"] or "Home"
    return cleaned, {
        **text_errors(cleaned),
        **too_long_errors(PatientAddress, cleaned),
        **address_problems(cleaned),
    }


def _lock_patient(patient: Patient) -> None:
    # The patient row is the lock for "exactly one default shipping address": two
    # requests moving the default at once would otherwise both clear and both set it.
    # A record merged into another takes no changes (PatientMergedError names the survivor).
    lock_patient_for_new_work(patient)


def add_patient_address(
    patient: Patient,
    *,
    by: User,
    line1: str,
    city: str,
    state: str,
    postal_code: str,
    line2: str = "",
    label: str = "Home",
    is_default_shipping: bool = False,
) -> PatientAddress:
    """Add an address. It becomes the default shipping address when asked, or when the
    patient has no default yet (their first address); the previous default then stops
    being one. Locks the patient row. Raises PatientDataError (nothing written)."""
    values, errors = _address_values(
        {"label": label, "line1": line1, "line2": line2, "city": city, "state": state,
         "postal_code": postal_code}
    )  # fmt: skip
    if errors:
        raise PatientDataError(errors)
    with transaction.atomic():
        _lock_patient(patient)
        current_default = patient.addresses.filter(is_default_shipping=True)
        make_default = is_default_shipping or not current_default.exists()
        if make_default:
            current_default.update(is_default_shipping=False)
        address = PatientAddress.objects.create(
            patient=patient,
            is_default_shipping=make_default,
            match_key=address_key(values["line1"], values["postal_code"]),
            **values,
        )
        record_audit_event(
            actor=by,
            action=AuditEvent.Action.CREATE,
            obj=address,
            patient=patient,
            summary="Address added" + (" as the default shipping address" if make_default else ""),
        )
    return address


def update_patient_address(address: PatientAddress, *, by: User, **fields) -> PatientAddress:
    """Change an address (``ADDRESS_FIELDS``), or make it the default shipping address
    with ``is_default_shipping=True`` (the previous default stops being one).

    A patient with addresses always has exactly one default, so the default cannot be
    switched off here: make another address the default instead. Locks the patient row.
    Raises PatientDataError (nothing written), TypeError for an unknown field.
    """
    unknown = sorted(set(fields) - {*ADDRESS_FIELDS, "is_default_shipping"})
    if unknown:
        raise TypeError(f"update_patient_address() cannot change {', '.join(unknown)}")
    make_default = fields.pop("is_default_shipping", None)
    values, errors = _address_values(
        {**{name: getattr(address, name) for name in ADDRESS_FIELDS}, **fields}
    )
    if make_default is False and address.is_default_shipping:
        errors["is_default_shipping"] = (
            "This is the default shipping address. Make another address the default instead."
        )
    if errors:
        raise PatientDataError(errors)
    changed = [name for name, value in values.items() if getattr(address, name) != value]
    becomes_default = bool(make_default) and not address.is_default_shipping
    if not changed and not becomes_default:
        return address
    with transaction.atomic():
        _lock_patient(address.patient)
        if becomes_default:
            address.patient.addresses.filter(is_default_shipping=True).update(
                is_default_shipping=False
            )
            address.is_default_shipping = True
            changed.append("is_default_shipping")
        for name in changed:
            setattr(address, name, values.get(name, getattr(address, name)))
        address.match_key = address_key(address.line1, address.postal_code)
        address.save(update_fields=[*changed, "match_key"])
        record_audit_event(
            actor=by,
            action=AuditEvent.Action.UPDATE,
            obj=address,
            patient=address.patient,
            summary="Made the default shipping address"
            if changed == ["is_default_shipping"]
            else f"Address changed: {', '.join(changed)}",
        )
    return address


def remove_patient_address(address: PatientAddress, *, by: User) -> PatientAddress | None:
    """Remove an address. When it was the default shipping address, the patient's
    oldest other address becomes the default, which is returned (None otherwise).
    Locks the patient row."""
    patient = address.patient
    with transaction.atomic():
        _lock_patient(patient)
        was_default = address.is_default_shipping
        address_id = address.pk
        address.delete()
        new_default = None
        if was_default:
            new_default = patient.addresses.order_by("pk").first()
            if new_default is not None:
                new_default.is_default_shipping = True
                new_default.save(update_fields=["is_default_shipping"])
        record_audit_event(
            actor=by,
            action=AuditEvent.Action.DELETE,
            obj=PatientAddress(pk=address_id),
            patient=patient,
            summary="Address removed"
            + (f"; address #{new_default.pk} ships by default now" if new_default else ""),
        )
    return new_default


def set_no_known_allergies(patient: Patient, *, by: User) -> Patient:
    """Record that the patient was asked and has no known allergies.

    Refused (PatientDataError) while allergies are recorded: they must be removed first,
    each with its own audit row, so a real allergy is never wiped by one click. Nothing
    is written when it is already recorded. Locks the patient row.
    """
    with transaction.atomic():
        _lock_patient(patient)
        count = patient.allergies.count()
        if count:
            raise PatientDataError(
                {
                    "no_known_allergies": f"{patient.full_name} has {count} "
                    f"allerg{'y' if count == 1 else 'ies'} on file. Remove "
                    f"{'it' if count == 1 else 'them'} first if recorded in error."
                }
            )
        if patient.no_known_allergies:
            return patient
        patient.no_known_allergies = True
        patient.save(update_fields=["no_known_allergies", "updated_at"])
        record_audit_event(
            actor=by,
            action=AuditEvent.Action.UPDATE,
            obj=patient,
            patient=patient,
            summary="No known allergies recorded",
        )
    return patient


def remove_allergy(allergy: Allergy, *, by: User) -> None:
    """Remove an allergy recorded in error. Removing the last one leaves the patient with
    no allergy information (not "no known allergies": someone has to ask again)."""
    with transaction.atomic():
        allergy_id, allergen = allergy.pk, allergy.allergen
        allergy.delete()
        record_audit_event(
            actor=by,
            action=AuditEvent.Action.DELETE,
            obj=Allergy(pk=allergy_id),
            patient=allergy.patient,
            summary=f"Allergy removed: {allergen}",
        )


def normalize_icd10_code(text: str) -> str:
    """``e119`` -> ``E11.9``: upper case, no spaces, the dot after the third character."""
    code = re.sub(r"\s+", "", text or "").upper()
    if len(code) > 3 and "." not in code:
        code = f"{code[:3]}.{code[3:]}"
    return code


def record_condition(
    patient: Patient,
    *,
    by: User,
    name: str,
    icd10_code: str = "",
    noted_on: date | None = None,
    today: date | None = None,
) -> Condition:
    """Record a medical condition of the patient, optionally with its ICD-10-CM code
    (``E11.9`` or ``e119``). Raises PatientDataError (nothing written) for an empty
    name, a code that is not ICD-10 in form, or a date in the future."""
    today = today or timezone.localdate()
    noted_on = noted_on or today
    code = normalize_icd10_code(icd10_code)
    errors = {**text_errors({"name": name}), **too_long_errors(Condition, {"name": name.strip()})}
    if not name.strip():
        errors["name"] = "Name the condition."
    if code and not re.match(ICD10_CODE_PATTERN, code):
        errors["icd10_code"] = (
            f"{icd10_code.strip()!r} is not an ICD-10 code: a letter, two characters, and up "
            "to four more after a dot, such as E11.9 or I10."
        )
    if noted_on > today:
        errors["noted_on"] = "The date is in the future."
    if errors:
        raise PatientDataError(errors)
    with transaction.atomic():
        lock_patient_for_new_work(patient)
        condition = Condition.objects.create(
            patient=patient, name=name.strip(), icd10_code=code, noted_on=noted_on, recorded_by=by
        )
        record_audit_event(
            actor=by,
            action=AuditEvent.Action.UPDATE,
            obj=condition,
            patient=patient,
            summary=f"Condition recorded: {condition}",
        )
    return condition


def remove_condition(condition: Condition, *, by: User) -> None:
    """Remove a condition recorded in error or no longer current."""
    with transaction.atomic():
        condition_id, text = condition.pk, str(condition)
        condition.delete()
        record_audit_event(
            actor=by,
            action=AuditEvent.Action.DELETE,
            obj=Condition(pk=condition_id),
            patient=condition.patient,
            summary=f"Condition removed: {text}",
        )
