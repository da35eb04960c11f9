"""Sig (the prescriber's directions) as written -> explicit directions for the vial label.

USP <17> asks for explicit directions on the label: ``1 PO BID`` becomes ``Take 1 tablet
by mouth twice daily``. The sig is read token by token, left to right:

* a dose (``1``, ``1.5``, ``1/2``, ``1-2``) gets the dispensing unit when the sig names
  none (``2`` -> ``2 tablets``); a unit abbreviation is written out (``tabs``, ``gtt``);
* routes: PO, SL, TOP, INH, SC/SQ/SUBQ, IM, PR; each also names the verb the directions
  start with when the sig starts with the dose (Take, Place, Apply, Inhale, Inject,
  Insert);
* frequencies: QD/daily, BID, TID, QID, QHS/HS, QAM, QPM, QOD, QW, Q1H..Q24H and ranges
  such as Q4-6H, ``2x daily``; durations ``x7d``, ``x 2 weeks``;
* PRN (as needed; ``PRN pain`` -> ``as needed for pain``), AC, PC, UD.

Anything else is kept exactly as written, never guessed: a misread abbreviation on a
label is worse than an unexpanded one. That includes the error-prone ones the ISMP list
warns about where the meaning is ambiguous (``OD`` is "right eye" or "once daily", ``U``
reads as a zero). A sig with no abbreviation at all is plain English already and is
returned as written.

Both functions are pure and cached: e-prescription intake calls them for every message.
"""

import re
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache

# route abbreviation -> (phrase, verb the directions start with)
_ROUTES = {
    "po": ("by mouth", "Take"),
    "sl": ("under the tongue", "Place"),
    "top": ("topically", "Apply"),
    "inh": ("by inhalation", "Inhale"),
    "sc": ("under the skin", "Inject"),
    "sq": ("under the skin", "Inject"),
    "subq": ("under the skin", "Inject"),
    "subcut": ("under the skin", "Inject"),
    "im": ("into the muscle", "Inject"),
    "pr": ("rectally", "Insert"),
}

# frequency abbreviation -> (phrase, administrations per day)
_FREQUENCIES = {
    "qd": ("once daily", Fraction(1)),
    "qday": ("once daily", Fraction(1)),
    "daily": ("once daily", Fraction(1)),
    "bid": ("twice daily", Fraction(2)),
    "tid": ("three times daily", Fraction(3)),
    "qid": ("four times daily", Fraction(4)),
    "qhs": ("at bedtime", Fraction(1)),
    "hs": ("at bedtime", Fraction(1)),
    "qam": ("every morning", Fraction(1)),
    "qpm": ("every evening", Fraction(1)),
    "qod": ("every other day", Fraction(1, 2)),
    "qw": ("once weekly", Fraction(1, 7)),
    "qwk": ("once weekly", Fraction(1, 7)),
    "qh": ("every hour", Fraction(24)),
}
# Words that are English already: expanded in place when the sig is being expanded, but
# they alone do not make a sig "abbreviated".
_PLAIN_FREQUENCIES = {"daily"}

_MODIFIERS = {
    "prn": "as needed",
    "ac": "before meals",
    "pc": "after meals",
    "ud": "as directed",
}

# unit as written -> (unit on the label, is an abbreviation)
_UNITS = {
    "tab": ("tablet", True),
    "tabs": ("tablet", True),
    "tablet": ("tablet", False),
    "tablets": ("tablet", False),
    "cap": ("capsule", True),
    "caps": ("capsule", True),
    "capsule": ("capsule", False),
    "capsules": ("capsule", False),
    "ml": ("mL", False),
    "mls": ("mL", True),
    "cc": ("mL", True),
    "g": ("g", False),
    "gm": ("g", True),
    "mg": ("mg", False),
    "mcg": ("mcg", False),
    "gtt": ("drop", True),
    "gtts": ("drop", True),
    "drop": ("drop", False),
    "drops": ("drop", False),
    "puff": ("puff", False),
    "puffs": ("puff", False),
    "unit": ("unit", False),
    "units": ("unit", False),
    "spray": ("spray", False),
    "sprays": ("spray", False),
    "patch": ("patch", False),
    "patches": ("patch", False),
    "supp": ("suppository", True),
    "suppository": ("suppository", False),
    "suppositories": ("suppository", False),
    "tsp": ("teaspoonful", True),
    "tbsp": ("tablespoonful", True),
    "appl": ("application", True),
    "application": ("application", False),
    "applications": ("application", False),
}
_UNCOUNTED_UNITS = {"mL", "g", "mg", "mcg"}
_PLURALS = {"patch": "patches", "suppository": "suppositories"}
# Units a dose can be counted in against the dispensed quantity (days supply).
_COUNTABLE_UNITS = {"tablet", "capsule", "mL", "g", "patch", "suppository"}

