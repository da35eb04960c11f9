"""The orders part of the demo pharmacy that ``manage.py seed_demo`` loads.

It runs after the pharmacy app's demo (staff, patients, prescribers, catalogue) and adds
prescriptions from every channel, each received the way a real one is: NCPDP SCRIPT
NewRx and FHIR messages are built as a sender would write them and go through the same
parsers as the API; phone, fax and mailed-in prescriptions go through
``receive_prescription`` as a technician's entry would. What they show:

* the intake queue: a patient match that is uncertain (a misspelt name, same birth
  date), a drug that is not in the catalogue, and a controlled substance from a new
  prescriber whose DEA registration nobody has checked yet;
* fills waiting for PV1 with every kind of drug-check alert: a drug-drug interaction
  (warfarin, then sulfamethoxazole/trimethoprim), an allergy (a penicillin-allergic
  patient prescribed amoxicillin), duplicate therapy (two statins), an early refill
  (levothyroxine asked for again eight days into a 30-day supply) and a dose alert (a
  180-day supply). A ``no_data`` alert is not staged: the curated interaction list is
  imported first and every demo product has its ingredients, as in a pharmacy that runs
  properly;
* refills asked for by patients through ``request_refill``, of prescriptions whose first
  fill went out weeks ago;
* fills further along, moved by the demo staff through the workflow services exactly as
  they would (``orders.services.workflow``): waiting to be filled (PV1 passed, every
  drug-check alert overridden with a coded reason), waiting for PV2 (filled with a scan
  of the stock bottle's DataMatrix from the suggested FEFO lot), ready to pack (one of
  them rejected at PV2 first for a wrong count: its units went back to the lot and a
  discrepancy waits to be resolved), on hold at PV1 (clarification) and at the fill step
  (insurance), and a partial fill (no single bottle holds the 90-day supply and the
  prescriber allowed no substitution) whose remainder waits on hold, out of stock.

Two things bypass the usual service, marked as demo history: first fills that were
filled and shipped before the demo began (their events and dates are back-dated), and the
early refill (``request_refill`` refuses a refill that is too soon; here the pharmacy
took the patient's call, made the fill with ``create_fill`` and leaves the decision to
PV1).

Every prescription is found again by its natural key (the e-Rx message id, or for phone,
fax and mail the prescriber's order number on the channel); what follows a prescription
(shipping its first fill, a refill) happens only in the run that received it. Running the
seed again creates nothing.
"""

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from io import TextIOBase
from xml.sax.saxutils import escape

from django.db import transaction
from django.utils import timezone

from inventory.models import StockLot
from inventory.ndc import gtin14_from_ndc, ndc11_from_package_ndc
from orders.intake.fhir import parse_fhir_json
from orders.intake.messages import (
    IncomingAddress,
    IncomingDrug,
    IncomingPatient,
    IncomingPrescriber,
    IncomingPrescription,
)
from orders.intake.ncpdp import parse_new_rx
from orders.models import (
    Channel,
    Discrepancy,
    DurAlert,
    Fill,
    FillEvent,
    HoldReason,
    Order,
    OverrideReason,
    Prescription,
)
from orders.services.intake import (
    VerbalOrder,
    create_fill,
    next_fill_number,
    receive_prescription,
    request_refill,
    run_drug_checks,
)
from orders.services.workflow import (
    Override,
    approve_pv1,
    approve_pv2,
    fill_with_scan,
    hold_fill,
    record_pdmp_check,
    reject_pv2,
    suggest_lot,
)
from pharmacy.demo import PATIENTS, PRESCRIBERS, DemoSummary
from pharmacy.drug_checks import import_curated_interactions, invalidate_interaction_index
from pharmacy.models import DrugInteraction, User

# =========================================================================== people


@dataclass(frozen=True)
class RxPatient:
    """A patient as a prescription names them (not necessarily as the pharmacy has them)."""

    first_name: str
    middle_name: str
    last_name: str
    date_of_birth: date
    sex: str
    phone: str
    line1: str
    city: str
    state: str
    postal_code: str
    line2: str = ""


@dataclass(frozen=True)
class RxPrescriber:
    first_name: str
    last_name: str
    npi: str
    dea_number: str
    state_license: str
    line1: str
    city: str
    state: str
    postal_code: str
    phone: str
    fax: str


def demo_patient(last_name: str) -> RxPatient:
    """A patient of the pharmacy demo, as their prescriber's system would send them."""
    patient = next(p for p in PATIENTS if p.last_name == last_name)
    address = patient.addresses[0]
    return RxPatient(
        patient.first_name, patient.middle_name, patient.last_name, patient.date_of_birth,
        patient.sex, patient.phone, address.line1, address.city, address.state,
        address.postal_code, address.line2,
    )  # fmt: skip


