"""What an incoming prescription says, whatever channel brought it.

The NCPDP SCRIPT and FHIR parsers (``ncpdp.py``, ``fhir.py``) turn a message into these
frozen dataclasses and nothing else: no database, no matching, no business rules such as
refill limits or expiry. Intake services take an ``IncomingPrescription``, match its
patient, prescriber and drug, and store it with the raw message kept verbatim.

Every rejection is an ``IntakeError``: a stable machine ``code`` (the table below), a
plain-English ``description`` a sender's support desk can act on, and the ``path`` of the
offending element when there is one. The NCPDP ``Error`` reply and the FHIR
``OperationOutcome`` are both built from it.

=========================  ======  ===========================================================
``code``                   NCPDP   meaning
=========================  ======  ===========================================================
too_large                  900     the body is over ``MAX_MESSAGE_BYTES``; not parsed at all
malformed_xml              900     not well-formed XML (or not XML at all, or empty)
forbidden_xml              900     a DTD, entity declaration or external reference (XML bombs,
                                   XXE): refused before any entity is expanded
malformed_json             900     not JSON (FHIR channel)
wrong_root                 900     XML whose root element is not a SCRIPT ``Message``
unsupported_message_type   601     a SCRIPT message other than NewRx or CancelRx
unsupported_resource       900     FHIR that is not a MedicationRequest (or a Bundle with one)
unsupported_patient        900     an animal patient (SCRIPT ``AnimalPatient``)
missing_element            900     a required element or field is absent or empty
invalid_value              900     a number, code or status that cannot be used
invalid_date               900     a date not in ISO form ``YYYY-MM-DD`` (or a dateTime)
invalid_npi                900     NPI not 10 digits or wrong check digit
invalid_dea_number         900     DEA number malformed or wrong check digit
invalid_ndc                900     an NDC neither hyphenated 10-digit nor plain 11-digit
invalid_dea_schedule       900     a DEA schedule code that is not one of the five NCI codes
                                   (C38046 "Unspecified" is accepted as no schedule stated)
unresolved_reference       900     a FHIR reference to a resource the message does not include
                                   (and with no display text to fall back on)
invalid_text               900     text holding a control character or an invisible
                                   text-direction character (``lib.text``), or a name holding
                                   a line break: it could print differently on a label
=========================  ======  ===========================================================

NCPDP transaction codes used in the ``Error`` reply: ``900`` transaction rejected (the
message is wrong: the sender must fix it), ``601`` receiver unable to process (the message
may be right but we do not handle that kind). ``602`` (receiver system error) is for
failures on our side and never comes out of the parsers.
"""

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db.models.enums import TextChoices

from inventory.ndc import InvalidNDCError, normalize_ndc_input
from lib.text import stored, text_problem
from pharmacy.identifiers import is_valid_dea_number, is_valid_npi

# Bodies larger than this are refused before parsing (DESIGN.md section 6). A NewRx is a
# few kilobytes; a megabyte leaves room for long notes and compound ingredient lists.
MAX_MESSAGE_BYTES = 1024 * 1024


class Channel(TextChoices):
    """How a prescription reached the pharmacy: the one list, kept here so the parsers
    stay free of models; ``orders.models.Prescription.channel`` takes its choices."""

    NCPDP = "ncpdp", "e-Prescription (NCPDP SCRIPT)"
    FHIR = "fhir", "e-Prescription (FHIR)"
    PHONE = "phone", "Phone"
    FAX = "fax", "Fax"
    WRITTEN = "written", "Written (mailed in)"


NCPDP_TRANSACTION_REJECTED = "900"
NCPDP_RECEIVER_UNABLE_TO_PROCESS = "601"
NCPDP_RECEIVER_SYSTEM_ERROR = "602"

_NCPDP_CODE_OF = {"unsupported_message_type": NCPDP_RECEIVER_UNABLE_TO_PROCESS}


