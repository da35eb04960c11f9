"""Merging two records of one patient into one (issue 13, "one record per patient").

It lives in ``orders``, not ``pharmacy``: it moves orders' rows (prescriptions, and
through them their fills and drug-check alerts; orders, and through them their
shipments) and re-runs the drug checks, which are an orders service. ``pharmacy`` below
it only knows that a record was merged (``Patient.merged_into``) and refuses new work on
it (``pharmacy.services.lock_patient_for_new_work``). ``shipping`` refers to patients
only through orders, so nothing of it moves directly.
"""

from dataclasses import dataclass, field
from datetime import date

from django.db import transaction
from django.utils import timezone

from orders.models import DurAlert, Fill, FillHold, HoldReason, Order, Prescription
from orders.services.drug_checks import run_drug_checks
from orders.services.workflow import move_locked_fill
from pharmacy.models import (
    Allergy,
    AuditEvent,
    Condition,
    Patient,
    PatientAddress,
    Role,
    User,
)
from pharmacy.patient_keys import search_values_of
from pharmacy.services import merged_record_message, record_audit_event

__all__ = [
    "PATIENT_REFERENCES_KEPT",
    "PATIENT_REFERENCES_MOVED",
    "MergeResult",
    "PatientMergeError",
    "merge_patients",
]

# Every foreign key to Patient, as "app_label.Model.field", is moved by the merge or kept
# for a stated reason; orders/tests/test_patient_merge.py fails on one that is neither,
# so a new model that points at a patient cannot be forgotten here.
PATIENT_REFERENCES_MOVED = {
    "pharmacy.PatientAddress.patient": PatientAddress,
    "pharmacy.Allergy.patient": Allergy,
    "pharmacy.Condition.patient": Condition,
    "orders.Prescription.patient": Prescription,
    "orders.Order.patient": Order,
}
PATIENT_REFERENCES_KEPT = {
    # The audit trail is history, append-only (a trigger refuses UPDATE): what was done
    # to the merged record stays written against it.
    "pharmacy.AuditEvent.patient": "audit history is never rewritten",
    # The merge itself: the merged record points at its survivor.
    "pharmacy.Patient.merged_into": "the merge's own link",
}

# Fills whose drug checks are re-run on the survivor's profile: those a pharmacist has
# not verified yet (intake and PV1), as resolving intake does; and those verified but not
# packed, held for a pharmacist when the merged profile raises an alert they lacked.
RECHECKED_STATUSES = (Fill.Status.INTAKE, Fill.Status.PV1)
HELD_WHEN_NEWLY_ALERTED = (Fill.Status.FILL, Fill.Status.PV2, Fill.Status.READY_TO_PACK)

# Details of the merged record that fill the survivor's when the survivor has none.
FILLED_WHEN_BLANK = ("middle_name", "phone", "email", "child_resistant_waiver_on")


class PatientMergeError(ValueError):
    """A merge that cannot be done; ``code`` and ``detail`` say why. Nothing is written."""

    def __init__(self, code: str, detail: str):
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass
class MergeResult:
    """What a merge moved (model label -> rows) and the fills whose drug checks ran again."""

    survivor: Patient
    merged: Patient
    moved: dict[str, int] = field(default_factory=dict)
    rechecked_fills: list[int] = field(default_factory=list)
    held_fills: list[int] = field(default_factory=list)

    @property
    def summary(self) -> str:
        moved = ", ".join(f"{count} {name}" for name, count in self.moved.items() if count)
        return (
            f"Record #{self.merged.pk} merged into #{self.survivor.pk}"
            + (f"; moved {moved}" if moved else "; nothing to move")
            + f"; drug checks re-run on {len(self.rechecked_fills)} fills"
            + (
                f"; {len(self.held_fills)} verified fills held for a pharmacist (new alerts)"
                if self.held_fills
                else ""
            )
        )


_NAMES = {
    "pharmacy.PatientAddress.patient": "addresses",
    "pharmacy.Allergy.patient": "allergies",
    "pharmacy.Condition.patient": "conditions",
    "orders.Prescription.patient": "prescriptions",
    "orders.Order.patient": "orders",
}


def merge_patients(
    survivor: Patient, merged: Patient, *, by: User, today: date | None = None
) -> MergeResult:
    """Merge ``merged`` into ``survivor``: every row that points at ``merged``
    (``PATIENT_REFERENCES_MOVED``: addresses, allergies, conditions, prescriptions with
    their fills, orders with their shipments) moves to the survivor; the merged record
    is kept, marked ``merged_into``/``merged_at``/``merged_by``, hidden from searches and
    refused as the target of new work. The survivor keeps its own details and takes the
    merged record's where it has none (``FILLED_WHEN_BLANK``); its default shipping
    address stays the default. Drug checks run again on the survivor's open fills, since
    its allergies and medication list changed (``_rerun_drug_checks``: fills not yet
    verified get fresh alerts, verified ones with a new alert go on hold).

    One transaction; locks both patient rows FOR UPDATE in primary-key order (so two
    merges of the same pair cannot deadlock, and new work for either record waits for
    the merge and then goes to the survivor or is refused). Writes an audit row on each
    record.

    Raises PatientMergeError (nothing written): not a pharmacist or manager, a record
    merged into itself, either record already merged.
    """
    today = today or timezone.localdate()
    if by.role not in (Role.PHARMACIST, Role.MANAGER):
        raise PatientMergeError(
            "not_allowed", "Only a pharmacist or a manager can merge patient records."
        )
    if survivor.pk == merged.pk:
        raise PatientMergeError(
            "same_record",
            f"Record #{survivor.pk} cannot be merged into itself: pick the other record of "
            "this patient.",
        )
    with transaction.atomic():
        locked = {
            patient.pk: patient
            for patient in Patient.objects.select_for_update(of=("self",))
            .select_related("merged_into")
            .filter(pk__in=[survivor.pk, merged.pk])
            .order_by("pk")
        }
        survivor, merged = locked[survivor.pk], locked[merged.pk]
        for patient in (merged, survivor):
            if patient.merged_into_id is not None:
                raise PatientMergeError("already_merged", merged_record_message(patient))
        result = MergeResult(survivor=survivor, merged=merged)
        _move_rows(result)
        _complete_survivor(survivor, merged)
        merged.merged_into = survivor
        merged.merged_at = timezone.now()
        merged.merged_by = by
        merged.save(update_fields=["merged_into", "merged_at", "merged_by", "updated_at"])
        result.rechecked_fills, result.held_fills = _rerun_drug_checks(survivor, by=by, today=today)
        for patient in (survivor, merged):
            record_audit_event(
                actor=by,
                action=AuditEvent.Action.UPDATE,
                obj=merged,
                patient=patient,
                summary=result.summary[:255],
            )
    return result


