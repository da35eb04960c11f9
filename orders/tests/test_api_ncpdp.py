"""POST /api/v1/erx/ncpdp/ as an e-prescribing network calls it: SCRIPT XML in, SCRIPT out.

Every refused message is answered with a SCRIPT Error and leaves every table as it was.
"""

import logging
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from django.utils import timezone

from inventory.models import DEASchedule, PharmacologicClass
from inventory.tests.factories import (
    PackageFactory,
    PharmacologicClassFactory,
    ProductFactory,
    ProductIngredientFactory,
)
from orders.models import DurAlert, Fill, FillEvent, IntakeIssue, Order, Prescription
from orders.tests.erx_samples import (
    BILLION_LAUGHS,
    EXTERNAL_DTD,
    EXTERNAL_ENTITY,
    VALID_DEA,
    VALID_NPI,
    cancel_rx,
    new_rx,
    script_message,
)
from pharmacy.drug_checks import import_curated_interactions, invalidate_interaction_index
from pharmacy.identifiers import npi_with_check_digit
from pharmacy.models import AuditEvent, Patient, PatientAddress, Prescriber
from pharmacy.services import create_api_token
from pharmacy.tests.factories import AllergyFactory, PatientFactory, PrescriberFactory

URL = "/api/v1/erx/ncpdp/"
NS = {"s": "http://www.ncpdp.org/schema/SCRIPT"}
ATORVASTATIN_NDC = "00071015523"
OXYCODONE_NDC = "59011041010"
ALPRAZOLAM_NDC = "00009005501"
AMOXICILLIN_NDC = "00093310905"
WARFARIN_NDC = "00056017270"
ASPIRIN_NDC = "70000008101"

MODELS = (
    Prescription,
    Fill,
    FillEvent,
    Order,
    DurAlert,
    Patient,
    PatientAddress,
    Prescriber,
    AuditEvent,
)


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in MODELS}


def today_iso() -> str:
    return timezone.localdate().isoformat()


def product(ndc11: str, package_ndc: str, *, name: str, ingredient: str, schedule: str = ""):
    drug = ProductFactory(
        product_ndc=package_ndc.rsplit("-", 1)[0],
        proprietary_name="",
        nonproprietary_name=name,
        dosage_form="TABLET",
        dea_schedule=schedule,
    )
    ProductIngredientFactory(product=drug, ingredient__name=ingredient)
    package = PackageFactory(product=drug, package_ndc=package_ndc)
    assert package.ndc11 == ndc11
    return drug


@pytest.fixture
def catalogue(db):
    return {
        "atorvastatin": product(
            ATORVASTATIN_NDC, "0071-0155-23", name="atorvastatin calcium", ingredient="Atorvastatin"
        ),
        "oxycodone": product(
            OXYCODONE_NDC,
            "59011-410-10",
            name="oxycodone hydrochloride",
            ingredient="Oxycodone Hydrochloride",
            schedule=DEASchedule.CII,
        ),
        "alprazolam": product(
            ALPRAZOLAM_NDC,
            "0009-0055-01",
            name="alprazolam",
            ingredient="Alprazolam",
            schedule=DEASchedule.CIV,
        ),
    }


def post(client, body: bytes, content_type: str = "application/xml"):
    return client.post(URL, data=body, content_type=content_type)


def send(client, **message):
    message.setdefault("written_date", today_iso())
    return post(client, new_rx(**message))


def script(response) -> ET.Element:
    assert response["Content-Type"] == "application/xml"
    return ET.fromstring(response.content)


def error_of(response) -> tuple[str, str]:
    root = script(response)
    return (
        root.findtext("s:Body/s:Error/s:Code", namespaces=NS),
        root.findtext("s:Body/s:Error/s:Description", namespaces=NS),
    )


def assert_refused(response, *, code: str, words: str, before: dict, ncpdp_code: str = "900"):
    """A SCRIPT Error (HTTP 400) with the code and a description containing ``words``,
    and no table changed."""
    assert response.status_code == 400, response.content
    assert error_of(response)[0] == ncpdp_code
    assert words in error_of(response)[1]
    assert counts() == before, f"refused with {code} but something was written"


