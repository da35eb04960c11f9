"""A merge racing a new prescription for one of the two records, with real threads on real
PostgreSQL: the prescription either lands first and moves with the merge, or waits for
the merge and then goes to the survivor (e-prescription matched the record) or is refused
naming the survivor (a technician picked the merged record). Never on a merged record."""

import datetime
import threading
import time

import pytest
from django.db import connection, transaction

from orders.intake.messages import IntakeError
from orders.models import Channel, Prescription
from orders.services.intake import receive_prescription
from orders.services.patient_merge import merge_patients
from orders.tests.factories import another_staff
from orders.tests.test_intake_queue import message
from pharmacy.models import Patient, Role
from pharmacy.tests.factories import PatientFactory, PrescriberFactory

pytestmark = pytest.mark.django_db(transaction=True)

BORN = datetime.date(1960, 12, 10)
# Long enough for the other thread to reach the lock and wait on it.
SETTLE = 0.5


@pytest.fixture
def pair():
    survivor = PatientFactory(first_name="Augusta Ada", last_name="King", date_of_birth=BORN)
    # The name the e-prescriptions of message() carry: matched exactly, before the merge.
    merged = PatientFactory(first_name="Ada", last_name="Lovelace", date_of_birth=BORN)
    return survivor, merged


def in_thread(work, *, hold: threading.Event | None = None, started: threading.Event | None = None):
    """Run ``work`` in its own transaction in a thread; with ``hold``, keep the transaction
    open (its locks held) after ``work`` until ``hold`` is set. Returns the thread and a
    dict that receives ``result`` or ``error``."""
    outcome = {}

    def run():
        try:
            with transaction.atomic():
                outcome["result"] = work()
                if started is not None:
                    started.set()
                if hold is not None:
                    hold.wait(10)
        except Exception as error:
            outcome["error"] = error
            if started is not None:
                started.set()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def test_a_prescription_picked_for_a_record_being_merged_waits_then_is_refused(pair):
    survivor, merged = pair
    pharmacist, technician = another_staff(Role.PHARMACIST), another_staff(Role.TECHNICIAN)
    prescriber = PrescriberFactory()
    hold, merged_but_open = threading.Event(), threading.Event()
    merging, merge_outcome = in_thread(
        lambda: merge_patients(survivor, merged, by=pharmacist),
        hold=hold,
        started=merged_but_open,
    )
    merged_but_open.wait(10)

    entering, entry_outcome = in_thread(
        lambda: receive_prescription(
            message(message_id="RACE-PICKED", prescriber={"npi": prescriber.npi}),
            channel=Channel.PHONE,
            by=technician,
            patient=merged,
        )
    )
    time.sleep(SETTLE)
    assert entering.is_alive()  # waiting for the merge's lock
    hold.set()
    merging.join(10)
    entering.join(10)

    assert "error" not in merge_outcome
    refused = entry_outcome["error"]
    assert isinstance(refused, IntakeError)
    assert refused.code == "patient_merged"
    assert f"merged into record #{survivor.pk}" in refused.description
    assert not Prescription.objects.filter(message_id="RACE-PICKED").exists()


def test_an_erx_matched_to_a_record_being_merged_waits_then_goes_to_the_survivor(pair):
    survivor, merged = pair
    pharmacist = another_staff(Role.PHARMACIST)
    prescriber = PrescriberFactory()
    hold, merged_but_open = threading.Event(), threading.Event()
    merging, merge_outcome = in_thread(
        lambda: merge_patients(survivor, merged, by=pharmacist),
        hold=hold,
        started=merged_but_open,
    )
    merged_but_open.wait(10)

    receiving, erx_outcome = in_thread(
        lambda: receive_prescription(
            message(message_id="RACE-ERX", prescriber={"npi": prescriber.npi}),
            channel=Channel.NCPDP,
            by=None,
        )
    )
    time.sleep(SETTLE)
    assert receiving.is_alive()
    hold.set()
    merging.join(10)
    receiving.join(10)

    assert "error" not in merge_outcome
    assert "error" not in erx_outcome
    prescription = Prescription.objects.get(message_id="RACE-ERX")
    assert prescription.patient == survivor
    assert prescription.fills.get().order.patient == survivor
    assert not Prescription.objects.filter(patient=merged).exists()


def test_a_prescription_that_lands_first_moves_with_the_merge(pair):
    survivor, merged = pair
    pharmacist, technician = another_staff(Role.PHARMACIST), another_staff(Role.TECHNICIAN)
    prescriber = PrescriberFactory()
    hold, received_but_open = threading.Event(), threading.Event()
    entering, entry_outcome = in_thread(
        lambda: receive_prescription(
            message(message_id="RACE-FIRST", prescriber={"npi": prescriber.npi}),
            channel=Channel.PHONE,
            by=technician,
            patient=merged,
        ),
        hold=hold,
        started=received_but_open,
    )
    received_but_open.wait(10)

    merging, merge_outcome = in_thread(lambda: merge_patients(survivor, merged, by=pharmacist))
    time.sleep(SETTLE)
    assert merging.is_alive()  # waiting for the prescription's transaction
    hold.set()
    entering.join(10)
    merging.join(10)

    assert "error" not in entry_outcome
    assert "error" not in merge_outcome
    prescription = Prescription.objects.get(message_id="RACE-FIRST")
    assert prescription.patient == survivor
    assert prescription.fills.get().order.patient == survivor
    assert Patient.objects.get(pk=merged.pk).merged_into == survivor
