"""NewRx messages as several e-prescribing networks build them (issue 11).

Version attributes and ``xmlns:xsi`` on ``Message`` with no SCRIPT namespace, the written
date as a ``DateTime``, an RxNorm ``DrugDBCode`` beside or instead of the NDC, XML escapes
in names, and the DEA schedule ``C38046`` ("Unspecified") on every drug: no schedule
stated, so the catalogue product decides, as when the element is absent.
"""

import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from datetime import date, timedelta

import pytest
from django.utils import timezone

from inventory.models import DEASchedule
from inventory.tests.factories import PackageFactory, ProductFactory, ProductIngredientFactory
from orders.intake.ncpdp import build_status, parse_new_rx, parse_script_message
from orders.models import DurAlert, Fill, FillEvent, IntakeIssue, Order, Prescription
from orders.tests.erx_samples import (
    NCPDP_NAMESPACE,
    PHARMACY_NCPDP_ID,
    SENDER_ID,
    VALID_NPI,
    network_new_rx,
    new_rx,
)
from pharmacy.models import AuditEvent, Patient, PatientAddress, Prescriber
from pharmacy.services import create_api_token

URL = "/api/v1/erx/ncpdp/"
NS = {"s": NCPDP_NAMESPACE}
OXYCODONE_NDC = "59011041010"
MODELS = (Prescription, Fill, FillEvent, Order, DurAlert, Patient, PatientAddress, Prescriber)


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in (*MODELS, AuditEvent)}


def written_today() -> str:
    return f"{timezone.localdate().isoformat()}T09:41:27.3Z"


def send(client, **message):
    message.setdefault("written", written_today())
    return client.post(URL, data=network_new_rx(**message), content_type="application/xml")


def reply(response) -> ET.Element:
    assert response["Content-Type"] == "application/xml"
    return ET.fromstring(response.content)


@pytest.fixture
def oxycodone(db):
    """A Schedule II drug in the catalogue (NDC 59011-410-10)."""
    product = ProductFactory(
        product_ndc="59011-410",
        proprietary_name="",
        nonproprietary_name="oxycodone hydrochloride",
        dosage_form="TABLET",
        dea_schedule=DEASchedule.CII,
    )
    ProductIngredientFactory(product=product, ingredient__name="Oxycodone Hydrochloride")
    PackageFactory(product=product, package_ndc="59011-410-10")
    return product


# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize("namespace", [False, True], ids=["no-namespace", "namespace"])
def test_a_network_new_rx_parses_completely(namespace):
    raw = network_new_rx(namespace=namespace)

    rx = parse_new_rx(raw)

    assert rx.message_id == "SS-3f9a1c2e7b"
    assert rx.prescriber_order_number == "SS-PON-90210"
    assert (rx.patient.first_name, rx.patient.middle_name, rx.patient.last_name) == (
        "Siobhán",
        "",
        "O'Connor",
    )
    assert rx.patient.date_of_birth == date(1958, 11, 30)
    assert rx.prescriber.npi == VALID_NPI
    assert rx.prescriber.dea_number == ""  # sent as an empty element
    assert rx.prescriber.last_name == "Okafor"
    assert rx.written_date == date(2024, 3, 1)  # the date part of the DateTime as written
    assert rx.drug.description == "Atorvastatin 20 MG Oral Tablet"
    assert rx.drug.ndc == "00071015523"  # the ND ProductCode, not the RxNorm DrugDBCode
    assert rx.drug.dea_schedule == ""  # C38046: no schedule stated
    assert (rx.drug.strength, rx.drug.dosage_form) == ("20 mg", "C42998")
    assert (rx.quantity, rx.quantity_unit, rx.days_supply, rx.refills) == (90, "C48542", 90, 3)
    assert rx.raw == raw


def test_the_envelope_of_a_network_message_keeps_its_attributes_for_the_reply():
    header = parse_script_message(network_new_rx()).header

    status = ET.fromstring(build_status(header))

    assert header.namespace == ""
    assert dict(header.version_attributes) == {
        "DatatypesVersion": "20170715",
        "TransportVersion": "20170715",
        "TransactionDomain": "SCRIPT",
        "TransactionVersion": "20170715",
        "StructuresVersion": "20170715",
        "ECLVersion": "20170715",
    }
    assert status.tag == "Message"  # no namespace, as the request had none
    assert status.get("TransactionVersion") == "20170715"
    assert (status.findtext("Header/To"), status.findtext("Header/From")) == (
        SENDER_ID,
        PHARMACY_NCPDP_ID,
    )
    assert status.findtext("Header/RelatesToMessageID") == "SS-3f9a1c2e7b"


@pytest.mark.parametrize("version", ["2017071", "2023011"])
@pytest.mark.parametrize("code", ["C38046", "c38046", " C38046 "])
def test_unspecified_schedule_c38046_means_none_stated(version, code):
    rx = parse_new_rx(new_rx(version=version, schedule=code))

    assert rx.drug.dea_schedule == ""
    assert rx.drug == parse_new_rx(new_rx(version=version, schedule=None)).drug


