"""A prescriber's CancelRx (NCPDP SCRIPT): the prescription and its fills cancelled, if
none was filled yet, through the workflow's ``cancel_locked_fill``."""

from dataclasses import dataclass

from django.db import transaction

from orders.intake.messages import IncomingCancel
from orders.models import Fill, Prescription
from orders.services.intake.scheduled_refills import cancel_scheduled_refills
from orders.services.workflow import cancel_locked_fill
from pharmacy.models import AuditEvent, User
from pharmacy.services import record_audit_event

__all__ = ["CancelOutcome", "cancel_prescription_for_prescriber"]


@dataclass(frozen=True)
class CancelOutcome:
    """The answer to a CancelRx: approved or denied, with the reason, and the
    prescription it matched (None when none did)."""

    approved: bool
    reason: str
    prescription: Prescription | None


def cancel_prescription_for_prescriber(cancel: IncomingCancel, *, by: User | None) -> CancelOutcome:
    """A prescriber's CancelRx: cancel the prescription and its fills if none was filled yet.

    Found by the prescriber's order number (and the prescriber's NPI), or by the original
    NewRx message id. Denied, with the reason, when nothing matches or a fill already
    passed the fill step (it is in the pharmacist's hands or shipped, or on hold after
    the fill step). Locks the prescription and its fills; each fill is cancelled through
    the workflow (``cancel_locked_fill``: its open hold closed, its FillEvent written)
    and one audit row records the cancellation.
    """
    with transaction.atomic():
        candidates = Prescription.objects.select_for_update(of=("self",))
        prescription = None
        if cancel.prescriber_order_number:
            prescription = candidates.filter(
                prescriber_order_number=cancel.prescriber_order_number,
                prescriber__npi=cancel.prescriber.npi,
            ).first()
        if prescription is None and cancel.relates_to_message_id:
            prescription = candidates.filter(message_id=cancel.relates_to_message_id).first()
        if prescription is None:
            return CancelOutcome(
                False,
                "No prescription from this prescriber matches the order number or message.",
                None,
            )
        if prescription.status == Prescription.Status.CANCELLED:
            return CancelOutcome(True, "The prescription was already cancelled.", prescription)
        not_yet_filled = {Fill.Status.INTAKE, Fill.Status.PV1, Fill.Status.FILL}
        fills = list(prescription.fills.select_for_update())
        for fill in fills:
            step = fill.held_from_status if fill.status == Fill.Status.ON_HOLD else fill.status
            if fill.status != Fill.Status.CANCELLED and step not in not_yet_filled:
                return CancelOutcome(
                    False,
                    "The prescription was already filled; contact the pharmacy.",
                    prescription,
                )
        for fill in fills:
            if fill.status != Fill.Status.CANCELLED:
                cancel_locked_fill(
                    fill, by=by, reason=f"CancelRx from prescriber: {cancel.reason}"[:255]
                )
        prescription.status = Prescription.Status.CANCELLED
        prescription.save(update_fields=["status", "updated_at"])
        cancel_scheduled_refills(prescription, reason="The prescriber cancelled the prescription.")
        record_audit_event(
            actor=by, action=AuditEvent.Action.UPDATE, obj=prescription,
            patient=prescription.patient, summary="Cancelled by the prescriber (CancelRx)",
        )  # fmt: skip
        return CancelOutcome(True, "Cancelled before filling.", prescription)