def stored(message_id: str) -> Prescription:
    return Prescription.objects.get(message_id=message_id)


# --------------------------------------------------------------------------- accepted


def test_new_rx_is_stored_and_answered_with_status(
    api_technician, technician, catalogue, ana, prescriber
):
    response = send(api_technician, message_id="MSG-OK-1")

    assert response.status_code == 201
    root = script(response)
    prescription = stored("MSG-OK-1")
    assert root.findtext("s:Body/s:Status/s:Code", namespaces=NS) == "000"
    assert root.findtext("s:Header/s:RelatesToMessageID", namespaces=NS) == "MSG-OK-1"
    # Addressed back to the sender.
    assert root.findtext("s:Header/s:To", namespaces=NS) == "SURESCRIPTS-77777"
    assert prescription.rx_number in root.findtext("s:Body/s:Status/s:Description", namespaces=NS)
    assert prescription.status == Prescription.Status.ACTIVE
    assert prescription.channel == "ncpdp"
    assert (prescription.patient, prescription.prescriber) == (ana, prescriber)
    assert prescription.product == catalogue["atorvastatin"]
    assert (
        prescription.raw_message == new_rx(message_id="MSG-OK-1", written_date=today_iso()).decode()
    )
    assert prescription.received_by == technician
    assert [(f.fill_number, f.status) for f in prescription.fills.all()] == [(0, Fill.Status.PV1)]


def test_text_xml_is_accepted_too(api_technician, catalogue, ana, prescriber):
    response = post(
        api_technician, new_rx(message_id="MSG-TEXT", written_date=today_iso()), "text/xml"
    )

    assert response.status_code == 201
    assert Prescription.objects.filter(message_id="MSG-TEXT").count() == 1


def test_a_content_type_with_charset_is_accepted(api_technician, catalogue, ana, prescriber):
    response = post(
        api_technician,
        new_rx(message_id="MSG-CHARSET", written_date=today_iso()),
        "application/xml; charset=utf-8",
    )

    assert response.status_code == 201


def test_the_same_message_twice_is_stored_once(api_technician, catalogue, ana, prescriber):
    first = send(api_technician, message_id="MSG-DUP")
    after_first = counts()

    second = send(api_technician, message_id="MSG-DUP")

    assert (first.status_code, second.status_code) == (201, 200)
    assert script(second).findtext("s:Body/s:Status/s:Code", namespaces=NS) == "000"
    assert "nothing was stored again" in script(second).findtext(
        "s:Body/s:Status/s:Description", namespaces=NS
    )
    assert counts() == after_first
    assert Prescription.objects.filter(message_id="MSG-DUP").count() == 1


def test_a_message_received_before_is_answered_even_if_a_rule_now_refuses_it(
    api_technician, catalogue, ana, prescriber
):
    first = send(api_technician, message_id="MSG-DUP", ndc=OXYCODONE_NDC, refills="0")
    after_first = counts()
    rx_number = stored("MSG-DUP").rx_number
    # Since then the prescriber's registration was found not to cover Schedule II.
    Prescriber.objects.filter(pk=prescriber.pk).update(dea_schedules=["CIII", "CIV", "CV"])

    second = send(api_technician, message_id="MSG-DUP", ndc=OXYCODONE_NDC, refills="0")

    assert (first.status_code, second.status_code) == (201, 200)
    assert f"Already received as Rx {rx_number}" in script(second).findtext(
        "s:Body/s:Status/s:Description", namespaces=NS
    )
    assert counts() == after_first


def test_a_brand_new_patient_is_created_for_review_and_the_rx_goes_to_pv1(
    api_technician, catalogue, prescriber
):
    before = counts()

    response = send(
        api_technician,
        message_id="MSG-NEWPAT",
        patient_first="Lena",
        patient_last="Okonkwo",
        date_of_birth="1990-02-03",
    )

    assert response.status_code == 201
    prescription = stored("MSG-NEWPAT")
    patient = Patient.objects.get(last_name="Okonkwo")
    assert patient.needs_review is True
    assert patient.date_of_birth.isoformat() == "1990-02-03"
    assert patient.addresses.get().city == "Dayton"
    assert prescription.patient == patient
    assert prescription.status == Prescription.Status.ACTIVE
    assert prescription.intake_issues == [IntakeIssue.NEW_PATIENT]
    assert prescription.fills.get().status == Fill.Status.PV1
    assert counts()["Patient"] == before["Patient"] + 1


