"""FHIR R4 intake parsing: MedicationRequest (contained or in a Bundle) in, OperationOutcome
for refusals. No database."""

import copy
import json
from datetime import date
from decimal import Decimal

import pytest

from orders.intake import MAX_MESSAGE_BYTES, Channel, IncomingAddress, IntakeError
from orders.intake.fhir import (
    INTAKE_ERROR_SYSTEM,
    operation_outcome,
    parse_fhir_json,
    parse_medication_request,
)
from orders.tests.erx_samples import (
    VALID_DEA,
    VALID_NPI,
    fhir_bundle,
    fhir_medication,
    fhir_medication_request,
    fhir_patient,
    fhir_practitioner,
    shared_erx_file,
)


def refused(document) -> IntakeError:
    with pytest.raises(IntakeError) as caught:
        parse_medication_request(document)
    return caught.value


def shared_document(name: str) -> tuple[dict, bytes]:
    raw = shared_erx_file("fhir", name).read_bytes()
    return json.loads(raw), raw


# --------------------------------------------------------------------------- shared files


def test_oxycodone_example_with_contained_medication_parses_with_warnings():
    document, raw = shared_document("medicationrequest0301.json")

    rx = parse_fhir_json(raw)

    assert rx.channel == Channel.FHIR
    assert rx.raw == raw
    assert rx.message_id == "medrx0301"
    assert rx.prescriber_order_number == "12345689"
    assert rx.drug.description == "Oral Form Oxycodone (product)"
    assert rx.drug.ndc is None
    assert rx.sig_text == "one to two tablets every 4-6 hours as needed for rib pain"
    assert (rx.quantity, rx.quantity_unit) == (Decimal("30"), "TAB")
    assert (rx.days_supply, rx.refills) == (10, 0)
    assert rx.written_date == date(2015, 1, 15)
    assert rx.substitutions_allowed is True
    assert rx.note == "Patient told to take with food"
    # Patient/pat1 and Practitioner/f007 are not in the document: names from display only.
    assert (rx.patient.first_name, rx.patient.last_name) == ("Donald", "Duck")
    assert rx.patient.date_of_birth is None
    assert (rx.prescriber.first_name, rx.prescriber.last_name, rx.prescriber.npi) == (
        "Patrick",
        "Pump",
        "",
    )
    assert len(rx.warnings) == 2
    assert "'Donald Duck'" in rx.warnings[0]
    assert "'Patrick Pump'" in rx.warnings[1]


def test_chlorthalidone_example_parses():
    document, _ = shared_document("medicationrequestexample1.json")

    rx = parse_medication_request(document)

    assert rx.drug.description == "Chlorthalidone 50mg tablet (product)"
    assert rx.drug.dosage_form == "Tablet dose form (qualifier value)"
    assert (rx.quantity, rx.days_supply, rx.refills) == (Decimal("30"), 30, 1)
    assert rx.sig_text == "One tablet daily"
    assert rx.raw == json.dumps(document, default=str).encode()


def test_medication_reference_example_without_quantity_is_refused():
    document, _ = shared_document("medicationrequestexample2.json")

    error = refused(document)

    assert error.code == "missing_element"
    assert error.path == "MedicationRequest.dispenseRequest.quantity"


def test_medication_reference_example_with_a_quantity_keeps_only_the_display_name():
    document, _ = shared_document("medicationrequestexample2.json")
    document["dispenseRequest"] = {"quantity": {"value": 30, "unit": "TAB"}}

    rx = parse_medication_request(document)

    assert rx.drug.description == "prescribed medication"
    assert rx.drug.ndc is None
    assert rx.written_date == date(2015, 3, 1)
    assert rx.sig_text == "Take one tablet daily as directed"
    assert len(rx.warnings) == 3
    assert "'prescribed medication'" in rx.warnings[2]


# --------------------------------------------------------------------------- accepted shapes