def _move_rows(result: MergeResult) -> None:
    survivor, merged = result.survivor, result.merged
    # One default shipping address per patient (a unique constraint): the survivor's stays
    # the default; the merged record's becomes it only when the survivor has none.
    if survivor.addresses.filter(is_default_shipping=True).exists():
        merged.addresses.filter(is_default_shipping=True).update(is_default_shipping=False)
    for reference, model in PATIENT_REFERENCES_MOVED.items():
        moved = model.objects.filter(patient=merged).update(patient=survivor)
        result.moved[_NAMES[reference]] = moved


def _complete_survivor(survivor: Patient, merged: Patient) -> None:
    changed = [
        name for name in FILLED_WHEN_BLANK if not getattr(survivor, name) and getattr(merged, name)
    ]
    for name in changed:
        setattr(survivor, name, getattr(merged, name))
    if survivor.no_known_allergies and survivor.allergies.exists():
        # An allergy recorded on the other record: "no known allergies" is no longer true.
        survivor.no_known_allergies = False
        changed.append("no_known_allergies")
    keys = search_values_of(survivor)
    for name, value in keys.items():
        setattr(survivor, name, value)
    survivor.save(update_fields=[*changed, *keys, "updated_at"])


def _rerun_drug_checks(survivor: Patient, *, by: User, today: date) -> tuple[list[int], list[int]]:
    """Drug checks again, on the merged profile, for each open fill of the survivor.

    A fill not verified yet (``RECHECKED_STATUSES``) has its alerts replaced, as resolving
    intake does: no pharmacist's override is lost. A fill verified at PV1 but not packed
    (``HELD_WHEN_NEWLY_ALERTED``) keeps its alerts; an alert the merged profile raises
    that it did not have is added and the fill is put on hold for a pharmacist, so it
    never ships on a verification that could not see the other record's allergies or
    medications. Returns the fills re-checked and those held."""
    fills = (
        Fill.objects.select_for_update(of=("self",))
        .filter(
            prescription__patient=survivor,
            prescription__product__isnull=False,
            status__in=(*RECHECKED_STATUSES, *HELD_WHEN_NEWLY_ALERTED),
        )
        .select_related("prescription__product", "prescription__patient")
        .order_by("pk")
    )
    rechecked, held = [], []
    for fill in fills:
        prescription = fill.prescription
        last_fill = (
            prescription.fills.exclude(pk=fill.pk)
            .exclude(status=Fill.Status.CANCELLED)
            .filter(fill_number__lt=fill.fill_number)
            .order_by("-fill_number", "-created_at")
            .first()
        )
        before = {(a.type, a.message) for a in DurAlert.objects.for_fill(fill)}
        if fill.status in RECHECKED_STATUSES:
            fill.dur_alerts.all().delete()
        alerts = run_drug_checks(prescription, fill, today=today, last_fill=last_fill)
        rechecked.append(fill.pk)
        if fill.status in RECHECKED_STATUSES:
            continue
        new = [a for a in alerts if (a.type, a.message) not in before]
        DurAlert.objects.filter(pk__in=[a.pk for a in alerts if a not in new]).delete()
        if new:
            _hold_for_new_alerts(fill, new, by=by)
            held.append(fill.pk)
    return rechecked, held


def _hold_for_new_alerts(fill: Fill, alerts: list[DurAlert], *, by: User) -> None:
    """Hold a verified fill for a pharmacist: the merge raised alerts PV1 never saw. A hold
    of its own kind of step, as intake's release is (``move_locked_fill`` after the
    caller's checks): a manager may merge, and the fill must stop whoever merged."""
    note = "Patient records merged: new drug-check alert to review: " + "; ".join(
        a.message for a in alerts
    )
    FillHold.objects.create(
        fill=fill,
        reason_code=HoldReason.CLARIFICATION,
        note=note[:1000],
        from_status=fill.status,
        placed_by=by,
    )
    fill.held_from_status = fill.status
    move_locked_fill(
        fill,
        to=Fill.Status.ON_HOLD,
        by=by,
        reason=note,
        reason_code=HoldReason.CLARIFICATION,
        update_fields=["held_from_status"],
    )