def test_a_new_prescriber_is_created_for_review(api_technician, catalogue, ana):
    response = send(api_technician, message_id="MSG-NEWPRESC")

    assert response.status_code == 201
    prescription = stored("MSG-NEWPRESC")
    assert prescription.prescriber.npi == VALID_NPI
    assert prescription.prescriber.needs_review is True
    assert prescription.intake_issues == [IntakeIssue.NEW_PRESCRIBER]
    assert prescription.status == Prescription.Status.ACTIVE


def test_an_unknown_ndc_waits_in_intake_as_drug_not_matched(
    api_technician, catalogue, ana, prescriber
):
    # A well-formed NDC no catalogue product has.
    response = send(api_technician, message_id="MSG-NDC", ndc="70000-0999-01")

    assert response.status_code == 201
    prescription = stored("MSG-NDC")
    assert prescription.status == Prescription.Status.INTAKE
    assert prescription.intake_issues == [IntakeIssue.DRUG_NOT_MATCHED]
    assert prescription.product is None
    assert prescription.prescribed_ndc == "70000099901"
    assert prescription.fills.get().status == Fill.Status.INTAKE
    assert prescription.dur_alerts.count() == 0  # checks wait for the drug to be matched


@pytest.mark.parametrize(
    ("first", "last", "born"),
    [
        ("Ana", "Rivera", "1961-04-13"),  # same name, another date of birth
        ("Anna", "Riviera", "1961-04-12"),  # same date of birth, similar name
    ],
)
def test_an_uncertain_patient_match_waits_in_intake_without_a_duplicate(
    api_technician, catalogue, prescriber, first, last, born
):
    PatientFactory(first_name=first, last_name=last, date_of_birth=born)
    patients_before = Patient.objects.count()

    response = send(api_technician, message_id="MSG-UNCERTAIN")

    assert response.status_code == 201
    prescription = stored("MSG-UNCERTAIN")
    assert prescription.status == Prescription.Status.INTAKE
    assert prescription.intake_issues == [IntakeIssue.PATIENT_UNCERTAIN]
    assert prescription.patient is None
    assert "may be" in prescription.note
    assert prescription.fills.get().status == Fill.Status.INTAKE
    assert Patient.objects.count() == patients_before


def test_non_controlled_prescription_expires_one_year_after_written(
    api_technician, catalogue, ana, prescriber
):
    written = timezone.localdate() - timedelta(days=10)

    send(api_technician, message_id="MSG-EXP", written_date=written.isoformat())

    assert stored("MSG-EXP").expires_on == written + timedelta(days=365)


def test_controlled_prescription_expires_after_six_months(
    api_technician, catalogue, ana, prescriber, settings
):
    assert settings.CONTROLLED_RX_EXPIRY_DAYS == 183
    written = timezone.localdate() - timedelta(days=10)

    response = send(
        api_technician,
        message_id="MSG-EXP-C4",
        ndc=ALPRAZOLAM_NDC,
        description="Alprazolam 0.5 MG Oral Tablet",
        refills="5",
        written_date=written.isoformat(),
    )

    assert response.status_code == 201
    prescription = stored("MSG-EXP-C4")
    assert prescription.dea_schedule == DEASchedule.CIV
    assert prescription.refills_authorized == 5
    assert prescription.expires_on == written + timedelta(days=183)


def test_a_controlled_rx_from_an_unverified_registration_waits_in_intake(
    api_technician, catalogue, ana
):
    # A prescriber new to us: the DEA number checks, but nobody verified the schedules.
    response = send(api_technician, message_id="MSG-C2-NEW", ndc=OXYCODONE_NDC, refills="0")

    assert response.status_code == 201
    prescription = stored("MSG-C2-NEW")
    assert prescription.status == Prescription.Status.INTAKE
    assert IntakeIssue.DEA_REGISTRATION_UNVERIFIED in prescription.intake_issues


