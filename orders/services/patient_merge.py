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

from orders.models import Fill, Order, Prescription
from orders.services.drug_checks import run_drug_checks
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
# not verified yet (intake and PV1), as resolving intake does.
RECHECKED_STATUSES = (Fill.Status.INTAKE, Fill.Status.PV1)

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

    @property
    def summary(self) -> str:
        moved = ", ".join(f"{count} {name}" for name, count in self.moved.items() if count)
        return (
            f"Record #{self.merged.pk} merged into #{self.survivor.pk}"
            + (f"; moved {moved}" if moved else "; nothing to move")
            + (f"; drug checks re-run on {len(self.rechecked_fills)} fills")
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
    address stays the default. Drug checks run again on the survivor's open fills not yet
    verified (``RECHECKED_STATUSES``), since its allergies and medication list changed.

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
        result.rechecked_fills = _rerun_drug_checks(survivor, today=today)
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


def _rerun_drug_checks(survivor: Patient, *, today: date) -> list[int]:
    """Drug checks again, on the merged profile, for each open fill not yet verified."""
    fills = (
        Fill.objects.select_for_update(of=("self",))
        .filter(
            prescription__patient=survivor,
            prescription__product__isnull=False,
            status__in=RECHECKED_STATUSES,
        )
        .select_related("prescription__product", "prescription__patient")
        .order_by("pk")
    )
    rechecked = []
    for fill in fills:
        prescription = fill.prescription
        last_fill = (
            prescription.fills.exclude(pk=fill.pk)
            .exclude(status=Fill.Status.CANCELLED)
            .filter(fill_number__lt=fill.fill_number)
            .order_by("-fill_number", "-created_at")
            .first()
        )
        # Not verified yet, so no pharmacist's override is lost: the alerts are replaced
        # by those of the merged medication list and allergies.
        fill.dur_alerts.all().delete()
        run_drug_checks(prescription, fill, today=today, last_fill=last_fill)
        rechecked.append(fill.pk)
    return rechecked
