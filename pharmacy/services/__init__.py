"""Business writes of the pharmacy app, one module per area.

``staff``: the role groups, creating staff members, their API tokens and second factor.
``audit``: the audit trail.
``matching``: the patient and prescriber an incoming prescription names.
``patients``: creating a patient, recording an allergy.
``patient_records``: a patient's details, addresses, allergies removed, conditions.
``prescribers``: creating and changing prescribers.
``identity``: likely duplicates of a new patient, and the guard against new work on a
merged record.

Callers import from ``pharmacy.services``; the names below are its public interface.
"""

from pharmacy.services.audit import (
    record_audit_event,
    record_failed_sign_in,
    record_list_view,
)
from pharmacy.services.identity import (
    PatientMergedError,
    PossibleDuplicate,
    PossibleDuplicatesFound,
    find_possible_duplicates,
    lock_patient_for_new_work,
    merged_record_message,
)
from pharmacy.services.matching import (
    RecordMatch,
    match_or_create_patient,
    match_or_create_prescriber,
)
from pharmacy.services.patient_records import (
    ADDRESS_FIELDS,
    PATIENT_FIELDS,
    add_patient_address,
    normalize_icd10_code,
    record_condition,
    remove_allergy,
    remove_condition,
    remove_patient_address,
    set_no_known_allergies,
    update_patient,
    update_patient_address,
)
from pharmacy.services.patients import (
    PatientDataError,
    create_patient,
    record_allergy,
    resolve_allergen,
)
from pharmacy.services.prescribers import (
    PRESCRIBER_FIELDS,
    PRESCRIBING_SCHEDULES,
    PrescriberDataError,
    create_prescriber,
    update_prescriber,
)
from pharmacy.services.staff import (
    SecondFactorError,
    StaffError,
    create_api_token,
    create_staff,
    enroll_authenticator,
    has_authenticator,
    new_authenticator_key,
    recovery_codes_left,
    reset_second_factor,
    revoke_api_token,
    sync_role_groups,
    verify_second_factor,
)

__all__ = [
    "ADDRESS_FIELDS",
    "PATIENT_FIELDS",
    "PRESCRIBER_FIELDS",
    "PRESCRIBING_SCHEDULES",
    "PatientDataError",
    "PatientMergedError",
    "PossibleDuplicate",
    "PossibleDuplicatesFound",
    "PrescriberDataError",
    "RecordMatch",
    "SecondFactorError",
    "StaffError",
    "add_patient_address",
    "create_api_token",
    "create_patient",
    "create_prescriber",
    "create_staff",
    "enroll_authenticator",
    "find_possible_duplicates",
    "lock_patient_for_new_work",
    "merged_record_message",
    "has_authenticator",
    "match_or_create_patient",
    "match_or_create_prescriber",
    "new_authenticator_key",
    "normalize_icd10_code",
    "record_allergy",
    "record_audit_event",
    "record_failed_sign_in",
    "record_list_view",
    "record_condition",
    "recovery_codes_left",
    "remove_allergy",
    "remove_condition",
    "remove_patient_address",
    "reset_second_factor",
    "resolve_allergen",
    "revoke_api_token",
    "set_no_known_allergies",
    "sync_role_groups",
    "update_patient",
    "update_patient_address",
    "update_prescriber",
    "verify_second_factor",
]