# --------------------------------------------------------------------------- drug checks


def test_an_allergy_to_the_drugs_class_is_an_alert_in_the_prescription(
    api_technician, prescriber, ana
):
    amoxicillin = product(
        AMOXICILLIN_NDC, "0093-3109-05", name="amoxicillin", ingredient="Amoxicillin"
    )
    penicillins = PharmacologicClassFactory(
        name="Penicillin-class Antibacterial", kind=PharmacologicClass.Kind.ESTABLISHED
    )
    amoxicillin.pharmacologic_classes.add(penicillins)
    AllergyFactory(patient=ana, allergen="Penicillin", pharmacologic_class=penicillins)

    response = send(
        api_technician,
        message_id="MSG-ALLERGY",
        ndc=AMOXICILLIN_NDC,
        description="Amoxicillin 500 MG Oral Capsule",
        unit="C48480",
        quantity="30",
        days_supply="10",
        refills="0",
    )

    assert response.status_code == 201
    detail = api_technician.get(f"/api/v1/prescriptions/{stored('MSG-ALLERGY').pk}/").json()
    allergy_alerts = [alert for alert in detail["dur_alerts"] if alert["type"] == "allergy"]
    assert len(allergy_alerts) == 1
    assert allergy_alerts[0]["severity"] == "major"
    assert allergy_alerts[0]["message"].startswith(
        "Allergy: the patient is allergic to Penicillin (reaction: Hives)"
    )


@pytest.mark.parametrize(
    ("ndc", "package_ndc", "name", "ingredient"),
    [
        (ASPIRIN_NDC, "70000-081-01", "aspirin", "Aspirin"),
        ("70001020001", "70001-200-01", "fluconazole", "Fluconazole"),
    ],
)
def test_an_interaction_with_an_active_prescription_is_an_alert(
    api_technician, prescriber, ana, ndc, package_ndc, name, ingredient
):
    import_curated_interactions()
    invalidate_interaction_index()
    product(WARFARIN_NDC, "0056-0172-70", name="warfarin sodium", ingredient="Warfarin Sodium")
    product(ndc, package_ndc, name=name, ingredient=ingredient)
    assert send(api_technician, message_id="MSG-WARFARIN", ndc=WARFARIN_NDC).status_code == 201
    assert stored("MSG-WARFARIN").status == Prescription.Status.ACTIVE

    response = send(api_technician, message_id="MSG-SECOND", ndc=ndc, description=name)

    assert response.status_code == 201
    detail = api_technician.get(f"/api/v1/prescriptions/{stored('MSG-SECOND').pk}/").json()
    interactions = [alert for alert in detail["dur_alerts"] if alert["type"] == "interaction"]
    assert len(interactions) == 1
    assert interactions[0]["severity"] == "major"
    assert "warfarin" in interactions[0]["message"].lower()
    assert not [alert for alert in detail["dur_alerts"] if alert["type"] == "no_data"]


def test_without_interaction_data_the_check_is_a_no_data_alert(
    api_technician, catalogue, ana, prescriber
):
    response = send(api_technician, message_id="MSG-NODATA")

    assert response.status_code == 201
    alerts = list(stored("MSG-NODATA").dur_alerts.values_list("type", flat=True))
    assert DurAlert.Type.NO_DATA in alerts


# --------------------------------------------------------------------------- refused: rules


@pytest.mark.parametrize(
    ("message", "code", "words"),
    [
        ({"ndc": OXYCODONE_NDC, "refills": "1"}, "too_many_refills", "cannot be refilled"),
        ({"ndc": ALPRAZOLAM_NDC, "refills": "6"}, "too_many_refills", "at most 5 refills"),
        ({"quantity": "0"}, "invalid_quantity", "not a positive number"),
        ({"quantity": "250000"}, "invalid_quantity", "not possible"),
        ({"unit": "C99999"}, "unknown_unit", "not one we dispense"),
        ({"days_supply": "400"}, "invalid_days_supply", "days supply"),
    ],
)
def test_a_prescription_against_the_rules_is_refused(
    api_technician, catalogue, ana, prescriber, message, code, words
):
    before = counts()

    response = send(api_technician, message_id=f"MSG-{code}", **message)

    assert_refused(response, code=code, words=words, before=before)