class IntakeError(ValueError):
    """A message refused at intake, with the reason in words a sender can act on.

    ``code`` is one of the codes in this module's docstring; ``ncpdp_code`` the SCRIPT
    transaction code for the ``Error`` reply; ``path`` the offending element (a slash path
    such as ``Message/Body/NewRx/Patient`` for SCRIPT, a FHIRPath-like expression such as
    ``MedicationRequest.dispenseRequest.quantity`` for FHIR) or None. ``header`` is the
    SCRIPT header of the refused message when it could be read, so the reply can be
    addressed back to its sender; None otherwise and always for FHIR.
    """

    def __init__(self, code: str, description: str, *, path: str | None = None):
        super().__init__(description)
        self.code = code
        self.description = description
        self.path = path
        self.ncpdp_code = _NCPDP_CODE_OF.get(code, NCPDP_TRANSACTION_REJECTED)
        self.header = None

    def __repr__(self) -> str:
        return f"IntakeError({self.code!r}, {self.description!r}, path={self.path!r})"


@dataclass(frozen=True)
class IncomingAddress:
    line1: str = ""
    line2: str = ""
    city: str = ""
    state: str = ""
    postal_code: str = ""
    country: str = ""


@dataclass(frozen=True)
class IncomingPatient:
    """The patient as the sender names them; matched to a Patient record later.

    ``sex`` is ``M``, ``F`` or ``U`` (NCPDP gender codes; FHIR genders are mapped to them).
    ``date_of_birth`` is None only for a FHIR patient that was referenced but not
    included in the message (the prescription then carries a warning).
    """

    first_name: str
    last_name: str
    date_of_birth: date | None
    middle_name: str = ""
    sex: str = ""
    address: IncomingAddress = IncomingAddress()
    phone: str = ""


@dataclass(frozen=True)
class IncomingPrescriber:
    """The prescriber as the sender identifies them; NPI and DEA number are check-digit
    valid whenever they are not empty."""

    first_name: str
    last_name: str
    npi: str = ""
    dea_number: str = ""
    state_license: str = ""
    address: IncomingAddress = IncomingAddress()
    phone: str = ""
    fax: str = ""


@dataclass(frozen=True)
class IncomingDrug:
    """The drug as prescribed. ``ndc`` is the 11-digit NDC (digits only) or None when the
    sender coded the drug another way (RxNorm, text only): the catalogue match decides.
    ``dosage_form`` is the NCI form code in SCRIPT (``C42998`` tablet) and the form's text
    in FHIR. ``dea_schedule`` is ``CI``..``CV`` when the sender stated one (SCRIPT only),
    else empty; the catalogue's schedule for the matched product is the one that governs."""

    description: str
    ndc: str | None = None
    strength: str = ""
    dosage_form: str = ""
    dea_schedule: str = ""


@dataclass(frozen=True)
class IncomingPrescription:
    """One new prescription as received.

    ``quantity_unit`` is the NCPDP unit-of-measure NCI code for SCRIPT (``C48542``
    tablet, ``C48480`` capsule, ``C28254`` mL, ...) or the FHIR quantity's code/unit text.
    ``days_supply`` is None when not stated. ``prescriber_order_number`` is the
    prescriber's own number for the order (SCRIPT header ``PrescriberOrderNumber``, FHIR
    ``MedicationRequest.identifier``): CancelRx and later messages refer to it.
    ``warnings`` are things a technician must look at before the prescription can go on
    (for example a FHIR patient referenced but not included). ``raw`` is the message
    exactly as received.
    """

    message_id: str
    channel: Channel
    written_date: date
    patient: IncomingPatient
    prescriber: IncomingPrescriber
    drug: IncomingDrug
    quantity: Decimal
    quantity_unit: str
    sig_text: str
    days_supply: int | None = None
    refills: int = 0
    substitutions_allowed: bool = True
    note: str = ""
    prescriber_order_number: str = ""
    warnings: tuple[str, ...] = ()
    raw: bytes = field(default=b"", repr=False)


@dataclass(frozen=True)
class IncomingCancel:
    """A prescriber's request to cancel a prescription sent earlier (SCRIPT CancelRx).

    The prescription is found by ``prescriber_order_number`` (or ``relates_to_message_id``
    when the sender links the original NewRx) and checked against the patient, prescriber
    and drug; the reply is a CancelRxResponse, approved or denied with a reason.
    """

    message_id: str
    relates_to_message_id: str
    prescriber_order_number: str
    rx_reference_number: str
    patient: IncomingPatient
    prescriber: IncomingPrescriber
    drug_description: str
    reason: str = ""
    raw: bytes = field(default=b"", repr=False)