def test_medication_request_with_contained_resources_gives_every_field():
    rx = parse_medication_request(fhir_medication_request())

    assert rx.message_id == "rx-20240301-0001"
    assert rx.prescriber_order_number == "PON-7781"  # the official identifier
    patient = rx.patient
    assert (patient.first_name, patient.middle_name, patient.last_name) == (
        "Ana",
        "Maria",
        "Rivera",
    )
    assert patient.date_of_birth == date(1961, 4, 12)
    assert patient.sex == "F"
    assert patient.phone == "937-555-0142"
    assert patient.address == IncomingAddress(
        line1="418 Maple Ave",
        line2="Apt 2B",
        city="Dayton",
        state="OH",
        postal_code="45402",
        country="US",
    )
    prescriber = rx.prescriber
    assert (prescriber.first_name, prescriber.last_name) == ("Chidi", "Okafor")
    assert (prescriber.npi, prescriber.dea_number) == (VALID_NPI, VALID_DEA)
    assert (prescriber.phone, prescriber.fax) == ("614-555-0100", "614-555-0199")
    assert rx.drug.description == "Atorvastatin 20 MG Oral Tablet"
    assert rx.drug.ndc == "00071015523"  # 0071-0155-23 as NDC11
    assert (rx.drug.strength, rx.drug.dosage_form, rx.drug.dea_schedule) == ("20 mg", "Tablet", "")
    assert (rx.quantity, rx.quantity_unit) == (Decimal("90"), "TAB")
    assert (rx.days_supply, rx.refills) == (90, 3)
    assert rx.written_date == date(2024, 3, 1)
    assert rx.sig_text == "Take 1 tablet by mouth once daily at bedtime"
    assert rx.substitutions_allowed is True
    assert rx.note == "Patient prefers easy-open caps"
    assert rx.warnings == ()


@pytest.mark.parametrize("style", ["uuid", "relative"])
def test_bundle_references_are_resolved(style):
    contained = parse_medication_request(fhir_medication_request())

    rx = parse_medication_request(fhir_bundle(style=style))

    assert rx.message_id == "MSG-FHIR-0001"  # the Bundle's identifier
    assert rx.patient == contained.patient
    assert rx.prescriber == contained.prescriber
    assert rx.drug == contained.drug
    assert rx.warnings == ()


def test_bundle_reference_by_absolute_url_is_resolved():
    bundle = fhir_bundle(style="relative")
    bundle["entry"][0]["resource"]["subject"]["reference"] = (
        "https://ehr.example.org/fhir/Patient/pat1"
    )

    assert parse_medication_request(bundle).patient.last_name == "Rivera"


def test_bundle_may_mix_contained_and_bundled_resources():
    request = fhir_medication_request(
        subject="Patient/pat1", requester="Practitioner/prac1", contained=(fhir_medication(),)
    )

    rx = parse_medication_request(fhir_bundle(style="relative", request=request))

    assert (rx.patient.last_name, rx.prescriber.npi, rx.drug.ndc) == (
        "Rivera",
        VALID_NPI,
        "00071015523",
    )


def test_medication_codeable_concept_is_read():
    request = fhir_medication_request(contained=(fhir_patient(), fhir_practitioner()))
    del request["medicationReference"]
    request["medicationCodeableConcept"] = {
        "coding": [
            {"system": "http://hl7.org/fhir/sid/ndc", "code": "00071015523", "display": "Lipitor"}
        ]
    }

    rx = parse_medication_request(request)

    assert (rx.drug.description, rx.drug.ndc) == ("Lipitor", "00071015523")


def test_practitioner_role_requester_leads_to_its_practitioner():
    role = {
        "resourceType": "PractitionerRole",
        "id": "role1",
        "practitioner": {"reference": "#prac1"},
        "telecom": [{"system": "phone", "value": "614-555-0123"}],
    }
    request = fhir_medication_request(
        requester="#role1",
        contained=(fhir_patient(), fhir_practitioner(), fhir_medication(), role),
    )

    rx = parse_medication_request(request)

    assert (rx.prescriber.npi, rx.prescriber.phone, rx.prescriber.fax) == (
        VALID_NPI,
        "614-555-0123",
        "",
    )