def test_a_written_date_in_the_future_is_refused(api_technician, catalogue, ana, prescriber):
    before = counts()
    tomorrow = timezone.localdate() + timedelta(days=1)

    response = send(api_technician, written_date=tomorrow.isoformat())

    assert_refused(response, code="written_date_in_future", words="in the future", before=before)


def test_an_expired_prescription_is_refused(api_technician, catalogue, ana, prescriber):
    before = counts()

    response = send(api_technician, written_date="2024-03-01")

    assert_refused(
        response, code="prescription_expired", words="expired on 2025-03-01", before=before
    )


def test_a_controlled_substance_without_a_dea_number_is_refused(api_technician, catalogue, ana):
    before = counts()

    response = send(
        api_technician,
        npi=npi_with_check_digit("987654321"),
        dea="",
        ndc=OXYCODONE_NDC,
        refills="0",
    )

    assert_refused(response, code="dea_number_required", words="DEA number", before=before)


def test_a_schedule_the_prescribers_registration_lacks_is_refused(api_technician, catalogue, ana):
    PrescriberFactory(
        npi=VALID_NPI, dea_number=VALID_DEA, last_name="Okafor", dea_schedules=["CIV"]
    )
    before = counts()

    response = send(api_technician, ndc=OXYCODONE_NDC, refills="0")

    assert_refused(
        response,
        code="dea_schedule_not_registered",
        words="does not cover Schedule II",
        before=before,
    )


# --------------------------------------------------------------------------- refused: message


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"<Message><Header><MessageID>X</MessageID>", "not well-formed"),
        (b"this is not xml", "not well-formed"),
        (b"", "empty"),
        (BILLION_LAUGHS, "DOCTYPE"),
        (EXTERNAL_ENTITY, "DOCTYPE"),
        (EXTERNAL_DTD, "DOCTYPE"),
        (b"<Prescription/>", "a SCRIPT message starts with <Message>"),
    ],
    ids=["truncated", "not-xml", "empty", "billion-laughs", "external-entity", "external-dtd",
         "wrong-root"],
)  # fmt: skip
def test_a_message_that_is_not_safe_well_formed_script_is_refused(
    api_technician, catalogue, body, words
):
    before = counts()

    response = post(api_technician, body)

    assert response.status_code == 400
    code, description = error_of(response)
    assert code == "900"
    assert words.lower() in description.lower(), description
    assert "root:" not in description  # nothing of /etc/passwd came back
    assert counts() == before


def test_a_body_over_one_mebibyte_is_refused_before_parsing(api_technician, catalogue):
    before = counts()
    message = new_rx(note="x" * (1024 * 1024), written_date=today_iso())

    response = post(api_technician, message)

    assert_refused(response, code="too_large", words="at most 1,048,576", before=before)


def test_a_body_far_over_the_limit_is_still_a_script_error(api_technician):
    before = counts()

    response = post(api_technician, b"<Message>" + b" " * (5 * 1024 * 1024) + b"</Message>")

    assert_refused(response, code="too_large", words="at most 1,048,576", before=before)


@pytest.mark.parametrize(
    ("omit", "words"),
    [
        (("MessageID",), "MessageID"),
        (("Quantity",), "quantity"),
        (("SigText",), "sig"),
        (("DateOfBirth",), "date of birth"),
        (("WrittenDate",), "written date"),
    ],
)
def test_a_message_missing_an_element_is_refused(
    api_technician, catalogue, ana, prescriber, omit, words
):
    before = counts()

    response = send(api_technician, omit=omit)

    assert_refused(response, code="missing_element", words=words, before=before)


