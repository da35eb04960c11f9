"""Phone (verbal) orders: who called, the number to call back, and the pharmacist who
took the order where the state lets only a pharmacist take one
(``settings.VERBAL_ORDER_PHARMACIST_STATES``). ``receive_prescription`` checks them with
``check_verbal_order`` before it writes anything."""

from dataclasses import dataclass

from django.conf import settings

from lib.us_phones import format_us_phone, us_phone_problem
from orders.intake.messages import IntakeError
from orders.models import Channel
from pharmacy.models import Patient, Role, User

__all__ = ["VerbalOrder", "check_verbal_order", "pharmacist_required_for"]


@dataclass(frozen=True)
class VerbalOrder:
    """Who called a prescription in, and the pharmacist who took it (None: not named)."""

    caller_office: str = ""
    caller_name: str = ""
    callback_phone: str = ""
    taken_by: User | None = None


def pharmacist_required_for(patient: Patient | None) -> bool:
    """Whether a new verbal order for this patient must name the pharmacist who took it:
    the patient's shipping state, or the pharmacy's own, is one whose board requires it."""
    states = settings.VERBAL_ORDER_PHARMACIST_STATES
    address = patient.default_shipping_address if patient is not None else None
    patient_state = address.state.upper() if address else ""
    return bool(states) and (
        patient_state in states or settings.SHIP_FROM["state"].upper() in states
    )


def check_verbal_order(
    verbal: VerbalOrder | None, *, channel: str, patient: Patient | None
) -> VerbalOrder:
    """The caller details as they will be stored (trimmed, the number formatted), or
    IntakeError: a phone order without the caller's office, name or a US call-back
    number; a pharmacist named who is not an active pharmacist; none named where the
    state requires one. A fax may carry caller details; they are checked the same."""
    verbal = verbal or VerbalOrder()
    office, name = verbal.caller_office.strip(), verbal.caller_name.strip()
    phone = verbal.callback_phone.strip()
    if channel == Channel.PHONE:
        missing = [
            label
            for label, value in (
                ("the caller's office", office),
                ("the caller's name", name),
                ("a call-back number", phone),
            )
            if not value
        ]
        if missing:
            raise IntakeError(
                "caller_required",
                f"A phone order needs {', '.join(missing)}: who called from the "
                "prescriber's office and how to reach them.",
            )
    if phone and (problem := us_phone_problem(phone)):
        raise IntakeError("invalid_callback_phone", problem)
    taken_by = verbal.taken_by
    if taken_by is not None and (not taken_by.is_active or taken_by.role != Role.PHARMACIST):
        raise IntakeError(
            "not_a_pharmacist",
            f"{taken_by.get_full_name() or taken_by.username} is not an active pharmacist: "
            "only a pharmacist may take a new verbal order.",
        )
    if channel == Channel.PHONE and taken_by is None and pharmacist_required_for(patient):
        raise IntakeError(
            "verbal_order_pharmacist_required",
            "This patient's state lets only a pharmacist take a new verbal order: name "
            "the pharmacist who took the call.",
        )
    return VerbalOrder(
        caller_office=office,
        caller_name=name,
        callback_phone=format_us_phone(phone) if phone else "",
        taken_by=taken_by if channel == Channel.PHONE else None,
    )