def test_dea_number_by_identifier_type_is_read():
    practitioner = fhir_practitioner(dea="")
    practitioner["identifier"].append(
        {"type": {"coding": [{"code": "DEA"}]}, "value": VALID_DEA.lower()}
    )
    request = fhir_medication_request(contained=(fhir_patient(), practitioner, fhir_medication()))

    assert parse_medication_request(request).prescriber.dea_number == VALID_DEA


def test_dosage_instructions_are_joined_in_sequence_order():
    request = fhir_medication_request()
    request["dosageInstruction"] = [
        {"sequence": 2, "text": "then 1 tablet daily"},
        {"sequence": 1, "patientInstruction": "Take 2 tablets on day 1"},
    ]

    assert parse_medication_request(request).sig_text == (
        "Take 2 tablets on day 1; then 1 tablet daily"
    )


def test_supply_duration_in_weeks_is_days():
    request = fhir_medication_request()
    request["dispenseRequest"]["expectedSupplyDuration"] = {"value": 4, "code": "wk"}

    assert parse_medication_request(request).days_supply == 28


def test_substitution_not_allowed():
    request = fhir_medication_request()
    request["substitution"] = {"allowedBoolean": False}
    coded = fhir_medication_request()
    coded["substitution"] = {"allowedCodeableConcept": {"coding": [{"code": "N"}]}}

    assert parse_medication_request(request).substitutions_allowed is False
    assert parse_medication_request(coded).substitutions_allowed is False


def test_authored_on_as_datetime_keeps_the_date_as_written():
    rx = parse_medication_request(fhir_medication_request(authored_on="2024-03-01T23:30:00-05:00"))

    assert rx.written_date == date(2024, 3, 1)


def test_future_authored_on_is_parsed():
    assert parse_medication_request(
        fhir_medication_request(authored_on="2099-01-01")
    ).written_date == date(2099, 1, 1)


def test_json_decimals_stay_exact():
    raw = json.dumps(fhir_medication_request(quantity=0.1)).encode()

    assert parse_fhir_json(raw).quantity == Decimal("0.1")


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    "document",
    [
        {"resourceType": "Patient", "id": "pat1"},
        {"resourceType": "MedicationStatement"},
        {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": fhir_patient()}]},
        {"resourceType": "Bundle", "type": "collection"},
        {"status": "active"},
        ["MedicationRequest"],
        "MedicationRequest",
        None,
    ],
    ids=[
        "patient",
        "statement",
        "bundle-no-request",
        "empty-bundle",
        "no-type",
        "list",
        "str",
        "null",
    ],
)
def test_fhir_that_is_not_a_medication_request_is_refused(document):
    error = refused(document)

    assert error.code == "unsupported_resource"
    assert "MedicationRequest" in error.description


def test_bundle_with_two_medication_requests_is_refused():
    bundle = fhir_bundle()
    bundle["entry"].append(copy.deepcopy(bundle["entry"][0]))

    error = refused(bundle)

    assert (error.code, error.path) == ("invalid_value", "Bundle.entry")


def remove(document: dict, dotted: str) -> dict:
    *parents, key = dotted.split(".")
    owner = document
    for parent in parents:
        owner = owner[int(parent)] if parent.isdigit() else owner[parent]
    del owner[key]
    return document


@pytest.mark.parametrize(
    ("missing", "path"),
    [
        ("subject", "MedicationRequest.subject"),
        ("requester", "MedicationRequest.requester"),
        ("medicationReference", "MedicationRequest.medication[x]"),
        ("authoredOn", "MedicationRequest.authoredOn"),
        ("dosageInstruction", "MedicationRequest.dosageInstruction"),
        ("dispenseRequest.quantity", "MedicationRequest.dispenseRequest.quantity"),
        ("contained.0.birthDate", "MedicationRequest.contained[0].birthDate"),
        ("contained.0.name", "MedicationRequest.contained[0].name"),
        ("contained.1.identifier", "MedicationRequest.contained[1].identifier"),
        ("contained.2.code", "MedicationRequest.contained[2].code"),
    ],
)
def test_missing_element_is_refused_with_its_path(missing, path):
    error = refused(remove(fhir_medication_request(), missing))

    assert (error.code, error.path) == ("missing_element", path)


