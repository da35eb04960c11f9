"""Business writes of the pharmacy app: staff and roles, the audit trail, matching the
patients and prescribers that incoming prescriptions name, and keeping patient and
prescriber records (addresses, allergies, conditions, NPI and DEA registration)."""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from difflib import SequenceMatcher

from django.contrib.auth.models import Group, Permission
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import models, transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from rest_framework.authtoken.models import Token

from inventory.ingredients import normalize_ingredient_name
from inventory.models import DEASchedule, Ingredient, PharmacologicClass
from pharmacy.identifiers import is_valid_dea_number, is_valid_npi
from pharmacy.models import (
    ICD10_CODE_PATTERN,
    Allergy,
    AuditEvent,
    Condition,
    Patient,
    PatientAddress,
    Prescriber,
    Role,
    User,
)
from pharmacy.roles import ROLE_PERMISSIONS


class StaffError(ValueError):
    """A staff account cannot be created or changed as asked; the message says why."""


def sync_role_groups() -> None:
    """Make the role groups carry exactly the permissions of ``ROLE_PERMISSIONS``.

    Raises LookupError when a listed permission does not exist (a typo in the table).
    """
    with transaction.atomic():
        for role, names in ROLE_PERMISSIONS.items():
            group, _ = Group.objects.get_or_create(name=role)
            permissions = []
            for name in names:
                app_label, codename = name.split(".")
                try:
                    permissions.append(
                        Permission.objects.get(content_type__app_label=app_label, codename=codename)
                    )
                except Permission.DoesNotExist:
                    raise LookupError(f"permission {name} of role {role} does not exist") from None
            group.permissions.set(permissions)


def create_staff(
    username: str,
    *,
    role: str,
    password: str,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
    license_number: str = "",
    license_state: str = "",
) -> User:
    """Create a staff member in one role. Raises StaffError on a taken name, unknown role
    or a password the validators refuse; nothing is written then."""
    if role not in Role.values:
        raise StaffError(f"Unknown role {role!r}; choose one of {', '.join(Role.values)}.")
    if not username or User.objects.filter(username__iexact=username).exists():
        raise StaffError(f"The username {username!r} is empty or already taken.")
    if license_state and len(license_state) != 2:
        raise StaffError("The license state is the two-letter state code.")
    user = User(
        username=username,
        first_name=first_name,
        last_name=last_name,
        email=email,
        license_number=license_number,
        license_state=license_state.upper(),
    )
    try:
        validate_password(password, user)
    except Exception as error:  # django's ValidationError carries a list of messages
        raise StaffError(" ".join(getattr(error, "messages", [str(error)]))) from None
    user.set_password(password)
    with transaction.atomic():
        sync_role_groups()
        user.save()
        user.groups.set([Group.objects.get(name=role)])
    return user


def create_api_token(user: User) -> Token:
    """Give the user a fresh API token, replacing any previous one (it stops working)."""
    with transaction.atomic():
        Token.objects.filter(user=user).delete()
        return Token.objects.create(user=user)


def _client_ip(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    # Behind the proxy (see README) the first X-Forwarded-For hop is the client.
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    return (forwarded.split(",")[0].strip() or request.META.get("REMOTE_ADDR")) or None


def record_audit_event(
    *,
    actor: User | None,
    action: str,
    request: HttpRequest | None = None,
    obj: object | None = None,
    patient: Patient | None = None,
    patients: Iterable[Patient] = (),
    summary: str = "",
    username: str = "",
) -> AuditEvent:
    """Append one line to the audit trail (never updated or deleted afterwards).

    ``patient`` is the one patient whose data was shown or changed; ``patients`` the
    patients of a list or search result. Call it once per page or API read.
    """
    return AuditEvent.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        actor_username=(actor.get_username() if actor and actor.is_authenticated else username)[
            :150
        ],
        action=action,
        object_type=obj._meta.label if obj is not None and hasattr(obj, "_meta") else "",
        object_id=str(getattr(obj, "pk", "") or ""),
        patient=patient,
        patient_ids=sorted({p.pk for p in patients}),
        summary=summary[:255],
        path=(request.get_full_path()[:255] if request else ""),
        ip_address=_client_ip(request),
        user_agent=(request.META.get("HTTP_USER_AGENT", "")[:255] if request else ""),
    )


