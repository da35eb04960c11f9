"""FHIR R4: reading a MedicationRequest into an IncomingPrescription, writing an
OperationOutcome for a refusal.

Pure functions over parsed JSON; no database. Accepted documents:

- a ``MedicationRequest`` whose patient, prescriber and medication are ``contained``
  (references ``#id``), or
- a ``Bundle`` (any type) holding exactly one ``MedicationRequest`` and the ``Patient``,
  ``Practitioner`` (or ``PractitionerRole`` pointing at one) and ``Medication`` it refers
  to. References are resolved as ``#id`` (contained), an entry ``fullUrl``
  (``urn:uuid:...`` or absolute URL), or ``Type/id`` (matched on the entry's resource or
  the tail of its ``fullUrl``).

A subject, requester or medication referenced but not included (common in examples
copied from the FHIR specification) is accepted only when the reference has a
``display``: the name is taken from it and the prescription carries a warning, so a
technician completes it before it goes on. Without a display it is ``unresolved_reference``.

What is read: ``authoredOn`` (date or dateTime; the date as written), the medication's
``code`` (NDC from the coding system ``http://hl7.org/fhir/sid/ndc``, description from
``text`` or a coding ``display``), the Practitioner's NPI (identifier system
``http://hl7.org/fhir/sid/us-npi``) and DEA number (system
``urn:oid:2.16.840.1.113883.4.814`` or identifier type ``DEA``), ``dosageInstruction``
``text`` (or ``patientInstruction``) in ``sequence`` order, ``dispenseRequest``
``quantity``, ``numberOfRepeatsAllowed`` and ``expectedSupplyDuration`` (days or weeks),
``substitution.allowed[x]`` and ``note``. The message id (for recognising a message sent
twice) is the Bundle's ``identifier.value``, else the Bundle's ``id``, else the
MedicationRequest's ``id`` (empty when there is none).

A MedicationRequest whose ``status`` is draft, cancelled, stopped or entered-in-error, or
whose ``intent`` is a proposal, plan, directive or option, is not a prescription to fill
and is refused with ``invalid_value``. Other statuses (active, on-hold, completed, unknown)
are parsed; a DEA schedule is not read from FHIR (there is no standard element): the
catalogue's schedule of the matched product governs.
"""

import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from lib.api_parsers import unstorable_text_problem
from orders.intake.messages import (
    MAX_MESSAGE_BYTES,
    Channel,
    IncomingAddress,
    IncomingDrug,
    IncomingPatient,
    IncomingPrescriber,
    IncomingPrescription,
    IntakeError,
    checked_date,
    checked_dea_number,
    checked_ndc,
    checked_npi,
    checked_text,
)

NDC_SYSTEM = "http://hl7.org/fhir/sid/ndc"
NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
DEA_SYSTEMS = ("urn:oid:2.16.840.1.113883.4.814", "http://hl7.org/fhir/sid/us-dea")
# The code system of our own error codes in OperationOutcome.issue.details.
INTAKE_ERROR_SYSTEM = "urn:mail-order-pharmacy:intake-error"

_REFUSED_STATUSES = {"draft", "cancelled", "stopped", "entered-in-error"}
_REFUSED_INTENTS = {"proposal", "plan", "directive", "option"}
_SEX_OF_GENDER = {"male": "M", "female": "F"}
# Denominator units that mean "per tablet/capsule": the strength is the numerator alone.
_EACH = (None, "1", "TAB", "CAP", "{tbl}", "{capsule}", "each")
_DAYS_PER_UNIT = {"d": 1, "day": 1, "days": 1, "wk": 7, "week": 7, "weeks": 7}

# FHIR IssueType for each of our codes (http://hl7.org/fhir/R4/valueset-issue-type.html).
_ISSUE_TYPE = {
    "too_large": "too-long",
    "malformed_json": "structure",
    "unsupported_resource": "not-supported",
    "missing_element": "required",
    "unresolved_reference": "not-found",
}


@dataclass(frozen=True)
class _Found:
    """A resolved resource and where it sits, for error paths."""

    resource: dict
    path: str


# --------------------------------------------------------------------------- reading


