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
from orders.services.intake import VerbalOrder, receive_prescription
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


def second_waits_for_first(first, second) -> tuple[dict, dict]:
    """Run ``first`` in a transaction held open, then ``second`` in another: check that
    ``second`` waits for ``first``'s locks, then let ``first`` commit. Returns both
    outcomes (``result`` or ``error``)."""
    hold, done_but_open = threading.Event(), threading.Event()
    first_thread, first_outcome = in_thread(first, hold=hold, started=done_but_open)
    done_but_open.wait(10)
    second_thread, second_outcome = in_thread(second)
    time.sleep(SETTLE)
    assert second_thread.is_alive()  # waiting for the first transaction's lock
    hold.set()
    first_thread.join(10)
    second_thread.join(10)
    return first_outcome, second_outcome


def receive_for(message_id: str, prescriber, *, patient=None, by=None):
    """A prescription for Ada Lovelace: an e-prescription matched by name, or, given
    ``patient``, one a technician (``by``) typed for the record they picked."""
    return lambda: receive_prescription(
        message(message_id=message_id, prescriber={"npi": prescriber.npi}),
        channel=Channel.PHONE if patient else Channel.NCPDP,
        patient=patient,
        by=by,
        verbal_order=VerbalOrder("Clinic", "A nurse", "614 555 0100") if patient else None,
    )


def test_a_prescription_picked_for_a_record_being_merged_waits_then_is_refused(pair):
    survivor, merged = pair
    pharmacist, technician = another_staff(Role.PHARMACIST), another_staff(Role.TECHNICIAN)

    merge_outcome, entry_outcome = second_waits_for_first(
        lambda: merge_patients(survivor, merged, by=pharmacist),
        receive_for("RACE-PICKED", PrescriberFactory(), patient=merged, by=technician),
    )

    assert "error" not in merge_outcome
    refused = entry_outcome["error"]
    assert isinstance(refused, IntakeError)
    assert refused.code == "patient_merged"
    assert f"merged into record #{survivor.pk}" in refused.description
    assert not Prescription.objects.filter(message_id="RACE-PICKED").exists()


def test_an_erx_matched_to_a_record_being_merged_waits_then_goes_to_the_survivor(pair):
    survivor, merged = pair
    pharmacist = another_staff(Role.PHARMACIST)

    merge_outcome, erx_outcome = second_waits_for_first(
        lambda: merge_patients(survivor, merged, by=pharmacist),
        receive_for("RACE-ERX", PrescriberFactory()),
    )

    assert "error" not in merge_outcome
    assert "error" not in erx_outcome
    prescription = Prescription.objects.get(message_id="RACE-ERX")
    assert prescription.patient == survivor
    assert prescription.fills.get().order.patient == survivor
    assert not Prescription.objects.filter(patient=merged).exists()


def test_a_prescription_that_lands_first_moves_with_the_merge(pair):
    survivor, merged = pair
    pharmacist, technician = another_staff(Role.PHARMACIST), another_staff(Role.TECHNICIAN)

    entry_outcome, merge_outcome = second_waits_for_first(
        receive_for("RACE-FIRST", PrescriberFactory(), patient=merged, by=technician),
        lambda: merge_patients(survivor, merged, by=pharmacist),
    )

    assert "error" not in entry_outcome
    assert "error" not in merge_outcome
    prescription = Prescription.objects.get(message_id="RACE-FIRST")
    assert prescription.patient == survivor
    assert prescription.fills.get().order.patient == survivor
    assert Patient.objects.get(pk=merged.pk).merged_into == survivor