@pytest.mark.parametrize(
    ("drug_db_code", "qualifier"),
    [("617318", "SCD"), ("262095", "SBD"), ("36100010100310", "GPI"), ("00071015523", "SCD")],
)
def test_a_drug_db_code_alone_is_not_an_ndc(drug_db_code, qualifier):
    rx = parse_new_rx(
        network_new_rx(ndc=None, drug_db_code=drug_db_code, drug_db_qualifier=qualifier)
    )

    assert rx.drug.ndc is None
    assert rx.drug.description == "Atorvastatin 20 MG Oral Tablet"
    assert rx.drug.dea_schedule == ""


# --------------------------------------------------------------------------- through the API


@pytest.mark.parametrize("namespace", [False, True], ids=["no-namespace", "namespace"])
def test_a_network_new_rx_is_accepted_and_the_catalogue_decides_no_schedule(
    api_technician, technician, atorvastatin, prescriber, namespace
):
    response = send(api_technician, namespace=namespace)

    assert response.status_code == 201, response.content
    root = reply(response)
    prefix = "s:" if namespace else ""
    assert root.findtext(f"{prefix}Body/{prefix}Status/{prefix}Code", namespaces=NS) == "000"
    prescription = Prescription.objects.get(message_id="SS-3f9a1c2e7b")
    assert prescription.status == Prescription.Status.ACTIVE
    assert prescription.intake_issues == [IntakeIssue.NEW_PATIENT]
    assert prescription.product == atorvastatin
    assert prescription.dea_schedule == DEASchedule.NONE
    assert prescription.prescriber == prescriber
    assert prescription.written_date == timezone.localdate()
    assert prescription.expires_on == timezone.localdate() + timedelta(days=365)
    assert (prescription.patient.first_name, prescription.patient.last_name) == (
        "Siobhán",
        "O'Connor",
    )
    assert prescription.received_data["drug"]["dea_schedule"] == ""
    # Kept verbatim, escapes and all.
    assert "O&apos;Connor" in prescription.raw_message
    assert "Smith &amp; Sons Clinic" in prescription.raw_message
    assert prescription.fills.get().status == Fill.Status.PV1


def test_c38046_on_a_controlled_drug_takes_the_catalogues_schedule(
    api_technician, oxycodone, prescriber
):
    response = send(api_technician, ndc=OXYCODONE_NDC, refills="0", description="Oxycodone 5 MG")

    assert response.status_code == 201, response.content
    prescription = Prescription.objects.get(message_id="SS-3f9a1c2e7b")
    assert prescription.product == oxycodone
    assert prescription.dea_schedule == DEASchedule.CII
    assert prescription.expires_on == timezone.localdate() + timedelta(days=183)
    assert prescription.status == Prescription.Status.ACTIVE


def test_c38046_never_lets_a_controlled_drug_past_its_refill_limit(
    api_technician, oxycodone, prescriber
):
    before = counts()

    response = send(api_technician, ndc=OXYCODONE_NDC, refills="3")

    assert response.status_code == 400
    root = reply(response)
    assert root.findtext("Body/Error/Code") == "900"
    assert "cannot be refilled" in root.findtext("Body/Error/Description")
    assert counts() == before


@pytest.mark.parametrize(
    ("drug_db_code", "qualifier"), [("617318", "SCD"), ("36100010100310", "GPI")]
)
def test_a_drug_sent_without_an_ndc_waits_in_intake_as_drug_not_matched(
    api_technician, atorvastatin, prescriber, drug_db_code, qualifier
):
    response = send(
        api_technician, ndc=None, drug_db_code=drug_db_code, drug_db_qualifier=qualifier
    )

    assert response.status_code == 201, response.content
    prescription = Prescription.objects.get(message_id="SS-3f9a1c2e7b")
    assert prescription.status == Prescription.Status.INTAKE
    assert prescription.intake_issues == [IntakeIssue.NEW_PATIENT, IntakeIssue.DRUG_NOT_MATCHED]
    assert prescription.product is None
    assert prescription.prescribed_ndc == ""
    assert prescription.dea_schedule == DEASchedule.NONE
    assert prescription.fills.get().status == Fill.Status.INTAKE


@pytest.mark.parametrize("code", ["C48680", "C3804", "Unspecified"])
def test_other_unknown_schedule_codes_are_still_refused(
    api_technician, atorvastatin, prescriber, code
):
    before = counts()

    response = send(api_technician, schedule=code)

    assert response.status_code == 400
    assert "is not one we know" in reply(response).findtext("Body/Error/Description")
    assert counts() == before


@pytest.mark.django_db(transaction=True)
def test_a_network_new_rx_over_real_http(live_server, atorvastatin, prescriber):
    from pharmacy.tests.factories import make_staff  # noqa: PLC0415

    token = create_api_token(make_staff("surescripts-gateway")).key
    body = network_new_rx(written=written_today())

    def call() -> tuple[int, bytes]:
        request = urllib.request.Request(
            f"{live_server.url}{URL}",
            data=body,
            method="POST",
            headers={"Authorization": f"Token {token}", "Content-Type": "application/xml"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    created, again = call(), call()

    assert created[0] == 201, created[1]
    assert ET.fromstring(created[1]).findtext("Body/Status/Code") == "000"
    assert again[0] == 200
    prescription = Prescription.objects.get(message_id="SS-3f9a1c2e7b")
    assert (prescription.patient.last_name, prescription.dea_schedule) == ("O'Connor", "")
    assert prescription.raw_message == body.decode()
