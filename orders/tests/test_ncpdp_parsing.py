"""NCPDP SCRIPT intake parsing: NewRx and CancelRx in, Status, Error and CancelRxResponse out.

No database: the parsers are pure functions over bytes.
"""

import random
import re
import time
import xml.etree.ElementTree as ET
from datetime import date, datetime
from decimal import Decimal

import pytest

from orders.intake import MAX_MESSAGE_BYTES, Channel, IncomingAddress, IntakeError
from orders.intake.ncpdp import (
    ScriptHeader,
    build_cancel_rx_response,
    build_error,
    build_error_for,
    build_status,
    parse_cancel_rx,
    parse_new_rx,
    parse_script_message,
)
from orders.tests.erx_samples import (
    BILLION_LAUGHS,
    EXTERNAL_DTD,
    EXTERNAL_ENTITY,
    NCPDP_NAMESPACE,
    PHARMACY_NCPDP_ID,
    SENDER_ID,
    VALID_DEA,
    VALID_NPI,
    cancel_rx,
    new_rx,
    script_message,
    shared_erx_file,
)

NEW_RX_PATH = "Message/Body/NewRx"
MEDICATION_PATH = f"{NEW_RX_PATH}/MedicationPrescribed"
PRESCRIBER_IDS_PATH = f"{NEW_RX_PATH}/Prescriber/NonVeterinarian/Identification"


def refused(raw: bytes, parse=parse_new_rx) -> IntakeError:
    with pytest.raises(IntakeError) as caught:
        parse(raw)
    return caught.value


# --------------------------------------------------------------------------- shared files


def test_isotretinoin_new_rx_from_the_shared_data_parses_completely():
    path = shared_erx_file("ncpdp", "mcode_pims_NewRx_isotretinoin_2017071style.xml")
    raw = path.read_bytes()

    rx = parse_new_rx(raw)

    assert rx.message_id == "1675932112456"
    assert rx.channel == Channel.NCPDP
    assert rx.raw == raw
    patient = rx.patient
    assert (patient.first_name, patient.middle_name, patient.last_name) == ("Jon", "", "Snow")
    assert patient.date_of_birth == date(1996, 6, 1)
    assert patient.sex == "M"
    assert patient.address == IncomingAddress(
        line1="1 Winterfell Rd",
        city="Winterfell",
        state="Westeros",
        postal_code="00008",
        country="US",
    )
    prescriber = rx.prescriber
    assert (prescriber.first_name, prescriber.last_name) == ("Jane", "Doe")
    assert prescriber.npi == "1122334455"
    assert prescriber.dea_number == ""
    assert prescriber.phone == "716-873-1557"
    assert prescriber.address.city == "Buffalo"
    assert rx.drug.description == "Isotretinoin 20 MG Oral Capsule"
    assert rx.drug.ndc == "00245057101"  # 0245-0571-01 (4-4-2) as NDC11
    assert rx.drug.dea_schedule == ""
    assert rx.quantity == Decimal("90")
    assert rx.quantity_unit == "C48480"  # capsule
    assert rx.refills == 3
    assert rx.days_supply is None
    assert rx.sig_text == "20mg twice daily"
    assert rx.written_date == date(2020, 7, 11)
    assert rx.substitutions_allowed is True  # 0: no product selection indicated
    assert rx.warnings == ()


def test_malformed_shared_sample_is_refused_as_malformed_xml_with_its_position():
    path = shared_erx_file("ncpdp", "mcode_pims_NewRx_2021071_XMLSpy_sample_MALFORMED.xml")

    error = refused(path.read_bytes(), parse_script_message)

    assert error.code == "malformed_xml"
    assert error.ncpdp_code == "900"
    assert re.search(r"line 9, column \d+", error.description)
    assert error.header is None


# --------------------------------------------------------------------------- NewRx shapes