def test_missing_patient_in_a_bundle_names_the_entry():
    bundle = fhir_bundle()
    del bundle["entry"][1]["resource"]["birthDate"]

    error = refused(bundle)

    assert (error.code, error.path) == ("missing_element", "Bundle.entry[1].resource.birthDate")


def test_reference_to_a_resource_not_included_and_without_display_is_refused():
    error = refused(fhir_medication_request(subject="Patient/nowhere"))

    assert error.code == "unresolved_reference"
    assert error.path == "MedicationRequest.subject"
    assert "'Patient/nowhere'" in error.description


def test_reference_to_the_wrong_kind_of_resource_is_refused():
    error = refused(fhir_medication_request(subject="#prac1"))

    assert (error.code, error.path) == ("invalid_value", "MedicationRequest.subject")


@pytest.mark.parametrize("npi", ["1234567890", "12345", "", "abcdefghij"])
def test_invalid_npi_is_refused(npi):
    request = fhir_medication_request(
        contained=(fhir_patient(), fhir_practitioner(npi=npi), fhir_medication())
    )

    error = refused(request)

    assert error.code == "invalid_npi"
    assert error.path == "MedicationRequest.contained[1].identifier[0].value"


def test_invalid_dea_number_is_refused():
    request = fhir_medication_request(
        contained=(fhir_patient(), fhir_practitioner(dea="BO1234560"), fhir_medication())
    )

    error = refused(request)

    assert (error.code, error.path) == (
        "invalid_dea_number",
        "MedicationRequest.contained[1].identifier[1].value",
    )


@pytest.mark.parametrize("ndc", ["0071015523", "71-155-23", "", "NDC 0071-0155-23"])
def test_unknown_ndc_format_is_refused(ndc):
    request = fhir_medication_request(
        contained=(fhir_patient(), fhir_practitioner(), fhir_medication(ndc=ndc))
    )

    error = refused(request)

    assert (error.code, error.path) == (
        "invalid_ndc",
        "MedicationRequest.contained[2].code.coding[1].code",
    )


@pytest.mark.parametrize("authored_on", ["01/15/2015", "2015-01", "20150115", "2015-13-01"])
def test_authored_on_in_the_wrong_format_is_refused(authored_on):
    error = refused(fhir_medication_request(authored_on=authored_on))

    assert (error.code, error.path) == ("invalid_date", "MedicationRequest.authoredOn")


@pytest.mark.parametrize("birth_date", ["1961", "1961-04", "12/04/1961"])
def test_partial_or_foreign_birth_date_is_refused(birth_date):
    request = fhir_medication_request(
        contained=(fhir_patient(birth_date=birth_date), fhir_practitioner(), fhir_medication())
    )

    error = refused(request)

    assert (error.code, error.path) == ("invalid_date", "MedicationRequest.contained[0].birthDate")


@pytest.mark.parametrize(
    ("key", "value"), [("status", "cancelled"), ("status", "draft"), ("intent", "proposal")]
)
def test_request_that_is_not_an_active_order_is_refused(key, value):
    request = fhir_medication_request()
    request[key] = value

    error = refused(request)

    assert (error.code, error.path) == ("invalid_value", f"MedicationRequest.{key}")


@pytest.mark.parametrize("quantity", [0, -30, "30", True, None])
def test_quantity_that_is_not_a_positive_number_is_refused(quantity):
    error = refused(fhir_medication_request(quantity=quantity))

    assert error.code == ("missing_element" if quantity is None else "invalid_value")


@pytest.mark.parametrize("repeats", [-1, 1.5, "2", True, 100])
def test_invalid_number_of_repeats_is_refused(repeats):
    error = refused(fhir_medication_request(repeats=repeats))

    assert (error.code, error.path) == (
        "invalid_value",
        "MedicationRequest.dispenseRequest.numberOfRepeatsAllowed",
    )