def demo_prescriber(last_name: str) -> RxPrescriber:
    prescriber = next(p for p in PRESCRIBERS if p.last_name == last_name)
    return RxPrescriber(
        prescriber.first_name, prescriber.last_name, prescriber.npi, prescriber.dea_number,
        prescriber.state_license_number, prescriber.address_line1, prescriber.city,
        prescriber.state, prescriber.postal_code, prescriber.phone, prescriber.fax,
    )  # fmt: skip


# Margaret Sullivan's name misspelt by her new prescriber's office: same birth date, so
# intake cannot be sure it is her and asks a technician.
MISSPELT_SULLIVAN = RxPatient(
    "Margret", "", "Sullivan", date(1948, 3, 14), "F", "(614) 555-0101",
    "1427 Maple Grove Ave", "Columbus", "OH", "43214",
)  # fmt: skip
# Not a patient of the pharmacy yet: intake creates her record for a technician to complete.
NEW_PATIENT = RxPatient(
    "Olivia", "Rose", "Bennett", date(1991, 10, 3), "F", "(614) 555-0131",
    "77 W Lane Ave", "Columbus", "OH", "43201", line2="Apt 12",
)  # fmt: skip
# A prescriber new to the pharmacy (invented; valid check digits): her DEA registration
# is not verified yet, so her controlled-substance prescription waits in intake.
NEW_PRESCRIBER = RxPrescriber(
    "Elena", "Vasquez", "1386294056", "BV4829137", "35.118204",
    "1492 E Broad St", "Columbus", "OH", "43205", "(614) 555-0171", "(614) 555-0172",
)  # fmt: skip

# =========================================================================== prescriptions

# After receiving: the first fill "was filled and shipped N days ago" (current medication
# history), then possibly a refill (``request_refill``) or an early refill.
NOTHING, SHIPPED, SHIPPED_THEN_REFILL, SHIPPED_THEN_EARLY_REFILL = (
    "nothing", "shipped", "refill", "early_refill",
)  # fmt: skip

# How far the first fill of a prescription received today goes through the workflow.
AT_PV1, TO_FILL, FILLED, VERIFIED, HELD_AT_PV1, HELD_AT_FILL, PARTIAL = (
    "pv1", "fill", "pv2", "ready_to_pack", "held_at_pv1", "held_at_fill", "partial",
)  # fmt: skip

TABLET, CAPSULE = "C48542", "C48480"  # NCPDP QuantityUnitOfMeasure (NCI codes)
SCHEDULE_CODES = {"CII": "C48675", "CIII": "C48676", "CIV": "C48677", "CV": "C48679"}


@dataclass(frozen=True)
class DemoPrescription:
    """One demo prescription: who, what, how it arrived and what happens to it next.

    ``key`` is the message id of an e-prescription, else the prescriber's order number
    (written on the phone note, the fax and the paper). ``package_ndc`` None sends the
    drug coded by RxNorm only (FHIR), which the catalogue cannot match.
    """

    key: str
    channel: str
    patient: RxPatient
    prescriber: RxPrescriber
    description: str
    package_ndc: str | None
    quantity: str
    unit: str
    days_supply: int
    refills: int
    sig: str
    written_days_ago: int
    dea_schedule: str = ""
    then: str = NOTHING
    shipped_days_ago: int = 0
    note: str = ""
    stage: str = AT_PV1
    substitutions_allowed: bool = True


