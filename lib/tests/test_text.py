"""The one rule for text we store (lib.text): no control character and no invisible
text-direction character, and no line break in a name."""

import pytest
from django.core.exceptions import ValidationError

from lib.text import text_errors, text_problem, validate_free_text, validate_one_line_text

DIRECTION = [0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069]
DIRECTION += [0x200E, 0x200F, 0x061C]


@pytest.mark.parametrize("code", DIRECTION)
@pytest.mark.parametrize("line_breaks", [False, True])
def test_every_direction_control_is_refused_in_names_and_free_text(code, line_breaks):
    assert text_problem(f"Ada{chr(code)} Lovelace", line_breaks=line_breaks) == (
        f"contains an invisible text-direction character (U+{code:04X}), which can make it "
        "display differently from what is stored; remove it"
    )


@pytest.mark.parametrize("code", [0x00, 0x07, 0x1B, 0x1F, 0x7F, 0x80, 0x85, 0x9F])
@pytest.mark.parametrize("line_breaks", [False, True])
def test_c0_and_c1_controls_are_refused_in_names_and_free_text(code, line_breaks):
    assert text_problem(f"Ada{chr(code)}", line_breaks=line_breaks) == (
        f"contains a control character (U+{code:04X}), which cannot be shown or printed; remove it"
    )


@pytest.mark.parametrize("character", ["\t", "\n", "\r", "\u2028", "\u2029"])
def test_line_breaks_belong_to_free_text_only(character):
    assert text_problem(f"Take 1 tablet{character}daily", line_breaks=True) is None
    assert text_problem(f"Ada{character}Lovelace") == (
        f"contains a line break or tab (U+{ord(character):04X}) but must be one line"
    )


@pytest.mark.parametrize(
    "text",
    ["Ada Lovelace", "O'Brien-Núñez", "José", "محمد", "אברהם", "李小龙", "Zoë", "\u200dज़", ""],
)
def test_names_in_any_script_are_kept(text):
    assert text_problem(text) is None


def test_text_errors_name_each_field_and_skip_what_is_not_text():
    errors = text_errors(
        {"first_name": "Ada\u202e", "note": "line one\nline two", "last_name": "Ok", "born": None},
        free_text=["note"],
        prefix="patient.",
    )

    assert errors == {
        "patient.first_name": "Contains an invisible text-direction character (U+202E), which "
        "can make it display differently from what is stored; remove it."
    }


def test_surrounding_spaces_are_not_checked_they_are_not_stored():
    assert text_errors({"last_name": " Lovelace\n"}) == {}
    # Python's str.strip() would drop these: they are stored, so checked.
    assert list(text_errors({"a": "Lovelace\x85", "b": "\x1fLovelace"})) == ["a", "b"]


def test_the_validators_of_forms_and_serializers_say_the_same():
    with pytest.raises(ValidationError) as refused:
        validate_one_line_text("Ada\nLovelace")
    assert refused.value.messages == ["Contains a line break or tab (U+000A) but must be one line."]
    assert refused.value.code == "invalid_text"
    validate_free_text("Take 1 tablet\ndaily")
    with pytest.raises(ValidationError):
        validate_free_text("Take\u202e 1")
