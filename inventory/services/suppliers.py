"""Suppliers: the wholesalers and manufacturers the pharmacy buys from.

Managers create and change them (``create_supplier``, ``update_supplier``); receiving and
purchase orders refer to them. A supplier is never deleted, since receipts and purchase
orders keep pointing at it: it is deactivated instead, and an inactive supplier takes no
new orders or deliveries.

Names are unique whatever their case ("McKesson" and "MCKESSON" are one supplier), because
a receipt may name its supplier instead of giving its id (DESIGN.md section 6) and that
name must find exactly one. A name is never only digits, so an id and a name can never be
confused.
"""

import logging
import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction

from inventory.models import PurchaseOrder, Supplier
from lib.text import stored, text_problem

NAME_MAX = Supplier._meta.get_field("name").max_length
ACCOUNT_NUMBER_MAX = Supplier._meta.get_field("account_number").max_length
EMAIL_MAX = Supplier._meta.get_field("email").max_length
PHONE_MAX = Supplier._meta.get_field("phone").max_length
LEAD_TIME_MAX_DAYS = 365
EDITABLE_FIELDS = ("name", "account_number", "email", "phone", "lead_time_days", "is_active")

_WHITESPACE = re.compile(r"\s+")
_PHONE = re.compile(r"^\+?[0-9 ().\-/]+(?:\s*(?:x|ext\.?)\s*[0-9]+)?$", re.IGNORECASE)
_PHONE_MIN_DIGITS = 7
_LARGEST_ID = 2**63 - 1

logger = logging.getLogger(__name__)


class SupplierError(Exception):
    """A supplier refused or not found; ``code`` is stable, ``detail`` a sentence for
    people, ``fields`` each problem under the field it belongs to (``{"name": [...]}``)."""

    def __init__(self, code: str, detail: str, *, fields: dict[str, list[str]] | None = None):
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.fields = fields or {}


@dataclass(frozen=True)
class _Checked:
    values: dict
    errors: dict[str, list[str]]


def clean_supplier_name(name: str) -> str:
    """A name as it is stored and looked up: trimmed, runs of spaces made one."""
    return _WHITESPACE.sub(" ", name).strip()


def _text(value, field: str, label: str, maximum: int, errors: dict) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors[field] = [f"The {label} must be text."]
        return ""
    # A control character or a direction override prints wrongly on orders and e-mails,
    # or hides a difference between two names (lib.text).
    if problem := text_problem(stored(value)):
        errors[field] = [f"The {label} {problem}."]
        return ""
    value = value.strip()
    if len(value) > maximum:
        errors[field] = [f"The {label} has at most {maximum} characters, not {len(value)}."]
    return value


def _check(given: dict) -> _Checked:
    """Every given field checked and cleaned; errors per field, all of them at once."""
    errors: dict[str, list[str]] = {}
    values: dict = {}
    if "name" in given:
        name = _text(given["name"], "name", "name", NAME_MAX, errors)
        if "name" not in errors:
            name = clean_supplier_name(name)
            if not name:
                errors["name"] = ["The supplier's name is missing."]
            elif name.isdigit():
                errors["name"] = [
                    f"A supplier's name cannot be only digits ({name}): it would read as an id."
                ]
        values["name"] = name
    if "account_number" in given:
        values["account_number"] = _text(
            given["account_number"], "account_number", "account number", ACCOUNT_NUMBER_MAX, errors
        )
    if "email" in given:
        email = _text(given["email"], "email", "e-mail address", EMAIL_MAX, errors)
        if email and "email" not in errors:
            try:
                validate_email(email)
            except ValidationError:
                errors["email"] = [f"{email!r} is not an e-mail address."]
        values["email"] = email
    if "phone" in given:
        phone = _text(given["phone"], "phone", "phone number", PHONE_MAX, errors)
        if phone and "phone" not in errors:
            digits = sum(character.isdigit() for character in phone)
            if not _PHONE.match(phone) or digits < _PHONE_MIN_DIGITS:
                errors["phone"] = [
                    f"{phone!r} is not a phone number: digits, spaces, + ( ) - . and an "
                    "extension as x123."
                ]
        values["phone"] = phone
    if "lead_time_days" in given:
        days = given["lead_time_days"]
        if isinstance(days, bool) or not isinstance(days, int):
            errors["lead_time_days"] = ["The lead time is a whole number of days."]
        elif not 0 <= days <= LEAD_TIME_MAX_DAYS:
            errors["lead_time_days"] = [
                f"The lead time is from 0 to {LEAD_TIME_MAX_DAYS} days, not {days}."
            ]
        values["lead_time_days"] = days
    if "is_active" in given:
        if not isinstance(given["is_active"], bool):
            errors["is_active"] = ["Active is true or false."]
        values["is_active"] = given["is_active"]
    return _Checked(values, errors)


