"""The intake queue: what waits and why, the page that resolves it, and ``resolve_intake``.

Prescriptions get into the queue the way they do in production, through
``receive_prescription`` with a message whose patient, prescriber or drug cannot be
matched for certain.
"""

import dataclasses
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from inventory.models import DEASchedule
from inventory.tests.factories import PackageFactory, ProductFactory, ProductIngredientFactory
from orders.intake.messages import (
    IncomingAddress,
    IncomingDrug,
    IncomingPatient,
    IncomingPrescriber,
    IncomingPrescription,
)
from orders.models import Channel, DurAlert, Fill, FillEvent, IntakeIssue, Order, Prescription
from orders.services.intake import IntakeResolutionError, receive_prescription, resolve_intake
from orders.tests.factories import amoxicillin_product, penicillin_allergic_patient
from pharmacy.drug_checks import invalidate_interaction_index
from pharmacy.identifiers import dea_number_with_check_digit, npi_with_check_digit
from pharmacy.models import AuditEvent, Patient, Prescriber
from pharmacy.tests.factories import PatientFactory, PrescriberFactory

MODELS = (Prescription, Fill, FillEvent, Order, DurAlert, AuditEvent, Patient, Prescriber)
NEW_NPI = npi_with_check_digit("198765432")
NEW_DEA = dea_number_with_check_digit("BW", "765432")


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in MODELS}


@pytest.fixture(autouse=True)
def fresh_interaction_index():
    invalidate_interaction_index()
    yield
    invalidate_interaction_index()


@pytest.fixture
def ada(db):
    """Ada Lovelace, born 1960-12-10, allergic to penicillins."""
    return penicillin_allergic_patient(
        first_name="Ada", last_name="Lovelace", date_of_birth=date(1960, 12, 10)
    )


@pytest.fixture
def hopper(db):
    return PrescriberFactory(first_name="Grace", last_name="Hopper")


@pytest.fixture
def amoxil(db):
    return amoxicillin_product()


def message(**changes) -> IncomingPrescription:
    """A NewRx as the parsers hand it over; ``patient=``, ``prescriber=``, ``drug=`` take
    dicts of the fields to change."""
    patient = IncomingPatient(
        first_name="Ada",
        last_name="Lovelace",
        date_of_birth=date(1960, 12, 10),
        sex="F",
        address=IncomingAddress(
            line1="12 St James's Square", city="Columbus", state="OH", postal_code="43215"
        ),
    )
    prescriber = IncomingPrescriber(first_name="Grace", last_name="Hopper", npi=NEW_NPI)
    drug = IncomingDrug(description="Amoxicillin 500 mg capsule", ndc="99999000001")
    incoming = IncomingPrescription(
        message_id=changes.pop("message_id", "MSG-1"),
        channel="ncpdp",
        written_date=timezone.localdate() - timedelta(days=2),
        patient=dataclasses.replace(patient, **changes.pop("patient", {})),
        prescriber=dataclasses.replace(prescriber, **changes.pop("prescriber", {})),
        drug=dataclasses.replace(drug, **changes.pop("drug", {})),
        quantity=Decimal("30"),
        quantity_unit="C48480",
        sig_text="1 PO TID",
        raw=b"<Message><Body><NewRx>...</NewRx></Body></Message>",
    )
    return dataclasses.replace(incoming, **changes)


def receive(incoming: IncomingPrescription) -> Prescription:
    return receive_prescription(incoming, channel=Channel.NCPDP, by=None).prescription


@pytest.fixture
def uncertain_patient(ada, hopper, amoxil) -> Prescription:
    """Ada's name with another birth date: possibly Ada, possibly someone else."""
    return receive(
        message(
            patient={"date_of_birth": date(1960, 12, 11)},
            prescriber={"npi": hopper.npi},
            drug={"ndc": amoxil.packages.get().ndc11},
        )
    )


def the_first_fill(prescription: Prescription) -> Fill:
    return prescription.fills.get(fill_number=0)


# --------------------------------------------------------------------------- the queue


