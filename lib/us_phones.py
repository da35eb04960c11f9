"""US telephone numbers (the North American Numbering Plan): the one check of a number
someone will dial back, used by the phone-order entry form and the intake service."""

import re

_EXTENSION = re.compile(r"\s*(?:x|ext\.?|extension)\s*(\d{1,6})\s*$", re.IGNORECASE)


def us_phone_problem(text: str) -> str:
    """What is wrong with a US phone number, or "" when it is one: ten digits (an optional
    leading 1) whose area code and exchange do not start with 0 or 1, and an optional
    extension ("x 204")."""
    number = _EXTENSION.sub("", (text or "").strip())
    if re.search(r"[^\d\s().+-]", number):
        return f"{text!r} is not a phone number: use digits, such as (614) 555-0142."
    digits = re.sub(r"\D", "", number)
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    if len(digits) != 10:
        return f"{text!r} is not a US phone number: it needs 10 digits, area code first."
    if digits[0] in "01" or digits[3] in "01":
        return f"{text!r} is not a US phone number: no area code or exchange starts with 0 or 1."
    return ""


def format_us_phone(text: str) -> str:
    """A valid US phone number (``us_phone_problem`` is empty) as (614) 555-0142 x204."""
    extension = _EXTENSION.search(text.strip())
    digits = re.sub(r"\D", "", _EXTENSION.sub("", text.strip()))[-10:]
    shown = f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"
    return f"{shown} x{extension.group(1)}" if extension else shown