def test_new_rx_2017071_with_namespace_gives_every_field():
    raw = new_rx(schedule="C48675")

    rx = parse_new_rx(raw)

    assert rx.message_id == "NEWRX-20240301-0001"
    assert rx.prescriber_order_number == "PON-7781"
    assert rx.patient.first_name == "Ana"
    assert rx.patient.middle_name == "Maria"
    assert rx.patient.last_name == "Rivera"
    assert rx.patient.date_of_birth == date(1961, 4, 12)
    assert rx.patient.sex == "F"
    assert rx.patient.address == IncomingAddress(
        line1="418 Maple Ave",
        line2="Apt 2B",
        city="Dayton",
        state="OH",
        postal_code="45402",
        country="US",
    )
    assert rx.patient.phone == "9375550142"
    assert rx.prescriber.npi == VALID_NPI
    assert rx.prescriber.dea_number == VALID_DEA
    assert rx.prescriber.state_license == "35.123456"
    assert (rx.prescriber.phone, rx.prescriber.fax) == ("6145550100", "6145550199")
    assert rx.drug.ndc == "00071015523"
    assert rx.drug.strength == "20 mg"
    assert rx.drug.dosage_form == "C42998"
    assert rx.drug.dea_schedule == "CII"
    assert rx.quantity == Decimal("90")
    assert rx.quantity_unit == "C48542"
    assert rx.days_supply == 90
    assert rx.refills == 3
    assert rx.written_date == date(2024, 3, 1)
    assert rx.sig_text == "Take 1 tablet by mouth once daily at bedtime"
    assert rx.note == "Patient prefers easy-open caps"
    assert rx.raw == raw


@pytest.mark.parametrize("version", ["2017071", "2023011"])
@pytest.mark.parametrize("namespace", [True, False], ids=["namespace", "no-namespace"])
def test_both_versions_with_and_without_namespace_read_the_same(version, namespace):
    reference = parse_new_rx(new_rx(schedule="C48677"))

    rx = parse_new_rx(new_rx(version=version, namespace=namespace, schedule="C48677"))

    assert rx.patient == reference.patient
    assert rx.prescriber == reference.prescriber
    assert rx.drug == reference.drug
    assert (rx.quantity, rx.quantity_unit, rx.days_supply, rx.refills) == (
        reference.quantity,
        reference.quantity_unit,
        reference.days_supply,
        reference.refills,
    )
    assert (rx.written_date, rx.sig_text, rx.substitutions_allowed) == (
        reference.written_date,
        reference.sig_text,
        reference.substitutions_allowed,
    )


def test_namespace_prefixes_are_read_like_a_default_namespace():
    raw = new_rx(namespace=False).decode()
    prefixed = re.sub(r"<(/?)(\w+)", r"<\1s:\2", raw.split("?>", 1)[1]).replace(
        "<s:Message ", f'<s:Message xmlns:s="{NCPDP_NAMESPACE}" ', 1
    )

    rx = parse_new_rx(prefixed.encode())

    assert rx.patient.last_name == "Rivera"
    assert rx.drug.ndc == "00071015523"


def test_envelope_reports_type_header_and_version():
    message = parse_script_message(new_rx(version="2023011"))

    assert message.message_type == "NewRx"
    assert message.header.message_id == "NEWRX-20240301-0001"
    assert message.header.namespace == NCPDP_NAMESPACE
    assert dict(message.header.version_attributes)["TransactionVersion"] == "2023011"
    assert (message.header.to.identifier, message.header.to.qualifier) == (PHARMACY_NCPDP_ID, "P")
    assert (message.header.from_.identifier, message.header.from_.qualifier) == (SENDER_ID, "C")


@pytest.mark.parametrize(
    ("substitutions", "allowed"), [("0", True), ("1", False), ("2", True), ("8", True)]
)
def test_substitution_code_1_means_dispense_as_written(substitutions, allowed):
    assert parse_new_rx(new_rx(substitutions=substitutions)).substitutions_allowed is allowed


def test_nested_substitutions_of_later_versions_are_read():
    rx = parse_new_rx(new_rx(version="2023011", substitutions="1"))

    assert rx.substitutions_allowed is False


