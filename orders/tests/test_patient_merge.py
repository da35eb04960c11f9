"""Merging two records of one patient (issue 13): every row that points at the merged
record moves to the survivor, the merged record is kept and refuses new work, the drug
checks run again on the survivor's unverified fills; the page that does it; and what is
refused (a record into itself, a merged record, a technician)."""

import datetime

import pytest
from django.apps import apps
from django.db import models
from django.utils import timezone

from inventory.tests.factories import ProductFactory
from orders.intake.messages import IntakeError
from orders.models import (
    Channel,
    DurAlert,
    Fill,
    FillHold,
    HoldReason,
    IntakeIssue,
    Order,
    Prescription,
)
from orders.services.drug_checks import run_drug_checks
from orders.services.intake import VerbalOrder, receive_prescription, resolve_intake
from orders.services.patient_merge import (
    PATIENT_REFERENCES_KEPT,
    PATIENT_REFERENCES_MOVED,
    PatientMergeError,
    merge_patients,
)
from orders.tests.factories import (
    FillFactory,
    PrescriptionFactory,
    amoxicillin_product,
    another_staff,
    penicillin_allergic_patient,
)
from orders.tests.test_intake_queue import message
from pharmacy.models import Allergy, AuditEvent, Condition, Patient, PatientAddress, Role
from pharmacy.services import PatientMergedError, record_allergy, update_patient
from pharmacy.tests.factories import PatientAddressFactory, PatientFactory
from pharmacy.tests.second_factor import signed_in_client

BORN = datetime.date(1960, 12, 10)


@pytest.fixture
def survivor(db):
    """Augusta Ada King: the record kept, with an address and an amoxicillin prescription
    waiting for PV1 (no allergy on her record, so no alert yet)."""
    patient = PatientFactory(
        first_name="Augusta Ada", last_name="King", date_of_birth=BORN, phone="", email=""
    )
    PatientAddressFactory(patient=patient, line1="1 Ockham Park")
    return patient


@pytest.fixture
def merged(db):
    """Ada Lovelace, the same person on a second record: allergic to penicillins, with a
    condition, an address, and a prescription of her own in an order."""
    patient = penicillin_allergic_patient(
        first_name="Ada", last_name="Lovelace", date_of_birth=BORN, email="ada@example.com"
    )
    PatientAddressFactory(patient=patient, line1="12 St James's Square")
    Condition.objects.create(patient=patient, name="Asthma", noted_on=BORN)
    FillFactory(prescription=PrescriptionFactory(patient=patient))
    return patient


@pytest.fixture
def waiting_fill(survivor) -> Fill:
    """The survivor's amoxicillin fill waiting for PV1, checked before the merge."""
    return FillFactory(prescription=PrescriptionFactory(patient=survivor,
                                                        product=amoxicillin_product()))  # fmt: skip


def rows_of(patient: Patient) -> dict[str, int]:
    return {
        label: model.objects.filter(patient=patient).count()
        for label, model in PATIENT_REFERENCES_MOVED.items()
    }


# --------------------------------------------------------------------------- the service


def test_every_reference_to_a_patient_is_moved_or_kept_for_a_reason():
    """A new model that points at a patient must be handled by the merge: add it to
    PATIENT_REFERENCES_MOVED (or, with its reason, to PATIENT_REFERENCES_KEPT)."""
    references = {
        f"{model._meta.label}.{field.name}"
        for model in apps.get_models()
        for field in model._meta.get_fields()
        if isinstance(field, models.ForeignKey | models.OneToOneField)
        and field.related_model is Patient
    }

    assert references == set(PATIENT_REFERENCES_MOVED) | set(PATIENT_REFERENCES_KEPT)
    for label, model in PATIENT_REFERENCES_MOVED.items():
        assert label.startswith(model._meta.label + ".")


