"""Text that may be stored: names and free text without the characters that hide what
they say.

Refused everywhere: Unicode's explicit direction controls (embeddings and overrides
U+202A-U+202E, isolates U+2066-U+2069, the marks U+200E and U+200F, the Arabic letter
mark U+061C). They change how the text around them is displayed, not what it is: a name
typed as U+202E + "nadA" prints "Adan" on a vial label while the record holds "nadA".
Refused too: the C0 and C1 control characters (U+0000-U+001F, U+007F-U+009F), which
no label, screen or claim can show; free text (notes, directions, descriptions) may keep
its line breaks and tabs (and U+2028, U+2029), a name or any other one-line value may not.

``text_problem`` is the rule; ``text_errors`` applies it to a service's fields,
``checked_free_text`` to one note or reason of a service,
``validate_one_line_text`` and ``validate_free_text`` to a form's or serializer's.
"""

from collections.abc import Iterable, Mapping

from django.core.exceptions import ValidationError

DIRECTION_CONTROLS = frozenset(
    chr(code) for code in (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))
)
# Tab, line feed, carriage return, and Unicode's line and paragraph separators.
LINE_BREAKS = frozenset("\t\n\r\u2028\u2029")


def text_problem(value: str, *, line_breaks: bool = False) -> str | None:
    """What makes ``value`` unfit to store, as words that follow the field's name
    ("contains ..."), or None. ``line_breaks``: free text, which may hold ``LINE_BREAKS``."""
    for character in value:
        code = ord(character)
        if character in DIRECTION_CONTROLS:
            return (
                f"contains an invisible text-direction character (U+{code:04X}), which can "
                "make it display differently from what is stored; remove it"
            )
        if character in LINE_BREAKS and not line_breaks:
            return f"contains a line break or tab (U+{code:04X}) but must be one line"
        if (code < 0x20 or 0x7F <= code <= 0x9F) and character not in LINE_BREAKS:
            return (
                f"contains a control character (U+{code:04X}), which cannot be shown or "
                "printed; remove it"
            )
    return None


def text_errors(
    values: Mapping[str, object], *, free_text: Iterable[str] = (), prefix: str = ""
) -> dict[str, str]:
    """Field -> message for every text value that ``text_problem`` refuses; the fields
    named in ``free_text`` may hold line breaks. Other values (dates, None) are skipped.
    Values are checked without the spaces and line breaks around them, which every
    service trims (``stored``)."""
    free = set(free_text)
    errors = {}
    for name, value in values.items():
        if isinstance(value, str):
            problem = text_problem(stored(value), line_breaks=name in free)
            if problem:
                errors[f"{prefix}{name}"] = f"{problem[0].upper()}{problem[1:]}."
    return errors


def stored(value: str) -> str:
    """``value`` without the ASCII spaces, tabs and line breaks around it (what forms,
    serializers and services trim); a control character at either end is kept, and so
    refused."""
    return value.strip(" \t\n\r")


def checked_free_text(value: str | None, what: str) -> tuple[str, str | None]:
    """A service's note, reason or description as it is stored (``stored``), and what
    makes it unfit ("The {what} contains ...", a sentence) or None. Line breaks are kept."""
    text = stored(value or "")
    problem = text_problem(text, line_breaks=True)
    return text, (f"The {what} {problem}." if problem else None)


def validate_one_line_text(value: str) -> None:
    """A form's or serializer's validator for a name or another one-line value."""
    _raise_for(text_problem(value, line_breaks=False))


def validate_free_text(value: str) -> None:
    """A form's or serializer's validator for a note, a reason or directions."""
    _raise_for(text_problem(value, line_breaks=True))


def _raise_for(problem: str | None) -> None:
    if problem:
        raise ValidationError(f"{problem[0].upper()}{problem[1:]}.", code="invalid_text")