def parse_fhir_json(raw: bytes) -> IncomingPrescription:
    """Read a FHIR JSON body (size checked first) and parse it with
    ``parse_medication_request``, keeping ``raw`` verbatim."""
    if len(raw) > MAX_MESSAGE_BYTES:
        raise IntakeError(
            "too_large",
            f"The body is {len(raw):,} bytes; we accept at most {MAX_MESSAGE_BYTES:,}.",
        )
    try:
        # Decimals, not floats: 0.1 tablets must stay 0.1.
        document = json.loads(raw, parse_float=Decimal)
    except (ValueError, RecursionError) as error:  # JSONDecodeError, bad UTF-8, deep nesting
        raise IntakeError("malformed_json", f"The body is not valid JSON ({error}).") from None
    # A NUL (or a lone surrogate) in any value would fail when stored, after the checks.
    if problem := unstorable_text_problem(document):
        raise IntakeError("malformed_json", problem)
    return parse_medication_request(document, raw=raw)


def parse_medication_request(document: dict, *, raw: bytes | None = None) -> IncomingPrescription:
    """The prescription in a MedicationRequest or a Bundle holding one.

    Raises IntakeError (``unsupported_resource`` for anything else, then the codes in
    ``messages.py``). ``raw`` is kept as the original message; without it the document
    is re-serialised.
    """
    _check_every_text(document)
    request, contained, index, message_id = _locate_request(document)
    warnings: list[str] = []
    resolver = _Resolver(contained, index)
    order = request.resource
    base = request.path

    status = _string(order, "status", base)
    if status in _REFUSED_STATUSES:
        raise IntakeError(
            "invalid_value",
            f"This MedicationRequest has status {status!r}: only an active order can be filled.",
            path=f"{base}.status",
        )
    intent = _string(order, "intent", base)
    if intent in _REFUSED_INTENTS:
        raise IntakeError(
            "invalid_value",
            f"This MedicationRequest has intent {intent!r}: only an order can be filled.",
            path=f"{base}.intent",
        )

    authored_on = _string(order, "authoredOn", base)
    if not authored_on:
        raise _missing("the date it was written (authoredOn)", f"{base}.authoredOn")
    quantity, quantity_unit = _quantity(order, base)
    if raw is None:
        raw = json.dumps(document, default=str).encode()
    return IncomingPrescription(
        message_id=message_id,
        channel=Channel.FHIR,
        written_date=checked_date(authored_on, what="written date", path=f"{base}.authoredOn"),
        patient=_patient(resolver, order, base, warnings),
        prescriber=_prescriber(resolver, order, base, warnings),
        drug=_drug(resolver, order, base, warnings),
        quantity=quantity,
        quantity_unit=quantity_unit,
        days_supply=_days_supply(order, base),
        refills=_refills(order, base),
        sig_text=_sig_text(order, base),
        substitutions_allowed=_substitutions_allowed(order),
        note="\n".join(
            note["text"].strip()
            for note in _list(order, "note")
            if isinstance(note, dict) and isinstance(note.get("text"), str) and note["text"].strip()
        ),
        prescriber_order_number=_order_number(order),
        warnings=tuple(warnings),
        raw=raw,
    )


def _locate_request(document) -> tuple[_Found, dict[str, _Found], dict[str, _Found], str]:
    """The MedicationRequest, its contained resources by id, the Bundle's resources by
    reference, and the id the message is known by."""
    if not isinstance(document, dict) or not isinstance(document.get("resourceType"), str):
        raise IntakeError(
            "unsupported_resource",
            "The body is not a FHIR resource: send a MedicationRequest or a Bundle holding one.",
        )
    kind = document["resourceType"]
    index: dict[str, _Found] = {}
    if kind == "MedicationRequest":
        request = _Found(document, "MedicationRequest")
        message_id = _id_of(document)
    elif kind == "Bundle":
        requests = []
        for position, entry in enumerate(_list(document, "entry")):
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if not isinstance(resource, dict):
                continue
            found = _Found(resource, f"Bundle.entry[{position}].resource")
            if resource.get("resourceType") == "MedicationRequest":
                requests.append(found)
            full_url = entry.get("fullUrl")
            if isinstance(full_url, str) and full_url:
                index[full_url] = found
            if isinstance(resource.get("resourceType"), str) and isinstance(
                resource.get("id"), str
            ):
                index.setdefault(f"{resource['resourceType']}/{resource['id']}", found)
        if not requests:
            raise IntakeError(
                "unsupported_resource",
                "The Bundle holds no MedicationRequest: add the prescription as a "
                "MedicationRequest entry.",
                path="Bundle.entry",
            )
        if len(requests) > 1:
            raise IntakeError(
                "invalid_value",
                f"The Bundle holds {len(requests)} MedicationRequests; send one "
                "prescription per Bundle.",
                path="Bundle.entry",
            )
        request = requests[0]
        identifier = document.get("identifier")
        bundle_identifier = identifier.get("value") if isinstance(identifier, dict) else None
        message_id = (
            bundle_identifier if isinstance(bundle_identifier, str) and bundle_identifier
            else _id_of(document) or _id_of(request.resource)
        )  # fmt: skip
    else:
        raise IntakeError(
            "unsupported_resource",
            f"A {kind} is not a prescription: send a MedicationRequest or a Bundle holding one.",
            path=kind,
        )
    contained = {
        resource["id"]: _Found(resource, f"{request.path}.contained[{position}]")
        for position, resource in enumerate(_list(request.resource, "contained"))
        if isinstance(resource, dict) and isinstance(resource.get("id"), str)
    }
    return request, contained, index, message_id


