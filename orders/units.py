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
