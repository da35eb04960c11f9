"""POST /api/v1/erx/fhir/ as an EHR calls it: FHIR R4 JSON in, our prescription or an
OperationOutcome out."""

import copy
import json
import logging

import pytest
from django.utils import timezone

from orders.models import DurAlert, Fill, FillEvent, IntakeIssue, Order, Prescription
from orders.tests.erx_samples import (
    fhir_bundle,
    fhir_medication_request,
    fhir_patient,
    new_rx,
)
from pharmacy.models import AuditEvent, Patient, PatientAddress, Prescriber

URL = "/api/v1/erx/fhir/"
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


def today_request(**changes) -> dict:
    return fhir_medication_request(authored_on=timezone.localdate().isoformat(), **changes)


def today_bundle(**changes) -> dict:
    request = fhir_medication_request(
        subject="urn:uuid:4b7ea3c5-2a7d-4d55-9d3c-0a4f4c1e6a01",
        requester="urn:uuid:4b7ea3c5-2a7d-4d55-9d3c-0a4f4c1e6a02",
        medication="urn:uuid:4b7ea3c5-2a7d-4d55-9d3c-0a4f4c1e6a03",
        contained=(),
        authored_on=timezone.localdate().isoformat(),
        **changes,
    )
    return fhir_bundle(request=request)


def post(client, document, content_type: str = "application/fhir+json"):
    body = document if isinstance(document, bytes) else json.dumps(document).encode()
    return client.post(URL, data=body, content_type=content_type)


def issue_of(response) -> dict:
    assert response["Content-Type"] == "application/fhir+json"
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert len(outcome["issue"]) == 1
    return outcome["issue"][0]


def our_code(issue: dict) -> str:
    return issue["details"]["coding"][0]["code"]


# --------------------------------------------------------------------------- accepted


def test_a_bundle_is_stored_and_answered_with_the_prescription(
    api_technician, technician, atorvastatin, prescriber, ana
):
    response = post(api_technician, today_bundle())

    assert response.status_code == 201
    body = response.json()
    prescription = Prescription.objects.get()
    assert list(body) == ["prescription"]
    shown = body["prescription"]
    assert shown["id"] == prescription.pk
    assert shown["rx_number"] == prescription.rx_number
    assert shown["message_id"] == "MSG-FHIR-0001"
    assert shown["channel"] == "fhir"
    assert shown["status"] == "active"
    assert shown["patient"] == ana.pk
    assert shown["prescriber"] == prescriber.pk
    assert shown["drug"]["product"] == atorvastatin.pk
    assert shown["drug"]["name"] == "Lipitor (atorvastatin calcium) 10 mg tablet"
    assert shown["quantity"] == "90.000"
    assert shown["refills_authorized"] == 3
    assert shown["refills_remaining"] == 3
    assert shown["fills"] == [prescription.fills.get().pk]
    assert prescription.raw_message == json.dumps(today_bundle())
    assert prescription.received_by == technician


def test_a_medication_request_with_contained_resources_is_stored(
    api_technician, atorvastatin, prescriber, ana
):
    response = post(api_technician, today_request(), "application/json")

    assert response.status_code == 201
    assert response.json()["prescription"]["message_id"] == "rx-20240301-0001"
    assert response["Content-Type"] == "application/json"


def test_the_same_message_twice_is_stored_once_and_answered_with_the_same_body(
    api_technician, technician, atorvastatin, prescriber, ana
):
    first = post(api_technician, today_bundle())
    after_first = counts()

    second = post(api_technician, today_bundle())

    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json() == first.json()
    # Showing the stored prescription again is a read of it: one audit row, nothing else.
    assert counts() == {**after_first, "AuditEvent": after_first["AuditEvent"] + 1}
    audit = AuditEvent.objects.order_by("-pk").first()
    assert (audit.actor, audit.action, audit.patient) == (technician, "view", ana)
    assert audit.object_id == str(first.json()["prescription"]["id"])


def test_an_unknown_ndc_waits_in_intake(api_technician, prescriber, ana):
    response = post(api_technician, today_request())

    assert response.status_code == 201
    shown = response.json()["prescription"]
    assert shown["status"] == "intake"
    assert shown["intake_issues"] == [
        {"code": IntakeIssue.DRUG_NOT_MATCHED, "label": "Drug not matched"}
    ]
    assert shown["drug"] == {
        "product": None,
        "product_ndc": None,
        "name": "Atorvastatin 20 MG Oral Tablet",
        "description": "Atorvastatin 20 MG Oral Tablet",
        "prescribed_ndc": "00071015523",
        "dea_schedule": "",
    }


# --------------------------------------------------------------------------- refused


@pytest.mark.parametrize(
    ("body", "code", "issue_type"),
    [
        (b"{not json", "malformed_json", "structure"),
        (b"", "malformed_json", "structure"),
        (json.dumps(fhir_patient()).encode(), "unsupported_resource", "not-supported"),
        (json.dumps({"resourceType": "Bundle", "entry": []}).encode(), "unsupported_resource",
         "not-supported"),
        (b"[1, 2, 3]", "unsupported_resource", "not-supported"),
    ],
    ids=["bad-json", "empty", "patient", "empty-bundle", "array"],
)  # fmt: skip
def test_a_body_that_is_not_a_medication_request_is_refused(
    api_technician, atorvastatin, body, code, issue_type
):
    before = counts()

    response = post(api_technician, body)

    assert response.status_code == 400
    issue = issue_of(response)
    assert (issue["severity"], issue["code"], our_code(issue)) == ("error", issue_type, code)
    assert counts() == before