def _refuse(errors: dict[str, list[str]], *, code: str = "invalid_supplier") -> SupplierError:
    # In the order of the form, whichever check found them.
    order = {field: index for index, field in enumerate(EDITABLE_FIELDS)}
    errors = dict(sorted(errors.items(), key=lambda item: order.get(item[0], len(order))))
    problems = " ".join(messages[0] for messages in errors.values())
    return SupplierError(code, f"{problems} Nothing was saved.", fields=errors)


def _lock_names() -> None:
    # Case-insensitive uniqueness is checked here, not by the database (its unique index
    # is case-sensitive): two managers adding "McKesson" and "MCKESSON" at once queue here
    # instead of both seeing the name free.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext('inventory.supplier_names'))")


def _check_name_free(name: str, *, besides: Supplier | None, errors: dict) -> None:
    taken = Supplier.objects.filter(name__iexact=name)
    if besides is not None:
        taken = taken.exclude(pk=besides.pk)
    existing = taken.first()
    if existing is not None:
        state = "" if existing.is_active else ", inactive"
        errors["name"] = [
            f"A supplier named {existing.name} (#{existing.pk}{state}) exists already: "
            "names are unique whatever their case."
        ]


def create_supplier(
    *,
    by,
    name: str,
    account_number: str = "",
    email: str = "",
    phone: str = "",
    lead_time_days: int = 1,
    is_active: bool = True,
) -> Supplier:
    """Add a supplier. Text is trimmed (runs of spaces in the name made one).

    Takes the supplier-name lock. Raises SupplierError with every problem in ``fields``:
    ``duplicate_supplier`` when another supplier has the name in any case,
    ``invalid_supplier`` for a missing or all-digit name, text too long or holding a
    control character or a direction override (``lib.text``), an e-mail or phone number
    that is not one, a lead time outside 0-365 days; nothing is written then.
    """
    checked = _check(
        {
            "name": name,
            "account_number": account_number,
            "email": email,
            "phone": phone,
            "lead_time_days": lead_time_days,
            "is_active": is_active,
        }
    )
    with transaction.atomic():
        _lock_names()
        errors = dict(checked.errors)
        if "name" not in errors:
            _check_name_free(checked.values["name"], besides=None, errors=errors)
        if errors:
            raise _refuse(errors, code=_code_of(errors, checked.errors))
        supplier = Supplier.objects.create(**checked.values)
    logger.info("Supplier #%s %s added by %s", supplier.pk, supplier.name, by)
    return supplier


