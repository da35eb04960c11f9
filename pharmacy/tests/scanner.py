"""A keyboard-wedge scanner and a person's hands, for browser tests.

A scanner types a whole code in one burst, a few milliseconds between keys, and ends it
with Enter; the scan stations tell that apart from a person typing
(``static/js/scan_entry.js``). ``scan`` reads a code into a field as the scanner does;
``type_by_hand`` types it at a person's pace. Neither uses ``fill``: a field filled by a
script says nothing of how the code came.
"""

# Between keys: a scanner sends one every few milliseconds (as fast as the browser takes
# them here); a person, 100 ms or more.
SCANNER_KEY_DELAY_MS = 0
PERSON_KEY_DELAY_MS = 120


def scan(field, code: str, *, enter: bool = True) -> None:
    """A scanner's read of ``code`` into ``field`` (a Playwright locator)."""
    field.focus()
    field.press_sequentially(code, delay=SCANNER_KEY_DELAY_MS)
    if enter:
        field.press("Enter")


def type_by_hand(field, text: str, *, enter: bool = True) -> None:
    """A person typing ``text`` into ``field`` on the keyboard."""
    field.focus()
    field.press_sequentially(text, delay=PERSON_KEY_DELAY_MS)
    if enter:
        field.press("Enter")
