"""Auxiliary warning rules of the Rx label, kept by pharmacists (``AuxiliaryWarningRule``).

A rule is checked against the catalogue when it is saved: a class or an ingredient the
catalogue does not hold would match no product, and the warning would silently never
print, so it is refused with a message naming what to choose instead.
"""

from dataclasses import dataclass

from django.db import transaction

from inventory.ingredients import normalize_ingredient_name
from inventory.models import Ingredient, PharmacologicClass, Storage
from lib.text import stored, text_errors
from pharmacy.models import AuxiliaryWarningRule, User

__all__ = ["WarningRuleError", "WarningRuleInput", "save_warning_rule"]

MAX_SUGGESTIONS = 5
NEAR_PREFIX = 5


class WarningRuleError(Exception):
    """A rule that cannot be saved; ``errors`` maps each field to what is wrong with it."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


@dataclass(frozen=True)
class WarningRuleInput:
    """What a pharmacist gives for a rule; blank criteria are not part of it."""

    warning: str
    pharmacologic_class: str = ""
    ingredient: str = ""
    dosage_form: str = ""
    route: str = ""
    storage: str = ""
    position: int = 100
    is_active: bool = True


def _suggestions(names) -> str:
    names = list(names[:MAX_SUGGESTIONS])
    return f" Did you mean {' or '.join(repr(name) for name in names)}?" if names else ""


def _catalogue_class(name: str) -> tuple[str, str | None]:
    """The catalogue's own spelling of the class ``name``, or an error naming near ones."""
    found = (
        PharmacologicClass.objects.filter(name__iexact=name).values_list("name", flat=True).first()
    )
    if found:
        return found, None
    # Near names: those holding the start of its first word ("Benzodiazepines" finds
    # "Benzodiazepine"), so a plural or a misspelt ending is answered with the fix.
    words = name.split()
    near = (
        PharmacologicClass.objects.filter(name__icontains=words[0][:NEAR_PREFIX])
        .order_by("name")
        .values_list("name", flat=True)
        .distinct()
        if words
        else PharmacologicClass.objects.none()
    )
    return "", (f"No pharmacologic class named {name!r} is in the catalogue.{_suggestions(near)}")


def _catalogue_ingredient(name: str) -> tuple[str, str, str | None]:
    """The ingredient's catalogue name and matching key, or an error naming near ones."""
    key = normalize_ingredient_name(name)
    found = Ingredient.objects.filter(normalized_name=key).values_list("name", flat=True).first()
    if found:
        return found, key, None
    near = (
        Ingredient.objects.filter(normalized_name__startswith=key[:NEAR_PREFIX])
        .order_by("name")
        .values_list("name", flat=True)
        if key
        else Ingredient.objects.none()
    )
    return "", "", f"No active ingredient named {name!r} is in the catalogue.{_suggestions(near)}"


def save_warning_rule(
    rule: AuxiliaryWarningRule | None, *, given: WarningRuleInput, by: User
) -> AuxiliaryWarningRule:
    """Create (``rule`` None) or change an auxiliary warning rule.

    Refused with WarningRuleError, nothing written: an empty or too long warning, no
    criterion at all (it would print on every label), a class or ingredient the
    catalogue does not hold, an unknown storage, text with control characters. Class
    and ingredient are stored as the catalogue spells them. Locks the rule row when
    changing it.
    """
    values = {
        "warning": stored(given.warning),
        "pharmacologic_class": stored(given.pharmacologic_class),
        "ingredient": stored(given.ingredient),
        "dosage_form": stored(given.dosage_form).upper(),
        "route": stored(given.route).upper(),
        "storage": given.storage,
    }
    errors = text_errors(values)
    if not values["warning"] and "warning" not in errors:
        errors["warning"] = "Write the warning as the label should print it."
    elif len(values["warning"]) > AuxiliaryWarningRule._meta.get_field("warning").max_length:
        errors["warning"] = (
            "The warning is too long for the label: at most 80 characters "
            f"(this one has {len(values['warning'])})."
        )
    if values["storage"] and values["storage"] not in Storage.values:
        errors["storage"] = f"Choose a storage condition, not {values['storage']!r}."
    criteria = ("pharmacologic_class", "ingredient", "dosage_form", "route", "storage")
    if not any(values[name] for name in criteria):
        errors["__all__"] = (
            "Name at least one of class, ingredient, dosage form, route or storage: a rule "
            "without one would print its warning on every label."
        )
    if not 0 <= given.position <= 32767:
        errors["position"] = "The position is a whole number from 0 to 32767."
    class_name = ingredient_name = ingredient_key = ""
    if values["pharmacologic_class"] and "pharmacologic_class" not in errors:
        class_name, problem = _catalogue_class(values["pharmacologic_class"])
        if problem:
            errors["pharmacologic_class"] = problem
    if values["ingredient"] and "ingredient" not in errors:
        ingredient_name, ingredient_key, problem = _catalogue_ingredient(values["ingredient"])
        if problem:
            errors["ingredient"] = problem
    if errors:
        raise WarningRuleError(errors)
    with transaction.atomic():
        if rule is None:
            rule = AuxiliaryWarningRule()
        else:
            rule = AuxiliaryWarningRule.objects.select_for_update().get(pk=rule.pk)
        rule.warning = values["warning"]
        rule.pharmacologic_class_name = class_name
        rule.ingredient_name = ingredient_name
        rule.ingredient_key = ingredient_key
        rule.dosage_form = values["dosage_form"]
        rule.route = values["route"]
        rule.storage = values["storage"]
        rule.position = given.position
        rule.is_active = given.is_active
        rule.updated_by = by
        rule.save()
        return rule