def update_supplier(supplier: Supplier, *, by, **fields) -> Supplier:
    """Change some of a supplier's fields (``EDITABLE_FIELDS``); returns it as saved.

    Deactivating (``is_active=False``) is refused while the supplier has purchase orders
    still open, since their deliveries could no longer be received: close or cancel them
    first. Locks the supplier's row, and takes the supplier-name lock when the name
    changes. Raises SupplierError as ``create_supplier`` does (``unknown_field`` for a
    field that cannot be changed, ``supplier_has_open_orders``); nothing is written then.
    """
    unknown = sorted(set(fields) - set(EDITABLE_FIELDS))
    if unknown:
        raise SupplierError(
            "unknown_field",
            f"{', '.join(unknown)} cannot be changed: a supplier has "
            f"{', '.join(EDITABLE_FIELDS)}. Nothing was saved.",
            fields={field: ["This field cannot be changed."] for field in unknown},
        )
    checked = _check(fields)
    with transaction.atomic():
        if "name" in checked.values and "name" not in checked.errors:
            _lock_names()
        locked = Supplier.objects.select_for_update().get(pk=supplier.pk)
        errors = dict(checked.errors)
        if "name" in checked.values and "name" not in errors:
            _check_name_free(checked.values["name"], besides=locked, errors=errors)
        if errors:
            raise _refuse(errors, code=_code_of(errors, checked.errors))
        if checked.values.get("is_active") is False and locked.is_active:
            open_orders = list(
                PurchaseOrder.objects.filter(supplier=locked)
                .filter(
                    status__in=[PurchaseOrder.Status.OPEN, PurchaseOrder.Status.PARTIALLY_RECEIVED]
                )
                .order_by("number")
                .values_list("number", flat=True)
            )
            if open_orders:
                shown = ", ".join(open_orders[:5]) + (" ..." if len(open_orders) > 5 else "")
                message = (
                    f"{locked.name} has {len(open_orders)} open purchase order"
                    f"{'s' if len(open_orders) != 1 else ''} ({shown}): close or cancel "
                    "them before deactivating it."
                )
                raise SupplierError(
                    "supplier_has_open_orders",
                    f"{message} Nothing was saved.",
                    fields={"is_active": [message]},
                )
        changed = [
            field for field, value in checked.values.items() if getattr(locked, field) != value
        ]
        for field in changed:
            setattr(locked, field, checked.values[field])
        if changed:
            locked.save(update_fields=changed)
    if changed:
        logger.info("Supplier #%s %s: %s changed by %s", locked.pk, locked, ", ".join(changed), by)
    for field in EDITABLE_FIELDS:
        setattr(supplier, field, getattr(locked, field))
    return supplier


def _code_of(errors: dict, field_errors: dict) -> str:
    """``duplicate_supplier`` when the taken name is the only problem."""
    if list(errors) == ["name"] and "name" not in field_errors:
        return "duplicate_supplier"
    return "invalid_supplier"


# --------------------------------------------------------------------------- finding one


def find_supplier(reference: int | str) -> Supplier:
    """The supplier a receipt names: an id (a whole number, or text of digits only) or
    its exact name (trimmed, any case; names are unique whatever their case).

    Raises SupplierError ``unknown_supplier`` naming what was given when none matches,
    ``ambiguous_supplier`` when names differing only in case exist from before names
    were checked and none matches the case given. Inactive suppliers are found too: the
    caller decides what they may do.
    """
    if isinstance(reference, bool):
        raise SupplierError("unknown_supplier", "A supplier is given by its id or its name.")
    text = reference.strip() if isinstance(reference, str) else ""
    if isinstance(reference, int) or (text.isascii() and text.isdigit()):
        number = int(reference)
        supplier = Supplier.objects.filter(pk=number).first() if 0 < number <= _LARGEST_ID else None
        if supplier is None:
            raise SupplierError("unknown_supplier", f"No supplier has the id {number}.")
        return supplier
    if not isinstance(reference, str) or not clean_supplier_name(reference):
        raise SupplierError("unknown_supplier", "A supplier is given by its id or its name.")
    name = clean_supplier_name(reference)
    found = list(Supplier.objects.filter(name__iexact=name)[:10])
    if not found:
        raise SupplierError("unknown_supplier", f"No supplier is named {name!r}.")
    if len(found) == 1:
        return found[0]
    exact = [supplier for supplier in found if supplier.name == name]
    if len(exact) == 1:
        return exact[0]
    raise SupplierError(
        "ambiguous_supplier",
        f"Several suppliers are named {name!r} in different cases "
        f"({', '.join(f'#{supplier.pk}' for supplier in found)}): give the id.",
    )
