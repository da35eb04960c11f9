"""Check digits of the identifiers prescribers carry: NPI and DEA registration number."""

import re

from django.core.exceptions import ValidationError

_DEA_PATTERN = re.compile(r"^[A-Z][A-Z9][0-9]{7}$")


def is_valid_npi(npi: str) -> bool:
    """NPI: 10 digits whose last is the Luhn check digit over the prefix 80840 + first 9."""
    if not (isinstance(npi, str) and len(npi) == 10 and npi.isdigit()):
        return False
    digits = [int(d) for d in "80840" + npi[:9]]
    total = 0
    # Luhn: double every second digit from the right of the payload (check digit excluded).
    for position, digit in enumerate(reversed(digits)):
        if position % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return (10 - total % 10) % 10 == int(npi[9])


def is_valid_dea_number(dea: str) -> bool:
    """DEA number: 2 letters + 7 digits; check digit = last digit of (d1+d3+d5) + 2*(d2+d4+d6).

    The second character may be 9 for some mid-level registrants (business activity
    codes), so it is a letter or 9.
    """
    if not (isinstance(dea, str) and _DEA_PATTERN.match(dea)):
        return False
    d = [int(c) for c in dea[2:]]
    check = (d[0] + d[2] + d[4] + 2 * (d[1] + d[3] + d[5])) % 10
    return check == d[6]


def validate_npi(value: str) -> None:
    if not is_valid_npi(value):
        raise ValidationError(
            f"{value!r} is not a valid NPI: it must be 10 digits with a correct check digit."
        )


def validate_dea_number(value: str) -> None:
    if value and not is_valid_dea_number(value):
        raise ValidationError(
            f"{value!r} is not a valid DEA number: two letters, seven digits, correct check digit."
        )


def npi_with_check_digit(first_nine: str) -> str:
    """The NPI made of these nine digits and the check digit that makes it valid."""
    return next(
        first_nine + str(digit) for digit in range(10) if is_valid_npi(first_nine + str(digit))
    )


def dea_number_with_check_digit(prefix: str, six_digits: str) -> str:
    """The DEA number made of the two-character prefix, six digits and their check digit."""
    d = [int(c) for c in six_digits]
    return f"{prefix}{six_digits}{(d[0] + d[2] + d[4] + 2 * (d[1] + d[3] + d[5])) % 10}"
