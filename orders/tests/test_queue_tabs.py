"""The queues' tabs: how many wait in each queue and the oldest wait, late past the limit
managers set; one intake queue (the prescriptions'), and the managers' limits page."""

from datetime import timedelta

import pytest
from django.utils import timezone

from orders.models import Fill, Prescription, QueueWaitLimit
from orders.services.queue_limits import QueueLimitError, set_queue_wait_limits
from orders.tests.factories import PrescriptionFactory
from orders.tests.test_queue_pages import waiting_fill

pytestmark = pytest.mark.django_db


def tabs_of(response) -> dict[str, dict]:
    return {tab["status"]: tab for tab in response.context["tabs"]}


def test_each_tab_shows_its_count_and_oldest_wait_and_late_past_the_limit(client_pharmacist):
    QueueWaitLimit.objects.filter(queue="pv2").update(minutes=60)
    waiting_fill(Fill.Status.PV2, age=timedelta(hours=3, minutes=5))
    waiting_fill(Fill.Status.PV2, age=timedelta(minutes=10))
    waiting_fill(Fill.Status.PV1, age=timedelta(minutes=20))

    response = client_pharmacist.get("/fills/queue/pv1/")

    tabs = tabs_of(response)
    assert (tabs["pv2"]["count"], tabs["pv2"]["oldest"], tabs["pv2"]["is_late"]) == (
        2,
        "3 h 5 min",
        True,
    )
    assert (tabs["pv1"]["count"], tabs["pv1"]["oldest"], tabs["pv1"]["is_late"]) == (
        1,
        "20 min",
        False,
    )
    assert (tabs["fill"]["count"], tabs["fill"]["oldest"]) == (0, "")
    html = response.content.decode()
    assert 'data-testid="queue-tab-pv2" class="late"' in html
    assert "oldest 3 h 5 min · late" in html
    assert [tab["status"] for tab in response.context["tabs"] if tab["current"]] == ["pv1"]


def test_there_is_one_intake_queue_the_prescriptions(client_technician):
    PrescriptionFactory(status=Prescription.Status.INTAKE)
    Prescription.objects.update(received_at=timezone.now() - timedelta(minutes=90))

    fill_page = client_technician.get("/fills/queue/fill/")
    intake_page = client_technician.get("/intake/")

    intake_tab = tabs_of(fill_page)["intake"]
    assert (intake_tab["url"], intake_tab["count"], intake_tab["oldest"]) == (
        "/intake/",
        1,
        "1 h 30 min",
    )
    assert intake_tab["is_late"] is True  # the seeded limit is an hour
    assert "/fills/queue/intake/" not in fill_page.content.decode()
    assert [t["status"] for t in intake_page.context["tabs"] if t["current"]] == ["intake"]


def test_a_manager_sets_the_limits(client_manager, manager):
    form = {queue: "30" for queue in QueueWaitLimit.Queue.values}
    form["on_hold"] = "2880"

    response = client_manager.post("/queues/limits/", form, follow=True)

    assert "Queue wait limits saved." in response.content.decode()
    assert dict(QueueWaitLimit.objects.values_list("queue", "minutes")) == {
        **{queue: 30 for queue in QueueWaitLimit.Queue.values},
        "on_hold": 2880,
    }
    assert set(QueueWaitLimit.objects.values_list("updated_by", flat=True)) == {manager.pk}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "The PV1 limit is at least 1 minute."),
        ("20000", "The PV1 limit is at most 10080 minutes."),
        ("1.5", "The PV1 limit is a whole number of minutes."),
        ("", "Give the PV1 limit in minutes."),
    ],
)
def test_a_bad_limit_is_refused_and_nothing_changes(client_manager, value, message):
    before = dict(QueueWaitLimit.objects.values_list("queue", "minutes"))
    form = {queue: "30" for queue in QueueWaitLimit.Queue.values}
    form["pv1"] = value

    response = client_manager.post("/queues/limits/", form)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert dict(QueueWaitLimit.objects.values_list("queue", "minutes")) == before


def test_the_service_refuses_an_unknown_queue_or_a_bad_number(manager):
    before = dict(QueueWaitLimit.objects.values_list("queue", "minutes"))

    with pytest.raises(QueueLimitError) as caught:
        set_queue_wait_limits({"pv1": 30, "nowhere": 5, "pv2": -1}, by=manager)

    assert caught.value.errors == {
        "nowhere": "There is no queue 'nowhere'.",
        "pv2": "The PV2 limit is a whole number of minutes from 1 to 10080 (a week), not -1.",
    }
    assert dict(QueueWaitLimit.objects.values_list("queue", "minutes")) == before


def test_only_managers_set_the_limits(client_technician, client_pharmacist):
    assert client_technician.get("/queues/limits/").status_code == 403
    assert client_pharmacist.get("/queues/limits/").status_code == 403