# --------------------------------------------------------------------------- matching


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


# --------------------------------------------------------------------------- patients


class PatientDataError(ValueError):
    """Patient data that cannot be stored; ``errors`` maps each field to what is wrong."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(" ".join(f"{field}: {message}" for field, message in errors.items()))
        self.errors = errors


_ZIP_CODE = re.compile(r"^\d{5}(-\d{4})?$")
US_STATES = frozenset(
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH "
    "NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR VI GU AS MP".split()
)


def _check_address(address: dict, prefix: str) -> dict[str, str]:
    errors = {}
    for field in ("line1", "city", "state", "postal_code"):
        if not str(address.get(field, "")).strip():
            errors[f"{prefix}.{field}"] = "This field is required."
    state = str(address.get("state", "")).strip().upper()
    if state and state not in US_STATES:
        errors[f"{prefix}.state"] = f"{state!r} is not a US state or territory code."
    postal_code = str(address.get("postal_code", "")).strip()
    if postal_code and not _ZIP_CODE.match(postal_code):
        errors[f"{prefix}.postal_code"] = "A ZIP code is 5 digits, or ZIP+4 as 12345-6789."
    return errors


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
) -> Patient:
    """Create a patient with their addresses (the first, or the one flagged, ships by default).

    Raises PatientDataError with every problem at once; nothing is written then.
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
    for number, address in enumerate(addresses):
        errors.update(_check_address(address, f"addresses[{number}]"))
    if sum(bool(a.get("is_default_shipping")) for a in addresses) > 1:
        errors["addresses"] = "Only one address can be the default shipping address."
    if errors:
        raise PatientDataError(errors)
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
            )
            for n, a in enumerate(addresses)
        )
        record_audit_event(actor=by, action=AuditEvent.Action.CREATE, obj=patient, patient=patient)
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
    errors = {}
    if not allergen.strip():
        errors["allergen"] = "Name the ingredient or pharmacologic class."
    if severity not in Allergy.Severity.values:
        errors["severity"] = f"Use one of {', '.join(Allergy.Severity.values)}."
    if errors:
        raise PatientDataError(errors)
    ingredient, pharmacologic_class = resolve_allergen(allergen)
    with transaction.atomic():
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


# --------------------------------------------------------------------------- patient records

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


def _too_long_errors(model: type[models.Model], values: dict) -> dict[str, str]:
    errors = {}
    for name, value in values.items():
        max_length = getattr(model._meta.get_field(name), "max_length", None)
        if isinstance(value, str) and max_length and len(value) > max_length:
            errors[name] = f"At most {max_length} characters."
    return errors


def _patient_field_errors(values: dict, *, today: date) -> dict[str, str]:
    """The rules of ``create_patient`` for the fields present in ``values``, plus the
    e-mail address's form and the columns' lengths."""
    errors = _too_long_errors(Patient, {k: v for k, v in values.items() if k in PATIENT_FIELDS})
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
    with transaction.atomic():
        patient.save(update_fields=[*changed, "updated_at"])
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
    errors = {
        key.split(".", 1)[1]: message for key, message in _check_address(cleaned, "a").items()
    }
    return cleaned, {**_too_long_errors(PatientAddress, cleaned), **errors}


def _lock_patient(patient: Patient) -> None:
    # The patient row is the lock for "exactly one default shipping address": two
    # requests moving the default at once would otherwise both clear and both set it.
    Patient.objects.select_for_update().filter(pk=patient.pk).values_list("pk").first()


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
            patient=patient, is_default_shipping=make_default, **values
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
        address.save(update_fields=changed)
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
    errors = _too_long_errors(Condition, {"name": name.strip()})
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


# --------------------------------------------------------------------------- prescribers


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
    errors = _too_long_errors(
        Prescriber, {k: v for k, v in values.items() if k not in ("npi", "dea_number")}
    )
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
    for name in ("license_state", "state"):
        if values.get(name) and values[name] not in US_STATES:
            errors[name] = f"{values[name]!r} is not a US state or territory code."
    postal_code = values.get("postal_code", "")
    if postal_code and not _ZIP_CODE.match(postal_code):
        errors["postal_code"] = "A ZIP code is 5 digits, or ZIP+4 as 12345-6789."
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