@pytest.mark.parametrize(
    ("code", "schedule"),
    [("C48672", "CI"), ("C48675", "CII"), ("C48676", "CIII"), ("C48677", "CIV"), ("C48679", "CV")],
)
def test_dea_schedule_nci_codes(code, schedule):
    assert parse_new_rx(new_rx(schedule=code)).drug.dea_schedule == schedule


def test_no_dea_schedule_means_none_stated():
    assert parse_new_rx(new_rx(schedule=None)).drug.dea_schedule == ""


def test_drug_without_an_ndc_is_accepted_for_a_technician_to_match():
    rx = parse_new_rx(new_rx(ndc=None))

    assert rx.drug.ndc is None
    assert rx.drug.description == "Atorvastatin 20 MG Oral Tablet"


@pytest.mark.parametrize(
    ("ndc", "ndc11"),
    [
        ("00071015523", "00071015523"),
        ("0071-0155-23", "00071015523"),
        ("12345-678-90", "12345067890"),
        ("12345-6789-0", "12345678900"),
        ("00071-0155-23", "00071015523"),
    ],
)
def test_ndc_forms_become_ndc11(ndc, ndc11):
    assert parse_new_rx(new_rx(ndc=ndc)).drug.ndc == ndc11


def test_quantity_may_be_fractional():
    rx = parse_new_rx(new_rx(quantity="22.5", unit="C28254"))

    assert (rx.quantity, rx.quantity_unit) == (Decimal("22.5"), "C28254")


def test_future_written_date_is_parsed_as_written():
    # Whether a future date is acceptable is a business rule of the intake service.
    rx = parse_new_rx(new_rx(written_date="2099-12-31"))

    assert rx.written_date == date(2099, 12, 31)


def test_written_date_may_be_a_datetime():
    raw = new_rx().replace(
        b"<WrittenDate><Date>2024-03-01</Date></WrittenDate>",
        b"<WrittenDate><DateTime>2024-03-01T09:30:00-05:00</DateTime></WrittenDate>",
    )

    assert parse_new_rx(raw).written_date == date(2024, 3, 1)


def test_missing_refills_and_days_supply_default_to_none_given():
    rx = parse_new_rx(new_rx(omit=("NumberOfRefills", "DaysSupply")))

    assert (rx.refills, rx.days_supply) == (0, None)


def test_veterinarian_may_be_identified_without_an_npi():
    rx = parse_new_rx(new_rx(prescriber_kind="Veterinarian", npi=""))

    assert (rx.prescriber.npi, rx.prescriber.dea_number) == ("", VALID_DEA)


def test_animal_patient_is_refused():
    raw = new_rx().replace(b"HumanPatient>", b"AnimalPatient>")

    error = refused(raw)

    assert error.code == "unsupported_patient"
    assert error.path == f"{NEW_RX_PATH}/Patient/AnimalPatient"


# --------------------------------------------------------------------------- NewRx refusals


@pytest.mark.parametrize(
    ("omit", "path"),
    [
        ("Patient", f"{NEW_RX_PATH}/Patient"),
        ("Prescriber", f"{NEW_RX_PATH}/Prescriber"),
        ("MedicationPrescribed", f"{NEW_RX_PATH}/MedicationPrescribed"),
        ("Quantity", f"{MEDICATION_PATH}/Quantity"),
        ("Value", f"{MEDICATION_PATH}/Quantity/Value"),
        ("DrugDescription", f"{MEDICATION_PATH}/DrugDescription"),
        ("WrittenDate", f"{MEDICATION_PATH}/WrittenDate"),
        ("Sig", f"{MEDICATION_PATH}/Sig/SigText"),
        ("DateOfBirth", f"{NEW_RX_PATH}/Patient/HumanPatient/DateOfBirth"),
        ("FirstName", f"{NEW_RX_PATH}/Patient/HumanPatient/Name/FirstName"),
        ("NPI", f"{PRESCRIBER_IDS_PATH}/NPI"),
    ],
)
def test_missing_required_element_is_refused_with_its_path(omit, path):
    error = refused(new_rx(omit=(omit,)))

    assert error.code == "missing_element"
    assert error.ncpdp_code == "900"
    assert error.path == path
    assert error.description.startswith("The message does not give ")
    assert error.header.message_id == "NEWRX-20240301-0001"


