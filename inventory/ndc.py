"""NDC, UPC-A and GTIN-14 conversions with check digits, and GS1 scan parsing.

Pure functions, no database: the catalogue uses them to store and find packages,
and every scan at the fill, receiving and packing stations goes through ``parse_scan``.

The forms of one package's code (DESIGN.md section 5), for Strattera 10 mg x 30,
package NDC ``0002-3227-30``:

============  ==================  ==========================================
form          value               made of
============  ==================  ==========================================
package NDC   ``0002-3227-30``    labeler-product-package, 4-4-2, 5-3-2 or 5-4-1
NDC10 digits  ``0002322730``      the same digits; ambiguous without the layout
NDC11         ``00002322730``     5-4-2 billing form: a zero before the short segment
UPC-A         ``300023227305``    ``3`` + NDC10 + GS1 check digit (linear code on bottles)
GTIN-14       ``00300023227305``  indicator + ``03`` + NDC10 + check digit (DataMatrix AI 01)
============  ==================  ==========================================

Only the NDC mapping is written here; GS1 DataMatrix payloads (application identifiers,
GS separators, ``]d2`` symbology prefixes, dates) are parsed by the ``biip`` package.
"""

import re
from dataclasses import dataclass
from datetime import date

import biip
from biip.gs1_messages import GS1Message

PACKAGE_NDC_LAYOUTS = ("4-4-2", "5-3-2", "5-4-1")
PRODUCT_NDC_LAYOUTS = ("4-4", "5-3", "5-4")

_HYPHENATED = re.compile(r"^[0-9]+(?:-[0-9]+)+$")
_PACKAGE_NDC = re.compile(
    r"[0-9]{4}-[0-9]{4}-[0-9]{2}|[0-9]{5}-[0-9]{3}-[0-9]{2}|[0-9]{5}-[0-9]{4}-[0-9]"
)
GROUP_SEPARATOR = "\x1d"


class ScanError(ValueError):
    """Text that cannot be read as a drug package code; the message says why in plain words."""


class InvalidNDCError(ScanError):
    """Text that should be an NDC (or a UPC or GTIN carrying one) and is not."""


# --------------------------------------------------------------------------- check digits