@pytest.mark.parametrize(
    ("message", "words"),
    [
        ({"npi": "1234567890"}, "NPI '1234567890' is not valid"),
        ({"dea": "BO1234567"}, "DEA number 'BO1234567' is not valid"),
        ({"written_date": "03/01/2026"}, "write it as YYYY-MM-DD"),
        ({"date_of_birth": "19610412"}, "write it as YYYY-MM-DD"),
        ({"ndc": "12345"}, "NDC"),
        ({"schedule": "C99999"}, "DEA schedule code"),
    ],
    ids=["npi", "dea", "written-date", "birth-date", "ndc", "schedule"],
)
def test_a_message_with_an_invalid_value_is_refused(
    api_technician, catalogue, ana, prescriber, message, words
):
    before = counts()

    response = send(api_technician, **message)

    assert_refused(response, code="invalid", words=words, before=before)


def test_the_error_is_addressed_back_to_the_sender(api_technician, catalogue, ana, prescriber):
    response = send(api_technician, message_id="MSG-BADNPI", npi="1234567890")

    root = script(response)
    assert root.findtext("s:Header/s:RelatesToMessageID", namespaces=NS) == "MSG-BADNPI"
    assert root.findtext("s:Header/s:To", namespaces=NS) == "SURESCRIPTS-77777"
    assert "element Message/Body/NewRx/Prescriber" in error_of(response)[1]


def test_a_message_type_we_do_not_handle_is_answered_601(api_technician):
    before = counts()

    response = post(api_technician, script_message("<RxRenewalRequest/>", message_id="MSG-RENEW"))

    assert_refused(
        response, code="unsupported_message_type", words="RxRenewalRequest", before=before,
        ncpdp_code="601",
    )  # fmt: skip


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data"],
)
def test_a_body_that_is_not_sent_as_xml_is_refused_with_415(
    api_technician, catalogue, content_type
):
    before = counts()

    response = api_technician.generic(
        "POST", URL, new_rx(written_date=today_iso()), content_type=content_type
    )

    assert response.status_code == 415
    code, description = error_of(response)
    assert code == "900"
    assert "application/xml" in description
    assert counts() == before


# --------------------------------------------------------------------------- who may call


def test_without_a_token_the_answer_is_a_401_script_error(client, db):
    before = counts()

    response = client.post(URL, data=new_rx(), content_type="application/xml")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert error_of(response) == ("900", "Authentication credentials were not provided.")
    assert counts() == before


def test_a_wrong_token_is_a_401_script_error(client, db):
    response = client.post(
        URL, data=new_rx(), content_type="application/xml", HTTP_AUTHORIZATION="Token nope"
    )

    assert response.status_code == 401
    assert error_of(response) == ("900", "Invalid token.")


def test_a_browser_session_is_not_enough(client_technician):
    response = client_technician.post(URL, data=new_rx(), content_type="application/xml")

    assert response.status_code == 401


def test_a_manager_token_is_refused(api_manager):
    before = counts()

    response = post(api_manager, new_rx(written_date=today_iso()))

    assert response.status_code == 403
    assert error_of(response) == ("900", "Your role (Manager) does not allow this.")
    assert counts() == before


def test_get_is_not_allowed_and_answers_in_script(api_technician):
    response = api_technician.get(URL)

    assert response.status_code == 405
    assert error_of(response)[0] == "900"


def test_whatever_the_client_accepts_the_answer_is_xml(api_technician, catalogue, ana, prescriber):
    response = api_technician.post(
        URL,
        data=new_rx(message_id="MSG-ACCEPT", written_date=today_iso()),
        content_type="application/xml",
        HTTP_ACCEPT="application/json",
    )

    assert response.status_code == 201
    assert response["Content-Type"] == "application/xml"