def test_missing_patient_in_later_version_names_its_path_too():
    error = refused(new_rx(version="2023011", omit=("LastName",)))

    assert error.code == "missing_element"
    assert error.path == f"{NEW_RX_PATH}/Patient/HumanPatient/Names/Name/LastName"


@pytest.mark.parametrize("npi", ["1234567890", "123456789", "12345678930", "ABCDEFGHIJ"])
def test_invalid_npi_is_refused(npi):
    error = refused(new_rx(npi=npi))

    assert error.code == "invalid_npi"
    assert error.path == f"{PRESCRIBER_IDS_PATH}/NPI"
    assert npi in error.description


@pytest.mark.parametrize("dea", ["BO1234564", "B01234563", "BO123456", "1O1234563"])
def test_invalid_dea_number_is_refused(dea):
    error = refused(new_rx(dea=dea))

    assert error.code == "invalid_dea_number"
    assert error.path == f"{PRESCRIBER_IDS_PATH}/DEANumber"


@pytest.mark.parametrize("ndc", ["0071015523", "71-155-23", "NDC00071015523", "000710155231"])
def test_unknown_ndc_format_is_refused(ndc):
    error = refused(new_rx(ndc=ndc))

    assert error.code == "invalid_ndc"
    assert error.path == f"{MEDICATION_PATH}/DrugCoded/ProductCode/Code"


def test_invalid_ndc_in_later_versions_names_its_element():
    error = refused(new_rx(version="2023011", ndc="12-34"))

    assert (error.code, error.path) == ("invalid_ndc", f"{MEDICATION_PATH}/Product/DrugCoded/NDC")


@pytest.mark.parametrize("written", ["20240301", "03/01/2024", "2024-3-1", "2024-02-30", "soon"])
def test_written_date_in_the_wrong_format_is_refused(written):
    error = refused(new_rx(written_date=written))

    assert error.code == "invalid_date"
    assert error.path == f"{MEDICATION_PATH}/WrittenDate/Date"
    assert "YYYY-MM-DD" in error.description


def test_birth_date_in_the_wrong_format_is_refused():
    error = refused(new_rx(date_of_birth="04/12/1961"))

    assert error.code == "invalid_date"
    assert error.path == f"{NEW_RX_PATH}/Patient/HumanPatient/DateOfBirth/Date"


@pytest.mark.parametrize("code", ["C48680", "CVI", "2", "C3804", "Unspecified"])
def test_unknown_dea_schedule_is_refused_not_taken_as_uncontrolled(code):
    error = refused(new_rx(schedule=code))

    assert error.code == "invalid_dea_schedule"
    assert error.path == f"{MEDICATION_PATH}/DrugCoded/DEASchedule/Code"


@pytest.mark.parametrize("quantity", ["0", "-5", "ten", "1e3", "NaN", "3,5"])
def test_quantity_that_is_not_a_positive_number_is_refused(quantity):
    error = refused(new_rx(quantity=quantity))

    assert (error.code, error.path) == ("invalid_value", f"{MEDICATION_PATH}/Quantity/Value")


@pytest.mark.parametrize(
    ("field", "value", "element"),
    [
        ("refills", "PRN", "NumberOfRefills"),
        ("refills", "100", "NumberOfRefills"),
        ("days_supply", "0", "DaysSupply"),
        ("days_supply", "30.5", "DaysSupply"),
        ("substitutions", "Y", "Substitutions"),
    ],
)
def test_invalid_counts_and_codes_are_refused(field, value, element):
    error = refused(new_rx(**{field: value}))

    assert (error.code, error.path) == ("invalid_value", f"{MEDICATION_PATH}/{element}")


