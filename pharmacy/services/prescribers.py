"""Prescriber records: creating and changing a prescriber, with the NPI's and DEA number's
check digits and the schedules their DEA registration covers."""

import re
from collections.abc import Iterable

from django.db import transaction

from inventory.models import DEASchedule
from lib.text import text_errors
from lib.us_addresses import US_STATES, address_problems, state_problem
from pharmacy.identifiers import is_valid_dea_number, is_valid_npi
from pharmacy.models import AuditEvent, Prescriber, User
from pharmacy.services._common import too_long_errors
from pharmacy.services.audit import record_audit_event


class PrescriberDataError(ValueError):
    """Prescriber data that cannot be stored; ``errors`` maps each field to what is wrong."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(" ".join(f"{field}: {message}" for field, message in errors.items()))
        self.errors = errors


PRESCRIBER_FIELDS = (
    "first_name",
    "last_name",
    "credentials",
    "npi",
    "dea_number",
    "dea_schedules",
    "state_license_number",
    "license_state",
    "practice_name",
    "address_line1",
    "address_line2",
    "city",
    "state",
    "postal_code",
    "phone",
    "fax",
    "needs_review",
)
# Schedules a DEA registration can cover for prescribing, in the order they are listed.
PRESCRIBING_SCHEDULES = (DEASchedule.CII, DEASchedule.CIII, DEASchedule.CIV, DEASchedule.CV)


def _prescriber_values(values: dict) -> dict:
    cleaned = {
        name: value.strip() if isinstance(value, str) else value for name, value in values.items()
    }
    for name in ("npi", "dea_number", "license_state", "state"):
        if name in cleaned:
            cleaned[name] = re.sub(r"\s+", "", cleaned[name] or "").upper()
    if "dea_schedules" in cleaned:
        given = {str(s).strip().upper() for s in cleaned["dea_schedules"] or ()}
        cleaned["dea_schedules"] = [s for s in PRESCRIBING_SCHEDULES if s in given] + sorted(
            given - set(PRESCRIBING_SCHEDULES)
        )
    return cleaned


def _prescriber_errors(values: dict, *, exclude_pk: int | None) -> dict[str, str]:
    """Every problem with a prescriber's complete set of ``values`` (already cleaned)."""
    errors = too_long_errors(
        Prescriber, {k: v for k, v in values.items() if k not in ("npi", "dea_number")}
    )
    errors.update(text_errors(values))
    for name in ("first_name", "last_name"):
        if not values.get(name):
            errors[name] = "This field is required."
    npi = values.get("npi", "")
    if not npi:
        errors["npi"] = "This field is required."
    elif not is_valid_npi(npi):
        errors["npi"] = (
            f"{npi!r} is not a valid NPI: 10 digits, the last a check digit (Luhn over 80840 "
            "and the first nine)."
        )
    else:
        taken = Prescriber.objects.filter(npi=npi).exclude(pk=exclude_pk).first()
        if taken is not None:
            errors["npi"] = f"NPI {npi} already belongs to {taken} (prescriber #{taken.pk})."
    dea_number = values.get("dea_number", "")
    if dea_number and not is_valid_dea_number(dea_number):
        errors["dea_number"] = (
            f"{dea_number!r} is not a valid DEA number: two letters and seven digits, the last "
            "a check digit."
        )
    schedules = values.get("dea_schedules") or []
    unknown = [s for s in schedules if s not in PRESCRIBING_SCHEDULES]
    if unknown:
        errors["dea_schedules"] = (
            f"{', '.join(unknown)} is not a schedule a DEA registration lets a prescriber "
            f"prescribe; use {', '.join(PRESCRIBING_SCHEDULES)}."
        )
    elif schedules and not dea_number:
        errors["dea_number"] = (
            "A DEA number is required to prescribe controlled substances "
            f"(schedules {', '.join(schedules)})."
        )
    license_state = values.get("license_state")
    if license_state and (problem := state_problem(license_state, allowed=US_STATES)):
        errors["license_state"] = problem
    # The practice address is optional, but what is given of it must be valid.
    practice_address = {"state": values.get("state"), "postal_code": values.get("postal_code")}
    errors.update(address_problems(practice_address, required=()))
    return errors


def create_prescriber(
    *,
    by: User,
    first_name: str,
    last_name: str,
    npi: str,
    credentials: str = "",
    dea_number: str = "",
    dea_schedules: Iterable[str] = (),
    state_license_number: str = "",
    license_state: str = "",
    practice_name: str = "",
    address_line1: str = "",
    address_line2: str = "",
    city: str = "",
    state: str = "",
    postal_code: str = "",
    phone: str = "",
    fax: str = "",
) -> Prescriber:
    """Create a prescriber. The NPI must pass its Luhn check and be new; a DEA number must
    pass its check digit and is required when the registration lists schedules (a subset
    of CII-CV). Raises PrescriberDataError with every problem at once; nothing written."""
    values = _prescriber_values(
        {
            "first_name": first_name, "last_name": last_name, "npi": npi,
            "credentials": credentials, "dea_number": dea_number,
            "dea_schedules": list(dea_schedules), "state_license_number": state_license_number,
            "license_state": license_state, "practice_name": practice_name,
            "address_line1": address_line1, "address_line2": address_line2, "city": city,
            "state": state, "postal_code": postal_code, "phone": phone, "fax": fax,
        }
    )  # fmt: skip
    errors = _prescriber_errors(values, exclude_pk=None)
    if errors:
        raise PrescriberDataError(errors)
    with transaction.atomic():
        prescriber = Prescriber.objects.create(**values)
        record_audit_event(
            actor=by,
            action=AuditEvent.Action.CREATE,
            obj=prescriber,
            summary=f"Prescriber created: {prescriber} (NPI {prescriber.npi})",
        )
    return prescriber


def update_prescriber(prescriber: Prescriber, *, by: User, **fields) -> Prescriber:
    """Change a prescriber's record (the names in ``PRESCRIBER_FIELDS``) with the rules of
    ``create_prescriber``, checked against the record as it will be. Saves only what
    changed, with one audit row naming it; nothing is written when nothing changed.

    Raises PrescriberDataError (nothing written), TypeError for an unknown field.
    """
    unknown = sorted(set(fields) - set(PRESCRIBER_FIELDS))
    if unknown:
        raise TypeError(f"update_prescriber() cannot change {', '.join(unknown)}")
    values = _prescriber_values(fields)
    merged = {name: getattr(prescriber, name) for name in PRESCRIBER_FIELDS} | values
    errors = _prescriber_errors(merged, exclude_pk=prescriber.pk)
    if errors:
        raise PrescriberDataError(errors)
    changed = [name for name, value in values.items() if getattr(prescriber, name) != value]
    if not changed:
        return prescriber
    for name in changed:
        setattr(prescriber, name, values[name])
    with transaction.atomic():
        prescriber.save(update_fields=changed)
        record_audit_event(
            actor=by,
            action=AuditEvent.Action.UPDATE,
            obj=prescriber,
            summary=f"Prescriber changed: {', '.join(changed)}",
        )
    return prescriber
