"""NCPDP SCRIPT: reading NewRx and CancelRx, writing Status, Error and CancelRxResponse.

Pure functions over bytes; no database. The untrusted body is checked for size before it
is parsed, parsed by ``defusedxml`` with DTDs, entity declarations and external references
forbidden (billion laughs, XXE), and every problem becomes an ``IntakeError``.

Elements are matched on local names, so a message may use the SCRIPT namespace
(``http://www.ncpdp.org/schema/SCRIPT``), a prefix, or none. The replies use the
namespace and version attributes of the request (SCRIPT 2017071 when there is none).

What is read, where versions differ (first match wins):

===================  ================================  ====================================
item                 SCRIPT 2017071                    also accepted (2021071-2023011, 10.x)
===================  ================================  ====================================
patient              Patient/HumanPatient              Patient (10.x, no HumanPatient);
                                                       AnimalPatient is refused
person name          Name/LastName, FirstName,         Names/Name/...
                     MiddleName
patient sex          Gender (M, F, U)                  GenderAndSex/AdministrativeGender
date of birth,       .../Date (YYYY-MM-DD)             .../DateTime (the date part)
written date
address              Address/AddressLine1, 2, City,    State, Country
                     StateProvince, PostalCode,
                     CountryCode
prescriber           Prescriber/NonVeterinarian        Prescriber/Veterinarian; Prescriber
identifiers          Identification/NPI, DEANumber,
                     StateLicenseNumber
phone, fax           CommunicationNumbers/
                     PrimaryTelephone/Number,
                     Fax/Number
drug                 MedicationPrescribed/             Product/DrugDescription
                     DrugDescription
drug codes           DrugCoded/ProductCode/Code with   Product/DrugCoded/...; DrugCoded/NDC
                     Qualifier ND (child or attribute)
                     (DrugDBCode and other qualifiers,
                     e.g. RxNorm SCD, are not an NDC:
                     the drug is then matched by hand)
strength             DrugCoded/Strength/StrengthValue, Strength or Product/Strength
                     StrengthUnitOfMeasure/Code,
                     StrengthForm/Code
DEA schedule         DrugCoded/DEASchedule/Code        DEASchedule, Product/DEASchedule
                     (C38046 "Unspecified": none
                     stated, as when absent)
quantity             Quantity/Value,                   QuantityUnitOfMeasure as text
                     QuantityUnitOfMeasure/Code
days supply          DaysSupply                        DaysSupply/Value
refills              NumberOfRefills                   Refills/Value
substitutions        Substitutions (0-9; 1 = dispense  Substitutions/Substitutions
                     as written)
sig                  Sig/SigText                       Directions (10.x)
cancel reason        -                                 the first of CancelRx/Note,
                                                       MedicationPrescribed/Note, or any
                                                       ChangeReasonText or Reason element
===================  ================================  ====================================

Required for a NewRx: Header/MessageID, the patient's last and first name and date of
birth, the prescriber's last name and NPI (a veterinarian: any identifier), the drug
description, the quantity, the written date and the sig. NPI, DEA number, NDC and DEA
schedule are checked when present (see ``messages.py`` for the error codes).
"""

import re
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from xml.etree.ElementTree import Element

import defusedxml
import defusedxml.ElementTree as DefusedET

from orders.intake.messages import (
    MAX_MESSAGE_BYTES,
    Channel,
    IncomingAddress,
    IncomingCancel,
    IncomingDrug,
    IncomingPatient,
    IncomingPrescriber,
    IncomingPrescription,
    IntakeError,
    checked_date,
    checked_dea_number,
    checked_dea_schedule,
    checked_ndc,
    checked_npi,
    checked_text,
)

NCPDP_NAMESPACE = "http://www.ncpdp.org/schema/SCRIPT"
NEW_RX = "NewRx"
CANCEL_RX = "CancelRx"
SUPPORTED_MESSAGE_TYPES = (NEW_RX, CANCEL_RX)
STATUS_SUCCESS = "000"

