"""Prescriptions never bring in, and staff never type, a name or note holding a control
character or an invisible text-direction character (lib.text): e-prescriptions are
answered with a SCRIPT Error or an OperationOutcome naming the element, forms and the
API with the field; nothing is written."""

import json
import xml.etree.ElementTree as ET

import pytest
from django.utils import timezone

from orders.models import Fill, FillEvent, FillHold, Order, Prescription
from orders.tests.erx_samples import fhir_medication_request, fhir_patient, new_rx
from orders.tests.factories import fill_at, stocked_package
from orders.tests.test_manual_entry import entry
from pharmacy.models import AuditEvent, Patient, Prescriber
from pharmacy.tests.factories import PatientFactory, PrescriberFactory

RLO = "\u202e"
OVERRIDE = (
    "contains an invisible text-direction character (U+202E), which can make it display "
    "differently from what is stored; remove it"
)
NS = {"s": "http://www.ncpdp.org/schema/SCRIPT"}
MODELS = (Prescription, Fill, FillEvent, FillHold, Order, Patient, Prescriber, AuditEvent)
S = Fill.Status


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in MODELS}


def script_error(response) -> tuple[str, str]:
    assert response.status_code == 400, response.content
    root = ET.fromstring(response.content)
    return (
        root.findtext("s:Body/s:Error/s:Code", namespaces=NS),
        root.findtext("s:Body/s:Error/s:Description", namespaces=NS),
    )


@pytest.mark.parametrize(
    ("message", "element", "path"),
    [
        ({"patient_last": f"{RLO}areviR"}, "LastName", "NewRx/Patient/HumanPatient/Name/LastName"),
        # C0 controls cannot be written in XML 1.0 at all (refused as malformed); C1 can.
        ({"patient_first": "A\u0085na"}, "FirstName", "Patient/HumanPatient/Name/FirstName"),
        ({"patient_last": "Rive\nra"}, "LastName", "Patient/HumanPatient/Name/LastName"),
        ({"description": f"Atorvastatin{RLO} 20 MG"}, "DrugDescription", "DrugDescription"),
        ({"sig": f"Take 1 tablet{RLO}"}, "SigText", "MedicationPrescribed/Sig/SigText"),
        ({"note": f"Easy caps{RLO}"}, "Note", "MedicationPrescribed/Note"),
    ],
    ids=["last-name", "first-name-control", "name-line-break", "drug", "sig", "note"],
)
def test_a_script_message_with_disguised_text_is_refused_naming_the_element(
    api_technician, message, element, path
):
    before = counts()

    response = api_technician.post(
        "/api/v1/erx/ncpdp/",
        data=new_rx(written_date=timezone.localdate().isoformat(), **message),
        content_type="application/xml",
    )

    code, description = script_error(response)
    assert code == "900"
    assert f"The <{element}> element contains " in description
    assert path in description
    assert counts() == before


def test_a_script_note_may_run_over_lines(api_technician):
    response = api_technician.post(
        "/api/v1/erx/ncpdp/",
        data=new_rx(written_date=timezone.localdate().isoformat(), note="Easy caps\nplease"),
        content_type="application/xml",
    )

    assert response.status_code == 201
    assert Prescription.objects.get().note.startswith("Easy caps\nplease")


def _fhir(client, document):
    return client.post(
        "/api/v1/erx/fhir/", data=json.dumps(document), content_type="application/fhir+json"
    )


def _with_patient_name(family: str) -> dict:
    patient = fhir_patient()
    patient["name"][1]["family"] = family
    return fhir_medication_request(
        authored_on=timezone.localdate().isoformat(),
        contained=(patient, *fhir_medication_request()["contained"][1:]),
    )


@pytest.mark.parametrize(
    ("document", "path"),
    [
        (_with_patient_name(f"{RLO}areviR"), "MedicationRequest.contained[0].name[1].family"),
        (_with_patient_name("Rive\nra"), "MedicationRequest.contained[0].name[1].family"),
        (
            fhir_medication_request(sig=f"Take 1{RLO}"),
            "MedicationRequest.dosageInstruction[0].text",
        ),
    ],
    ids=["family-name", "name-line-break", "sig"],
)
def test_a_fhir_document_with_disguised_text_is_refused_naming_the_path(
    api_technician, document, path
):
    document["authoredOn"] = timezone.localdate().isoformat()
    before = counts()

    response = _fhir(api_technician, document)

    assert response.status_code == 400
    outcome = response.json()
    issue = outcome["issue"][0]
    assert issue["details"]["coding"][0]["code"] == "invalid_text"
    assert issue["expression"] == [path]
    assert issue["details"]["text"].startswith(f"The text at {path} contains ")
    assert counts() == before