# --------------------------------------------------------------------------- unsafe or not SCRIPT


@pytest.mark.parametrize("raw", [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD])
def test_entity_attacks_and_dtds_are_refused_before_expansion(raw):
    started = time.perf_counter()

    error = refused(raw, parse_script_message)

    assert error.code == "forbidden_xml"
    assert error.ncpdp_code == "900"
    assert "root:" not in error.description  # nothing of /etc/passwd
    assert time.perf_counter() - started < 0.5  # refused, not expanded


def test_oversized_body_is_refused_before_parsing():
    raw = b"<" * (MAX_MESSAGE_BYTES + 1)  # would be malformed if it were parsed

    error = refused(raw, parse_script_message)

    assert error.code == "too_large"
    assert "1,048,576" in error.description


def test_body_of_exactly_the_limit_is_parsed():
    raw = new_rx()
    raw += b" " * (MAX_MESSAGE_BYTES - len(raw))

    assert parse_new_rx(raw).message_id == "NEWRX-20240301-0001"


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"   \n",
        b"hello",
        b'{"resourceType": "MedicationRequest"}',
        b"<Message>",
        b"\xff\xfe\x00",
    ],
)
def test_text_that_is_not_xml_is_refused_as_malformed(raw):
    error = refused(raw, parse_script_message)

    assert error.code == "malformed_xml"


def test_unknown_encoding_declaration_is_refused_as_malformed():
    error = refused(b'<?xml version="1.0" encoding="x-martian"?><Message/>', parse_script_message)

    assert error.code == "malformed_xml"


def test_wrong_root_element_is_refused():
    error = refused(b"<Prescription><Header/></Prescription>", parse_script_message)

    assert (error.code, error.path) == ("wrong_root", "Prescription")


def test_message_without_header_or_message_id_is_refused():
    assert refused(b"<Message><Body><NewRx/></Body></Message>").path == "Message/Header"
    error = refused(b"<Message><Header/><Body><NewRx/></Body></Message>")
    assert (error.code, error.path) == ("missing_element", "Message/Header/MessageID")


def test_empty_body_is_refused():
    error = refused(b"<Message><Header><MessageID>M1</MessageID></Header><Body/></Message>")

    assert (error.code, error.path) == ("missing_element", "Message/Body")
    assert error.header.message_id == "M1"


def test_other_message_types_are_unsupported_and_keep_the_header_for_the_reply():
    raw = script_message("<RxRenewalRequest><Patient/></RxRenewalRequest>", message_id="RR-1")

    error = refused(raw, parse_script_message)

    assert error.code == "unsupported_message_type"
    assert error.ncpdp_code == "601"
    assert "RxRenewalRequest" in error.description
    assert error.header.message_id == "RR-1"


def test_new_rx_parser_refuses_a_cancel_rx():
    error = refused(cancel_rx())

    assert error.code == "unsupported_message_type"
    assert error.description == "This is a CancelRx message, not a NewRx."


def test_truncated_messages_are_always_refused_cleanly():
    raw = new_rx()

    for end in range(0, len(raw) - 1, 11):
        with pytest.raises(IntakeError):
            parse_new_rx(raw[:end])


def test_damaged_messages_never_raise_anything_but_an_intake_error():
    raw = new_rx()
    randomness = random.Random(20240301)

    for _ in range(400):
        damaged = bytearray(raw)
        for _ in range(randomness.randint(1, 4)):
            damaged[randomness.randrange(len(damaged))] = randomness.randrange(256)
        try:
            parse_new_rx(bytes(damaged))
        except IntakeError:
            pass


def test_every_element_left_out_gives_a_prescription_or_an_intake_error():
    tags = {element.tag.split("}")[-1] for element in ET.fromstring(new_rx()).iter()}

    codes = {}
    for tag in sorted(tags - {"Message"}):
        try:
            parse_new_rx(new_rx(omit=(tag,)))
        except IntakeError as error:
            codes[tag] = error.code

    assert set(codes.values()) == {"missing_element"}
    assert "Patient" in codes
    assert "Note" not in codes


