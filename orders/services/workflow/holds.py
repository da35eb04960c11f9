"""Holds: a fill put aside with a coded reason, and released back to the step it was at.

A hold for a question to the prescriber (``CLARIFICATION``) or a discrepancy with the
prescription (``DISCREPANCY``) is a pharmacist's to release, with what was clarified
(issue 13): a technician cannot close a clinical question. A pharmacist releasing any
hold may correct the directions, the quantity or the drug as the prescriber clarified
them (``Correction``); a corrected fill goes back to PV1 (its drug checks run again on
the corrected prescription, anything already in the vial goes back to stock), never
straight on to the step it was held at.
"""

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils import timezone

from inventory.models import Package
from inventory.ndc import ScanError
from orders.models import Fill, FillHold, HoldReason
from orders.services.workflow.helpers import (
    S,
    WorkflowError,
    _check_move,
    _describe,
    _free_text,
    _lock,
    _refuse_wrong_status,
    move_locked_fill,
)
from orders.services.workflow.moves import _prepare_for_pv1, _undo_dispensing
from orders.units import is_counted
from pharmacy.models import Role, User

__all__ = ["PHARMACIST_RELEASED_HOLDS", "Correction", "hold_fill", "release_fill"]

# Holds whose release answers a clinical question: a pharmacist's, with what was clarified.
PHARMACIST_RELEASED_HOLDS = frozenset({HoldReason.CLARIFICATION, HoldReason.DISCREPANCY})


@dataclass(frozen=True)
class Correction:
    """What a pharmacist corrects at release, as the prescriber clarified it: empty
    fields are left as they are. ``drug_ndc`` names a package of the new drug."""

    directions: str = ""
    quantity: Decimal | str | None = None
    drug_ndc: str = ""

    @property
    def is_empty(self) -> bool:
        return not (self.directions.strip() or str(self.quantity or "").strip() or self.drug_ndc)


def hold_fill(fill: Fill, *, by: User, reason_code: str, note: str = "") -> FillHold:
    """Put a fill on hold with a coded reason (HoldReason) and a note; the step it was at
    is kept so a release returns it there. Raises WorkflowError: unknown reason (400),
    already on hold, a move or role FILL_MOVES does not allow, claimed by someone else."""
    if reason_code not in HoldReason.values:
        raise WorkflowError(
            "invalid_reason_code",
            f"{reason_code!r} is not a hold reason; use one of {', '.join(HoldReason.values)}.",
            400,
        )
    note = _free_text(note, "note")
    with transaction.atomic():
        fill = _lock(fill)
        if fill.status == S.ON_HOLD:
            raise WorkflowError("already_on_hold", f"{_describe(fill)} is already on hold.")
        _check_move(fill, to=S.ON_HOLD, by=by)
        hold = FillHold.objects.create(
            fill=fill, reason_code=reason_code, note=note, from_status=fill.status, placed_by=by
        )
        fill.held_from_status = fill.status
        label = HoldReason(reason_code).label
        move_locked_fill(
            fill,
            to=S.ON_HOLD,
            by=by,
            reason=f"On hold: {label}" + (f": {note}" if note else ""),
            reason_code=reason_code,
            update_fields=["held_from_status"],
        )
    return hold


def release_fill(
    fill: Fill, *, by: User, note: str = "", correction: Correction | None = None
) -> Fill:
    """Release a fill from hold back to the step it was held at, closing its hold.

    A clarification or discrepancy hold (``PHARMACIST_RELEASED_HOLDS``) is released only
    by a pharmacist, with a note saying what was clarified. A ``correction`` (a
    pharmacist's only) changes the prescription's directions, quantity (and this fill's)
    or drug; when it changes anything the fill goes back to PV1 instead (to intake if it
    was held there), its drug checks run again and any dispensed units return to their
    lot. Raises WorkflowError: not on hold, a role that may not release this hold or
    return the fill there (403), no note where one is required, a correction that is not
    valid (400: quantity not a positive count, unknown NDC, another DEA schedule),
    claimed by someone else.
    """
    note = _free_text(note, "note")
    correction = correction or Correction()
    with transaction.atomic():
        fill = _lock(fill)
        if fill.status != S.ON_HOLD:
            raise _refuse_wrong_status(fill, S.ON_HOLD)
        hold = FillHold.objects.select_for_update().filter(fill=fill, released_at__isnull=True)
        hold = hold.first()
        reason_code = hold.reason_code if hold is not None else ""
        back_to = fill.held_from_status
        if not back_to:
            raise WorkflowError(
                "no_return_step",
                f"{_describe(fill)} does not record the step it was held at; cancel it or "
                "ask a pharmacist.",
            )
        _check_move(fill, to=back_to, by=by)
        _check_release_rules(fill, by=by, reason_code=reason_code, note=note, correction=correction)
        changes, update_fields = _apply_correction(fill, correction)
        if changes and back_to != S.INTAKE:
            back_to = S.PV1
            _check_move(fill, to=back_to, by=by)
        if changes and back_to == S.PV1:
            update_fields += _undo_dispensing(fill, by=by, reason="Corrected at hold release")[0]
            update_fields += _prepare_for_pv1(fill)
        if hold is not None:
            hold.released_by = by
            hold.released_at = timezone.now()
            hold.release_note = note + (f" (corrected: {'; '.join(changes)})" if changes else "")
            hold.save(update_fields=["released_by", "released_at", "release_note"])
        fill.held_from_status = ""
        reason = "Released from hold" + (f": {note}" if note else "")
        if changes:
            step = "PV1" if back_to == S.PV1 else "intake"
            reason += f"; corrected {'; '.join(changes)}: back to {step}"
        return move_locked_fill(
            fill,
            to=back_to,
            by=by,
            reason=reason,
            reason_code=reason_code,
            update_fields=["held_from_status", *update_fields],
        )


