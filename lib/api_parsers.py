"""The API's request body parsers (settings ``DEFAULT_PARSER_CLASSES``): DRF's, refusing
with a 400 what no field can hold, before a view sees it.

- JSON nested deeper than ``MAX_JSON_DEPTH`` (Python's decoder would run out of stack at
  about a thousand levels; no request of ours is deeper than a dozen).
- Text with a NUL character (PostgreSQL text cannot hold U+0000) or a lone UTF-16
  surrogate (not encodable as UTF-8), in any key or value, JSON or form.
"""

import re

from rest_framework import parsers
from rest_framework.exceptions import ParseError

MAX_JSON_DEPTH = 64
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable_text_problem(data, *, max_depth: int = MAX_JSON_DEPTH) -> str:
    """What makes parsed data unfit to store (too deep, a NUL, a lone surrogate), or "".
    Walks the data without recursion, so depth itself cannot exhaust the stack."""
    pending = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if depth > max_depth:
            return f"The body is nested more than {max_depth} levels deep."
        if isinstance(value, str):
            if found := _UNSTORABLE.search(value):
                if found.group() == "\x00":
                    return "The body contains a NUL character (\\u0000), which no field can hold."
                return "The body contains a lone UTF-16 surrogate, which is not valid Unicode."
        elif hasattr(value, "lists"):  # a form's QueryDict: every value of every key
            for key, items in value.lists():
                pending.append((key, depth + 1))
                pending.extend((item, depth + 1) for item in items)
        elif isinstance(value, dict):
            pending.extend((key, depth + 1) for key in value)
            pending.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list | tuple):
            pending.extend((item, depth + 1) for item in value)
    return ""


def _checked(data):
    if problem := unstorable_text_problem(data):
        raise ParseError(problem)
    return data


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser; a body nested too deep for the decoder is a 400, not a crash."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(
                f"The body is nested more than {MAX_JSON_DEPTH} levels deep."
            ) from None
        return _checked(data)


class FormParser(parsers.FormParser):
    def parse(self, stream, media_type=None, parser_context=None):
        return _checked(super().parse(stream, media_type, parser_context))


class MultiPartParser(parsers.MultiPartParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parsed = super().parse(stream, media_type, parser_context)
        _checked(parsed.data)
        return parsed