def test_a_failure_on_our_side_is_a_602_error_and_is_logged(
    api_technician, catalogue, ana, prescriber, monkeypatch, caplog
):
    def broken(*args, **kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr("orders.api.views.receive_prescription", broken)
    before = counts()

    with caplog.at_level(logging.ERROR, logger="orders.api.views"):
        response = send(api_technician, message_id="MSG-BOOM")

    assert response.status_code == 500
    code, description = error_of(response)
    assert code == "602"
    assert description.startswith("Receiver system error")
    assert "fire" not in description
    assert script(response).findtext("s:Header/s:RelatesToMessageID", namespaces=NS) == "MSG-BOOM"
    assert "MSG-BOOM" in caplog.text
    assert "RuntimeError: database on fire" in caplog.text
    assert counts() == before


# --------------------------------------------------------------------------- CancelRx


def cancel_response(response) -> ET.Element:
    assert response.status_code == 200
    return script(response).find("s:Body/s:CancelRxResponse/s:Response", namespaces=NS)


def test_cancel_rx_before_filling_is_approved(api_technician, catalogue, ana, prescriber):
    send(api_technician, message_id="NEWRX-20240301-0001")
    prescription = stored("NEWRX-20240301-0001")
    assert prescription.fills.get().status == Fill.Status.PV1

    response = post(api_technician, cancel_rx())

    answer = cancel_response(response)
    assert answer.find("s:Approved", namespaces=NS) is not None
    prescription.refresh_from_db()
    assert prescription.status == Prescription.Status.CANCELLED
    fill = prescription.fills.get()
    assert fill.status == Fill.Status.CANCELLED
    assert fill.events.last().reason.startswith("CancelRx from prescriber: Therapy changed")
    cancelled = AuditEvent.objects.filter(action="update", object_id=str(prescription.pk)).get()
    assert (cancelled.patient, cancelled.summary) == (ana, "Cancelled by the prescriber (CancelRx)")


def test_cancel_rx_after_filling_is_denied_with_the_reason(
    api_technician, catalogue, ana, prescriber
):
    send(api_technician, message_id="NEWRX-20240301-0001")
    prescription = stored("NEWRX-20240301-0001")
    prescription.fills.update(status=Fill.Status.PV2)  # the technician already filled it
    before = counts()

    response = post(api_technician, cancel_rx())

    answer = cancel_response(response)
    assert answer.find("s:Approved", namespaces=NS) is None
    assert answer.findtext("s:Denied/s:DenialReason", namespaces=NS) == (
        "The prescription was already filled; contact the pharmacy."
    )
    prescription.refresh_from_db()
    assert prescription.status == Prescription.Status.ACTIVE
    assert prescription.fills.get().status == Fill.Status.PV2
    assert counts() == before


def test_cancel_rx_for_an_unknown_prescription_is_denied(api_technician, catalogue):
    before = counts()

    response = post(
        api_technician, cancel_rx(relates_to="NEWRX-UNKNOWN", prescriber_order_number="PON-0")
    )

    answer = cancel_response(response)
    assert "No prescription" in answer.findtext("s:Denied/s:DenialReason", namespaces=NS)
    assert counts() == before


def test_a_cancel_rx_with_an_invalid_npi_is_refused(api_technician):
    before = counts()

    response = post(api_technician, cancel_rx(npi="1234567890"))

    assert_refused(response, code="invalid_npi", words="NPI", before=before)


# --------------------------------------------------------------------------- a real caller


@pytest.mark.django_db(transaction=True)
def test_an_outside_caller_over_real_http(live_server, catalogue, prescriber, ana):
    from pharmacy.tests.factories import make_staff  # noqa: PLC0415

    token = create_api_token(make_staff("erx-integration")).key
    body = new_rx(message_id="MSG-HTTP", written_date=today_iso())

    def call(data: bytes, content_type: str):
        request = urllib.request.Request(
            f"{live_server.url}{URL}",
            data=data,
            method="POST",
            headers={"Authorization": f"Token {token}", "Content-Type": content_type},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.headers["Content-Type"], response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers["Content-Type"], error.read()

    created = call(body, "application/xml")
    again = call(body, "application/xml")
    wrong_type = call(body, "application/json")

    assert created[:2] == (201, "application/xml")
    assert ET.fromstring(created[2]).findtext("s:Body/s:Status/s:Code", namespaces=NS) == "000"
    assert again[0] == 200
    assert wrong_type[:2] == (415, "application/xml")
    assert ET.fromstring(wrong_type[2]).findtext("s:Body/s:Error/s:Code", namespaces=NS) == "900"
    assert Prescription.objects.filter(message_id="MSG-HTTP").count() == 1