@pytest.mark.parametrize(("value", "code"), [(1, "mo"), (7.5, "d"), (0, "d")])
def test_supply_duration_that_is_not_whole_days_or_weeks_is_refused(value, code):
    request = fhir_medication_request()
    request["dispenseRequest"]["expectedSupplyDuration"] = {"value": value, "code": code}

    assert refused(request).code == "invalid_value"


def test_values_of_the_wrong_json_type_never_escape_as_other_exceptions():
    strange_values = [None, 0, 1.5, "", "x", [], {}, [None], {"reference": 3}, True]
    outcomes = set()

    for key in fhir_medication_request():
        for value in strange_values:
            request = fhir_medication_request()
            request[key] = value
            try:
                parse_medication_request(request)
                outcomes.add("parsed")
            except IntakeError as error:
                outcomes.add(error.code)

    assert "parsed" in outcomes  # e.g. a note that is not a list is ignored
    assert "missing_element" in outcomes


def every_path(value, path=()):
    """Every key and list position inside a JSON value, as tuples of steps."""
    steps = value.items() if isinstance(value, dict) else enumerate(value)
    for step, child in steps:
        yield (*path, step)
        if isinstance(child, dict | list):
            yield from every_path(child, (*path, step))


@pytest.mark.parametrize(
    "document", [fhir_medication_request(), fhir_bundle()], ids=["mr", "bundle"]
)
def test_any_value_anywhere_of_the_wrong_json_type_gives_an_intake_error_at_worst(document):
    strange_values = [None, 0, -1, 1.5, "", "x", [], {}, [None], True]
    checked = 0

    for path in every_path(document):
        for value in strange_values:
            damaged = copy.deepcopy(document)
            owner = damaged
            for step in path[:-1]:
                owner = owner[step]
            owner[path[-1]] = value
            try:
                parse_medication_request(damaged)
            except IntakeError:
                pass
            checked += 1

    assert checked > 500


# --------------------------------------------------------------------------- JSON body


def test_malformed_json_is_refused():
    for raw in [b"", b"{", b"<MedicationRequest/>", b"\xff\xfe", b"[" * 100_000]:
        with pytest.raises(IntakeError) as caught:
            parse_fhir_json(raw)
        assert caught.value.code == "malformed_json"


def test_oversized_json_is_refused_before_parsing():
    with pytest.raises(IntakeError) as caught:
        parse_fhir_json(b"{" * (MAX_MESSAGE_BYTES + 1))

    assert caught.value.code == "too_large"


# --------------------------------------------------------------------------- OperationOutcome


def test_operation_outcome_has_one_issue_per_error():
    errors = [
        IntakeError("missing_element", "The message does not give the patient.", path="X.subject"),
        IntakeError("invalid_npi", "The prescriber NPI '1' is not valid."),
        IntakeError("unsupported_resource", "A Patient is not a prescription."),
    ]

    outcome = operation_outcome(errors)

    assert outcome == {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "error",
                "code": "required",
                "details": {
                    "coding": [{"system": INTAKE_ERROR_SYSTEM, "code": "missing_element"}],
                    "text": "The message does not give the patient.",
                },
                "expression": ["X.subject"],
            },
            {
                "severity": "error",
                "code": "value",
                "details": {
                    "coding": [{"system": INTAKE_ERROR_SYSTEM, "code": "invalid_npi"}],
                    "text": "The prescriber NPI '1' is not valid.",
                },
            },
            {
                "severity": "error",
                "code": "not-supported",
                "details": {
                    "coding": [{"system": INTAKE_ERROR_SYSTEM, "code": "unsupported_resource"}],
                    "text": "A Patient is not a prescription.",
                },
            },
        ],
    }
    json.dumps(outcome)  # serialisable as it stands


def test_operation_outcome_of_a_real_refusal():
    error = refused({"resourceType": "Patient"})

    outcome = operation_outcome([error])

    assert outcome["issue"][0]["details"]["coding"][0]["code"] == "unsupported_resource"
    assert outcome["issue"][0]["expression"] == ["Patient"]