_VERSION_ATTRIBUTE_NAMES = (
    "DatatypesVersion",
    "TransportVersion",
    "TransactionDomain",
    "TransactionVersion",
    "StructuresVersion",
    "ECLVersion",
)
DEFAULT_VERSION_ATTRIBUTES = (
    ("DatatypesVersion", "2017071"),
    ("TransportVersion", "2017071"),
    ("TransactionDomain", "SCRIPT"),
    ("TransactionVersion", "2017071"),
    ("StructuresVersion", "2017071"),
    ("ECLVersion", "2017071"),
)

# NCI codes of strength units, shown as the abbreviations on a label.
_STRENGTH_UNITS = {"C28253": "mg", "C28254": "mL", "C48152": "mcg", "C48155": "g"}

_DECIMAL = re.compile(r"^\d{1,11}(?:\.\d{1,5})?$")
_WHOLE_NUMBER = re.compile(r"^\d{1,5}$")
# Characters XML 1.0 cannot carry, removed from text we write back.
_NOT_XML_CHARACTERS = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class Party:
    """A header ``To`` or ``From``: an identifier and its qualifier (``P`` pharmacy,
    ``D`` prescriber, ``C`` clinic, ...)."""

    identifier: str
    qualifier: str = ""


@dataclass(frozen=True)
class ScriptHeader:
    """What a reply needs from the request's header, and the ids intake stores."""

    message_id: str
    relates_to_message_id: str = ""
    sent_time: str = ""
    to: Party | None = None
    from_: Party | None = None
    prescriber_order_number: str = ""
    rx_reference_number: str = ""
    namespace: str = ""
    version_attributes: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ScriptMessage:
    """A well-formed SCRIPT message of a type we handle; ``body`` is its ``NewRx`` or
    ``CancelRx`` element with namespaces stripped from the tags, ``raw`` the bytes as
    received."""

    header: ScriptHeader
    message_type: str
    body: Element = field(repr=False, compare=False)
    raw: bytes = field(repr=False)


# --------------------------------------------------------------------------- reading


def parse_script_message(raw: bytes) -> ScriptMessage:
    """Read the envelope of a SCRIPT message: its header and which message it carries.

    Raises IntakeError: ``too_large``, ``malformed_xml``, ``forbidden_xml``,
    ``wrong_root``, ``missing_element`` (no MessageID, no Body) or
    ``unsupported_message_type`` (anything but NewRx and CancelRx; the error then carries
    the header so the reply can be addressed).
    """
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    if len(raw) > MAX_MESSAGE_BYTES:
        raise IntakeError(
            "too_large",
            f"The message is {len(raw):,} bytes; we accept at most {MAX_MESSAGE_BYTES:,}.",
        )
    if not raw.strip():
        raise IntakeError("malformed_xml", "The message is empty: send one SCRIPT XML message.")
    root = _parse_xml(raw)
    namespace = _strip_namespaces(root)
    if root.tag != "Message":
        raise IntakeError(
            "wrong_root",
            f"The root element is {root.tag!r}; a SCRIPT message starts with <Message>.",
            path=root.tag,
        )
    header = _header(root, namespace)
    try:
        _check_every_text(root, "Message")
        body = _required(root, "Body", "Message", "the message body")
        if len(body) == 0:
            raise IntakeError(
                "missing_element",
                "The message body is empty: it must hold a NewRx or a CancelRx.",
                path="Message/Body",
            )
        content = body[0]
        if content.tag not in SUPPORTED_MESSAGE_TYPES:
            raise IntakeError(
                "unsupported_message_type",
                f"We do not process {content.tag} messages: this endpoint accepts NewRx "
                "and CancelRx.",
                path=f"Message/Body/{content.tag}",
            )
    except IntakeError as error:
        error.header = header
        raise
    return ScriptMessage(header=header, message_type=content.tag, body=content, raw=raw)


def parse_new_rx(message: ScriptMessage | bytes) -> IncomingPrescription:
    """The prescription a NewRx carries (bytes are read with ``parse_script_message``).

    Raises IntakeError for every missing or invalid element; the error carries the header.
    Business rules (refill limits by schedule, expiry, future dates) are not checked here.
    """
    message = _message_of_type(message, NEW_RX)
    try:
        return _new_rx(message)
    except IntakeError as error:
        error.header = message.header
        raise