_VERBS = {
    "take", "apply", "inhale", "inject", "instill", "insert", "place", "use", "dissolve",
    "chew", "give", "spray", "swallow", "mix", "shake", "rinse", "gargle", "swish", "drink",
    "dilute", "administer", "put", "rub", "wash", "massage", "infuse", "sprinkle", "suck",
    "nebulize", "remove", "change", "wear",
}  # fmt: skip

# Dispensing unit -> the word a bare dose gets, and the verb when no route is written.
_DEFAULT_UNIT_WORD = {"tablet": "tablet", "capsule": "capsule", "mL": "mL", "g": "g", "mg": "mg"}
_DEFAULT_VERB = {"g": "Apply", "each": "Use"}
# With no route and no verb written, the unit of the dose says how it is given.
_VERB_FOR_UNIT = {
    "drop": "Instill",
    "puff": "Inhale",
    "spray": "Use",
    "patch": "Apply",
    "application": "Apply",
    "suppository": "Insert",
    "unit": "Inject",
}

_NUMBER = r"(?:\d+(?:\.\d+)?(?:/\d+)?|½|¼|¾)"
_SCANNER = re.compile(
    rf"""
    (?P<punct>[,;])
    | (?P<every>q\.?\s*(?P<h1>\d{{1,2}})(?:\s*(?:-|–|to)\s*(?P<h2>\d{{1,2}}))?
        \s*(?:h|hr|hrs|hours?)\.?)(?=[\s,;]|$)
    | (?P<every_words>every\s+(?P<e1>\d{{1,2}})(?:\s*(?:-|–|to)\s*(?P<e2>\d{{1,2}}))?
        \s+hours?)\b
    | (?P<every_hour>every\s+hour)\b
    | (?P<times>(?P<t>once|one\s+time|twice|two\s+times|three\s+times|four\s+times
        |(?P<tn>\d)\s*(?:x|times))\s*(?:daily|a\s+day|per\s+day|each\s+day|/\s*day))\b
    | (?P<every_day>every\s+day)\b
    | (?P<other_day>every\s+other\s+day)\b
    | (?P<weekly>(?:once\s+)?weekly|once\s+a\s+week|every\s+week)\b
    | (?P<time_of_day>at\s+bedtime|every\s+morning|every\s+evening|every\s+night
        |in\s+the\s+morning|in\s+the\s+evening)\b
    | (?P<as_needed>as\s+needed)\b
    | (?P<as_directed>as\s+directed)\b
    | (?P<duration>(?P<dur_by>x|for)\s*(?P<dn>\d+)\s*(?P<dper>d|days?|wks?|weeks?)\.?)
        (?=[\s,;]|$)
    | (?P<range>(?P<r1>{_NUMBER})\s*(?:-|–|to)\s*(?P<r2>{_NUMBER}))(?=[\s,;]|$|[a-z])
    | (?P<number>{_NUMBER})(?=[\s,;]|$|[a-z])
    | (?P<word>[^\s,;]+)
    """,
    re.IGNORECASE | re.VERBOSE,
)
_WORD_TIMES = {"once": 1, "one time": 1, "twice": 2, "two times": 2}
_WORD_TIMES.update({"three times": 3, "four times": 4})
_FRACTION_CHARACTERS = {"½": Fraction(1, 2), "¼": Fraction(1, 4), "¾": Fraction(3, 4)}
_TIMES_WORDS = {1: "once daily", 2: "twice daily", 3: "three times daily", 4: "four times daily"}


@dataclass(frozen=True)
class _Token:
    kind: str  # number, range, unit, route, frequency, modifier, duration, verb, punct, word
    text: str  # as written
    out: str = ""  # as the label says it
    is_abbreviation: bool = False
    value: Fraction | None = None  # a dose; administrations per day of a frequency
    key: str = ""  # unit, route or modifier key


def _number(text: str) -> Fraction:
    if text in _FRACTION_CHARACTERS:
        return _FRACTION_CHARACTERS[text]
    return Fraction(text)