class _Resolver:
    """Finds what a reference points at: contained resources, then Bundle entries."""

    def __init__(self, contained: dict[str, _Found], index: dict[str, _Found]):
        self.contained = contained
        self.index = index

    def resolve(self, reference: str) -> _Found | None:
        if reference.startswith("#"):
            return self.contained.get(reference[1:])
        if reference in self.index:
            return self.index[reference]
        # An absolute URL or a relative reference: match on its last Type/id.
        parts = reference.rstrip("/").split("/")
        if len(parts) >= 2:
            tail = f"{parts[-2]}/{parts[-1]}"
            if tail in self.index:
                return self.index[tail]
            for full_url, found in self.index.items():
                if full_url.endswith("/" + tail):
                    return found
        return None

    def follow(
        self, owner: dict, element: str, path: str, types: tuple[str, ...], what: str
    ) -> tuple[_Found | None, str]:
        """The resource ``owner[element]`` refers to, or (None, display) when it is not in
        the message but the reference carries a display text."""
        value = owner.get(element)
        if not isinstance(value, dict):
            raise _missing(what, f"{path}.{element}")
        reference = value.get("reference")
        display = value.get("display") if isinstance(value.get("display"), str) else ""
        if not isinstance(reference, str) or not reference:
            if display:
                return None, display.strip()
            raise _missing(f"a reference to {what}", f"{path}.{element}.reference")
        found = self.resolve(reference)
        if found is None:
            if display.strip():
                return None, display.strip()
            raise IntakeError(
                "unresolved_reference",
                f"{what.capitalize()} is referenced as {reference!r} but not included: "
                "contain it in the MedicationRequest or add it to the Bundle.",
                path=f"{path}.{element}",
            )
        kind = found.resource.get("resourceType")
        if kind not in types:
            raise IntakeError(
                "invalid_value",
                f"{what.capitalize()} must be a {' or '.join(types)}, not a {kind}.",
                path=f"{path}.{element}",
            )
        return found, display


def _patient(resolver: _Resolver, request: dict, base: str, warnings: list[str]) -> IncomingPatient:
    found, display = resolver.follow(request, "subject", base, ("Patient",), "the patient")
    if found is None:
        first, last = _split_display(display)
        warnings.append(
            f"The patient {display!r} is referenced but not included in the message: only "
            "the name is known (no date of birth or address)."
        )
        return IncomingPatient(first_name=first, last_name=last, date_of_birth=None)
    patient, path = found.resource, found.path
    first, middle, last = _human_name(patient, path, "patient", require_given=True)
    birth_date = _string(patient, "birthDate", path)
    if not birth_date:
        raise _missing("the patient's date of birth", f"{path}.birthDate")
    return IncomingPatient(
        first_name=first,
        middle_name=middle,
        last_name=last,
        date_of_birth=_full_date(birth_date, "patient's date of birth", f"{path}.birthDate"),
        sex=_sex(_string(patient, "gender", path)),
        address=_address(patient),
        phone=_telecom(patient, "phone"),
    )