def gs1_check_digit(digits: str) -> str:
    """GS1 mod-10 check digit of a digit string (weights 3,1,3,... from the right)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return str((10 - total % 10) % 10)


def _require_digits(text: str, length: int, what: str) -> str:
    if not (len(text) == length and text.isascii() and text.isdigit()):
        raise InvalidNDCError(f"{what} must be {length} digits, not {text!r}.")
    return text


def _verify_check_digit(code: str, what: str) -> None:
    expected = gs1_check_digit(code[:-1])
    if code[-1] != expected:
        raise InvalidNDCError(
            f"The {what} {code} has a wrong check digit (the last digit should be {expected}): "
            "rescan it, or type the NDC instead."
        )


# --------------------------------------------------------------------------- NDC layouts


def _layout(text: str) -> str:
    return "-".join(str(len(segment)) for segment in text.split("-"))


def split_package_ndc(package_ndc: str) -> tuple[str, str, str]:
    """(labeler, product, package) segments of a hyphenated 10-digit package NDC.

    Raises InvalidNDCError unless the layout is 4-4-2, 5-3-2 or 5-4-1.
    """
    text = package_ndc.strip()
    if _PACKAGE_NDC.fullmatch(text) is None:
        raise InvalidNDCError(
            f"{package_ndc!r} is not a package NDC: expected 10 digits with hyphens as "
            "4-4-2, 5-3-2 or 5-4-1 (for example 0002-3227-30)."
        )
    labeler, product, package = text.split("-")
    return labeler, product, package


def package_ndc_layout(package_ndc: str) -> str:
    """The layout ("4-4-2", "5-3-2" or "5-4-1") of a hyphenated 10-digit package NDC."""
    return "-".join(str(len(segment)) for segment in split_package_ndc(package_ndc))


def validate_package_ndc(package_ndc: str) -> str:
    """The package NDC without surrounding spaces; raises InvalidNDCError when malformed."""
    return "-".join(split_package_ndc(package_ndc))


def is_package_ndc(text: str) -> bool:
    try:
        package_ndc_layout(text)
    except InvalidNDCError:
        return False
    return True


def validate_product_ndc(product_ndc: str) -> str:
    """A hyphenated product NDC (labeler-product, 4-4, 5-3 or 5-4), stripped."""
    text = product_ndc.strip()
    if not _HYPHENATED.match(text) or _layout(text) not in PRODUCT_NDC_LAYOUTS:
        raise InvalidNDCError(
            f"{product_ndc!r} is not a product NDC: expected labeler-product digits with a "
            "hyphen as 4-4, 5-3 or 5-4 (for example 0002-3227)."
        )
    return text


def is_product_ndc(text: str) -> bool:
    try:
        validate_product_ndc(text)
    except InvalidNDCError:
        return False
    return True


def product_ndc_of(package_ndc: str) -> str:
    """The product NDC (first two segments) of a hyphenated package NDC."""
    labeler, product, _package = split_package_ndc(package_ndc)
    return f"{labeler}-{product}"


def ndc10_digits(package_ndc: str) -> str:
    """The 10 digits of a hyphenated package NDC (ambiguous on their own: keep the layout)."""
    return "".join(split_package_ndc(package_ndc))


def ndc11_from_package_ndc(package_ndc: str) -> str:
    """The 11-digit 5-4-2 billing NDC: a leading zero on the short segment."""
    labeler, product, package = split_package_ndc(package_ndc)
    return labeler.zfill(5) + product.zfill(4) + package.zfill(2)


def package_ndc_from_digits(ndc10: str, layout: str) -> str:
    """Hyphenate 10 NDC digits in the given layout ("4-4-2", "5-3-2" or "5-4-1")."""
    _require_digits(ndc10, 10, "An NDC10")
    if layout not in PACKAGE_NDC_LAYOUTS:
        raise InvalidNDCError(f"{layout!r} is not an NDC layout; use 4-4-2, 5-3-2 or 5-4-1.")
    a, b, _c = (int(n) for n in layout.split("-"))
    return f"{ndc10[:a]}-{ndc10[a : a + b]}-{ndc10[a + b :]}"


def package_ndcs_from_ndc11(ndc11: str) -> tuple[str, ...]:
    """The hyphenated 10-digit NDCs an 11-digit NDC can come from.

    The zero added to make the NDC11 can only stand in front of a segment that starts
    with zero, so most NDC11s have one possible source, some two or three (only the
    catalogue knows which one is real), and an NDC11 with no padding zero has none.
    """
    digits = _require_digits(ndc11.strip().replace("-", ""), 11, "An 11-digit NDC")
    labeler, product, package = digits[:5], digits[5:9], digits[9:]
    forms = []
    if labeler[0] == "0":
        forms.append(f"{labeler[1:]}-{product}-{package}")
    if product[0] == "0":
        forms.append(f"{labeler}-{product[1:]}-{package}")
    if package[0] == "0":
        forms.append(f"{labeler}-{product}-{package[1:]}")
    return tuple(forms)


def normalize_ndc_input(text: str) -> str:
    """The 11-digit NDC of an NDC as the API contract accepts it.

    Accepts a hyphenated 10-digit NDC (4-4-2, 5-3-2, 5-4-1), a plain 11-digit NDC, or
    the 11 digits hyphenated 5-4-2. An unhyphenated 10-digit NDC is refused: the same
    digits mean different NDC11s in different layouts (DESIGN.md section 5).
    """
    value = (text or "").strip()
    if _HYPHENATED.match(value):
        if _layout(value) == "5-4-2":
            return normalize_ndc_input(value.replace("-", ""))
        if _layout(value) in PACKAGE_NDC_LAYOUTS:
            return ndc11_from_package_ndc(value)
    elif value.isascii() and value.isdigit():
        if len(value) == 11:
            if not package_ndcs_from_ndc11(value):
                raise InvalidNDCError(
                    f"{value} is not an 11-digit NDC: none of its segments starts with the "
                    "zero that pads a 10-digit NDC to 11 digits."
                )
            return value
        if len(value) == 10:
            raise InvalidNDCError(
                f"{value} is a 10-digit NDC without hyphens, which is ambiguous: write it "
                "with its hyphens (for example 0002-3227-30) or as 11 digits (00002322730)."
            )
    raise InvalidNDCError(
        f"{text!r} is not an NDC: use a hyphenated 10-digit NDC (for example 0002-3227-30) "
        "or the 11-digit form (00002322730)."
    )


# --------------------------------------------------------------------------- UPC-A, GTIN-14


def _digits_of(package_ndc_or_digits: str) -> str:
    value = package_ndc_or_digits.strip()
    if "-" in value:
        return ndc10_digits(value)
    return _require_digits(value, 10, "An NDC10")


def upc_from_ndc(package_ndc: str) -> str:
    """UPC-A of a package: ``3`` + NDC10 digits + check digit (hyphenated NDC or 10 digits)."""
    body = "3" + _digits_of(package_ndc)
    return body + gs1_check_digit(body)


def ndc10_from_upc(upc: str) -> str:
    """The NDC10 digits in a drug UPC-A (``3`` + NDC10 + check digit)."""
    code = _require_digits(upc.strip(), 12, "A UPC-A")
    _verify_check_digit(code, "UPC-A")
    if code[0] != "3":
        raise InvalidNDCError(f"UPC-A {code} is not a drug code: an NDC-based UPC-A starts with 3.")
    return code[1:11]


def gtin14_from_ndc(package_ndc: str, indicator: str = "0") -> str:
    """GTIN-14 of a hyphenated package NDC: indicator + 03 + NDC10 digits + check digit."""
    if not (len(indicator) == 1 and indicator.isdigit()):
        raise InvalidNDCError(f"A GTIN indicator is one digit, not {indicator!r}.")
    body = indicator + "03" + _digits_of(package_ndc)
    return body + gs1_check_digit(body)


def ndc10_from_gtin(gtin: str) -> str:
    """The NDC10 digits in a GTIN (indicator + ``03`` + NDC10 + check digit).

    Accepts GTIN-14, and GTIN-13 or GTIN-12 (UPC-A) padded with zeros on the left as GS1
    defines. Raises InvalidNDCError for a wrong check digit or a GTIN that is not NDC-based.
    """
    code = gtin.strip()
    if not (code.isascii() and code.isdigit() and len(code) in (12, 13, 14)):
        raise InvalidNDCError(f"A GTIN must be 12, 13 or 14 digits, not {gtin!r}.")
    code = code.zfill(14)
    _verify_check_digit(code, "GTIN")
    if code[1:3] != "03":
        raise InvalidNDCError(
            f"GTIN {code} is not an NDC-based drug code (a US drug GTIN has 03 after its first "
            "digit); scan the drug's own barcode or type its NDC."
        )
    return code[3:13]


# --------------------------------------------------------------------------- scans


@dataclass(frozen=True)
class Scan:
    """What one scan (or typed code) says about a package.

    ``ndc10`` holds the NDC digits when the code carries them (GTIN, UPC-A or a
    hyphenated NDC); ``package_ndc`` the hyphenated NDC when it was typed that way;
    ``ndc11`` the billing form when it is known (typed as 11 digits, or derived from a
    hyphenated NDC). A GTIN or UPC-A does not say its NDC's layout: look the package up
    by ``ndc10``.
    """

    kind: str  # "datamatrix", "gtin", "upc", "ndc" or "ndc11"
    ndc10: str = ""
    package_ndc: str = ""
    ndc11: str = ""
    gtin: str = ""
    lot: str = ""
    expiry: date | None = None
    serial: str = ""

    @property
    def ndc(self) -> str:
        """The NDC as well as it is known, for messages: hyphenated, 10 or 11 digits."""
        return self.package_ndc or self.ndc10 or self.ndc11


def _scan_from_gtin(gtin: str, kind: str, **fields) -> Scan:
    ndc10 = ndc10_from_gtin(gtin)
    return Scan(kind=kind, ndc10=ndc10, gtin=gtin.zfill(14), **fields)


def _scan_from_gs1_message(message: GS1Message) -> Scan:
    gtin_element = message.element_strings.get(ai="01")
    if gtin_element is None:
        raise ScanError(
            "This GS1 barcode carries no GTIN (AI 01), so it does not identify a drug package."
        )
    expiry_element = message.element_strings.get(ai="17")
    lot_element = message.element_strings.get(ai="10")
    serial_element = message.element_strings.get(ai="21")
    return _scan_from_gtin(
        gtin_element.value,
        "datamatrix",
        lot=lot_element.value if lot_element else "",
        # biip reads YYMMDD with day 00 as the month's last day (GS1 General Specifications).
        expiry=expiry_element.date if expiry_element else None,
        serial=serial_element.value if serial_element else "",
    )


def _unreadable(error: str | None) -> ScanError:
    if error and "check digit" in error.lower():
        return ScanError(
            "The GTIN in this barcode has a wrong check digit: rescan it, or type the NDC."
        )
    return ScanError(
        "This is not a barcode we can read: scan the package's DataMatrix or UPC-A, or type "
        "its NDC (for example 0002-3227-30 or 00002322730)."
    )


def parse_scan(text: str) -> Scan:
    """Read what a keyboard-wedge scanner (or a person) typed for a drug package.

    Accepts a GS1 DataMatrix payload (with or without the ``]d2`` symbology prefix, with
    ASCII 29 group separators after variable-length fields, or in the bracketed
    ``(01)...(17)...`` form a person may type), a UPC-A, a GTIN-14, a hyphenated
    10-digit NDC or a plain 11-digit NDC. Raises ScanError with a plain-English message
    for anything else, for wrong check digits, and for GTINs that are not NDC-based.
    """
    value = (text or "").strip()
    if not value:
        raise ScanError("The scan is empty: scan the package's barcode or type its NDC.")

    if _HYPHENATED.match(value):
        if _layout(value) == "5-4-2":
            return Scan(kind="ndc11", ndc11=normalize_ndc_input(value))
        package_ndc = validate_package_ndc(value)
        return Scan(
            kind="ndc",
            ndc10=ndc10_digits(package_ndc),
            package_ndc=package_ndc,
            ndc11=ndc11_from_package_ndc(package_ndc),
        )

    if value.isascii() and value.isdigit():
        if len(value) == 10:
            normalize_ndc_input(value)  # raises: an unhyphenated NDC10 is ambiguous
        if len(value) == 11:
            return Scan(kind="ndc11", ndc11=normalize_ndc_input(value))
        if len(value) == 12:
            return Scan(kind="upc", ndc10=ndc10_from_upc(value), gtin=value.zfill(14))
        if len(value) in (13, 14):
            return _scan_from_gtin(value, "gtin")

    if value.startswith("("):
        try:
            message = GS1Message.parse_hri(value)
        except biip.ParseError as error:
            raise _unreadable(str(error)) from None
        return _scan_from_gs1_message(message)

    try:
        result = biip.parse(value)
    except (biip.BiipException, ValueError, IndexError):
        # biip trips over some truncated symbology identifiers ("]" alone).
        raise _unreadable(None) from None
    if result.gs1_message is not None:
        return _scan_from_gs1_message(result.gs1_message)
    if result.gtin is not None:
        # e.g. a UPC-A read with its "]E0" symbology identifier
        return _scan_from_gtin(result.gtin.as_gtin_14(), "gtin")
    raise _unreadable(result.gs1_message_error or result.gtin_error)


# --------------------------------------------------------------------------- search boxes

# The start of a GS1 payload whose GTIN is readable even if the rest is not (a browser
# may drop the GS characters a scanner types, which leaves the lot field unterminated).
_GTIN_PREFIX = re.compile(r"^(?:\][A-Za-z]\d)?\(?01\)?(\d{14})")
_PARTIAL_NDC = re.compile(r"^\d[\d-]*$")


def is_partial_ndc(text: str) -> bool:
    """Digits and hyphens, as someone typing the start of an NDC writes them."""
    return bool(_PARTIAL_NDC.match(text))


def gtin_at_start(text: str) -> str | None:
    """The GTIN-14 a GS1 payload starts with, readable even when the rest is not."""
    match = _GTIN_PREFIX.match(text)
    return match[1] if match else None


def looks_like_code(text: str) -> bool:
    """Whether a search box's text is meant as a code (NDC, UPC, GTIN, scan), not a name."""
    return (
        text[:1] in "]("
        or GROUP_SEPARATOR in text
        or is_partial_ndc(text)
        or gtin_at_start(text) is not None
    )