PRESCRIPTIONS = (
    # ---- history first: current medications the checks of later prescriptions look at
    DemoPrescription(
        "DEMO-NEWRX-0001", Channel.NCPDP, demo_patient("Kowalczyk"), demo_prescriber("Chen"),
        "Warfarin Sodium 5 MG Oral Tablet", "51672-4032-1", "30", TABLET, 30, 5,
        "Take 1 tablet by mouth once daily in the evening or as directed by the clinic",
        40, then=SHIPPED, shipped_days_ago=20,
    ),
    DemoPrescription(
        "DEMO-FHIR-0001", Channel.FHIR, demo_patient("Washington"), demo_prescriber("Nguyen"),
        "Atorvastatin Calcium 40 MG Oral Tablet", "59762-0157-1", "90", "TAB", 90, 3,
        "Take 1 tablet by mouth once daily", 35, then=SHIPPED, shipped_days_ago=30,
    ),
    DemoPrescription(
        "DEMO-FAX-0001", Channel.FAX, demo_patient("Jenkins"), demo_prescriber("Raman"),
        "Levothyroxine Sodium 50 MCG Oral Tablet", "0378-1803-01", "30", TABLET, 30, 5,
        "Take 1 tablet by mouth every morning on an empty stomach", 20,
        then=SHIPPED_THEN_EARLY_REFILL, shipped_days_ago=8,
    ),
    DemoPrescription(
        "DEMO-NEWRX-0002", Channel.NCPDP, demo_patient("Sullivan"), demo_prescriber("Chen"),
        "Lisinopril 10 MG Oral Tablet", "68180-514-01", "90", TABLET, 90, 3,
        "Take 1 tablet by mouth once daily", 95, then=SHIPPED_THEN_REFILL, shipped_days_ago=80,
    ),
    DemoPrescription(
        "DEMO-FHIR-0002", Channel.FHIR, demo_patient("Mendoza"), demo_prescriber("O'Brien"),
        "Amlodipine Besylate 5 MG Oral Tablet", "31722-238-90", "90", "TAB", 90, 3,
        "Take 1 tablet by mouth once daily", 90, then=SHIPPED_THEN_REFILL, shipped_days_ago=75,
    ),
    # ---- waiting for PV1, one kind of drug-check alert each
    DemoPrescription(
        "DEMO-NEWRX-0003", Channel.NCPDP, demo_patient("Kowalczyk"), demo_prescriber("O'Brien"),
        "Sulfamethoxazole 800 MG / Trimethoprim 160 MG Oral Tablet", "53489-146-01", "20",
        TABLET, 10, 0, "Take 1 tablet by mouth twice daily for 10 days", 1,
        note="Urinary tract infection",
    ),
    DemoPrescription(
        "DEMO-FHIR-0003", Channel.FHIR, demo_patient("Rahman"), demo_prescriber("Park"),
        "Amoxicillin 500 MG Oral Capsule", "0093-3109-01", "30", "CAP", 10, 0,
        "Take 1 capsule by mouth three times daily for 10 days", 0,
    ),
    DemoPrescription(
        "DEMO-PHONE-0001", Channel.PHONE, demo_patient("Washington"), demo_prescriber("Chen"),
        "Simvastatin 20 MG Oral Tablet", "68382-067-16", "90", TABLET, 90, 1,
        "Take 1 tablet by mouth at bedtime", 2,
        note="Called in by the prescriber's nurse.",
    ),
    DemoPrescription(
        "DEMO-MAIL-0001", Channel.WRITTEN, demo_patient("Miller"), demo_prescriber("Raman"),
        "Metformin Hydrochloride 500 MG Oral Tablet", "68382-028-01", "360", TABLET, 180, 1,
        "Take 1 tablet by mouth twice daily with meals", 6,
    ),
    DemoPrescription(
        "DEMO-NEWRX-0004", Channel.NCPDP, demo_patient("Hoffman"), demo_prescriber("Whitfield"),
        "Oxycodone Hydrochloride 5 MG / Acetaminophen 325 MG Oral Tablet", "0406-0512-01",
        "20", TABLET, 5, 0, "Take 1 tablet by mouth every 6 hours as needed for severe pain",
        1, dea_schedule="CII", note="After knee arthroscopy",
    ),
    DemoPrescription(
        "DEMO-NEWRX-0005", Channel.NCPDP, NEW_PATIENT, demo_prescriber("Goldberg"),
        "Sertraline 50 MG Oral Tablet", "65862-012-30", "30", TABLET, 30, 5,
        "Take 1 tablet by mouth once daily", 1,
    ),
    # ---- waiting in the intake queue for a technician
    DemoPrescription(
        "DEMO-NEWRX-0006", Channel.NCPDP, MISSPELT_SULLIVAN, demo_prescriber("Moreno"),
        "Atorvastatin Calcium 10 MG Oral Tablet", "0071-0155-23", "90", TABLET, 90, 3,
        "Take 1 tablet by mouth once daily", 2,
    ),
    DemoPrescription(
        "DEMO-FHIR-0004", Channel.FHIR, demo_patient("Nguyen"), demo_prescriber("Park"),
        "Rosuvastatin 10 MG Oral Tablet", None, "30", "TAB", 30, 5,
        "Take 1 tablet by mouth once daily", 1,
    ),
    DemoPrescription(
        "DEMO-NEWRX-0007", Channel.NCPDP, demo_patient("O'Connor"), NEW_PRESCRIBER,
        "Alprazolam 0.5 MG Oral Tablet", "0781-1077-01", "30", TABLET, 30, 1,
        "Take 1 tablet by mouth twice daily as needed for anxiety", 1, dea_schedule="CIV",
    ),
    # ---- further along the workflow: the fill, PV2 and packing queues, holds
    DemoPrescription(
        "DEMO-PHONE-0002", Channel.PHONE, demo_patient("Baker"), demo_prescriber("Chen"),
        "Losartan Potassium 50 MG Oral Tablet", "13668-409-90", "90", TABLET, 90, 3,
        "Take 1 tablet by mouth once daily", 3, stage=TO_FILL,
    ),
    DemoPrescription(
        "DEMO-NEWRX-0008", Channel.NCPDP, demo_patient("Walsh"), demo_prescriber("Raman"),
        "Hydrochlorothiazide 25 MG Oral Tablet", "29300-128-01", "90", TABLET, 90, 3,
        "Take 1 tablet by mouth every morning", 2, stage=TO_FILL,
    ),
    DemoPrescription(
        "DEMO-FAX-0002", Channel.FAX, demo_patient("Schneider"), demo_prescriber("Park"),
        "Pantoprazole Sodium 40 MG Delayed Release Oral Tablet", "0093-0012-98", "90", TABLET,
        90, 3, "Take 1 tablet by mouth once daily before breakfast", 4, stage=FILLED,
    ),
    DemoPrescription(
        "DEMO-NEWRX-0009", Channel.NCPDP, demo_patient("Foster"), demo_prescriber("Nguyen"),
        "Metoprolol Succinate 25 MG Extended Release Oral Tablet", "55111-466-01", "90",
        TABLET, 90, 3, "Take 1 tablet by mouth once daily", 3, stage=VERIFIED,
    ),
    DemoPrescription(
        "DEMO-MAIL-0002", Channel.WRITTEN, demo_patient("Castillo"), demo_prescriber("O'Brien"),
        "Amlodipine Besylate 10 MG Oral Tablet", "31722-239-90", "90", TABLET, 90, 3,
        "Take 1 tablet by mouth once daily", 5, stage=HELD_AT_PV1,
    ),
    DemoPrescription(
        "DEMO-FHIR-0005", Channel.FHIR, demo_patient("Torres"), demo_prescriber("Park"),
        "Levothyroxine Sodium 100 MCG Oral Tablet", "0378-1809-01", "90", "TAB", 90, 3,
        "Take 1 tablet by mouth every morning on an empty stomach", 2, stage=HELD_AT_FILL,
    ),
    DemoPrescription(
        "DEMO-PHONE-0003", Channel.PHONE, demo_patient("Bell"), demo_prescriber("Raman"),
        "Omeprazole 20 MG Delayed Release Oral Capsule", "55111-158-30", "180", CAPSULE, 90,
        1, "Take 1 capsule by mouth twice daily before meals", 2, stage=PARTIAL,
        substitutions_allowed=False, note="Dispense as written: bottles of 30 only.",
    ),
)  # fmt: skip