def _prescriber(
    resolver: _Resolver, request: dict, base: str, warnings: list[str]
) -> IncomingPrescriber:
    found, display = resolver.follow(
        request, "requester", base, ("Practitioner", "PractitionerRole"), "the prescriber"
    )
    role = None
    if found is not None and found.resource.get("resourceType") == "PractitionerRole":
        role = found.resource
        found, display = resolver.follow(
            role, "practitioner", found.path, ("Practitioner",), "the prescriber"
        )
    if found is None:
        first, last = _split_display(display)
        warnings.append(
            f"The prescriber {display!r} is referenced but not included in the message: "
            "only the name is known (no NPI)."
        )
        return IncomingPrescriber(first_name=first, last_name=last)
    practitioner, path = found.resource, found.path
    first, _middle, last = _human_name(practitioner, path, "prescriber", require_given=False)
    npi = dea_number = ""
    for position, identifier in enumerate(_list(practitioner, "identifier")):
        if not isinstance(identifier, dict) or not isinstance(identifier.get("value"), str):
            continue
        value = identifier["value"].strip()
        where = f"{path}.identifier[{position}].value"
        if identifier.get("system") == NPI_SYSTEM and not npi:
            npi = checked_npi(value, path=where)
        elif (
            identifier.get("system") in DEA_SYSTEMS or _coded(identifier.get("type"), "DEA")
        ) and not dea_number:
            dea_number = checked_dea_number(value, path=where)
    if not npi:
        raise _missing(
            f"the prescriber's NPI (an identifier with system {NPI_SYSTEM})",
            f"{path}.identifier",
        )
    contact = role if role is not None and role.get("telecom") else practitioner
    return IncomingPrescriber(
        first_name=first,
        last_name=last,
        npi=npi,
        dea_number=dea_number,
        address=_address(practitioner),
        phone=_telecom(contact, "phone"),
        fax=_telecom(contact, "fax"),
    )


def _drug(resolver: _Resolver, request: dict, base: str, warnings: list[str]) -> IncomingDrug:
    if "medicationCodeableConcept" in request:
        concept = request["medicationCodeableConcept"]
        path = f"{base}.medicationCodeableConcept"
        form = strength = ""
    else:
        if "medicationReference" not in request:
            raise _missing("the medication", f"{base}.medication[x]")
        found, display = resolver.follow(
            request, "medicationReference", base, ("Medication",), "the medication"
        )
        if found is None:
            warnings.append(
                f"The medication {display!r} is referenced but not included in the message: "
                "only its name is known (no NDC)."
            )
            return IncomingDrug(description=display)
        medication = found.resource
        concept = medication.get("code")
        path = f"{found.path}.code"
        form = _concept_text(medication.get("form"))
        strength = _strength(medication)
    if not isinstance(concept, dict):
        raise _missing("the medication's code", path)
    ndc = None
    codings = _list(concept, "coding")
    for position, coding in enumerate(codings):
        if isinstance(coding, dict) and coding.get("system") == NDC_SYSTEM:
            code = coding.get("code")
            ndc = checked_ndc(
                code if isinstance(code, str) else "", path=f"{path}.coding[{position}].code"
            )
            break
    description = _concept_text(concept)
    if not description:
        raise _missing("the medication's name (code.text or a coding display)", f"{path}.text")
    return IncomingDrug(description=description, ndc=ndc, strength=strength, dosage_form=form)


def _quantity(request: dict, base: str) -> tuple[Decimal, str]:
    dispense = request.get("dispenseRequest")
    path = f"{base}.dispenseRequest.quantity"
    quantity = dispense.get("quantity") if isinstance(dispense, dict) else None
    if not isinstance(quantity, dict) or quantity.get("value") is None:
        raise _missing("the quantity to dispense", path)
    value = _decimal(quantity["value"])
    if value is None or value <= 0:
        raise IntakeError(
            "invalid_value",
            f"The quantity {quantity['value']!r} is not a positive number.",
            path=f"{path}.value",
        )
    unit = quantity.get("code") or quantity.get("unit") or ""
    return value, unit if isinstance(unit, str) else ""


def _days_supply(request: dict, base: str) -> int | None:
    dispense = request.get("dispenseRequest")
    duration = dispense.get("expectedSupplyDuration") if isinstance(dispense, dict) else None
    if not isinstance(duration, dict) or duration.get("value") is None:
        return None
    path = f"{base}.dispenseRequest.expectedSupplyDuration"
    unit = duration.get("code") or duration.get("unit") or "d"
    unit = unit if isinstance(unit, str) else "?"
    value = _decimal(duration["value"])
    if (
        value is None
        or value <= 0
        or value != value.to_integral_value()
        or unit not in _DAYS_PER_UNIT
    ):
        raise IntakeError(
            "invalid_value",
            f"The expected supply duration {duration['value']!r} {unit} is not a whole number "
            "of days or weeks.",
            path=path,
        )
    return int(value) * _DAYS_PER_UNIT[unit]