def test_a_fhir_note_is_refused_too(api_technician):
    document = fhir_medication_request(authored_on=timezone.localdate().isoformat())
    document["note"] = [{"text": f"Easy caps{RLO}"}]

    response = _fhir(api_technician, document)

    assert response.status_code == 400
    assert response.json()["issue"][0]["details"]["text"] == (
        f"The text at MedicationRequest.note[0].text {OVERRIDE}."
    )


# --------------------------------------------------------------------------- staff input


@pytest.mark.parametrize(
    ("step", "body", "field"),
    [
        ("hold", {"reason_code": "insurance", "note": f"PA{RLO}"}, "note"),
        ("pv2", {"decision": "reject", "reason": f"Wrong{RLO} count"}, "reason"),
    ],
)
def test_the_fill_api_refuses_a_disguised_note_naming_the_field(api_pharmacist, step, body, field):
    fill = fill_at(S.PV2 if step == "pv2" else S.FILL)
    before = counts()

    response = api_pharmacist.post(f"/api/v1/fills/{fill.pk}/{step}/", body, format="json")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid"
    assert response.json()["fields"] == {field: [f"C{OVERRIDE[1:]}."]}
    fill.refresh_from_db()
    assert fill.status == (S.PV2 if step == "pv2" else S.FILL)
    assert counts() == before


def test_a_pv1_rejection_and_an_override_note_are_checked(api_pharmacist):
    fill = fill_at(S.PV1)
    before = counts()

    response = api_pharmacist.post(
        f"/api/v1/fills/{fill.pk}/pv1/",
        {
            "decision": "approve",
            "overrides": [{"alert": 1, "reason_code": "previously_tolerated", "note": RLO}],
        },
        format="json",
    )
    rejected = api_pharmacist.post(
        f"/api/v1/fills/{fill.pk}/pv1/", {"decision": "reject", "reason": f"x{RLO}"}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["fields"] == {"overrides": {"0": {"note": [f"C{OVERRIDE[1:]}."]}}}
    assert rejected.status_code == 400
    assert rejected.json()["fields"] == {"reason": [f"C{OVERRIDE[1:]}."]}
    assert counts() == before


def test_a_release_note_is_checked(api_technician):
    fill = fill_at(S.ON_HOLD, held_from=S.FILL)
    before = counts()

    response = api_technician.post(
        f"/api/v1/fills/{fill.pk}/release/", {"note": f"ok{RLO}"}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["fields"] == {"note": [f"C{OVERRIDE[1:]}."]}
    assert counts() == before


def test_the_hold_page_says_which_field_was_refused(client_technician):
    fill = fill_at(S.FILL)
    before = counts()

    response = client_technician.post(
        f"/fills/{fill.pk}/hold/", {"hold-reason_code": "insurance", "hold-note": f"PA{RLO}"}
    )

    assert counts() == before
    fill.refresh_from_db()
    assert fill.status == S.FILL
    shown = client_technician.get(response["Location"]).content.decode()
    assert f"Not held: Note: C{OVERRIDE[1:]}." in shown


def test_the_release_page_refuses_a_disguised_note(client_technician):
    fill = fill_at(S.ON_HOLD, held_from=S.FILL)

    before = counts()

    response = client_technician.post(f"/fills/{fill.pk}/release/", {"release-note": f"ok{RLO}"})

    assert counts() == before
    fill.refresh_from_db()
    assert fill.status == S.ON_HOLD
    shown = client_technician.get(response["Location"]).content.decode()
    assert f"Not released: Release note: C{OVERRIDE[1:]}." in shown


def test_a_phone_prescription_with_disguised_directions_is_shown_the_error(
    client_technician,
):
    patient, prescriber = PatientFactory(), PrescriberFactory()
    product = stocked_package().product
    before = counts()

    response = client_technician.post(
        "/intake/new/",
        entry(patient, prescriber, product, sig_text=f"1 PO TID{RLO}", note="Ok\u0007"),
    )

    assert response.status_code == 400
    assert response.context["form"].errors == {
        "sig_text": [f"C{OVERRIDE[1:]}."],
        "note": ["Contains a control character (U+0007), which cannot be shown or printed; "
                 "remove it."],
    }  # fmt: skip
    assert counts() == before
