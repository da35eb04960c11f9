"""US postal addresses: the state and territory codes, the ZIP code's form, and the one check
of an address that patient records, prescriber records and shipping all use.

``address_problems`` answers field -> message, for a form or an API's field errors;
``address_problem_sentences`` turns that into sentences that stand on their own, for a list
shown away from the form (why an order cannot ship).
"""

import re
from collections.abc import Collection, Mapping

# The 50 states, DC and the five inhabited territories: the jurisdictions that license
# prescribers and pharmacists.
US_STATES = frozenset(
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH "
    "NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR VI GU AS MP".split()
)
# The armed forces' "states" of APO/FPO/DPO mail: valid on an address, never a licence.
ARMED_FORCES_STATES = frozenset({"AA", "AE", "AP"})
US_MAILING_STATES = US_STATES | ARMED_FORCES_STATES

ZIP_CODE = re.compile(r"^[0-9]{5}(-[0-9]{4})?$")

ADDRESS_FIELDS = ("line1", "city", "state", "postal_code")
MISSING = "This field is required."
# How a sentence names each field (address_problem_sentences).
FIELD_NAMES = {"line1": "street line", "city": "city", "state": "state", "postal_code": "ZIP code"}


def state_problem(state: str, *, allowed: frozenset[str] = US_MAILING_STATES) -> str:
    """What is wrong with a two-letter state code (any case), or "" when it is one of
    ``allowed`` (pass ``US_STATES`` for a licensing state)."""
    code = (state or "").strip().upper()
    return "" if code in allowed else f"{code!r} is not a US state or territory code."


def zip_code_problem(postal_code: str) -> str:
    """What is wrong with a ZIP code, or "" when it is 5 digits or ZIP+4."""
    text = (postal_code or "").strip()
    if ZIP_CODE.match(text):
        return ""
    return f"{text!r} is not a ZIP code (5 digits, or 5+4 as 12345-6789)."


def address_problems(
    address: Mapping[str, object], *, required: Collection[str] = ADDRESS_FIELDS
) -> dict[str, str]:
    """Every problem of a US mailing address, field -> message, in ``ADDRESS_FIELDS``
    order; empty when a carrier can take it.

    ``address`` holds ``line1``, ``city``, ``state`` and ``postal_code`` (other keys are
    ignored; None counts as empty). Values are checked as they will be stored: stripped,
    the state in upper case. A field of ``required`` that is empty gets ``MISSING``; a
    state or ZIP code that is given must be valid (``state_problem``,
    ``zip_code_problem``).
    """
    values = {name: str(address.get(name) or "").strip() for name in ADDRESS_FIELDS}
    problems = {}
    for name in ADDRESS_FIELDS:
        if not values[name]:
            if name in required:
                problems[name] = MISSING
        elif name == "state" and (problem := state_problem(values[name])):
            problems[name] = problem
        elif name == "postal_code" and (problem := zip_code_problem(values[name])):
            problems[name] = problem
    return problems


def address_problem_sentences(problems: Mapping[str, str]) -> list[str]:
    """``address_problems`` as sentences that make sense without the form beside them:
    a missing field is named ("The ZIP code is missing.")."""
    return [
        f"The {FIELD_NAMES[name]} is missing." if message == MISSING else message
        for name, message in problems.items()
    ]