def _refills(request: dict, base: str) -> int:
    dispense = request.get("dispenseRequest")
    repeats = dispense.get("numberOfRepeatsAllowed") if isinstance(dispense, dict) else None
    if repeats is None:
        return 0
    if isinstance(repeats, bool) or not isinstance(repeats, int) or not 0 <= repeats <= 99:
        raise IntakeError(
            "invalid_value",
            f"The number of repeats allowed {repeats!r} is not a whole number from 0 to 99.",
            path=f"{base}.dispenseRequest.numberOfRepeatsAllowed",
        )
    return repeats


def _sig_text(request: dict, base: str) -> str:
    dosages = [d for d in _list(request, "dosageInstruction") if isinstance(d, dict)]
    dosages.sort(key=lambda d: d["sequence"] if isinstance(d.get("sequence"), int) else 0)
    texts = []
    for dosage in dosages:
        for key in ("text", "patientInstruction"):
            if isinstance(dosage.get(key), str) and dosage[key].strip():
                texts.append(dosage[key].strip())
                break
    if not texts:
        raise _missing("the directions (dosageInstruction.text)", f"{base}.dosageInstruction")
    return "; ".join(texts)


def _substitutions_allowed(request: dict) -> bool:
    substitution = request.get("substitution")
    if not isinstance(substitution, dict):
        return True
    if isinstance(substitution.get("allowedBoolean"), bool):
        return substitution["allowedBoolean"]
    # v3 ActSubstanceAdminSubstitutionCode: N = none allowed.
    return not _coded(substitution.get("allowedCodeableConcept"), "N")


def _order_number(request: dict) -> str:
    identifiers = [
        i
        for i in _list(request, "identifier")
        if isinstance(i, dict) and isinstance(i.get("value"), str) and i["value"].strip()
    ]
    identifiers.sort(key=lambda i: i.get("use") != "official")
    return identifiers[0]["value"].strip() if identifiers else ""


# --------------------------------------------------------------------------- value helpers


def _id_of(resource: dict) -> str:
    value = resource.get("id")
    return value if isinstance(value, str) else ""


def _list(owner: dict, key: str) -> list:
    value = owner.get(key)
    return value if isinstance(value, list) else []


# The parts of a HumanName (and a reference's display, read as a name when the resource
# is not included): one line, no line break.
_NAME_KEYS = frozenset({"family", "given", "prefix", "suffix"})
_NAME_HOLDERS = frozenset({"name", "subject", "requester", "performer", "recorder"})


def _check_every_text(document) -> None:
    """Refuse the document when any string in it holds a control character or a
    direction override, or a name holds a line break (``checked_text``): the names, drug
    and directions are printed on the vial label."""
    root = document.get("resourceType") if isinstance(document, dict) else None
    # (value, its path, the key it sits under, the key its container sits under); no
    # recursion: a document may nest deeper than Python does.
    waiting = [(document, str(root or "$"), "", "")]
    while waiting:
        value, path, key, holder = waiting.pop()
        if isinstance(value, str):
            is_name = key in _NAME_KEYS or (key == "display" and holder in _NAME_HOLDERS)
            checked_text(value, what=f"text at {path}", path=path, line_breaks=not is_name)
        elif isinstance(value, dict):
            waiting.extend((item, f"{path}.{name}", name, key) for name, item in value.items())
        elif isinstance(value, list):
            waiting.extend((item, f"{path}[{n}]", key, holder) for n, item in enumerate(value))


def _string(owner: dict, key: str, path: str) -> str:
    value = owner.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise IntakeError(
            "invalid_value", f"{key} must be a string, not {value!r}.", path=f"{path}.{key}"
        )
    return value.strip()


def _full_date(text: str, what: str, path: str) -> date:
    if len(text) != 10:  # FHIR allows "1980" or "1980-05"; a birth date must be complete
        raise IntakeError(
            "invalid_date", f"The {what} {text!r} is not a full date (YYYY-MM-DD).", path=path
        )
    return checked_date(text, what=what, path=path)