def _without(document: dict, *path: str) -> dict:
    changed = copy.deepcopy(document)
    target = changed
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return changed


def _with_practitioner_identifier(value_system: str, value: str) -> dict:
    request = today_request()
    practitioner = request["contained"][1]
    practitioner["identifier"] = [
        identifier
        for identifier in practitioner["identifier"]
        if identifier["system"] != value_system
    ] + [{"system": value_system, "value": value}]
    return request


@pytest.mark.parametrize(
    ("document", "code", "expression"),
    [
        (
            _without(fhir_medication_request(), "dispenseRequest", "quantity"),
            "missing_element",
            "MedicationRequest.dispenseRequest.quantity",
        ),
        (
            _without(fhir_medication_request(), "authoredOn"),
            "missing_element",
            "MedicationRequest.authoredOn",
        ),
        (
            fhir_medication_request(authored_on="03/01/2026"),
            "invalid_date",
            "MedicationRequest.authoredOn",
        ),
        (
            fhir_medication_request(subject="#nobody"),
            "unresolved_reference",
            "MedicationRequest.subject",
        ),
    ],
    ids=["no-quantity", "no-authored-on", "us-date", "dangling-subject"],
)
def test_a_medication_request_missing_or_with_a_bad_value_is_refused(
    api_technician, atorvastatin, prescriber, document, code, expression
):
    before = counts()

    response = post(api_technician, document)

    assert response.status_code == 400
    issue = issue_of(response)
    assert our_code(issue) == code
    assert issue["expression"] == [expression]
    assert counts() == before


@pytest.mark.parametrize(
    ("system", "value", "code"),
    [
        ("http://hl7.org/fhir/sid/us-npi", "1234567890", "invalid_npi"),
        ("urn:oid:2.16.840.1.113883.4.814", "BO1234567", "invalid_dea_number"),
    ],
)
def test_an_invalid_prescriber_identifier_is_refused(
    api_technician, atorvastatin, system, value, code
):
    before = counts()

    response = post(api_technician, _with_practitioner_identifier(system, value))

    assert response.status_code == 400
    assert our_code(issue_of(response)) == code
    assert value in issue_of(response)["details"]["text"]
    assert counts() == before


def test_a_rule_of_the_pharmacy_is_refused_with_an_operation_outcome(
    api_technician, atorvastatin, prescriber, ana
):
    before = counts()

    response = post(api_technician, today_request(quantity=20000))

    assert response.status_code == 400
    issue = issue_of(response)
    assert our_code(issue) == "invalid_quantity"
    assert "20000" in issue["details"]["text"]
    assert counts() == before


def test_an_expired_prescription_is_refused(api_technician, atorvastatin, prescriber, ana):
    before = counts()

    response = post(api_technician, fhir_medication_request(authored_on="2024-03-01"))

    assert our_code(issue_of(response)) == "prescription_expired"
    assert counts() == before


def test_a_body_over_one_mebibyte_is_refused(api_technician, atorvastatin):
    before = counts()
    document = today_request()
    document["note"] = [{"text": "x" * (1024 * 1024)}]

    response = post(api_technician, document)

    assert response.status_code == 400
    issue = issue_of(response)
    assert (issue["code"], our_code(issue)) == ("too-long", "too_large")
    assert counts() == before


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/xml", new_rx()),
        ("text/plain", json.dumps(fhir_medication_request()).encode()),
        ("multipart/form-data", b"x"),
    ],
)
def test_a_body_not_sent_as_json_is_refused_with_415(api_technician, content_type, body):
    before = counts()

    response = api_technician.generic("POST", URL, body, content_type=content_type)

    assert response.status_code == 415
    issue = issue_of(response)
    assert (issue["code"], our_code(issue)) == ("not-supported", "unsupported_media_type")
    assert "application/fhir+json" in issue["details"]["text"]
    assert counts() == before


# --------------------------------------------------------------------------- who may call


def test_without_a_token_the_answer_is_a_401_operation_outcome(client, db):
    response = client.post(URL, data=b"{}", content_type="application/fhir+json")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    issue = issue_of(response)
    assert (issue["code"], our_code(issue)) == ("login", "not_authenticated")


def test_a_manager_token_is_refused(api_manager):
    before = counts()

    response = post(api_manager, today_request())

    assert response.status_code == 403
    issue = issue_of(response)
    assert (issue["code"], our_code(issue)) == ("forbidden", "permission_denied")
    assert counts() == before


def test_a_failure_on_our_side_is_a_500_operation_outcome_and_is_logged(
    api_technician, atorvastatin, prescriber, ana, monkeypatch, caplog
):
    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("orders.api.views.receive_prescription", broken)

    with caplog.at_level(logging.ERROR, logger="orders.api.views"):
        response = post(api_technician, today_request())

    assert response.status_code == 500
    issue = issue_of(response)
    assert issue["code"] == "exception"
    assert "disk full" not in issue["details"]["text"]
    assert "RuntimeError: disk full" in caplog.text


def test_a_nul_character_in_any_value_is_refused_with_nothing_stored(
    api_technician, atorvastatin, prescriber, ana
):
    before = counts()
    body = json.dumps(today_bundle()).replace("Rivera", "Riv\\u0000era").encode()

    response = post(api_technician, body)

    assert response.status_code == 400
    issue = issue_of(response)
    assert (our_code(issue), issue["details"]["text"]) == (
        "malformed_json",
        "The body contains a NUL character (\\u0000), which no field can hold.",
    )
    assert counts() == before