ELECTRONIC = (Channel.NCPDP, Channel.FHIR)

# =========================================================================== messages


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def ncpdp_new_rx(rx: DemoPrescription, *, written_on: date) -> bytes:
    """The prescription as an NCPDP SCRIPT 2017071 NewRx, as an e-prescribing network
    delivers it (default namespace, version attributes)."""
    patient, prescriber = rx.patient, rx.prescriber
    version = "2017071"
    attributes = " ".join(
        f'{name}="{version}"'
        for name in ("DatatypesVersion", "TransportVersion", "TransactionVersion",
                     "StructuresVersion", "ECLVersion")
    )  # fmt: skip
    ndc = (
        f"<ProductCode><Code>{ndc11_from_package_ndc(rx.package_ndc)}</Code>"
        "<Qualifier>ND</Qualifier></ProductCode>"
        if rx.package_ndc
        else ""
    )
    schedule = (
        f"<DEASchedule><Code>{SCHEDULE_CODES[rx.dea_schedule]}</Code></DEASchedule>"
        if rx.dea_schedule
        else ""
    )
    identifiers = "".join(
        f"<{tag}>{escape(value)}</{tag}>"
        for tag, value in (
            ("NPI", prescriber.npi),
            ("DEANumber", prescriber.dea_number),
            ("StateLicenseNumber", prescriber.state_license),
        )
        if value
    )
    xml = f"""<Message {attributes} TransactionDomain="SCRIPT">
  <Header>
    <To Qualifier="P">7701630</To>
    <From Qualifier="C">SURESCRIPTS-77777</From>
    <MessageID>{escape(rx.key)}</MessageID>
    <SentTime>{written_on.isoformat()}T14:05:09.120Z</SentTime>
    <PrescriberOrderNumber>{escape(rx.key.replace("NEWRX", "PON"))}</PrescriberOrderNumber>
  </Header>
  <Body>
    <NewRx>
      <Patient>
        <HumanPatient>
          <Name><LastName>{escape(patient.last_name)}</LastName>
            <FirstName>{escape(patient.first_name)}</FirstName>
            <MiddleName>{escape(patient.middle_name)}</MiddleName></Name>
          <Gender>{patient.sex}</Gender>
          <DateOfBirth><Date>{patient.date_of_birth.isoformat()}</Date></DateOfBirth>
          <Address>
            <AddressLine1>{escape(patient.line1)}</AddressLine1>
            <AddressLine2>{escape(patient.line2)}</AddressLine2>
            <City>{escape(patient.city)}</City>
            <StateProvince>{patient.state}</StateProvince>
            <PostalCode>{patient.postal_code}</PostalCode>
            <CountryCode>US</CountryCode>
          </Address>
          <CommunicationNumbers>
            <PrimaryTelephone><Number>{_digits(patient.phone)}</Number></PrimaryTelephone>
          </CommunicationNumbers>
        </HumanPatient>
      </Patient>
      <Pharmacy>
        <Identification><NCPDPID>7701630</NCPDPID></Identification>
        <BusinessName>Mail Order Pharmacy</BusinessName>
      </Pharmacy>
      <Prescriber>
        <NonVeterinarian>
          <Identification>{identifiers}</Identification>
          <Name><LastName>{escape(prescriber.last_name)}</LastName>
            <FirstName>{escape(prescriber.first_name)}</FirstName></Name>
          <Address>
            <AddressLine1>{escape(prescriber.line1)}</AddressLine1>
            <City>{escape(prescriber.city)}</City>
            <StateProvince>{prescriber.state}</StateProvince>
            <PostalCode>{prescriber.postal_code}</PostalCode>
            <CountryCode>US</CountryCode>
          </Address>
          <CommunicationNumbers>
            <PrimaryTelephone><Number>{_digits(prescriber.phone)}</Number></PrimaryTelephone>
            <Fax><Number>{_digits(prescriber.fax)}</Number></Fax>
          </CommunicationNumbers>
        </NonVeterinarian>
      </Prescriber>
      <MedicationPrescribed>
        <DrugDescription>{escape(rx.description)}</DrugDescription>
        <DrugCoded>{ndc}{schedule}</DrugCoded>
        <Quantity>
          <Value>{rx.quantity}</Value>
          <CodeListQualifier>38</CodeListQualifier>
          <QuantityUnitOfMeasure><Code>{rx.unit}</Code></QuantityUnitOfMeasure>
        </Quantity>
        <DaysSupply>{rx.days_supply}</DaysSupply>
        <WrittenDate><Date>{written_on.isoformat()}</Date></WrittenDate>
        <Substitutions>0</Substitutions>
        <NumberOfRefills>{rx.refills}</NumberOfRefills>
        <Sig><SigText>{escape(rx.sig)}</SigText></Sig>
        {f"<Note>{escape(rx.note)}</Note>" if rx.note else ""}
      </MedicationPrescribed>
    </NewRx>
  </Body>
</Message>"""
    root = ET.fromstring(xml)  # our own text: checks it is well formed
    root.set("xmlns", "http://www.ncpdp.org/schema/SCRIPT")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def fhir_bundle(rx: DemoPrescription, *, written_on: date) -> bytes:
    """The prescription as a FHIR R4 Bundle (MedicationRequest with its Patient,
    Practitioner and Medication), as an EHR sends it; the Bundle identifier is the
    message id."""
    patient, prescriber = rx.patient, rx.prescriber
    medication_coding = [
        {
            "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
            "display": rx.description,
        }
    ]
    if rx.package_ndc:
        medication_coding.append({"system": "http://hl7.org/fhir/sid/ndc", "code": rx.package_ndc})
    practitioner_identifiers = [
        {"system": "http://hl7.org/fhir/sid/us-npi", "value": prescriber.npi}
    ]
    if prescriber.dea_number:
        practitioner_identifiers.append(
            {"system": "urn:oid:2.16.840.1.113883.4.814", "value": prescriber.dea_number}
        )
    given = (
        [patient.first_name, patient.middle_name] if patient.middle_name else [patient.first_name]
    )
    resources = {
        "Patient": {
            "resourceType": "Patient",
            "id": "patient",
            "name": [{"use": "official", "family": patient.last_name, "given": given}],
            "gender": {"F": "female", "M": "male"}.get(patient.sex, "unknown"),
            "birthDate": patient.date_of_birth.isoformat(),
            "telecom": [{"system": "phone", "value": patient.phone}],
            "address": [
                {
                    "use": "home",
                    "line": [line for line in (patient.line1, patient.line2) if line],
                    "city": patient.city,
                    "state": patient.state,
                    "postalCode": patient.postal_code,
                    "country": "US",
                }
            ],
        },
        "Practitioner": {
            "resourceType": "Practitioner",
            "id": "prescriber",
            "identifier": practitioner_identifiers,
            "name": [{"family": prescriber.last_name, "given": [prescriber.first_name]}],
            "telecom": [
                {"system": "phone", "value": prescriber.phone},
                {"system": "fax", "value": prescriber.fax},
            ],
            "address": [
                {
                    "line": [prescriber.line1],
                    "city": prescriber.city,
                    "state": prescriber.state,
                    "postalCode": prescriber.postal_code,
                }
            ],
        },
        "Medication": {
            "resourceType": "Medication",
            "id": "medication",
            "code": {"coding": medication_coding, "text": rx.description},
        },
    }
    unit_text = {"TAB": "tablet", "CAP": "capsule"}.get(rx.unit, rx.unit)
    request = {
        "resourceType": "MedicationRequest",
        "id": rx.key.lower(),
        "identifier": [
            {"use": "official", "system": "urn:ehr:orders", "value": rx.key.replace("FHIR", "ORD")}
        ],
        "status": "active",
        "intent": "order",
        "medicationReference": {"reference": "Medication/medication"},
        "subject": {"reference": "Patient/patient"},
        "authoredOn": written_on.isoformat(),
        "requester": {"reference": "Practitioner/prescriber"},
        "dosageInstruction": [{"sequence": 1, "text": rx.sig}],
        "dispenseRequest": {
            "numberOfRepeatsAllowed": rx.refills,
            "quantity": {"value": int(rx.quantity), "unit": unit_text, "code": rx.unit},
            "expectedSupplyDuration": {
                "value": rx.days_supply,
                "unit": "days",
                "system": "http://unitsofmeasure.org",
                "code": "d",
            },
        },
        "substitution": {"allowedBoolean": True},
    }
    if rx.note:
        request["note"] = [{"text": rx.note}]
    base = "https://ehr.example.org/fhir"
    entries = [{"fullUrl": f"{base}/MedicationRequest/{request['id']}", "resource": request}]
    entries += [
        {"fullUrl": f"{base}/{kind}/{resource['id']}", "resource": resource}
        for kind, resource in resources.items()
    ]
    bundle = {
        "resourceType": "Bundle",
        "identifier": {"system": "urn:ehr:messages", "value": rx.key},
        "type": "collection",
        "entry": entries,
    }
    return json.dumps(bundle, indent=2).encode()