def _check_release_rules(
    fill: Fill, *, by: User, reason_code: str, note: str, correction: Correction
) -> None:
    clinical = reason_code in PHARMACIST_RELEASED_HOLDS
    if (clinical or not correction.is_empty) and by.role != Role.PHARMACIST:
        what = (
            f"a hold for {HoldReason(reason_code).label.lower()}"
            if clinical
            else "a correction of the prescription"
        )
        raise WorkflowError(
            "pharmacist_required",
            f"Only a pharmacist may release {what} ({_describe(fill, start=False)}).",
            403,
        )
    if clinical and not note:
        raise WorkflowError(
            "note_required",
            "Say what was clarified (with whom, and the answer): it is kept on the record.",
            400,
        )


def _correct_quantity(fill: Fill, value) -> Decimal | None:
    if value is None or not str(value).strip():
        return None
    try:
        quantity = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise WorkflowError("invalid_quantity", f"{value!r} is not a quantity.", 400) from None
    prescription = fill.prescription
    product = prescription.product
    counted = is_counted(prescription.quantity_unit, product.dosage_form if product else "")
    if (
        not quantity.is_finite()
        or quantity <= 0
        or quantity > Decimal("99999")
        or quantity.as_tuple().exponent < -3
        or (counted and quantity != quantity.to_integral_value())
    ):
        whole = " whole" if counted else ""
        raise WorkflowError(
            "invalid_quantity",
            f"The corrected quantity must be a{whole} number more than 0, not {value}.",
            400,
        )
    return quantity


def _correct_drug(fill: Fill, ndc: str) -> Package | None:
    ndc = (ndc or "").strip()
    if not ndc:
        return None
    try:
        packages = Package.objects.for_code(ndc)
    except ScanError:
        packages = Package.objects.filter(package_ndc=ndc)
    package = (packages | Package.objects.filter(ndc11=ndc)).select_related("product").first()
    if package is None:
        raise WorkflowError("unknown_ndc", f"No package in the catalogue has the NDC {ndc}.", 400)
    prescribed = fill.prescription.product
    if prescribed is not None and package.product.dea_schedule != prescribed.dea_schedule:
        raise WorkflowError(
            "schedule_differs",
            f"{package.product.display_name} is in another DEA schedule than the drug "
            "prescribed: that takes a new prescription, not a correction.",
            400,
        )
    return package


def _apply_correction(fill: Fill, correction: Correction) -> tuple[list[str], list[str]]:
    """Apply what differs to the prescription and the fill: the changes in words and the
    fill's fields changed (the prescription is saved here)."""
    prescription = fill.prescription
    changes: list[str] = []
    fields: list[str] = []
    fill_fields: list[str] = []
    directions = _free_text(correction.directions, "directions")
    if directions and directions != prescription.directions:
        changes.append(f"directions “{prescription.directions}” to “{directions}”")
        prescription.directions = prescription.sig_text = directions
        fields += ["directions", "sig_text"]
    quantity = _correct_quantity(fill, correction.quantity)
    if quantity is not None and quantity != fill.quantity:
        unit = prescription.quantity_unit
        changes.append(f"quantity {fill.quantity.normalize():f} to {quantity.normalize():f} {unit}")
        if fill.partial_of_id is None:
            prescription.quantity = quantity
            fields.append("quantity")
        fill.quantity = quantity
        fill_fields.append("quantity")
    package = _correct_drug(fill, correction.drug_ndc)
    if package is not None and package.ndc11 != prescription.prescribed_ndc:
        changes.append(f"drug {prescription.drug_description} to {package.product.display_name} "
                       f"(NDC {package.package_ndc})")  # fmt: skip
        prescription.product = package.product
        prescription.prescribed_ndc = package.ndc11
        prescription.drug_description = package.product.display_name[:255]
        fields += ["product", "prescribed_ndc", "drug_description"]
    if fields:
        prescription.save(update_fields=[*fields, "updated_at"])
    return changes, fill_fields
