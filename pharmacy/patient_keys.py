"""The one definition of how a patient's name, phone and address are compared.

Search and duplicate detection never compare what was typed: they compare keys made here
from it, the same way on both sides. The embedded PostgreSQL ships no contrib extensions
(no ``unaccent``, no ``pg_trgm``), so the keys are computed in Python and stored on the
patient (``Patient.search_*``) and the address (``PatientAddress.match_key``) by the
patient services on every write, and indexed.

- ``name_key``: NFKD, combining marks dropped, case folded, apostrophes, hyphens, dots
  and spaces dropped: "Hernández" -> "hernandez", "O'Connor" -> "oconnor",
  "Mary-Jo" -> "maryjo".
- ``name_words``: the keys of each part of a name, so that "Lopez" finds "García-López".
- ``phone_key``: the last ten digits ("(555) 123-4567", "+1 555.123.4567" -> "5551234567").
- ``address_key``: line 1 in a key (street words shortened the USPS way) and the 5-digit ZIP.
"""

import re
import unicodedata

# Characters people type inconsistently inside a name: apostrophes (straight and curly,
# the modifier letter, the grave and acute accents used as apostrophes), hyphens and
# dashes, dots ("St. John") and spaces ("De la Cruz" / "Delacruz").
_NAME_JOINERS = re.compile(r"['\u2018\u2019\u02bc`\u00b4\-\u2010-\u2015.\s]+")
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


def _folded(text: str) -> str:
    """Compatibility-decomposed, combining marks dropped, case folded."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    # casefold may recompose nothing but can produce new marks (rare); NFKD again is cheap.
    return unicodedata.normalize("NFKD", stripped.casefold())


def name_key(text: str) -> str:
    """A name as search compares it: no accents, case, apostrophes, hyphens or spaces."""
    return _NAME_JOINERS.sub("", _folded(text or ""))


def name_words(*names: str) -> list[str]:
    """The key of every part of the names (split at hyphens and spaces) and of each name
    whole, without repeats: "García-López" -> ["garcialopez", "garcia", "lopez"]."""
    words: list[str] = []
    for name in names:
        whole = name_key(name)
        parts = [name_key(part) for part in re.split(r"[\s\-\u2010-\u2015]+", name or "")]
        for word in (whole, *parts):
            if word and word not in words:
                words.append(word)
    return words


def phone_key(text: str) -> str:
    """The digits of a phone number, the last ten (a US number without its country code)."""
    return re.sub(r"\D", "", text or "")[-10:]


_STREET_WORDS = {
    "street": "st",
    "avenue": "ave",
    "av": "ave",
    "road": "rd",
    "drive": "dr",
    "boulevard": "blvd",
    "lane": "ln",
    "court": "ct",
    "place": "pl",
    "parkway": "pkwy",
    "highway": "hwy",
    "terrace": "ter",
    "circle": "cir",
    "square": "sq",
    "north": "n",
    "south": "s",
    "east": "e",
    "west": "w",
    "apartment": "apt",
    "suite": "ste",
}


def address_key(line1: str, postal_code: str) -> str:
    """Line 1 and the 5-digit ZIP as duplicate detection compares them, or "" when either
    is missing: "12 North Main Street" + "02139-1234" -> "12 n main st|02139"."""
    words = _NOT_ALNUM.sub(" ", _folded(line1 or "")).split()
    zip5 = re.sub(r"\D", "", postal_code or "")[:5]
    if not words or not zip5:
        return ""
    return " ".join(_STREET_WORDS.get(word, word) for word in words) + "|" + zip5


def patient_search_values(
    *, first_name: str, middle_name: str, last_name: str, phone: str
) -> dict[str, object]:
    """The stored search columns of a patient with these details (``Patient.search_*``)."""
    return {
        "search_last_name": name_key(last_name),
        "search_first_name": name_key(first_name),
        "search_name_words": name_words(first_name, middle_name, last_name),
        "search_phone": phone_key(phone),
    }


def search_values_of(patient) -> dict[str, object]:
    """``patient_search_values`` of a patient's current names and phone."""
    return patient_search_values(
        first_name=patient.first_name,
        middle_name=patient.middle_name,
        last_name=patient.last_name,
        phone=patient.phone,
    )


def names_look_alike(first_a: str, last_a: str, first_b: str, last_b: str) -> bool:
    """Whether two people's names may be one person's, as duplicate detection judges it:
    the same last name key and first names that start alike (Bob/Bobby, J/John), or the
    same first name key with a last name that starts alike or was swapped with the first,
    or names whose keys differ by at most one letter in each part ("Jonh")."""
    fa, la, fb, lb = (name_key(n) for n in (first_a, last_a, first_b, last_b))
    if not (fa and la and fb and lb):
        return False
    first_close = fa.startswith(fb) or fb.startswith(fa) or _one_edit_apart(fa, fb)
    last_close = la.startswith(lb) or lb.startswith(la) or _one_edit_apart(la, lb)
    swapped = fa == lb and la == fb
    return (
        (la == lb and first_close)
        or (fa == fb and last_close)
        or swapped
        or (first_close and last_close)
    )


def _one_edit_apart(a: str, b: str) -> bool:
    """At most one letter inserted, removed, changed or two neighbours swapped."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diffs = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diffs) == 1 or (
            len(diffs) == 2
            and diffs[1] == diffs[0] + 1
            and a[diffs[0]] == b[diffs[1]]
            and a[diffs[1]] == b[diffs[0]]
        )
    short, long = sorted((a, b), key=len)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))