# --------------------------------------------------------------------------- CancelRx


def test_cancel_rx_parses():
    raw = cancel_rx()

    cancel = parse_cancel_rx(raw)

    assert cancel.message_id == "CANCELRX-20240305-0001"
    assert cancel.relates_to_message_id == "NEWRX-20240301-0001"
    assert cancel.prescriber_order_number == "PON-7781"
    assert (cancel.patient.last_name, cancel.patient.date_of_birth) == ("Rivera", date(1961, 4, 12))
    assert cancel.prescriber.npi == VALID_NPI
    assert cancel.drug_description == "Atorvastatin 20 MG Oral Tablet"
    assert cancel.reason == "Therapy changed: patient to start rosuvastatin"
    assert cancel.raw == raw


def test_cancel_rx_without_namespace_and_without_reason_parses():
    cancel = parse_cancel_rx(cancel_rx(namespace=False, reason=""))

    assert (cancel.reason, cancel.prescriber_order_number) == ("", "PON-7781")


def test_cancel_rx_naming_no_prescription_is_refused():
    error = refused(cancel_rx(relates_to="", prescriber_order_number=""), parse_cancel_rx)

    assert (error.code, error.path) == ("missing_element", "Message/Header/PrescriberOrderNumber")


def test_cancel_rx_with_invalid_npi_is_refused():
    error = refused(cancel_rx(npi="1234567890"), parse_cancel_rx)

    assert error.code == "invalid_npi"
    assert error.header.message_id == "CANCELRX-20240305-0001"


def test_cancel_rx_parser_refuses_a_new_rx():
    assert refused(new_rx(), parse_cancel_rx).code == "unsupported_message_type"


# --------------------------------------------------------------------------- replies


def read_reply(reply: bytes) -> tuple[ET.Element, str]:
    """The reply's root with namespaces stripped, and its namespace."""
    assert reply.startswith(b"<?xml")
    root = ET.fromstring(reply)  # our own output: stdlib is fine
    namespace = root.tag[1:].split("}")[0] if root.tag.startswith("{") else ""
    for element in root.iter():
        element.tag = element.tag.split("}")[-1]
    return root, namespace


def assert_fresh_header(root: ET.Element, relates_to: str | None) -> None:
    message_id = root.findtext("Header/MessageID")
    assert re.fullmatch(r"[0-9a-f]{32}", message_id)
    assert message_id != relates_to
    assert root.findtext("Header/RelatesToMessageID") == relates_to
    sent = root.findtext("Header/SentTime")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", sent)
    assert abs((datetime.fromisoformat(sent) - datetime.now().astimezone()).total_seconds()) < 60


def test_status_answers_the_request_with_to_and_from_swapped():
    request = parse_script_message(new_rx()).header

    root, namespace = read_reply(build_status(request))

    assert namespace == NCPDP_NAMESPACE
    assert root.get("TransactionVersion") == "2017071"
    assert (root.findtext("Header/To"), root.find("Header/To").get("Qualifier")) == (SENDER_ID, "C")
    assert (root.findtext("Header/From"), root.find("Header/From").get("Qualifier")) == (
        PHARMACY_NCPDP_ID,
        "P",
    )
    assert_fresh_header(root, "NEWRX-20240301-0001")
    assert root.findtext("Body/Status/Code") == "000"
    assert root.find("Body/Status/Description") is None


def test_status_follows_the_requests_namespace_and_version():
    request = parse_script_message(new_rx(version="2023011", namespace=False)).header

    root, namespace = read_reply(build_status(request, code="010", description="Queued"))

    assert namespace == ""
    assert root.get("TransactionVersion") == "2023011"
    assert (root.findtext("Body/Status/Code"), root.findtext("Body/Status/Description")) == (
        "010",
        "Queued",
    )


def test_each_reply_has_its_own_message_id():
    first, _ = read_reply(build_status("M-1"))
    second, _ = read_reply(build_status("M-1"))

    assert first.findtext("Header/MessageID") != second.findtext("Header/MessageID")