def _hours(first: str, second: str | None, written: str, *, abbreviation: bool) -> _Token:
    if second:
        return _Token(
            "frequency", written, f"every {int(first)} to {int(second)} hours", abbreviation
        )
    hours = int(first)
    if hours == 0:
        return _Token("word", written, written)
    phrase = "every hour" if hours == 1 else f"every {hours} hours"
    return _Token("frequency", written, phrase, abbreviation, Fraction(24, hours))


def _lookup_key(text: str) -> str:
    """``p.o.`` -> ``po``: abbreviations are often written with dots."""
    return text.lower().replace(".", "") if any(c.isalpha() for c in text) else text


def _word_token(text: str) -> _Token:
    key = _lookup_key(text)
    if key in _ROUTES:
        return _Token("route", text, _ROUTES[key][0], True, key=key)
    if key in _FREQUENCIES:
        phrase, per_day = _FREQUENCIES[key]
        return _Token("frequency", text, phrase, key not in _PLAIN_FREQUENCIES, per_day)
    if key in _MODIFIERS:
        return _Token("modifier", text, _MODIFIERS[key], True, key=key)
    if key in _UNITS:
        unit, abbreviation = _UNITS[key]
        return _Token("unit", text, unit, abbreviation, key=unit)
    if key in _VERBS:
        return _Token("verb", text, text[:1].upper() + text[1:], key=key)
    return _Token("word", text, text)


@lru_cache(maxsize=8192)
def _tokens(sig_text: str) -> tuple[_Token, ...]:
    tokens = []
    matches = list(_SCANNER.finditer(sig_text))
    skip_next = False
    for position, match in enumerate(matches):
        if skip_next:
            skip_next = False
            continue
        written = match.group(0)
        groups = match.groupdict()
        following = matches[position + 1] if position + 1 < len(matches) else None
        if (
            (groups["number"] or groups["range"])
            and following is not None
            and following.start() == match.end()
            and following.group("word")
            and _word_token(following.group(0)).kind != "unit"
        ):
            # "2nd", "3rd": a number run into a word that is not a unit is one word.
            written = written + following.group(0)
            tokens.append(_Token("word", written, written))
            skip_next = True
            continue
        if groups["punct"]:
            tokens.append(_Token("punct", written, written))
        elif groups["every"]:
            tokens.append(_hours(groups["h1"], groups["h2"], written, abbreviation=True))
        elif groups["every_words"]:
            tokens.append(_hours(groups["e1"], groups["e2"], written, abbreviation=False))
        elif groups["every_hour"]:
            tokens.append(_Token("frequency", written, written, False, Fraction(24)))
        elif groups["times"]:
            times_text = " ".join(groups["t"].lower().split())
            times = int(groups["tn"]) if groups["tn"] else _WORD_TIMES[times_text]
            if times == 0:
                tokens.append(_Token("word", written, written))
                continue
            phrase = _TIMES_WORDS.get(times, f"{times} times daily")
            tokens.append(_Token("frequency", written, phrase, bool(groups["tn"]), Fraction(times)))
        elif groups["every_day"] or groups["time_of_day"]:
            tokens.append(_Token("frequency", written, written, False, Fraction(1)))
        elif groups["other_day"]:
            tokens.append(_Token("frequency", written, written, False, Fraction(1, 2)))
        elif groups["weekly"]:
            tokens.append(_Token("frequency", written, written, False, Fraction(1, 7)))
        elif groups["as_needed"]:
            tokens.append(_Token("modifier", written, written, key="prn"))
        elif groups["as_directed"]:
            tokens.append(_Token("modifier", written, written, key="ud"))
        elif groups["duration"]:
            count, per = int(groups["dn"]), groups["dper"].lower()
            noun = "day" if per.startswith("d") else "week"
            phrase = f"for {count} {noun}{'' if count == 1 else 's'}"
            tokens.append(_Token("duration", written, phrase, groups["dur_by"].lower() == "x"))
        elif groups["range"]:
            low, high = groups["r1"], groups["r2"]
            tokens.append(
                _Token("range", written, f"{low} to {high}", value=max(_number(low), _number(high)))
            )
        elif groups["number"]:
            tokens.append(_Token("number", written, written, value=_number(written)))
        else:
            tokens.append(_word_token(written))
    return tuple(tokens)


def _unit_words(unit: str, amount: Fraction | None) -> str:
    if unit in _UNCOUNTED_UNITS or amount is None or amount <= 1:
        return unit
    return _PLURALS.get(unit, f"{unit}s")