def test_the_queue_lists_what_waits_oldest_first_with_the_reasons(
    client_technician, technician, uncertain_patient, hopper
):
    drug_unknown = receive(
        message(message_id="MSG-2", patient={"first_name": "Alan", "last_name": "Turing"})
    )
    Prescription.objects.filter(pk=drug_unknown.pk).update(
        received_at=timezone.now() - timedelta(hours=3)
    )
    active = receive(
        message(
            message_id="MSG-3",
            prescriber={"npi": hopper.npi},
            drug={"ndc": uncertain_patient.prescribed_ndc},
        )
    )
    assert active.status == Prescription.Status.ACTIVE

    response = client_technician.get("/intake/")

    assert response.status_code == 200
    assert [p.pk for p in response.context["rows"]] == [drug_unknown.pk, uncertain_patient.pk]
    html = response.content.decode()
    assert "<strong>2</strong> prescriptions waiting" in html
    assert "Drug not matched" in html
    assert "No catalogue product has the NDC 99999000001." in html
    assert "Patient match uncertain" in html
    assert "Ada Lovelace born 1960-12-11 may be the patient" in html
    assert "3\xa0hours" in html
    assert active.rx_number not in html
    assert 'hx-trigger="every 15s"' in html
    event = AuditEvent.objects.get(action=AuditEvent.Action.VIEW)
    assert event.actor == technician
    assert event.patient_ids == sorted(
        p.patient_id for p in (drug_unknown, uncertain_patient) if p.patient_id
    )


