"""The one check of a US mailing address (lib.us_addresses), used by patient and prescriber
records and by shipping."""

import pytest

from lib.us_addresses import (
    US_MAILING_STATES,
    US_STATES,
    address_problem_sentences,
    address_problems,
    state_problem,
    zip_code_problem,
)

GOOD = {"line1": "1 Main St", "city": "Columbus", "state": "OH", "postal_code": "43215"}
NOT_A_ZIP = " is not a ZIP code (5 digits, or 5+4 as 12345-6789)."


def test_the_codes_are_the_states_dc_the_territories_and_the_armed_forces_for_mail():
    assert len(US_STATES) == 56
    assert {"DC", "PR", "GU", "VI", "AS", "MP"} <= US_STATES
    assert US_MAILING_STATES - US_STATES == {"AA", "AE", "AP"}


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"state": " oh "},
        {"state": "AE"},
        {"state": "PR"},
        {"postal_code": "43215-1234"},
        {"postal_code": " 43215 "},
        {"line2": "", "label": "ignored"},
    ],
)
def test_a_good_address_has_no_problems(changes):
    assert address_problems({**GOOD, **changes}) == {}


@pytest.mark.parametrize(
    ("changes", "problems"),
    [
        ({"line1": "  "}, {"line1": "This field is required."}),
        ({"city": None}, {"city": "This field is required."}),
        ({"state": ""}, {"state": "This field is required."}),
        ({"state": "zz"}, {"state": "'ZZ' is not a US state or territory code."}),
        ({"postal_code": ""}, {"postal_code": "This field is required."}),
        ({"postal_code": "4321"}, {"postal_code": "'4321'" + NOT_A_ZIP}),
        ({"postal_code": "43215-12"}, {"postal_code": "'43215-12'" + NOT_A_ZIP}),
        ({"postal_code": "ABCDE"}, {"postal_code": "'ABCDE'" + NOT_A_ZIP}),
        # Digits of other scripts are not ZIP code digits.
        ({"postal_code": "٤٣٢١٥"}, {"postal_code": "'٤٣٢١٥'" + NOT_A_ZIP}),
    ],
)
def test_each_problem_is_reported_on_its_field(changes, problems):
    assert address_problems({**GOOD, **changes}) == problems


def test_every_problem_is_reported_at_once_in_field_order():
    problems = address_problems({"postal_code": "1", "state": "QQ"})

    assert problems == {
        "line1": "This field is required.",
        "city": "This field is required.",
        "state": "'QQ' is not a US state or territory code.",
        "postal_code": "'1'" + NOT_A_ZIP,
    }


def test_fields_not_required_may_be_empty_but_not_wrong():
    assert address_problems({}, required=()) == {}
    assert address_problems({"state": "QQ", "postal_code": ""}, required=()) == {
        "state": "'QQ' is not a US state or territory code."
    }


def test_the_sentences_name_a_missing_field_and_keep_the_other_problems():
    problems = address_problems({"line1": "", "city": "", "state": "", "postal_code": "12"})

    assert address_problem_sentences(problems) == [
        "The street line is missing.",
        "The city is missing.",
        "The state is missing.",
        "'12'" + NOT_A_ZIP,
    ]
    assert address_problem_sentences({}) == []


def test_a_licence_state_is_checked_against_the_jurisdictions_only():
    assert state_problem("ae") == ""
    assert state_problem("ae", allowed=US_STATES) == "'AE' is not a US state or territory code."
    assert zip_code_problem("43215") == ""
