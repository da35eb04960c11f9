"""Refills asked for too soon and scheduled for their first eligible date (or a later
one): the API option, the phone refill page, and the beat task that makes the fill on
the date exactly once, never for a prescription cancelled or used up before then."""

import threading
from datetime import date, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from orders.models import Fill, FillEvent, Order, Prescription, ScheduledRefill
from orders.services.intake import queue_scheduled_refill
from orders.tasks import queue_due_refills_task
from orders.tests.factories import FillFactory, PrescriptionFactory
from pharmacy.models import AuditEvent
from pharmacy.tests.factories import PatientFactory

URL = "/api/v1/refill-requests/"
BORN = date(1958, 3, 9)
MODELS = (Prescription, Fill, FillEvent, Order, ScheduledRefill, AuditEvent)


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in MODELS}


def last_filled(prescription: Prescription, *, days_ago: int) -> None:
    prescription.fills.update(
        status=Fill.Status.SHIPPED, created_at=timezone.now() - timedelta(days=days_ago)
    )


@pytest.fixture
def prescription(db) -> Prescription:
    """A 30-day prescription with 3 refills whose first fill shipped 5 days ago: a refill
    is due on day 23 (75 % of 30 days), 18 days from today."""
    patient = PatientFactory(date_of_birth=BORN, no_known_allergies=True)
    prescription = PrescriptionFactory(patient=patient, days_supply=30, refills_authorized=3)
    FillFactory(prescription=prescription, status=Fill.Status.SHIPPED, days_supply=30)
    last_filled(prescription, days_ago=5)
    return prescription


def eligible_on() -> date:
    return timezone.localdate() - timedelta(days=5) + timedelta(days=30 * 75 / 100)


def ask(client, prescription, **options):
    body = {"rx_number": prescription.rx_number, "date_of_birth": BORN.isoformat(), **options}
    return client.post(URL, body, format="json")


def the_day_comes(scheduled: ScheduledRefill, prescription: Prescription) -> None:
    """Time passes: the schedule's date is today and the last fill is 40 days old."""
    ScheduledRefill.objects.filter(pk=scheduled.pk).update(fill_on=timezone.localdate())
    last_filled(prescription, days_ago=40)


def refused(response, before, status_code, code, words):
    assert response.status_code == status_code, response.content
    assert response.json()["error"] == code
    assert words in response.json()["detail"]
    assert counts() == before


# --------------------------------------------------------------------------- the API


def test_too_soon_can_be_scheduled_for_the_first_eligible_date(
    api_technician, technician, prescription
):
    before = counts()
    response = ask(api_technician, prescription, schedule_if_too_soon=True)
    assert response.status_code == 202, response.content
    body = response.json()["scheduled_refill"]
    scheduled = ScheduledRefill.objects.get()
    assert body == {
        "id": scheduled.pk,
        "prescription": prescription.pk,
        "fill_on": eligible_on().isoformat(),
        "status": "scheduled",
        "fill": None,
    }
    assert scheduled.requested_by == technician
    after = counts()
    assert after["Fill"] == before["Fill"]
    assert after["ScheduledRefill"] == 1
    assert after["AuditEvent"] == before["AuditEvent"] + 1


def test_without_the_option_too_soon_is_still_refused(api_technician, prescription):
    before = counts()
    refused(ask(api_technician, prescription), before, 409, "too_soon", str(eligible_on()))


def test_a_refill_due_today_is_filled_now_even_with_the_option(api_technician, prescription):
    last_filled(prescription, days_ago=40)
    response = ask(api_technician, prescription, schedule_if_too_soon=True)
    assert response.status_code == 201
    assert ScheduledRefill.objects.count() == 0


def test_a_later_date_may_be_chosen(api_technician, prescription):
    later = eligible_on() + timedelta(days=10)
    response = ask(api_technician, prescription, fill_on=later.isoformat())
    assert response.status_code == 202
    assert ScheduledRefill.objects.get().fill_on == later


def test_a_date_before_the_eligible_date_is_refused(api_technician, prescription):
    before = counts()
    early = eligible_on() - timedelta(days=1)
    response = ask(api_technician, prescription, fill_on=early.isoformat())
    refused(response, before, 400, "before_eligible", f"can be refilled from {eligible_on()}")


def test_a_date_in_the_past_is_refused(api_technician, prescription):
    before = counts()
    past = timezone.localdate() - timedelta(days=1)
    refused(
        ask(api_technician, prescription, fill_on=past.isoformat()),
        before,
        400,
        "date_in_past",
        f"{past} is in the past",
    )


def test_a_date_after_the_prescription_expires_is_refused(api_technician, prescription):
    before = counts()
    late = prescription.expires_on + timedelta(days=1)
    refused(
        ask(api_technician, prescription, fill_on=late.isoformat()),
        before,
        400,
        "after_expiry",
        f"expires on {prescription.expires_on}",
    )