def typed_prescription(rx: DemoPrescription, *, written_on: date) -> IncomingPrescription:
    """What a technician types from a phone call, a fax or a mailed-in paper."""
    patient, prescriber = rx.patient, rx.prescriber
    return IncomingPrescription(
        message_id="",
        channel=rx.channel,
        written_date=written_on,
        patient=IncomingPatient(
            first_name=patient.first_name,
            middle_name=patient.middle_name,
            last_name=patient.last_name,
            date_of_birth=patient.date_of_birth,
            sex=patient.sex,
            phone=patient.phone,
            address=IncomingAddress(
                patient.line1, patient.line2, patient.city, patient.state, patient.postal_code
            ),
        ),
        prescriber=IncomingPrescriber(
            first_name=prescriber.first_name,
            last_name=prescriber.last_name,
            npi=prescriber.npi,
            dea_number=prescriber.dea_number,
            state_license=prescriber.state_license,
            phone=prescriber.phone,
            fax=prescriber.fax,
        ),
        drug=IncomingDrug(
            description=rx.description,
            ndc=ndc11_from_package_ndc(rx.package_ndc) if rx.package_ndc else None,
            dea_schedule=rx.dea_schedule,
        ),
        quantity=Decimal(rx.quantity),
        quantity_unit=rx.unit,
        sig_text=rx.sig,
        days_supply=rx.days_supply,
        refills=rx.refills,
        note=rx.note,
        prescriber_order_number=rx.key,
        substitutions_allowed=rx.substitutions_allowed,
    )