def test_the_polled_rows_are_the_table_alone(client_technician, uncertain_patient):
    response = client_technician.get("/intake/rows/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert 'data-testid="intake-queue"' in html
    assert uncertain_patient.rx_number in html


def test_the_polled_rows_are_audited_when_they_show_someone_new(
    client_technician, technician, ada, hopper
):
    first = receive(message(prescriber={"npi": hopper.npi}))
    client_technician.get("/intake/rows/")
    client_technician.get("/intake/rows/")  # the same patients again: no second row
    second = receive(
        message(message_id="MSG-2", patient={"first_name": "Alan", "last_name": "Turing"})
    )

    client_technician.get("/intake/rows/")

    rows = list(AuditEvent.objects.order_by("pk").values_list("actor", "summary", "patient_ids"))
    assert rows == [
        (technician.pk, "Intake queue (1 shown)", [first.patient_id]),
        (technician.pk, "Intake queue (2 shown)", sorted([first.patient_id, second.patient_id])),
    ]


def test_an_empty_queue_says_so(client_technician):
    html = client_technician.get("/intake/").content.decode()

    assert "<strong>0</strong> prescriptions waiting" in html
    assert "Nothing waits." in html


def test_the_technician_home_counts_the_queue_and_links_to_it(client_technician, uncertain_patient):
    html = client_technician.get("/technician/").content.decode()

    assert 'href="/intake/" data-testid="queue-intake"' in html
    assert '<span class="number">1</span>' in html


# --------------------------------------------------------------------------- the page


def test_the_page_shows_what_was_received_beside_the_candidates_and_is_audited(
    client_technician, technician, uncertain_patient, ada
):
    other = PatientFactory(first_name="Adrian", last_name="Mole", date_of_birth="1960-12-11")

    response = client_technician.get(f"/intake/{uncertain_patient.pk}/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "Ada Lovelace, born 1960-12-11" in html
    assert "12 St James&#x27;s Square" in html
    assert '<pre class="raw" data-testid="raw-message">&lt;Message&gt;' in html
    assert f'data-value="{ada.pk}"' in html  # same name
    assert f'data-value="{other.pk}"' in html  # same birth date
    assert "create Ada Lovelace, born 1960-12-11, as received" in html
    event = AuditEvent.objects.get()
    assert (event.action, event.actor, event.object_id) == (
        AuditEvent.Action.VIEW,
        technician,
        str(uncertain_patient.pk),
    )
    assert event.patient is None
    assert event.patient_ids == sorted([ada.pk, other.pk])


def test_picking_the_patient_on_the_page_sends_the_fill_to_pv1(
    client_technician, uncertain_patient, ada
):
    response = client_technician.post(f"/intake/{uncertain_patient.pk}/", {"patient": ada.pk})

    assert response.status_code == 302
    assert response["Location"] == f"/prescriptions/{uncertain_patient.pk}/"
    uncertain_patient.refresh_from_db()
    assert uncertain_patient.status == Prescription.Status.ACTIVE
    assert the_first_fill(uncertain_patient).status == Fill.Status.PV1
    page = client_technician.get(response["Location"]).content.decode()
    assert "is resolved; its fill waits for PV1" in page
    assert "allergic to Penicillin" in page


def test_a_refused_choice_on_the_page_says_why(client_technician, uncertain_patient):
    before = counts()

    response = client_technician.post(f"/intake/{uncertain_patient.pk}/", {})

    assert response.status_code == 400
    assert "Nothing was saved." in response.content.decode()
    assert "Nothing was chosen" in response.content.decode()
    assert counts() == {**before, "AuditEvent": before["AuditEvent"] + 1}  # the page view


def test_a_partial_resolution_stays_in_the_queue(client_technician, ada, hopper):
    prescription = receive(message(patient={"date_of_birth": date(1960, 12, 11)}))
    assert set(prescription.intake_issues) == {
        IntakeIssue.NEW_PRESCRIBER,
        IntakeIssue.PATIENT_UNCERTAIN,
        IntakeIssue.DRUG_NOT_MATCHED,
    }

    response = client_technician.post(f"/intake/{prescription.pk}/", {"patient": ada.pk})

    assert response.status_code == 302
    assert response["Location"] == f"/intake/{prescription.pk}/"
    prescription.refresh_from_db()
    assert prescription.status == Prescription.Status.INTAKE
    assert prescription.patient == ada
    assert prescription.intake_issues == [IntakeIssue.NEW_PRESCRIBER, IntakeIssue.DRUG_NOT_MATCHED]
    fill = the_first_fill(prescription)
    assert (fill.status, fill.order) == (Fill.Status.INTAKE, None)
    follow = client_technician.get(response["Location"]).content.decode()
    assert "still waits: drug not matched" in follow


def test_a_manager_cannot_see_or_resolve_intake(client_manager, uncertain_patient, ada):
    before = counts()

    seen = client_manager.get(f"/intake/{uncertain_patient.pk}/")
    posted = client_manager.post(f"/intake/{uncertain_patient.pk}/", {"patient": ada.pk})
    prescription_page = client_manager.get(f"/prescriptions/{uncertain_patient.pk}/")

    assert (seen.status_code, posted.status_code, prescription_page.status_code) == (403,) * 3
    assert counts() == before


def test_the_prescription_page_writes_one_audit_row(client_pharmacist, pharmacist, ada, hopper):
    prescription = receive(
        message(
            prescriber={"npi": hopper.npi}, drug={"ndc": amoxicillin_product().packages.get().ndc11}
        )
    )

    client_pharmacist.get(f"/prescriptions/{prescription.pk}/")

    event = AuditEvent.objects.get()
    assert (event.action, event.actor, event.patient, event.object_id) == (
        AuditEvent.Action.VIEW,
        pharmacist,
        ada,
        str(prescription.pk),
    )


# --------------------------------------------------------------------------- resolve_intake


def test_an_uncertain_patient_is_resolved_by_picking_them(technician, uncertain_patient, ada):
    resolved = resolve_intake(uncertain_patient, by=technician, patient=ada)

    assert resolved.status == Prescription.Status.ACTIVE
    assert resolved.patient == ada
    assert resolved.intake_issues == []
    fill = the_first_fill(resolved)
    assert fill.status == Fill.Status.PV1
    assert fill.order.patient == ada
    assert list(fill.events.values_list("from_status", "to_status", "actor")) == [
        ("", "intake", None),
        ("intake", "pv1", technician.pk),
    ]
    assert DurAlert.objects.filter(fill=fill, type=DurAlert.Type.ALLERGY).count() == 1
    event = AuditEvent.objects.get()
    assert (event.action, event.actor, event.patient) == (
        AuditEvent.Action.UPDATE,
        technician,
        ada,
    )
    assert event.summary == f"Intake resolved: patient Ada Lovelace (#{ada.pk})"


def test_a_patient_nobody_on_file_fits_is_created_as_received(technician, uncertain_patient):
    resolved = resolve_intake(uncertain_patient, by=technician, create_patient_as_received=True)

    patient = resolved.patient
    assert (patient.first_name, patient.last_name, patient.date_of_birth, patient.sex) == (
        "Ada",
        "Lovelace",
        date(1960, 12, 11),
        "F",
    )
    assert patient.addresses.get().line1 == "12 St James's Square"
    assert resolved.status == Prescription.Status.ACTIVE
    assert resolved.intake_issues == [IntakeIssue.NEW_PATIENT]
    assert the_first_fill(resolved).order.patient == patient
    # allergies were never asked for the new patient: the checks say so
    assert DurAlert.objects.filter(type=DurAlert.Type.ALLERGY).get().detail == {
        "match": "allergies_unknown"
    }


def test_an_uncertain_prescriber_is_resolved_by_picking_them(technician, ada, hopper, amoxil):
    # Hopper's NPI under another name: the NPI on file does not fit the name sent.
    prescription = receive(
        message(
            prescriber={"npi": hopper.npi, "last_name": "Lovelace"},
            drug={"ndc": amoxil.packages.get().ndc11},
        )
    )
    assert prescription.intake_issues == [IntakeIssue.PRESCRIBER_UNCERTAIN]

    resolved = resolve_intake(prescription, by=technician, prescriber=hopper)

    assert (resolved.status, resolved.prescriber, resolved.intake_issues) == (
        Prescription.Status.ACTIVE,
        hopper,
        [],
    )
    assert the_first_fill(resolved).status == Fill.Status.PV1


def test_an_unmatched_drug_is_mapped_to_a_catalogue_product(technician, ada, hopper, amoxil):
    prescription = receive(message(prescriber={"npi": hopper.npi}))
    assert prescription.intake_issues == [IntakeIssue.DRUG_NOT_MATCHED]
    assert DurAlert.objects.count() == 0

    resolved = resolve_intake(prescription, by=technician, product=amoxil)

    assert (resolved.status, resolved.product, resolved.intake_issues) == (
        Prescription.Status.ACTIVE,
        amoxil,
        [],
    )
    assert resolved.prescribed_ndc == "99999000001"  # what the prescriber sent is kept
    assert DurAlert.objects.filter(type=DurAlert.Type.ALLERGY).count() == 1


def _controlled(schedule: str):
    product = ProductFactory(nonproprietary_name="hydrocodone", dea_schedule=schedule)
    ProductIngredientFactory(product=product, ingredient__name="Hydrocodone")
    PackageFactory(product=product)
    return product


def test_an_unverified_dea_registration_is_confirmed_by_the_technician(technician, ada):
    product = _controlled(DEASchedule.CII)
    prescription = receive(
        message(
            prescriber={"dea_number": NEW_DEA},
            drug={"ndc": product.packages.get().ndc11},
        )
    )
    assert prescription.intake_issues == [
        IntakeIssue.NEW_PRESCRIBER,
        IntakeIssue.DEA_REGISTRATION_UNVERIFIED,
    ]

    resolved = resolve_intake(prescription, by=technician, dea_schedules_verified=True)

    assert resolved.status == Prescription.Status.ACTIVE
    assert resolved.intake_issues == [IntakeIssue.NEW_PRESCRIBER]
    resolved.prescriber.refresh_from_db()
    assert resolved.prescriber.dea_schedules == ["CII"]
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.UPDATE, object_type="pharmacy.Prescriber"
    ).exists()
    assert "DEA registration" in AuditEvent.objects.get(object_type="orders.Prescription").summary


def test_a_dea_number_sent_is_recorded_when_the_registration_is_confirmed(technician, ada):
    on_file = PrescriberFactory(dea_number="", dea_schedules=[])
    product = _controlled(DEASchedule.CIII)
    prescription = receive(
        message(
            prescriber={"npi": on_file.npi, "last_name": on_file.last_name, "dea_number": NEW_DEA},
            drug={"ndc": product.packages.get().ndc11},
        )
    )
    assert prescription.intake_issues == [IntakeIssue.DEA_REGISTRATION_UNVERIFIED]
    waiting = resolve_intake(prescription, by=technician, patient=ada)
    assert waiting.intake_issues == [IntakeIssue.DEA_REGISTRATION_UNVERIFIED]

    resolved = resolve_intake(prescription, by=technician, dea_schedules_verified=True)

    on_file.refresh_from_db()
    assert (on_file.dea_number, on_file.dea_schedules) == (NEW_DEA, ["CIII"])
    assert resolved.status == Prescription.Status.ACTIVE


def test_dea_confirmation_on_the_page(client_technician, ada):
    product = _controlled(DEASchedule.CIV)
    prescription = receive(
        message(prescriber={"dea_number": NEW_DEA}, drug={"ndc": product.packages.get().ndc11})
    )

    page = client_technician.get(f"/intake/{prescription.pk}/").content.decode()
    response = client_technician.post(
        f"/intake/{prescription.pk}/", {"dea_schedules_verified": "on"}
    )

    assert f"I checked the DEA registration {NEW_DEA}" in page
    assert "covers Schedule IV" in page
    assert response.status_code == 302
    prescription.refresh_from_db()
    assert prescription.status == Prescription.Status.ACTIVE


def test_a_prescription_not_in_intake_is_refused(technician, ada, hopper, amoxil):
    active = receive(
        message(prescriber={"npi": hopper.npi}, drug={"ndc": amoxil.packages.get().ndc11})
    )
    before = counts()

    with pytest.raises(IntakeResolutionError) as refused:
        resolve_intake(active, by=technician, patient=ada)

    assert refused.value.code == "not_in_intake"
    assert refused.value.detail == (
        f"Rx {active.rx_number} is active, not waiting in intake: there is nothing to resolve."
    )
    assert counts() == before


def test_a_product_outside_the_prescriber_registration_is_refused(technician, ada):
    prescriber = PrescriberFactory(dea_schedules=["CIII", "CIV", "CV"])
    prescription = receive(
        message(prescriber={"npi": prescriber.npi, "last_name": prescriber.last_name})
    )
    before = counts()

    with pytest.raises(IntakeResolutionError) as refused:
        resolve_intake(prescription, by=technician, product=_controlled(DEASchedule.CII))

    assert refused.value.code == "dea_schedule_not_registered"
    assert "does not cover Schedule II (it covers CIII, CIV, CV)" in refused.value.detail
    prescription.refresh_from_db()
    assert (prescription.status, prescription.product) == (Prescription.Status.INTAKE, None)
    assert counts() == before


def test_a_schedule_ii_product_for_a_prescription_with_refills_is_refused(technician, ada, hopper):
    prescription = receive(message(prescriber={"npi": hopper.npi}, refills=2))
    cii = _controlled(DEASchedule.CII)
    before = counts()

    with pytest.raises(IntakeResolutionError) as refused:
        resolve_intake(prescription, by=technician, product=cii)

    assert refused.value.code == "too_many_refills"
    assert "Schedule II prescriptions cannot be refilled" in refused.value.detail
    assert counts() == before


@pytest.mark.parametrize(
    ("choices", "code"),
    [
        ({}, "nothing_chosen"),
        ({"create_patient_as_received": True, "patient": "ada"}, "conflicting_choice"),
    ],
)
def test_no_choice_or_two_patients_is_refused(technician, uncertain_patient, ada, choices, code):
    if choices.get("patient") == "ada":
        choices["patient"] = ada
    before = counts()

    with pytest.raises(IntakeResolutionError) as refused:
        resolve_intake(uncertain_patient, by=technician, **choices)

    assert refused.value.code == code
    assert counts() == before


def test_a_patient_without_a_birth_date_cannot_be_created_as_received(technician, hopper, amoxil):
    prescription = receive(
        message(
            patient={"date_of_birth": None},
            prescriber={"npi": hopper.npi},
            drug={"ndc": amoxil.packages.get().ndc11},
        )
    )
    before = counts()

    with pytest.raises(IntakeResolutionError) as refused:
        resolve_intake(prescription, by=technician, create_patient_as_received=True)

    assert refused.value.code == "no_date_of_birth"
    assert counts() == before


def test_replacing_a_patient_matched_at_receipt_moves_the_order(technician, hopper, amoxil):
    # A new patient was created at receipt, but the drug was unknown; the technician then
    # finds the patient was on file under a nickname.
    prescription = receive(message(prescriber={"npi": hopper.npi}))
    created = prescription.patient
    on_file = PatientFactory(first_name="Augusta", last_name="King")
    fill = the_first_fill(prescription)
    assert fill.order.patient == created

    resolved = resolve_intake(prescription, by=technician, patient=on_file, product=amoxil)

    fill.refresh_from_db()
    assert resolved.patient == on_file
    assert fill.order.patient == on_file
    assert resolved.intake_issues == []
    assert Order.objects.count() == 1