def test_a_merge_moves_every_related_row_and_keeps_the_merged_record(
    pharmacist, survivor, merged, waiting_fill
):
    before = {label: a + b for (label, a), b in
              zip(rows_of(survivor).items(), rows_of(merged).values(), strict=True)}  # fmt: skip

    result = merge_patients(survivor, merged, by=pharmacist)

    assert rows_of(survivor) == before
    assert set(rows_of(merged).values()) == {0}
    assert result.moved == {"addresses": 1, "allergies": 1, "conditions": 1,
                            "prescriptions": 1, "orders": 1}  # fmt: skip
    merged.refresh_from_db()
    assert (merged.merged_into, merged.merged_by) == (survivor, pharmacist)
    assert merged.merged_at is not None
    survivor.refresh_from_db()
    # Her own default address still ships; the blank e-mail took the other record's.
    assert survivor.addresses.get(is_default_shipping=True).line1 == "1 Ockham Park"
    assert survivor.email == "ada@example.com"
    assert Patient.objects.count() == 2


def test_a_merge_reruns_the_drug_checks_of_the_survivors_unverified_fills(
    pharmacist, survivor, merged, waiting_fill
):
    assert not DurAlert.objects.filter(fill=waiting_fill, type=DurAlert.Type.ALLERGY).exists()

    result = merge_patients(survivor, merged, by=pharmacist)

    assert waiting_fill.pk in result.rechecked_fills
    alert = DurAlert.objects.get(fill=waiting_fill, type=DurAlert.Type.ALLERGY)
    assert "Penicillin" in alert.message


def test_a_verified_fill_with_a_new_alert_is_held_and_one_without_is_left_alone(
    manager, survivor, merged
):
    amoxil = amoxicillin_product()
    verified = FillFactory(
        prescription=PrescriptionFactory(patient=survivor, product=amoxil),
        status=Fill.Status.PV2,
    )
    metformin = ProductFactory(proprietary_name="Glucophage",
                               nonproprietary_name="metformin hydrochloride")  # fmt: skip
    untouched = FillFactory(prescription=PrescriptionFactory(patient=survivor, product=metformin),
                            status=Fill.Status.READY_TO_PACK)  # fmt: skip
    # Checked at its intake, as every fill is; nothing in the other record concerns it
    # (its one prescription is completed, so not a current medication).
    Prescription.objects.filter(patient=merged).update(status=Prescription.Status.COMPLETED)
    run_drug_checks(untouched.prescription, untouched, today=timezone.localdate())
    alerts_before = list(DurAlert.objects.filter(fill=untouched).values_list("pk", flat=True))

    result = merge_patients(survivor, merged, by=manager)

    verified.refresh_from_db()
    untouched.refresh_from_db()
    assert result.held_fills == [verified.pk]
    assert (verified.status, verified.held_from_status) == (Fill.Status.ON_HOLD, Fill.Status.PV2)
    hold = FillHold.objects.get(fill=verified)
    assert (hold.reason_code, hold.placed_by) == (HoldReason.CLARIFICATION, manager)
    assert hold.note.startswith("Patient records merged: new drug-check alert to review:")
    assert "Penicillin" in hold.note
    assert DurAlert.objects.filter(fill=verified, type=DurAlert.Type.ALLERGY).count() == 1
    assert untouched.status == Fill.Status.READY_TO_PACK
    assert list(DurAlert.objects.filter(fill=untouched).values_list("pk", flat=True)) == (
        alerts_before
    )


def test_a_merge_writes_an_audit_row_on_each_record(pharmacist, survivor, merged):
    merge_patients(survivor, merged, by=pharmacist)

    events = AuditEvent.objects.order_by("pk")
    assert [(e.actor, e.patient, e.action) for e in events] == [
        (pharmacist, survivor, AuditEvent.Action.UPDATE),
        (pharmacist, merged, AuditEvent.Action.UPDATE),
    ]
    assert events[0].summary.startswith(f"Record #{merged.pk} merged into #{survivor.pk}; moved")


def test_a_manager_may_merge_and_a_technician_may_not(technician, manager, survivor, merged):
    with pytest.raises(PatientMergeError, match="Only a pharmacist or a manager"):
        merge_patients(survivor, merged, by=technician)
    assert Patient.objects.get(pk=merged.pk).merged_into is None

    merge_patients(survivor, merged, by=manager)

    assert Patient.objects.get(pk=merged.pk).merged_into == survivor