def _decimal(value) -> Decimal | None:
    """A JSON number as a Decimal (None for anything else, booleans included)."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int | float):
        return None
    number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    return number if number.is_finite() else None


def _human_name(
    resource: dict, path: str, who: str, *, require_given: bool
) -> tuple[str, str, str]:
    names = [n for n in _list(resource, "name") if isinstance(n, dict)]
    names.sort(key=lambda n: n.get("use") != "official")
    if not names:
        raise _missing(f"the {who}'s name", f"{path}.name")
    name = names[0]
    family = name.get("family") if isinstance(name.get("family"), str) else ""
    given = [g.strip() for g in _list(name, "given") if isinstance(g, str) and g.strip()]
    if not family.strip():
        raise _missing(f"the {who}'s last name", f"{path}.name[0].family")
    if require_given and not given:
        raise _missing(f"the {who}'s first name", f"{path}.name[0].given")
    return (given[0] if given else ""), " ".join(given[1:]), family.strip()


def _sex(gender: str) -> str:
    """NCPDP's M, F or U for a FHIR administrative gender (other and unknown are U)."""
    return _SEX_OF_GENDER.get(gender, "U" if gender else "")


def _split_display(display: str) -> tuple[str, str]:
    """First and last name from a display such as "Donald Duck" (a guess a technician
    confirms: the prescription carries a warning)."""
    first, _, last = display.strip().rpartition(" ")
    return first, last


def _address(resource: dict) -> IncomingAddress:
    addresses = [a for a in _list(resource, "address") if isinstance(a, dict)]
    if not addresses:
        return IncomingAddress()
    addresses.sort(key=lambda a: a.get("use") not in ("home", "work"))
    address = addresses[0]
    lines = [line for line in _list(address, "line") if isinstance(line, str)]

    def text(key: str) -> str:
        value = address.get(key)
        return value.strip() if isinstance(value, str) else ""

    return IncomingAddress(
        line1=lines[0] if lines else "",
        line2=", ".join(lines[1:]),
        city=text("city"),
        state=text("state"),
        postal_code=text("postalCode"),
        country=text("country"),
    )


def _telecom(resource: dict, system: str) -> str:
    for contact in _list(resource, "telecom"):
        if isinstance(contact, dict) and contact.get("system") == system:
            value = contact.get("value")
            if isinstance(value, str) and value.strip():
                return value.strip()
    return ""


def _concept_text(concept) -> str:
    if not isinstance(concept, dict):
        return ""
    if isinstance(concept.get("text"), str) and concept["text"].strip():
        return concept["text"].strip()
    for coding in _list(concept, "coding"):
        if isinstance(coding, dict) and isinstance(coding.get("display"), str):
            if coding["display"].strip():
                return coding["display"].strip()
    return ""


def _coded(concept, code: str) -> bool:
    return isinstance(concept, dict) and any(
        isinstance(coding, dict) and coding.get("code") == code
        for coding in _list(concept, "coding")
    )


def _strength(medication: dict) -> str:
    """ "50 mg" from a single ingredient's strength ratio (per unit), "5 mg/5 mL" when the
    denominator is not one unit."""
    ingredients = [i for i in _list(medication, "ingredient") if isinstance(i, dict)]
    if len(ingredients) != 1 or not isinstance(ingredients[0].get("strength"), dict):
        return ""
    ratio = ingredients[0]["strength"]
    numerator = _quantity_text(ratio.get("numerator"))
    denominator = ratio.get("denominator")
    if not numerator or not isinstance(denominator, dict):
        return numerator
    per = _quantity_text(denominator)
    if not per or (_decimal(denominator.get("value")) == 1 and denominator.get("unit") in _EACH):
        return numerator
    return f"{numerator}/{per}"


def _quantity_text(quantity) -> str:
    if not isinstance(quantity, dict):
        return ""
    value = _decimal(quantity.get("value"))
    unit = quantity.get("unit") or quantity.get("code") or ""
    if value is None:
        return ""
    return f"{value.normalize():f} {unit if isinstance(unit, str) else ''}".strip()


def _missing(what: str, path: str) -> IntakeError:
    return IntakeError("missing_element", f"The message does not give {what}.", path=path)


# --------------------------------------------------------------------------- writing


def operation_outcome(errors: list[IntakeError]) -> dict:
    """An OperationOutcome with one ``error`` issue per IntakeError: the FHIR issue type,
    our code in ``details.coding`` (system ``INTAKE_ERROR_SYSTEM``), the description as
    ``details.text`` and the path as ``expression``."""
    issues = []
    for error in errors:
        issue = {
            "severity": "error",
            "code": _ISSUE_TYPE.get(
                error.code, "security" if error.code.startswith("forbidden") else "value"
            ),
            "details": {
                "coding": [{"system": INTAKE_ERROR_SYSTEM, "code": error.code}],
                "text": error.description,
            },
        }
        if error.path:
            issue["expression"] = [error.path]
        issues.append(issue)
    return {"resourceType": "OperationOutcome", "issue": issues}