def verbal_order_of(rx: DemoPrescription) -> VerbalOrder | None:
    """Who phoned a demo phone order in: the prescriber's office nurse, on its number."""
    if rx.channel != Channel.PHONE:
        return None
    office = f"Dr. {rx.prescriber.last_name}'s office"
    return VerbalOrder(office, "Office nurse", rx.prescriber.phone or "(614) 555-0100")


def incoming_prescription(rx: DemoPrescription, *, today: date) -> IncomingPrescription:
    """The prescription as intake receives it on its channel."""
    written_on = today - timedelta(days=rx.written_days_ago)
    if rx.channel == Channel.NCPDP:
        return parse_new_rx(ncpdp_new_rx(rx, written_on=written_on))
    if rx.channel == Channel.FHIR:
        return parse_fhir_json(fhir_bundle(rx, written_on=written_on))
    return typed_prescription(rx, written_on=written_on)


# =========================================================================== seeding


def _existing(rx: DemoPrescription) -> Prescription | None:
    if rx.channel in ELECTRONIC:
        return Prescription.objects.filter(message_id=rx.key).first()
    return Prescription.objects.filter(channel=rx.channel, prescriber_order_number=rx.key).first()


def _staff(username: str) -> User | None:
    return User.objects.filter(username=username).first()


