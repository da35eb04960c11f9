"""One record per patient: the likely duplicates of a patient about to be created, and the
guard that keeps new work off a record merged into another.

Both compare the keys of ``pharmacy.patient_keys`` (names without accents, case,
apostrophes or hyphens; phone digits; address line 1 and ZIP), never the text as typed.
"""

from dataclasses import dataclass, field
from datetime import date

from django.db.models import Q

from pharmacy.models import Patient, PatientAddress
from pharmacy.patient_keys import address_key, names_look_alike, phone_key
from pharmacy.services._common import PatientDataError

__all__ = [
    "PatientMergedError",
    "PossibleDuplicate",
    "PossibleDuplicatesFound",
    "find_possible_duplicates",
    "lock_patient_for_new_work",
    "merged_record_message",
]

# How many likely duplicates are listed at most (a person reads each one).
MAX_DUPLICATES = 10


@dataclass
class PossibleDuplicate:
    """A patient on file who may be the person about to be created, and why."""

    patient: Patient
    reasons: list[str] = field(default_factory=list)

    @property
    def why(self) -> str:
        return ", ".join(self.reasons)


class PossibleDuplicatesFound(PatientDataError):
    """Creating this patient would likely make a second record of someone on file.
    ``candidates`` lists them; the caller shows them and may create anyway when a person
    confirms (``confirm_not_duplicate=True``). Nothing is written."""

    def __init__(self, candidates: list[PossibleDuplicate]):
        names = "; ".join(
            f"{c.patient.full_name} (#{c.patient.pk}, born {c.patient.date_of_birth}): {c.why}"
            for c in candidates
        )
        super().__init__(
            {
                "possible_duplicates": f"This may be a patient already on file: {names}. "
                "Open the record, or confirm that this is a different person."
            }
        )
        self.candidates = candidates


def merged_record_message(patient: Patient) -> str:
    survivor = patient.merged_into
    return (
        f"The record #{patient.pk} of {patient.full_name} was merged into record "
        f"#{survivor.pk} ({survivor.full_name}, born {survivor.date_of_birth}): use that record."
    )


class PatientMergedError(PatientDataError):
    """New work for a patient record that was merged into another; ``survivor`` is the
    record to use. Nothing is written."""

    def __init__(self, patient: Patient):
        super().__init__({"patient": merged_record_message(patient)})
        self.survivor = patient.merged_into


def find_possible_duplicates(
    *,
    first_name: str,
    last_name: str,
    date_of_birth: date | None,
    phone: str = "",
    addresses: list[dict] = (),
    exclude: Patient | None = None,
) -> list[PossibleDuplicate]:
    """Patients in use (not merged) who may be this person: the same date of birth with
    a name that looks alike (``patient_keys.names_look_alike``), the same phone number
    (its digits), or the same address (line 1 and ZIP). A patient with no phone or no
    address is compared on what they have. At most ``MAX_DUPLICATES``, those with the
    most reasons first. Three indexed queries at most; writes nothing."""
    found: dict[int, PossibleDuplicate] = {}

    def add(patient: Patient, reason: str) -> None:
        entry = found.setdefault(patient.pk, PossibleDuplicate(patient))
        if reason not in entry.reasons:
            entry.reasons.append(reason)

    patients = Patient.objects.active().prefetch_related("addresses")
    if exclude is not None:
        patients = patients.exclude(pk=exclude.pk)
    conditions = Q()
    if date_of_birth is not None:
        conditions |= Q(date_of_birth=date_of_birth)
    phone_digits = phone_key(phone)
    if len(phone_digits) >= 7:
        conditions |= Q(search_phone=phone_digits)
    keys = {
        key for a in addresses if (key := address_key(a.get("line1", ""), a.get("postal_code", "")))
    }
    if keys:
        conditions |= Q(
            pk__in=PatientAddress.objects.filter(match_key__in=keys).values("patient_id")
        )
    if not conditions:
        return []
    for patient in patients.filter(conditions).order_by("pk")[:200]:
        if patient.date_of_birth == date_of_birth and names_look_alike(
            first_name, last_name, patient.first_name, patient.last_name
        ):
            add(patient, "same date of birth and a similar name")
        if phone_digits and len(phone_digits) >= 7 and patient.search_phone == phone_digits:
            add(patient, "same phone number")
        if keys & {a.match_key for a in patient.addresses.all()}:
            add(patient, "same address")
    ranked = sorted(found.values(), key=lambda c: (-len(c.reasons), c.patient.pk))
    return ranked[:MAX_DUPLICATES]


def lock_patient_for_new_work(patient: Patient, *, follow_merge: bool = False) -> Patient:
    """Lock the patient row against a merge (FOR NO KEY UPDATE, which a merge's FOR
    UPDATE waits for and which waits for a merge) and return the record new work goes
    to: the patient, or when it was merged, its survivor (``follow_merge``, used by
    e-prescription intake, which matched the record before the merge committed) or
    PatientMergedError. Call inside the transaction that writes the new work, so that a
    merge either sees the work and moves it, or committed first and is seen here."""
    row = (
        Patient.objects.select_for_update(no_key=True)
        .filter(pk=patient.pk)
        .values_list("merged_into_id", flat=True)
        .get()
    )
    if row is None:
        return patient
    merged = Patient.objects.select_related("merged_into").get(pk=patient.pk)
    if not follow_merge:
        raise PatientMergedError(merged)
    # A survivor is never itself merged (merge_patients refuses it), so one step is enough.
    return lock_patient_for_new_work(merged.merged_into)
