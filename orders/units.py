"""Dispensing units a prescription's quantity may be written in.

SCRIPT sends NCI thesaurus codes (NCPDP QuantityUnitOfMeasure); FHIR sends a UCUM code
or plain text. Anything else is refused at intake rather than guessed.
"""

# NCI code -> the unit we dispense and print.
NCI_QUANTITY_UNITS = {
    "C48542": "tablet",
    "C48480": "capsule",
    "C28254": "mL",
    "C48155": "g",
    "C28253": "mg",
}

# Lower-cased text or UCUM code -> unit.
TEXT_QUANTITY_UNITS = {
    "tablet": "tablet",
    "tablets": "tablet",
    "tab": "tablet",
    "tabs": "tablet",
    "{tbl}": "tablet",
    "capsule": "capsule",
    "capsules": "capsule",
    "cap": "capsule",
    "caps": "capsule",
    "ml": "mL",
    "milliliter": "mL",
    "millilitre": "mL",
    "g": "g",
    "gram": "g",
    "grams": "g",
    "each": "each",
    "ea": "each",
    "{each}": "each",
    "unit": "each",
    "pen": "each",
    "patch": "each",
    "inhaler": "each",
    "vial": "each",
    "kit": "each",
}


def dispensing_unit(code_or_text: str) -> str | None:
    """The unit we dispense in, or None when the code or text is not one we know."""
    text = (code_or_text or "").strip()
    return NCI_QUANTITY_UNITS.get(text.upper()) or TEXT_QUANTITY_UNITS.get(text.lower())


# Units counted whole at the fill station: half a tablet or capsule is never dispensed
# by count (a split tablet is prescribed as its own sig, with the whole tablets counted).
COUNTED_UNITS = frozenset({"tablet", "capsule", "each"})
COUNTED_DOSAGE_FORMS = ("TABLET", "CAPSULE")
MEASURED_UNITS = frozenset({"mL", "g", "mg"})


def is_counted(unit: str, dosage_form: str = "") -> bool:
    """Whether a quantity in ``unit`` of a product of ``dosage_form`` is counted in whole
    units (tablets, capsules, pens, inhalers...): the fill station refuses a fraction."""
    unit = (unit or "").strip()
    if unit in COUNTED_UNITS:
        return True
    form = (dosage_form or "").upper()
    return unit not in MEASURED_UNITS and any(word in form for word in COUNTED_DOSAGE_FORMS)