# The path a first fill took before the demo began: (to status, who, reason).
SHIPPED_PATH = (
    (Fill.Status.FILL, "pharmacist", "PV1 approved"),
    (Fill.Status.PV2, "technician", "Filled"),
    (Fill.Status.READY_TO_PACK, "pharmacist2", "PV2 approved"),
    (Fill.Status.PACKED, "technician2", "Packed"),
    (Fill.Status.SHIPPED, "technician2", "Handed to the carrier"),
)


def _ship_first_fill(prescription: Prescription, *, days_ago: int) -> Fill:
    """Demo history: the first fill went through every step and shipped ``days_ago`` days
    ago (its dates back-dated so refill timing and the drug checks see it that way)."""
    fill = prescription.fills.get(fill_number=0)
    received = timezone.now() - timedelta(days=days_ago, hours=6)
    status = fill.status
    for step, (to_status, username, reason) in enumerate(SHIPPED_PATH, start=1):
        event = FillEvent.objects.create(
            fill=fill,
            from_status=status,
            to_status=to_status,
            reason=f"{reason} (demo history)",
            actor=_staff(username),
        )
        FillEvent.objects.filter(pk=event.pk).update(occurred_at=received + timedelta(hours=step))
        status = to_status
    shipped_at = received + timedelta(hours=len(SHIPPED_PATH))
    Fill.objects.filter(pk=fill.pk).update(
        status=Fill.Status.SHIPPED, created_at=received, status_changed_at=shipped_at
    )
    fill.events.filter(from_status="").update(occurred_at=received)
    Prescription.objects.filter(pk=prescription.pk).update(
        received_at=received - timedelta(minutes=5)
    )
    fill.refresh_from_db()
    return fill


def _early_refill(prescription: Prescription, last_fill: Fill, *, today: date) -> Fill:
    """A refill the patient asked for by phone before it is due (travelling): the pharmacy
    takes the request and the pharmacist decides at PV1 on the early-refill alert."""
    fill = create_fill(
        prescription,
        by=_staff("technician"),
        order=Order.objects.create(patient=prescription.patient),
        status=Fill.Status.PV1,
        reason="Early refill asked for by phone: patient travelling (demo)",
        requested_via="refill_request",
        quantity=prescription.quantity,
        days_supply=prescription.days_supply,
        fill_number=next_fill_number(prescription),
    )
    run_drug_checks(prescription, fill, today=today, last_fill=last_fill)
    return fill


# The coded reason the demo pharmacist gives at PV1 for each kind of drug-check alert.
DEMO_OVERRIDES = {
    DurAlert.Type.INTERACTION: OverrideReason.PRESCRIBER_CONSULTED,
    DurAlert.Type.ALLERGY: OverrideReason.PREVIOUSLY_TOLERATED,
    DurAlert.Type.DUPLICATE_THERAPY: OverrideReason.THERAPY_CHANGE,
    DurAlert.Type.EARLY_REFILL: OverrideReason.PATIENT_CONSULTED,
    DurAlert.Type.DOSE: OverrideReason.DOSE_VERIFIED,
    DurAlert.Type.NO_DATA: OverrideReason.CHECKED_MANUALLY,
}


def _bottle_scan(lot: StockLot) -> str:
    """The DataMatrix a technician's scanner reads off a stock bottle of this lot."""
    return f"]d201{gtin14_from_ndc(lot.package.package_ndc)}17{lot.expiry:%y%m%d}10{lot.lot_number}"


def _fill_from_the_shelf(fill: Fill, *, by: User) -> bool:
    """The technician fills from the suggested lot; without stock the fill is held."""
    lot = suggest_lot(fill)
    if lot is None or lot.quantity_on_hand < fill.quantity:
        hold_fill(fill, by=by, reason_code=HoldReason.OUT_OF_STOCK, note="No bottle on the shelf")
        return False
    fill_with_scan(fill, by=by, scan=_bottle_scan(lot), quantity=fill.quantity)
    return True


def pass_pv1(fill: Fill, *, by) -> None:
    """PV1 as the demo pharmacist passes it: the state PDMP check first for a controlled
    substance, then every drug-check alert overridden with its demo reason."""
    if fill.prescription.controlled_schedule:
        record_pdmp_check(fill, by=by, state="OH", result="no_concerns", reference="DEMO")
    overrides = [
        Override(alert.pk, DEMO_OVERRIDES[alert.type], "Reviewed at PV1 (demo)")
        for alert in DurAlert.objects.for_fill(fill)
    ]
    approve_pv1(fill, by=by, overrides=overrides)