# --------------------------------------------------------------------------- value checks
# The same checks for every channel, so a SCRIPT and a FHIR prescription are refused for
# the same reasons in the same words.

_ISO_DATE = re.compile(
    r"^(\d{4}-\d{2}-\d{2})(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)?$"
)

# NCI thesaurus codes NCPDP SCRIPT uses for DEA schedules (DESIGN.md section 5).
DEA_SCHEDULE_OF_NCI_CODE = {
    "C48672": "CI",
    "C48675": "CII",
    "C48676": "CIII",
    "C48677": "CIV",
    "C48679": "CV",
}
# NCI C38046 "Unspecified": several e-prescribing networks send it on every drug they do not
# know to be controlled. It states no schedule, so the catalogue product decides, exactly as
# when the element is absent; an unmatched drug waits in intake until one is chosen.
UNSPECIFIED_DEA_SCHEDULE_CODE = "C38046"


def checked_date(text: str, *, what: str, path: str | None) -> date:
    """An ISO date (``YYYY-MM-DD``), or the date part of an ISO dateTime as written.

    Other layouts (``20200711``, ``07/11/2020``) are refused rather than guessed: a
    day/month swap on a written date or a birth date is a wrong prescription.
    """
    match = _ISO_DATE.match(text.strip())
    if match:
        try:
            return date.fromisoformat(match.group(1))
        except ValueError:
            pass
    raise IntakeError(
        "invalid_date",
        f"The {what} {text!r} is not a date: write it as YYYY-MM-DD (for example 2024-03-01).",
        path=path,
    )


def checked_text(text: str, *, what: str, path: str | None, line_breaks: bool) -> str:
    """``text`` when it is fit to store (``lib.text``): never a control character or a
    direction override; a line break only where ``line_breaks`` (free text, not a name).
    Both parsers check every text of a message with it before reading any."""
    problem = text_problem(stored(text), line_breaks=line_breaks)
    if problem:
        raise IntakeError("invalid_text", f"The {what} {problem}.", path=path)
    return text


def checked_npi(npi: str, *, path: str | None) -> str:
    if not is_valid_npi(npi):
        raise IntakeError(
            "invalid_npi",
            f"The prescriber NPI {npi!r} is not valid: an NPI is 10 digits whose last digit "
            "is a check digit, and this one does not check.",
            path=path,
        )
    return npi


def checked_dea_number(dea_number: str, *, path: str | None) -> str:
    value = dea_number.upper()
    if not is_valid_dea_number(value):
        raise IntakeError(
            "invalid_dea_number",
            f"The prescriber DEA number {dea_number!r} is not valid: it must be two letters "
            "and seven digits whose last digit is a check digit, and this one does not check.",
            path=path,
        )
    return value


def checked_ndc(text: str, *, path: str | None) -> str:
    """The 11-digit NDC of a hyphenated 10-digit or plain 11-digit NDC."""
    try:
        return normalize_ndc_input(text)
    except InvalidNDCError as error:
        raise IntakeError("invalid_ndc", str(error), path=path) from None


def checked_dea_schedule(code: str, *, path: str | None) -> str:
    """``CI``..``CV`` from an NCI schedule code (or the C-form itself); ``""`` (no schedule
    stated) for C38046 "Unspecified".

    An unknown code is refused rather than read as "not controlled": a controlled-substance
    rule must never be bypassed because a code was misspelt.
    """
    value = code.strip().upper()
    if value == UNSPECIFIED_DEA_SCHEDULE_CODE:
        return ""
    if value in DEA_SCHEDULE_OF_NCI_CODE.values():
        return value
    try:
        return DEA_SCHEDULE_OF_NCI_CODE[value]
    except KeyError:
        raise IntakeError(
            "invalid_dea_schedule",
            f"The DEA schedule code {code!r} is not one we know: use C48672 (CI), "
            "C48675 (CII), C48676 (CIII), C48677 (CIV) or C48679 (CV).",
            path=path,
        ) from None