def _join(parts: list[str]) -> str:
    text = ""
    for part in parts:
        if not part:
            continue
        if part in ",;" or not text:
            text += part
        else:
            text += f" {part}"
    return text


def expand_sig(sig_text: str, *, unit: str) -> str:
    """Explicit directions for the vial label; the sig as written when it cannot be expanded.

    ``unit`` is the dispensing unit (``orders.units.dispensing_unit``): a bare dose is
    counted in it. Unknown tokens are kept as written; a sig with no abbreviation is
    returned as written.
    """
    return _expand(" ".join((sig_text or "").split()), unit)


@lru_cache(maxsize=8192)
def _expand(sig_text: str, unit: str) -> str:
    tokens = _tokens(sig_text)
    if not any(token.is_abbreviation for token in tokens):
        return sig_text
    route = next((token.key for token in tokens if token.kind == "route"), "")
    starts_with_verb = tokens[0].kind == "verb"
    if starts_with_verb:
        verb = tokens[0].key
    elif route:
        verb = _ROUTES[route][1].lower()
    else:
        written_unit = next((token.key for token in tokens if token.kind == "unit"), "")
        verb = (_VERB_FOR_UNIT.get(written_unit) or _DEFAULT_VERB.get(unit, "Take")).lower()
    default_unit = _DEFAULT_UNIT_WORD.get(unit)
    if default_unit is None and unit == "each" and route == "inh":
        default_unit = "puff"

    parts: list[str] = []
    dose_seen = False
    for position, token in enumerate(tokens):
        following = tokens[position + 1] if position + 1 < len(tokens) else None
        if token.kind in ("number", "range"):
            parts.append(token.out)
            if not dose_seen and (following is None or following.kind != "unit"):
                if default_unit:
                    parts.append(_unit_words(default_unit, token.value))
            dose_seen = True
        elif token.kind == "unit":
            previous = tokens[position - 1] if position else None
            amount = previous.value if previous and previous.kind in ("number", "range") else None
            parts.append(_unit_words(token.out, amount))
        elif token.kind == "route":
            # "Inhale 2 puffs by inhalation" says it twice.
            if not (token.key == "inh" and verb == "inhale"):
                parts.append(token.out)
        elif token.kind == "modifier" and token.key == "prn" and token.is_abbreviation:
            parts.append(token.out)
            if (
                following is not None
                and following.kind == "word"
                and following.text.lower() not in ("for", "to")
            ):
                parts.append("for")
        else:
            parts.append(token.out)

    if not starts_with_verb and tokens[0].kind in (
        "number", "range", "unit", "route", "frequency", "modifier",
    ):  # fmt: skip
        parts.insert(0, verb.capitalize())
    text = _join(parts)
    return text[:1].upper() + text[1:]


def days_supply_from_sig(
    sig_text: str, quantity: Decimal | int | float | str, *, unit: str | None = None
) -> int | None:
    """Days the quantity lasts at the sig's dose and frequency, rounded down (at least 1).

    None when the sig does not allow it: as needed (PRN), as directed (UD), a dose or
    frequency range (``1-2``, ``Q4-6H``), no dose or no frequency, several frequencies,
    or a dose in a unit that is not the one dispensed (``500 mg`` of a capsule, ``2
    puffs`` of an inhaler). ``unit`` is the dispensing unit, when known.
    """
    try:
        amount = Fraction(str(quantity))
    except (ValueError, ZeroDivisionError):
        return None
    if amount <= 0:
        return None
    tokens = _tokens(" ".join((sig_text or "").split()))
    doses = [t for t in tokens if t.kind in ("number", "range")]
    frequencies = [t for t in tokens if t.kind == "frequency"]
    if any(t.kind == "modifier" and t.key in ("prn", "ud") for t in tokens):
        return None
    if len(doses) != 1 or doses[0].kind == "range" or len(frequencies) != 1:
        return None
    dose, per_day = doses[0].value, frequencies[0].value
    if not dose or per_day is None:
        return None
    position = tokens.index(doses[0])
    if position + 1 < len(tokens) and tokens[position + 1].kind == "unit":
        dose_unit = tokens[position + 1].key
        if dose_unit not in _COUNTABLE_UNITS:
            return None
        if unit is not None and dose_unit != unit and unit != "each":
            return None
        if unit == "each" and dose_unit not in ("patch", "suppository"):
            return None
    elif unit == "each":
        return None
    return max(int(amount / (dose * per_day)), 1)