def _advance(prescription: Prescription, stage: str) -> bool:
    """Take a new prescription's first fill through the workflow to ``stage``, by the
    demo staff, with the services they use. Returns whether the fill moved."""
    fill = prescription.fills.get(fill_number=0)
    technician, pharmacist, checker = (
        _staff("technician"), _staff("pharmacist"), _staff("pharmacist2"),
    )  # fmt: skip
    if (
        stage == AT_PV1
        or None in (technician, pharmacist, checker)
        or fill.status != Fill.Status.PV1
    ):
        return False
    if stage == HELD_AT_PV1:
        hold_fill(
            fill, by=pharmacist, reason_code=HoldReason.CLARIFICATION,
            note="Left a message for the prescriber: same drug at 5 mg on file, confirm 10 mg.",
        )  # fmt: skip
        return True
    pass_pv1(fill, by=pharmacist)
    if stage == TO_FILL:
        return True
    if stage == HELD_AT_FILL:
        hold_fill(
            fill, by=technician, reason_code=HoldReason.INSURANCE,
            note="The plan asks for a prior authorization; requested from the prescriber.",
        )  # fmt: skip
        return True
    if stage == PARTIAL:
        lot = suggest_lot(fill)
        if lot is not None and lot.quantity_on_hand < fill.quantity:
            # No bottle of the prescribed package holds the whole supply.
            fill_with_scan(
                fill, by=technician, scan=_bottle_scan(lot), quantity=lot.quantity_on_hand,
                partial=True,
            )  # fmt: skip
        else:
            _fill_from_the_shelf(fill, by=technician)
        return True
    if not _fill_from_the_shelf(fill, by=technician) or stage == FILLED:
        return True
    reject_pv2(
        fill, by=checker, reason="Counted 89 tablets in the vial; the label says 90.",
        discrepancy_kind=Discrepancy.Kind.WRONG_COUNT,
    )  # fmt: skip
    if _fill_from_the_shelf(fill, by=_staff("technician2") or technician):
        approve_pv2(Fill.objects.get(pk=fill.pk), by=checker, scan=fill.label_code, entry="scanned")
    return True


def seed_demo(*, stdout: TextIOBase) -> dict[str, int]:
    """Load the orders part of the demo pharmacy (after the pharmacy app's demo), in one
    transaction. Returns how many rows of each kind were created; a second run creates
    none. Raises IntakeError or RefillRefused if the demo data no longer fits the rules
    (nothing of this app is written then)."""
    summary = DemoSummary()
    today = timezone.localdate()
    with transaction.atomic():
        imported = 0
        if not DrugInteraction.objects.filter(source=DrugInteraction.Source.CURATED).exists():
            imported = import_curated_interactions().created
            # The import refreshes other processes' caches on commit; this process checks
            # prescriptions inside the same transaction, so it forgets its copy now.
            invalidate_interaction_index()
        summary.count(
            "curated interactions",
            total=DrugInteraction.objects.filter(source=DrugInteraction.Source.CURATED).count(),
            created=imported,
        )

        technician = _staff("technician")
        created, refills, advanced = 0, 0, 0
        for rx in PRESCRIPTIONS:
            if _existing(rx) is not None:
                continue
            result = receive_prescription(
                incoming_prescription(rx, today=today),
                channel=rx.channel,
                by=None if rx.channel in ELECTRONIC else technician,
                today=today,
                verbal_order=verbal_order_of(rx),
            )
            if not result.created:
                continue
            created += 1
            prescription = result.prescription
            advanced += _advance(prescription, rx.stage)
            if rx.then == NOTHING:
                continue
            shipped = _ship_first_fill(prescription, days_ago=rx.shipped_days_ago)
            if rx.then == SHIPPED_THEN_REFILL:
                request_refill(
                    prescription.rx_number,
                    date_of_birth=prescription.patient.date_of_birth,
                    by=None,
                    today=today,
                )
                refills += 1
            elif rx.then == SHIPPED_THEN_EARLY_REFILL:
                _early_refill(prescription, shipped, today=today)
                refills += 1
        summary.count("prescriptions", total=len(PRESCRIPTIONS), created=created)
        summary.count(
            "refills",
            total=sum(rx.then in (SHIPPED_THEN_REFILL, SHIPPED_THEN_EARLY_REFILL)
                      for rx in PRESCRIPTIONS),
            created=refills,
        )  # fmt: skip
        summary.count(
            "fills moved along the workflow",
            total=sum(rx.stage != AT_PV1 for rx in PRESCRIPTIONS),
            created=advanced,
        )
    stdout.write("Demo prescriptions:")
    for line in summary.lines():
        stdout.write(line)
    return summary.created