def test_a_record_cannot_be_merged_into_itself(pharmacist, survivor):
    with pytest.raises(PatientMergeError, match="cannot be merged into itself"):
        merge_patients(survivor, survivor, by=pharmacist)

    assert not AuditEvent.objects.exists()


def test_a_merged_record_can_be_neither_merged_again_nor_merged_into(pharmacist, survivor, merged):
    merge_patients(survivor, merged, by=pharmacist)
    third = PatientFactory()
    rows = rows_of(survivor)

    for target, source in ((merged, third), (third, merged)):
        with pytest.raises(PatientMergeError) as refused:
            merge_patients(target, source, by=pharmacist)
        assert refused.value.code == "already_merged"
        assert f"was merged into record #{survivor.pk} (Augusta Ada King" in refused.value.detail
    assert rows_of(survivor) == rows
    assert set(rows_of(third).values()) == {0}
    assert AuditEvent.objects.count() == 2


# --------------------------------------------------------------------------- no new work


def test_a_merged_record_refuses_new_work_naming_the_survivor(
    pharmacist, technician, survivor, merged
):
    merge_patients(survivor, merged, by=pharmacist)
    merged = Patient.objects.get(pk=merged.pk)

    with pytest.raises(PatientMergedError, match=f"merged into record #{survivor.pk}"):
        record_allergy(merged, allergen="Latex", by=technician)
    with pytest.raises(PatientMergedError):
        update_patient(merged, phone="614 555 0199", by=technician)
    with pytest.raises(IntakeError) as refused:
        receive_prescription(
            message(message_id="AFTER-MERGE"), channel=Channel.PHONE, by=technician,
            patient=merged, verbal_order=VerbalOrder("Clinic", "A nurse", "614 555 0100"),
        )  # fmt: skip
    assert refused.value.code == "patient_merged"
    assert Allergy.objects.filter(allergen="Latex").count() == 0
    assert not Prescription.objects.filter(message_id="AFTER-MERGE").exists()


def test_intake_cannot_resolve_to_a_merged_record(pharmacist, technician, survivor, merged):
    waiting = receive_prescription(
        message(patient={"date_of_birth": None}), channel=Channel.NCPDP, by=None
    ).prescription
    merge_patients(survivor, merged, by=pharmacist)

    from orders.services.intake import IntakeResolutionError

    with pytest.raises(IntakeResolutionError, match=f"merged into record #{survivor.pk}"):
        resolve_intake(waiting, by=technician, patient=Patient.objects.get(pk=merged.pk))
    waiting.refresh_from_db()
    assert (waiting.patient, IntakeIssue.PATIENT_UNCERTAIN in waiting.intake_issues) == (
        None,
        True,
    )


# --------------------------------------------------------------------------- the page


def test_the_patient_page_links_to_the_merge_for_pharmacists_only(pharmacist, technician, survivor):
    as_pharmacist = signed_in_client(pharmacist).get(f"/patients/{survivor.pk}/")
    as_technician = signed_in_client(technician).get(f"/patients/{survivor.pk}/")

    assert f'href="/patients/{survivor.pk}/merge/"' in as_pharmacist.content.decode()
    assert "/merge/" not in as_technician.content.decode()
    merge_page = signed_in_client(technician).get(f"/patients/{survivor.pk}/merge/")
    assert merge_page.status_code == 403


def test_the_merge_page_finds_the_other_record_and_shows_both_side_by_side(
    pharmacist, survivor, merged
):
    client = signed_in_client(pharmacist)

    search = client.get(f"/patients/{survivor.pk}/merge/", {"q": "lovelace"})
    compare = client.get(f"/patients/{survivor.pk}/merge/", {"other": merged.pk})

    assert f'href="?other={merged.pk}"' in search.content.decode()
    html = compare.content.decode()
    assert f'data-testid="merge-record-{survivor.pk}"' in html
    assert f'data-testid="merge-record-{merged.pk}"' in html
    assert "12 St James&#x27;s Square" in html
    assert "Penicillin" in html
    event = AuditEvent.objects.filter(summary__startswith="Patient merge page").last()
    assert set(event.patient_ids) == {survivor.pk, merged.pk}


