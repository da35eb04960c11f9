"""Business writes of the pharmacy app: staff and roles, the audit trail, matching the
patients and prescribers that incoming prescriptions name."""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from difflib import SequenceMatcher

from django.contrib.auth.models import Group, Permission
from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from rest_framework.authtoken.models import Token

from inventory.ingredients import normalize_ingredient_name
from inventory.models import Ingredient, PharmacologicClass
from pharmacy.models import (
    Allergy,
    AuditEvent,
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
    marked ``needs_review`` for a technician to complete. Two indexed queries.
    """
    name = f"{first_name} {last_name}".strip()
    if date_of_birth is None:
        return RecordMatch(None, uncertain=f"No date of birth was sent for {name}.")
    exact = list(
        Patient.objects.filter(
            first_name__iexact=first_name, last_name__iexact=last_name, date_of_birth=date_of_birth
        )[:2]
    )
    if len(exact) == 1:
        return RecordMatch(exact[0])
    if len(exact) > 1:
        return RecordMatch(
            None, uncertain=f"Several patients are called {name}, born {date_of_birth}."
        )
    same_birthday = Patient.objects.filter(date_of_birth=date_of_birth).only(
        "first_name", "last_name"
    )
    similar = [
        p
        for p in same_birthday
        if _similar(f"{p.first_name} {p.last_name}", name)
        or p.last_name.casefold() == last_name.casefold()
        or p.first_name.casefold() == first_name.casefold()
    ]
    if similar:
        names = ", ".join(f"{p.first_name} {p.last_name} (#{p.pk})" for p in similar[:3])
        return RecordMatch(
            None, uncertain=f"{name}, born {date_of_birth}, may be {names}: same birth date."
        )
    other_birthdays = list(
        Patient.objects.filter(
            first_name__iexact=first_name, last_name__iexact=last_name
        ).values_list("pk", "date_of_birth")[:3]
    )
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
    prescriber = Prescriber.objects.filter(npi=npi).first()
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