def test_an_unknown_rx_is_not_found(api_technician, prescription):
    before = counts()
    response = api_technician.post(
        URL,
        {"rx_number": "0000000", "date_of_birth": BORN.isoformat(), "schedule_if_too_soon": True},
        format="json",
    )
    refused(response, before, 404, "not_found", "No prescription matches")


def test_a_malformed_date_is_refused(api_technician, prescription):
    before = counts()
    response = ask(api_technician, prescription, fill_on="next tuesday")
    assert response.status_code == 400
    assert "fill_on" in response.content.decode()
    assert counts() == before


def test_a_second_schedule_of_the_same_rx_is_refused(api_technician, prescription):
    assert ask(api_technician, prescription, schedule_if_too_soon=True).status_code == 202
    before = counts()
    refused(
        ask(api_technician, prescription, schedule_if_too_soon=True),
        before,
        409,
        "already_scheduled",
        f"already scheduled for {eligible_on()}",
    )


def test_a_cancelled_prescription_cannot_be_scheduled(api_technician, prescription):
    Prescription.objects.filter(pk=prescription.pk).update(status=Prescription.Status.CANCELLED)
    before = counts()
    refused(
        ask(api_technician, prescription, schedule_if_too_soon=True),
        before,
        409,
        "cancelled",
        "was cancelled",
    )


# --------------------------------------------------------------------------- the beat task


def test_the_refill_enters_the_queue_exactly_once_when_the_task_runs_twice(
    api_technician, prescription
):
    ask(api_technician, prescription, schedule_if_too_soon=True)
    scheduled = ScheduledRefill.objects.get()
    assert queue_due_refills_task() == 0  # not yet its day
    assert prescription.fills.count() == 1
    the_day_comes(scheduled, prescription)

    assert queue_due_refills_task() == 1
    assert queue_due_refills_task() == 0
    queue_scheduled_refill(scheduled.pk)  # a late duplicate of the task's step

    refill = prescription.fills.exclude(status=Fill.Status.SHIPPED).get()
    assert refill.status == Fill.Status.PV1
    assert refill.fill_number == 1
    scheduled.refresh_from_db()
    assert scheduled.status == ScheduledRefill.Status.QUEUED
    assert scheduled.fill == refill
    assert scheduled.processed_at is not None
    assert refill.events.get().reason.startswith(f"Scheduled refill for {timezone.localdate()}")


def test_a_prescription_cancelled_before_its_date_never_enters_the_queue(
    api_technician, prescription
):
    ask(api_technician, prescription, schedule_if_too_soon=True)
    scheduled = ScheduledRefill.objects.get()
    Prescription.objects.filter(pk=prescription.pk).update(status=Prescription.Status.CANCELLED)
    the_day_comes(scheduled, prescription)

    queue_due_refills_task()
    queue_due_refills_task()

    assert prescription.fills.count() == 1
    scheduled.refresh_from_db()
    assert scheduled.status == ScheduledRefill.Status.CANCELLED
    assert scheduled.fill is None
    assert "was cancelled" in scheduled.cancelled_reason


def test_a_prescription_out_of_refills_by_its_date_never_enters_the_queue(
    api_technician, prescription
):
    ask(api_technician, prescription, schedule_if_too_soon=True)
    scheduled = ScheduledRefill.objects.get()
    Prescription.objects.filter(pk=prescription.pk).update(refills_authorized=0)
    the_day_comes(scheduled, prescription)

    queue_due_refills_task()

    assert prescription.fills.count() == 1
    scheduled.refresh_from_db()
    assert scheduled.status == ScheduledRefill.Status.CANCELLED
    assert "no refills left" in scheduled.cancelled_reason


def test_a_prescription_on_hold_on_the_date_keeps_its_schedule(api_technician, prescription):
    ask(api_technician, prescription, schedule_if_too_soon=True)
    scheduled = ScheduledRefill.objects.get()
    Prescription.objects.filter(pk=prescription.pk).update(status=Prescription.Status.ON_HOLD)
    the_day_comes(scheduled, prescription)

    queue_due_refills_task()
    scheduled.refresh_from_db()
    assert scheduled.status == ScheduledRefill.Status.SCHEDULED
    assert prescription.fills.count() == 1

    # The hold is released: the next run makes the refill.
    Prescription.objects.filter(pk=prescription.pk).update(status=Prescription.Status.ACTIVE)
    assert queue_due_refills_task() == 1
    scheduled.refresh_from_db()
    assert scheduled.status == ScheduledRefill.Status.QUEUED
    assert prescription.fills.count() == 2


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_make_one_fill(technician):
    patient = PatientFactory(date_of_birth=BORN, no_known_allergies=True)
    prescription = PrescriptionFactory(patient=patient, days_supply=30)
    FillFactory(prescription=prescription, status=Fill.Status.SHIPPED, days_supply=30)
    last_filled(prescription, days_ago=40)
    scheduled = ScheduledRefill.objects.create(
        prescription=prescription, fill_on=timezone.localdate(), requested_by=technician
    )
    start = threading.Barrier(2)
    errors = []

    def worker():
        try:
            start.wait()
            queue_scheduled_refill(scheduled.pk)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert prescription.fills.count() == 2
    scheduled.refresh_from_db()
    assert scheduled.status == ScheduledRefill.Status.QUEUED