def parse_cancel_rx(message: ScriptMessage | bytes) -> IncomingCancel:
    """The cancel request a CancelRx carries; IntakeError (with the header) when it is
    incomplete or invalid, or names neither a PrescriberOrderNumber nor the message it
    relates to."""
    message = _message_of_type(message, CANCEL_RX)
    try:
        return _cancel_rx(message)
    except IntakeError as error:
        error.header = message.header
        raise


def _message_of_type(message: ScriptMessage | bytes, message_type: str) -> ScriptMessage:
    if not isinstance(message, ScriptMessage):
        message = parse_script_message(message)
    if message.message_type != message_type:
        error = IntakeError(
            "unsupported_message_type",
            f"This is a {message.message_type} message, not a {message_type}.",
            path=f"Message/Body/{message.message_type}",
        )
        error.header = message.header
        raise error
    return message


def _parse_xml(raw: bytes) -> Element:
    try:
        return DefusedET.fromstring(
            raw, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except defusedxml.DefusedXmlException:
        raise IntakeError(
            "forbidden_xml",
            "The message contains a DOCTYPE, an entity declaration or an external reference, "
            "which we refuse for safety: send the SCRIPT XML without them.",
        ) from None
    except ET.ParseError as error:
        raise IntakeError(
            "malformed_xml", f"The message is not well-formed XML ({error})."
        ) from None
    except (ValueError, LookupError) as error:  # e.g. an unknown encoding declaration
        raise IntakeError(
            "malformed_xml", f"The message cannot be read as XML ({error})."
        ) from None


# Elements holding a person's name (or part of it): one line, no line break.
_NAME_ELEMENTS = frozenset(
    {"LastName", "FirstName", "MiddleName", "Suffix", "Prefix", "BusinessName"}
)


def _check_every_text(root: Element, root_path: str) -> None:
    """Refuse the message when any text in it (an element's, an attribute's) holds a
    control character or a direction override, or a name holds a line break
    (``checked_text``): the names, drug and directions are printed on the vial label."""
    waiting = [(root, root_path)]  # no recursion: a message may nest deeper than Python
    while waiting:
        element, path = waiting.pop()
        what = f"<{element.tag}> element"
        is_name = element.tag in _NAME_ELEMENTS
        checked_text(element.text or "", what=what, path=path, line_breaks=not is_name)
        checked_text(element.tail or "", what=f"text after the {what}", path=path, line_breaks=True)
        for attribute, value in element.attrib.items():
            checked_text(
                value, what=f"{attribute} attribute of the {what}", path=path, line_breaks=False
            )
        waiting.extend((child, f"{path}/{child.tag}") for child in reversed(element))


def _strip_namespaces(root: Element) -> str:
    """Drop namespace URIs from every tag, returning the root's namespace ("" if none)."""
    namespace = root.tag[1 : root.tag.index("}")] if root.tag[:1] == "{" else ""
    for element in root.iter():
        tag = element.tag
        if tag[:1] == "{":
            element.tag = tag[tag.index("}") + 1 :]
    return namespace


def _header(root: Element, namespace: str) -> ScriptHeader:
    header = _required(root, "Header", "Message", "the message header")
    message_id = _required_text(header, "MessageID", "Message/Header", "the MessageID")
    return ScriptHeader(
        message_id=message_id,
        relates_to_message_id=_text(header, "RelatesToMessageID"),
        sent_time=_text(header, "SentTime"),
        to=_party(header.find("To")),
        from_=_party(header.find("From")),
        prescriber_order_number=_text(header, "PrescriberOrderNumber"),
        rx_reference_number=_text(header, "RxReferenceNumber"),
        namespace=namespace,
        version_attributes=tuple(
            (name, root.get(name, "").strip())
            for name in _VERSION_ATTRIBUTE_NAMES
            if root.get(name, "").strip()
        ),
    )


def _party(element: Element | None) -> Party | None:
    if element is None:
        return None
    return Party(identifier=_own_text(element), qualifier=element.get("Qualifier", "").strip())


def _new_rx(message: ScriptMessage) -> IncomingPrescription:
    base = f"Message/Body/{NEW_RX}"
    new_rx = message.body
    patient = _patient(new_rx, base)
    prescriber = _prescriber(new_rx, base)
    medication = _required(new_rx, "MedicationPrescribed", base, "the medication prescribed")
    path = f"{base}/MedicationPrescribed"
    quantity, quantity_unit = _quantity(medication, path)
    sig_text = _text(medication, "Sig/SigText") or _text(medication, "Directions")
    if not sig_text:
        raise _missing("the directions (sig)", f"{path}/Sig/SigText")
    return IncomingPrescription(
        message_id=message.header.message_id,
        channel=Channel.NCPDP,
        written_date=_date_in(medication, "WrittenDate", path, "written date"),
        patient=patient,
        prescriber=prescriber,
        drug=_drug(medication, path),
        quantity=quantity,
        quantity_unit=quantity_unit,
        days_supply=_days_supply(medication, path),
        refills=_refills(medication, path),
        sig_text=sig_text,
        substitutions_allowed=_substitutions_allowed(medication, path),
        note=_text(medication, "Note"),
        prescriber_order_number=message.header.prescriber_order_number,
        raw=message.raw,
    )


def _cancel_rx(message: ScriptMessage) -> IncomingCancel:
    base = f"Message/Body/{CANCEL_RX}"
    cancel = message.body
    header = message.header
    if not (header.prescriber_order_number or header.relates_to_message_id):
        raise _missing(
            "the PrescriberOrderNumber (or the RelatesToMessageID of the prescription to cancel)",
            "Message/Header/PrescriberOrderNumber",
        )
    patient = _patient(cancel, base)
    prescriber = _prescriber(cancel, base)
    medication = _required(cancel, "MedicationPrescribed", base, "the medication to cancel")
    path = f"{base}/MedicationPrescribed"
    description = _text(medication, "DrugDescription") or _text(
        medication, "Product/DrugDescription"
    )
    if not description:
        raise _missing("the drug description", f"{path}/DrugDescription")
    reason = _text(cancel, "Note") or _text(medication, "Note")
    if not reason:
        reason = next(
            (
                _own_text(element)
                for element in cancel.iter()
                if element.tag in ("ChangeReasonText", "Reason") and _own_text(element)
            ),
            "",
        )
    return IncomingCancel(
        message_id=header.message_id,
        relates_to_message_id=header.relates_to_message_id,
        prescriber_order_number=header.prescriber_order_number,
        rx_reference_number=header.rx_reference_number,
        patient=patient,
        prescriber=prescriber,
        drug_description=description,
        reason=reason,
        raw=message.raw,
    )


def _patient(parent: Element, base: str) -> IncomingPatient:
    patient = _required(parent, "Patient", base, "the patient")
    path = f"{base}/Patient"
    person = patient.find("HumanPatient")
    if person is not None:
        path = f"{path}/HumanPatient"
    elif patient.find("AnimalPatient") is not None:
        raise IntakeError(
            "unsupported_patient",
            "We fill prescriptions for people only: this message is for an animal patient.",
            path=f"{path}/AnimalPatient",
        )
    else:
        person = patient  # SCRIPT 10.x: the name and birth date sit directly in Patient
    name, name_path = _name(person, path, "patient")
    return IncomingPatient(
        last_name=_required_text(name, "LastName", name_path, "the patient's last name"),
        first_name=_required_text(name, "FirstName", name_path, "the patient's first name"),
        middle_name=_text(name, "MiddleName"),
        date_of_birth=_date_in(person, "DateOfBirth", path, "patient's date of birth"),
        sex=(_text(person, "Gender") or _text(person, "GenderAndSex/AdministrativeGender")).upper(),
        address=_address(person),
        phone=_text(person, "CommunicationNumbers/PrimaryTelephone/Number"),
    )


def _prescriber(parent: Element, base: str) -> IncomingPrescriber:
    prescriber = _required(parent, "Prescriber", base, "the prescriber")
    path = f"{base}/Prescriber"
    kind = ""
    person = prescriber
    for candidate in ("NonVeterinarian", "Veterinarian"):
        found = prescriber.find(candidate)
        if found is not None:
            kind, person, path = candidate, found, f"{path}/{candidate}"
            break
    ids_path = f"{path}/Identification"
    npi = _text(person, "Identification/NPI")
    dea_number = _text(person, "Identification/DEANumber")
    state_license = _text(person, "Identification/StateLicenseNumber")
    if npi:
        checked_npi(npi, path=f"{ids_path}/NPI")
    elif kind != "Veterinarian":
        raise _missing("the prescriber's NPI", f"{ids_path}/NPI")
    elif not (dea_number or state_license):
        raise _missing("an identifier of the prescriber (NPI, DEA or state license)", ids_path)
    if dea_number:
        dea_number = checked_dea_number(dea_number, path=f"{ids_path}/DEANumber")
    name, name_path = _name(person, path, "prescriber")
    return IncomingPrescriber(
        last_name=_required_text(name, "LastName", name_path, "the prescriber's last name"),
        first_name=_text(name, "FirstName"),
        npi=npi,
        dea_number=dea_number,
        state_license=state_license,
        address=_address(person),
        phone=_text(person, "CommunicationNumbers/PrimaryTelephone/Number"),
        fax=_text(person, "CommunicationNumbers/Fax/Number"),
    )


def _name(person: Element, path: str, who: str) -> tuple[Element, str]:
    for relative in ("Name", "Names/Name"):
        name = person.find(relative)
        if name is not None:
            return name, f"{path}/{relative}"
    raise _missing(f"the {who}'s name", f"{path}/Name")


def _address(person: Element) -> IncomingAddress:
    address = person.find("Address")
    if address is None:
        return IncomingAddress()
    return IncomingAddress(
        line1=_text(address, "AddressLine1"),
        line2=_text(address, "AddressLine2"),
        city=_text(address, "City"),
        state=_text(address, "StateProvince") or _text(address, "State"),
        postal_code=_text(address, "PostalCode"),
        country=_text(address, "CountryCode") or _text(address, "Country"),
    )


def _drug(medication: Element, path: str) -> IncomingDrug:
    description = _text(medication, "DrugDescription") or _text(
        medication, "Product/DrugDescription"
    )
    if not description:
        raise _missing("the drug description", f"{path}/DrugDescription")
    coded, coded_path = _first_of(medication, path, "DrugCoded", "Product/DrugCoded")
    ndc = None
    if coded is not None:
        for product_code in coded.findall("ProductCode"):
            qualifier = _text(product_code, "Qualifier") or product_code.get("Qualifier", "")
            if qualifier.strip().upper() == "ND":
                code = _text(product_code, "Code") or _own_text(product_code)
                if not code:
                    raise _missing(
                        "the code of its ND (NDC) ProductCode", f"{coded_path}/ProductCode/Code"
                    )
                ndc = checked_ndc(code, path=f"{coded_path}/ProductCode/Code")
                break
        if ndc is None and _text(coded, "NDC"):
            ndc = checked_ndc(_text(coded, "NDC"), path=f"{coded_path}/NDC")
    strength = dosage_form = ""
    strength_element, _ = _first_of(
        medication, path, "DrugCoded/Strength", "Product/DrugCoded/Strength", "Strength",
        "Product/Strength",
    )  # fmt: skip
    if strength_element is not None:
        unit = _code(strength_element, "StrengthUnitOfMeasure")
        value = _text(strength_element, "StrengthValue")
        strength = " ".join(part for part in (value, _STRENGTH_UNITS.get(unit, unit)) if part)
        dosage_form = _code(strength_element, "StrengthForm")
    dea_schedule = ""
    schedule, schedule_path = _first_of(
        medication, path, "DrugCoded/DEASchedule", "Product/DrugCoded/DEASchedule",
        "DEASchedule", "Product/DEASchedule",
    )  # fmt: skip
    if schedule is not None:
        code = _text(schedule, "Code") or _own_text(schedule)
        if code:
            dea_schedule = checked_dea_schedule(code, path=f"{schedule_path}/Code")
    return IncomingDrug(
        description=description,
        ndc=ndc,
        strength=strength,
        dosage_form=dosage_form,
        dea_schedule=dea_schedule,
    )


def _quantity(medication: Element, path: str) -> tuple[Decimal, str]:
    quantity = _required(medication, "Quantity", path, "the quantity")
    path = f"{path}/Quantity"
    value = _text(quantity, "Value") or _own_text(quantity)
    if not value:
        raise _missing("the quantity value", f"{path}/Value")
    if not _DECIMAL.match(value) or Decimal(value) <= 0:
        raise IntakeError(
            "invalid_value",
            f"The quantity {value!r} is not a positive number (for example 30 or 22.5).",
            path=f"{path}/Value",
        )
    return Decimal(value), _code(quantity, "QuantityUnitOfMeasure")


def _days_supply(medication: Element, path: str) -> int | None:
    element = medication.find("DaysSupply")
    if element is None:
        return None
    value = _text(element, "Value") or _own_text(element)
    if not value:
        return None
    return _whole_number(value, "days supply", f"{path}/DaysSupply", minimum=1)


def _refills(medication: Element, path: str) -> int:
    value = _text(medication, "NumberOfRefills")
    relative = "NumberOfRefills"
    if not value and medication.find("Refills") is not None:
        value, relative = _text(medication, "Refills/Value"), "Refills/Value"
    if not value:
        return 0
    return _whole_number(value, "number of refills", f"{path}/{relative}", maximum=99)


def _substitutions_allowed(medication: Element, path: str) -> bool:
    element = medication.find("Substitutions")
    if element is None:
        return True
    while element.find("Substitutions") is not None:  # 2021071+: Substitutions/Substitutions
        element = element.find("Substitutions")
    code = _own_text(element)
    if not code:
        return True
    if not (len(code) == 1 and code.isdigit()):
        raise IntakeError(
            "invalid_value",
            f"Substitutions {code!r} is not a product selection code (0 to 9; "
            "1 = substitution not allowed by the prescriber).",
            path=f"{path}/Substitutions",
        )
    return code != "1"


def _date_in(parent: Element, name: str, path: str, what: str) -> date:
    element = _required(parent, name, path, f"the {what}")
    path = f"{path}/{name}"
    for relative in ("Date", "DateTime"):
        text = _text(element, relative)
        if text:
            return checked_date(text, what=what, path=f"{path}/{relative}")
    text = _own_text(element)
    if text:
        return checked_date(text, what=what, path=path)
    raise _missing(f"the {what}", f"{path}/Date")


def _whole_number(
    value: str, what: str, path: str, *, minimum: int = 0, maximum: int = 99_999
) -> int:
    if _WHOLE_NUMBER.match(value) and minimum <= int(value) <= maximum:
        return int(value)
    raise IntakeError(
        "invalid_value",
        f"The {what} {value!r} is not a whole number from {minimum} to {maximum}.",
        path=path,
    )


# --------------------------------------------------------------------------- element helpers


def _own_text(element: Element) -> str:
    return (element.text or "").strip()


def _text(parent: Element, relative: str) -> str:
    element = parent.find(relative)
    return "" if element is None else (element.text or "").strip()


def _code(parent: Element, relative: str) -> str:
    """A coded value written as ``<X><Code>..</Code></X>`` or as ``<X>..</X>``."""
    element = parent.find(relative)
    if element is None:
        return ""
    return _text(element, "Code") or _own_text(element)


def _first_of(parent: Element, path: str, *relatives: str) -> tuple[Element | None, str]:
    for relative in relatives:
        element = parent.find(relative)
        if element is not None:
            return element, f"{path}/{relative}"
    return None, ""


def _missing(what: str, path: str) -> IntakeError:
    return IntakeError("missing_element", f"The message does not give {what}.", path=path)


def _required(parent: Element, relative: str, path: str, what: str) -> Element:
    element = parent.find(relative)
    if element is None:
        raise _missing(what, f"{path}/{relative}")
    return element


def _required_text(parent: Element, relative: str, path: str, what: str) -> str:
    text = _text(parent, relative)
    if not text:
        raise _missing(what, f"{path}/{relative}")
    return text


# --------------------------------------------------------------------------- writing


def build_status(
    relates_to: ScriptHeader | str | None,
    *,
    code: str = STATUS_SUCCESS,
    description: str | None = None,
) -> bytes:
    """A SCRIPT ``Status`` message (``000``: accepted) answering ``relates_to``.

    ``relates_to`` is the request's header (then To and From are the request's From and
    To, and the reply uses its namespace and version), or only its MessageID, or None.
    """
    root, _ = _envelope(relates_to)
    status = ET.SubElement(ET.SubElement(root, "Body"), "Status")
    _add(status, "Code", code)
    if description:
        _add(status, "Description", description)
    return _serialize(root)


def build_error(
    relates_to: ScriptHeader | str | None,
    *,
    code: str,
    description: str,
    description_code: str | None = None,
) -> bytes:
    """A SCRIPT ``Error`` message: ``code`` ``900`` (rejected), ``601`` or ``602``, with
    a plain description of what to fix."""
    root, _ = _envelope(relates_to)
    error = ET.SubElement(ET.SubElement(root, "Body"), "Error")
    _add(error, "Code", code)
    if description_code:
        _add(error, "DescriptionCode", description_code)
    _add(error, "Description", description)
    return _serialize(root)


def build_error_for(error: IntakeError) -> bytes:
    """The ``Error`` reply to a message refused with ``error``, addressed to its sender
    when its header could be read."""
    description = error.description
    if error.path:
        description = f"{description} (element {error.path})"
    return build_error(error.header, code=error.ncpdp_code, description=description)


def build_cancel_rx_response(
    relates_to: ScriptHeader | str | None, *, approved: bool, reason: str
) -> bytes:
    """A ``CancelRxResponse``: ``Approved`` (the reason, if any, as its Note) or
    ``Denied`` with the reason as ``DenialReason`` (a denial must say why)."""
    if not approved and not reason.strip():
        raise ValueError("A denied CancelRxResponse needs a reason.")
    root, header = _envelope(relates_to)
    if isinstance(relates_to, ScriptHeader):
        # The prescriber matches the answer to its order by these numbers.
        if relates_to.rx_reference_number:
            _add(header, "RxReferenceNumber", relates_to.rx_reference_number)
        if relates_to.prescriber_order_number:
            _add(header, "PrescriberOrderNumber", relates_to.prescriber_order_number)
    response = ET.SubElement(
        ET.SubElement(ET.SubElement(root, "Body"), "CancelRxResponse"), "Response"
    )
    if approved:
        outcome = ET.SubElement(response, "Approved")
        if reason.strip():
            _add(outcome, "Note", reason.strip())
    else:
        _add(ET.SubElement(response, "Denied"), "DenialReason", reason.strip())
    return _serialize(root)


def _envelope(relates_to: ScriptHeader | str | None) -> tuple[Element, Element]:
    request = relates_to if isinstance(relates_to, ScriptHeader) else None
    namespace = request.namespace if request else NCPDP_NAMESPACE
    root = Element("Message")
    if namespace:
        root.set("xmlns", namespace)
    for name, value in (request and request.version_attributes) or DEFAULT_VERSION_ATTRIBUTES:
        root.set(name, value)
    header = ET.SubElement(root, "Header")
    if request is not None:
        # The reply goes back where the request came from.
        for tag, party in (("To", request.from_), ("From", request.to)):
            if party is not None:
                element = _add(header, tag, party.identifier)
                if party.qualifier:
                    element.set("Qualifier", party.qualifier)
    _add(header, "MessageID", uuid.uuid4().hex)
    relates_to_id = request.message_id if request else relates_to
    if relates_to_id:
        _add(header, "RelatesToMessageID", relates_to_id)
    _add(header, "SentTime", datetime.now(UTC).isoformat(timespec="milliseconds")[:-6] + "Z")
    return root, header


def _add(parent: Element, tag: str, text: str) -> Element:
    element = ET.SubElement(parent, tag)
    element.text = _NOT_XML_CHARACTERS.sub("", text)
    return element


def _serialize(root: Element) -> bytes:
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