def test_the_merge_page_merges_only_once_confirmed(pharmacist, survivor, merged):
    client = signed_in_client(pharmacist)
    url = f"/patients/{survivor.pk}/merge/"

    unconfirmed = client.post(url, {"other": merged.pk, "survivor": survivor.pk})
    assert Patient.objects.get(pk=merged.pk).merged_into is None
    assert unconfirmed["Location"] == f"{url}?other={merged.pk}"

    done = client.post(url, {"other": merged.pk, "survivor": survivor.pk, "confirm": "on"})

    assert done["Location"] == f"/patients/{survivor.pk}/"
    assert Patient.objects.get(pk=merged.pk).merged_into == survivor
    page = client.get(f"/patients/{merged.pk}/").content.decode()
    assert 'data-testid="merged-record"' in page
    assert "Merge with another record" not in page


def test_the_merge_page_may_keep_the_other_record(pharmacist, survivor, merged):
    client = signed_in_client(pharmacist)

    client.post(
        f"/patients/{merged.pk}/merge/",
        {"other": survivor.pk, "survivor": survivor.pk, "confirm": "on"},
    )

    assert Patient.objects.get(pk=merged.pk).merged_into == survivor


@pytest.mark.parametrize("other", ["self", "merged", "missing"])
def test_the_merge_page_refuses_bad_pairs_with_a_message(pharmacist, survivor, merged, other):
    client = signed_in_client(pharmacist)
    if other == "merged":
        third = PatientFactory()
        merge_patients(third, merged, by=pharmacist)
    other_pk = {"self": survivor.pk, "merged": merged.pk, "missing": 999999}[other]
    before = AuditEvent.objects.filter(action=AuditEvent.Action.UPDATE).count()

    compare = client.get(f"/patients/{survivor.pk}/merge/", {"other": other_pk})
    posted = client.post(
        f"/patients/{survivor.pk}/merge/",
        {"other": other_pk, "survivor": survivor.pk, "confirm": "on"},
        follow=True,
    )

    assert compare.status_code in (400, 404, 409)
    assert 'data-testid="merge-error"' in compare.content.decode()
    assert "Nothing was merged" in posted.content.decode()
    assert AuditEvent.objects.filter(action=AuditEvent.Action.UPDATE).count() == before
    assert Patient.objects.get(pk=survivor.pk).merged_into is None


def test_a_manager_merges_from_the_start_page_without_opening_patient_pages(
    manager, survivor, merged
):
    client = signed_in_client(manager)

    found = client.get("/patients/merge/", {"q": "king"})
    done = client.post(
        f"/patients/{survivor.pk}/merge/",
        {"other": merged.pk, "survivor": survivor.pk, "confirm": "on"},
    )

    assert f'href="/patients/{survivor.pk}/merge/"' in found.content.decode()
    assert done["Location"] == "/patients/merge/"
    assert Patient.objects.get(pk=merged.pk).merged_into == survivor
    assert client.get(f"/patients/{survivor.pk}/").status_code == 403


def test_orders_and_fills_follow_the_prescriptions(pharmacist, survivor, merged):
    order = Order.objects.get(patient=merged)

    merge_patients(survivor, merged, by=pharmacist)

    order.refresh_from_db()
    assert order.patient == survivor
    assert {f.prescription.patient for f in order.fills.all()} == {survivor}
    assert Patient.objects.search("lovelace").count() == 0
    assert list(Patient.objects.search("king")) == [survivor]


def test_address_of_a_survivor_without_one_comes_from_the_merged_record(pharmacist, merged):
    bare = PatientFactory(first_name="Ada", last_name="King", date_of_birth=BORN)

    merge_patients(bare, merged, by=pharmacist)

    assert bare.addresses.get(is_default_shipping=True).line1 == "12 St James's Square"
    assert PatientAddress.objects.filter(patient=merged).count() == 0


def test_a_second_merge_cannot_take_an_already_merged_pair(pharmacist, survivor, merged):
    merge_patients(survivor, merged, by=pharmacist)

    with pytest.raises(PatientMergeError, match="already|merged into"):
        merge_patients(survivor, Patient.objects.get(pk=merged.pk), by=another_staff(Role.MANAGER))