# --------------------------------------------------------------------------- the phone page


def test_the_phone_refill_page_offers_to_schedule_a_refill_asked_for_too_soon(
    client_technician, prescription
):
    form = {"rx_number": prescription.rx_number, "date_of_birth": BORN.isoformat()}
    response = client_technician.post("/refills/", form)
    assert response.status_code == 409
    page = response.content.decode()
    assert 'data-testid="schedule-refill"' in page
    assert "Schedule the refill" in page

    response = client_technician.post("/refills/", {**form, "fill_on": "", "schedule": "1"})
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-testid="refill-scheduled"' in page
    assert f"scheduled for <strong>{eligible_on():%A, %B %-d, %Y}</strong>" in page
    assert ScheduledRefill.objects.get().fill_on == eligible_on()


def test_the_phone_refill_page_refuses_a_date_before_the_eligible_date(
    client_technician, prescription
):
    form = {
        "rx_number": prescription.rx_number,
        "date_of_birth": BORN.isoformat(),
        "fill_on": (eligible_on() - timedelta(days=2)).isoformat(),
        "schedule": "1",
    }
    before = counts()
    response = client_technician.post("/refills/", form)
    assert response.status_code == 400
    assert f"can be refilled from {eligible_on()}" in response.content.decode()
    assert counts() == before


# --------------------------------------------------------------------------- on the Rx page


def test_the_prescription_page_lists_its_scheduled_refills_and_cancels_one(
    api_technician, client_technician, technician, prescription
):
    ask(api_technician, prescription, schedule_if_too_soon=True)
    scheduled = ScheduledRefill.objects.get()

    page = client_technician.get(f"/prescriptions/{prescription.pk}/").content.decode()
    assert 'data-testid="scheduled-refills"' in page
    assert f"{eligible_on():%Y-%m-%d}" in page
    assert "Cancel this refill" in page

    response = client_technician.post(
        f"/scheduled-refills/{scheduled.pk}/cancel/", {"note": "Patient moved abroad"}, follow=True
    )

    assert f"The refill scheduled for {eligible_on()} is cancelled." in response.content.decode()
    scheduled.refresh_from_db()
    assert scheduled.status == ScheduledRefill.Status.CANCELLED
    assert scheduled.cancelled_reason == (
        f"Cancelled by {technician.get_full_name() or technician.username}: Patient moved abroad"
    )
    the_day_comes(scheduled, prescription)
    queue_due_refills_task()
    assert prescription.fills.count() == 1


def test_a_refill_no_longer_scheduled_cannot_be_cancelled_again(
    api_technician, client_technician, prescription
):
    ask(api_technician, prescription, schedule_if_too_soon=True)
    scheduled = ScheduledRefill.objects.get()
    client_technician.post(f"/scheduled-refills/{scheduled.pk}/cancel/", {})
    before = counts()

    response = client_technician.post(f"/scheduled-refills/{scheduled.pk}/cancel/", {})

    assert counts() == before
    page = client_technician.get(response["Location"]).content.decode()
    assert "This refill is cancelled already; nothing was changed." in page


def test_a_cancel_note_with_control_characters_is_refused(
    api_technician, client_technician, prescription
):
    ask(api_technician, prescription, schedule_if_too_soon=True)
    scheduled = ScheduledRefill.objects.get()

    response = client_technician.post(
        f"/scheduled-refills/{scheduled.pk}/cancel/", {"note": "bad\x07note"}, follow=True
    )

    assert "The note contains a control character" in response.content.decode()
    scheduled.refresh_from_db()
    assert scheduled.status == ScheduledRefill.Status.SCHEDULED


# --------------------------------------------------------------------------- a real worker


def test_a_real_worker_running_the_beat_task_twice_makes_one_fill(
    celery_worker_process, technician
):
    patient = PatientFactory(date_of_birth=BORN, no_known_allergies=True)
    prescription = PrescriptionFactory(patient=patient, days_supply=30)
    FillFactory(prescription=prescription, status=Fill.Status.SHIPPED, days_supply=30)
    last_filled(prescription, days_ago=40)
    scheduled = ScheduledRefill.objects.create(
        prescription=prescription, fill_on=timezone.localdate(), requested_by=technician
    )

    # Beat's two runs sent at once, to one worker with its concurrent slots.
    results = [queue_due_refills_task.delay(), queue_due_refills_task.delay()]

    for result in results:
        result.get(timeout=60)
    scheduled.refresh_from_db()
    assert scheduled.status == ScheduledRefill.Status.QUEUED
    assert prescription.fills.filter(status=Fill.Status.PV1).count() == 1
    assert prescription.fills.count() == 2