def test_error_reply_to_an_unreadable_message_relates_to_nothing():
    root, namespace = read_reply(build_error(None, code="900", description="Not XML."))

    assert namespace == NCPDP_NAMESPACE
    assert_fresh_header(root, None)
    assert root.find("Header/To") is None
    assert root.findtext("Body/Error/Code") == "900"
    assert root.findtext("Body/Error/Description") == "Not XML."


def test_error_reply_escapes_text_and_drops_characters_xml_cannot_carry():
    description = 'Bad <Value> & "quotes"\x00\x1f'

    root, _ = read_reply(
        build_error("M-<1>", code="900", description=description, description_code="1000")
    )

    assert root.findtext("Header/RelatesToMessageID") == "M-<1>"
    assert root.findtext("Body/Error/DescriptionCode") == "1000"
    assert root.findtext("Body/Error/Description") == 'Bad <Value> & "quotes"'


def test_error_reply_for_a_refusal_carries_code_description_and_path():
    error = refused(new_rx(omit=("Patient",)))

    root, _ = read_reply(build_error_for(error))

    assert root.findtext("Header/To") == SENDER_ID
    assert_fresh_header(root, "NEWRX-20240301-0001")
    assert root.findtext("Body/Error/Code") == "900"
    assert root.findtext("Body/Error/Description") == (
        "The message does not give the patient. (element Message/Body/NewRx/Patient)"
    )


def test_error_reply_for_an_unsupported_type_says_601():
    error = refused(script_message("<RxFill/>", message_id="F-9"), parse_script_message)

    root, _ = read_reply(build_error_for(error))

    assert root.findtext("Body/Error/Code") == "601"
    assert root.findtext("Header/RelatesToMessageID") == "F-9"


def test_cancel_rx_response_approved_echoes_the_order_numbers():
    request = parse_script_message(cancel_rx()).header

    root, _ = read_reply(build_cancel_rx_response(request, approved=True, reason=""))

    assert_fresh_header(root, "CANCELRX-20240305-0001")
    assert root.findtext("Header/PrescriberOrderNumber") == "PON-7781"
    assert root.findtext("Header/To") == SENDER_ID
    response = root.find("Body/CancelRxResponse/Response")
    assert [child.tag for child in response] == ["Approved"]
    assert len(response.find("Approved")) == 0


def test_cancel_rx_response_denied_gives_the_reason():
    request = parse_script_message(cancel_rx()).header

    reply = build_cancel_rx_response(
        request, approved=False, reason="Prescription already shipped on 2024-03-04"
    )

    root, _ = read_reply(reply)
    response = root.find("Body/CancelRxResponse/Response")
    assert [child.tag for child in response] == ["Denied"]
    assert response.findtext("Denied/DenialReason") == "Prescription already shipped on 2024-03-04"


def test_cancel_rx_response_denied_without_a_reason_is_a_programming_error():
    with pytest.raises(ValueError, match="needs a reason"):
        build_cancel_rx_response("C-1", approved=False, reason=" ")


def test_our_replies_read_back_through_our_own_envelope_parser():
    request = parse_script_message(new_rx()).header

    for reply, kind in [
        (build_status(request), "Status"),
        (build_error(request, code="900", description="x"), "Error"),
        (build_cancel_rx_response(request, approved=True, reason="ok"), "CancelRxResponse"),
    ]:
        error = refused(reply, parse_script_message)
        assert error.code == "unsupported_message_type"
        assert error.header.relates_to_message_id == "NEWRX-20240301-0001"
        assert error.header.to == request.from_
        assert kind in error.description


def test_reply_accepts_a_bare_header():
    root, _ = read_reply(build_status(ScriptHeader(message_id="ONLY-ID")))

    assert root.findtext("Header/RelatesToMessageID") == "ONLY-ID"
    assert root.find("Header/To") is None


# --------------------------------------------------------------------------- speed
