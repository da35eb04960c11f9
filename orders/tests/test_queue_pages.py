"""The fill queues: one page per status, most urgent first, with the age of each item,
a table that refreshes itself, claims that keep two people off one fill, and an audit
row naming the patients shown."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orders.models import Fill, FillEvent, FillHold, HoldReason, Prescription
from orders.tests.factories import FillFactory, PrescriptionFactory
from orders.views import queues
from pharmacy.models import AuditEvent, Role
from pharmacy.tests.factories import PatientFactory, make_staff
from pharmacy.tests.second_factor import signed_in_client


def queue_url(status: str) -> str:
    return f"/fills/queue/{status}/"


def rows_of(response) -> list[int]:
    return [fill.pk for fill in response.context["rows"]]


def waiting_fill(status=Fill.Status.FILL, *, age=timedelta(minutes=5), **fields) -> Fill:
    """A fill at ``status`` that has waited there for ``age``."""
    fill = FillFactory(status=status, **fields)
    since = timezone.now() - age
    Fill.objects.filter(pk=fill.pk).update(created_at=since, status_changed_at=since)
    fill.refresh_from_db()
    return fill


# --------------------------------------------------------------------------- order, rows


def test_the_fill_queue_lists_the_most_urgent_first_with_what_a_technician_needs(
    client_technician, technician
):
    today = timezone.localdate()
    oldest = waiting_fill(age=timedelta(hours=3, minutes=12))
    urgent = waiting_fill(age=timedelta(minutes=20), priority=Fill.Priority.URGENT)
    cold = waiting_fill(age=timedelta(minutes=10), is_cold_chain=True)
    promised_tomorrow = waiting_fill(age=timedelta(minutes=1), promised_on=today + timedelta(1))
    promised_today = waiting_fill(age=timedelta(days=2, hours=5), promised_on=today)
    waiting_fill(Fill.Status.PV1)  # another queue

    response = client_technician.get(queue_url("fill"))

    assert response.status_code == 200
    assert rows_of(response) == [
        promised_today.pk,
        promised_tomorrow.pk,
        cold.pk,
        urgent.pk,
        oldest.pk,
    ]
    html = response.content.decode()
    assert "<h1>Fill queue</h1>" in html
    assert "<strong>5</strong> fills waiting." in html
    assert ">3 h 12 min<" in html
    assert ">2 d 5 h<" in html
    assert ">20 min<" in html
    prescription = oldest.prescription
    assert prescription.rx_number in html
    assert prescription.patient.full_name in html
    assert prescription.drug_description in html
    assert "30 tablets" in html
    assert today.isoformat() in html
    assert '<span class="badge severe">Urgent</span>' in html
    assert '<span class="badge cold">Cold chain</span>' in html
    assert html.count("Claim and open") == 5


def test_a_controlled_drug_and_a_claim_are_marked(client_technician, technician, pharmacist):
    fill = waiting_fill(prescription__dea_schedule="CII")
    mine = waiting_fill()
    Fill.objects.filter(pk=fill.pk).update(claimed_by=pharmacist, claimed_at=timezone.now())
    Fill.objects.filter(pk=mine.pk).update(claimed_by=technician, claimed_at=timezone.now())

    html = client_technician.get(queue_url("fill")).content.decode()

    assert '<span class="badge controlled">CII</span>' in html
    assert "Paul Pharm" in html
    assert f'<a href="/fills/{fill.pk}/fill/" data-testid="view-only">View only</a>' in html
    assert "Tina Tech (you)" in html
    assert f'<a class="button" href="/fills/{mine.pk}/fill/">Continue</a>' in html
    assert "Claim and open" not in html


def test_the_intake_queue_names_an_unmatched_patient_as_received_and_opens_intake(
    client_technician,
):
    prescription = PrescriptionFactory(
        patient=None, status=Prescription.Status.INTAKE, received_data={}
    )
    prescription.received_data = {"patient": {"first_name": "Alan", "last_name": "Turing"}}
    prescription.save(update_fields=["received_data"])
    fill = waiting_fill(Fill.Status.INTAKE, prescription=prescription)

    response = client_technician.get(queue_url("intake"))

    html = response.content.decode()
    assert rows_of(response) == [fill.pk]
    assert 'Alan Turing <span class="badge">as received</span>' in html
    assert f'href="/intake/{prescription.pk}/">Open</a>' in html
    assert AuditEvent.objects.get().patient_ids == []


def test_the_on_hold_queue_says_why_each_fill_is_held(client_technician, technician):
    fill = waiting_fill(Fill.Status.ON_HOLD, held_from_status=Fill.Status.FILL)
    FillHold.objects.create(
        fill=fill,
        reason_code=HoldReason.CLARIFICATION,
        from_status=Fill.Status.FILL,
        placed_by=technician,
    )

    html = client_technician.get(queue_url("on_hold")).content.decode()

    assert "Clarification needed from the prescriber" in html
    assert "from Waiting to be filled" in html
    assert f'href="/fills/{fill.pk}/">Open</a>' in html


def test_an_empty_queue_says_so(client_pharmacist):
    html = client_pharmacist.get(queue_url("pv2")).content.decode()

    assert "<strong>0</strong> fills waiting." in html
    assert "Nothing waits here." in html


# --------------------------------------------------------------------------- refresh, audit


def test_the_page_polls_only_its_rows_and_keeps_the_scan_field_outside_them(client_technician):
    html = client_technician.get(queue_url("fill")).content.decode()

    rows_start = html.index('<div id="queue-rows"')
    assert 'hx-get="/fills/queue/fill/rows/" hx-trigger="every 10s" hx-swap="innerHTML"' in html
    assert html.index('id="queue-code"') < rows_start
    assert 'name="code" data-scan' in html


def test_a_page_view_writes_one_audit_row_naming_the_patients_shown(client_technician, technician):
    fills = [waiting_fill() for _ in range(3)]

    client_technician.get(queue_url("fill"))

    event = AuditEvent.objects.get()
    assert (event.action, event.actor, event.summary) == (
        AuditEvent.Action.VIEW,
        technician,
        "Fill queue (3 shown)",
    )
    assert event.patient_ids == sorted(f.prescription.patient_id for f in fills)


def test_a_refresh_is_audited_only_when_it_shows_a_patient_not_named_yet(
    client_technician, technician
):
    first = waiting_fill()
    client_technician.get(queue_url("fill"))

    response = client_technician.get(queue_url("fill") + "rows/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert 'data-testid="fill-queue"' in html
    assert first.prescription.rx_number in html
    assert AuditEvent.objects.count() == 1

    second = waiting_fill()
    client_technician.get(queue_url("fill") + "rows/")

    assert AuditEvent.objects.count() == 2
    latest = AuditEvent.objects.order_by("-pk").first()
    assert latest.patient_ids == sorted(
        [first.prescription.patient_id, second.prescription.patient_id]
    )


# --------------------------------------------------------------------------- pages, count


def test_the_queue_pages_by_fifty_after_the_last_row_shown(client_technician, monkeypatch):
    monkeypatch.setattr(queues, "QUEUE_ROWS_PER_PAGE", 3)
    patient = PatientFactory()
    fills = [
        waiting_fill(age=timedelta(minutes=60 - n), prescription__patient=patient) for n in range(5)
    ]

    first = client_technician.get(queue_url("fill"))

    assert rows_of(first) == [f.pk for f in fills[:3]]
    html = first.content.decode()
    assert "<strong>5</strong> fills waiting." in html
    assert f'href="/fills/queue/fill/?after={fills[2].pk}" data-testid="queue-next">Next 3' in html

    second = client_technician.get(queue_url("fill"), {"after": fills[2].pk})

    assert rows_of(second) == [f.pk for f in fills[3:]]
    assert 'data-testid="queue-next"' not in second.content.decode()
    assert 'hx-get="/fills/queue/fill/rows/?after=' in second.content.decode()
    # The top of the queue was worked meanwhile: the next page still follows on.
    Fill.objects.filter(pk=fills[0].pk).update(status=Fill.Status.PV2)
    assert rows_of(client_technician.get(queue_url("fill"), {"after": fills[2].pk})) == [
        f.pk for f in fills[3:]
    ]


@pytest.mark.parametrize(
    "keys",
    [
        # (promised in days or None, cold chain, urgent) of each fill, in queue order.
        [(0, True, True), (0, True, False), (0, False, True), (0, False, False), (1, True, True)],
        [(None, True, True), (None, True, False), (None, False, True), (None, False, False)],
        [(3, False, False), (None, True, True), (None, False, False)],
    ],
)
def test_pages_follow_each_other_whatever_keys_the_last_row_has(
    client_technician, monkeypatch, keys
):
    monkeypatch.setattr(queues, "QUEUE_ROWS_PER_PAGE", 1)
    today = timezone.localdate()
    fills = [
        waiting_fill(
            promised_on=None if days is None else today + timedelta(days),
            is_cold_chain=cold,
            priority=Fill.Priority.URGENT if urgent else Fill.Priority.NORMAL,
        )
        for days, cold, urgent in reversed(keys)  # created in the opposite order
    ][::-1]

    seen, after = [], ""
    for _ in range(len(fills) + 1):
        response = client_technician.get(queue_url("fill"), {"after": after} if after else {})
        seen += rows_of(response)
        after = response.context["next_after"]
        if after is None:
            break

    assert seen == [f.pk for f in fills]


def test_the_count_stops_at_the_cap(client_technician, monkeypatch):
    monkeypatch.setattr(queues, "QUEUE_COUNT_CAP", 3)
    for _ in range(5):
        waiting_fill()

    html = client_technician.get(queue_url("fill")).content.decode()

    assert "More than <strong>3</strong> fills waiting." in html


def test_the_number_of_queries_does_not_grow_with_the_queue(client_technician):
    for _ in range(2):
        waiting_fill()
    client_technician.get(queue_url("fill"))  # the session's first request sets it up
    with CaptureQueriesContext(connection) as few:
        client_technician.get(queue_url("fill"))
    for _ in range(8):
        waiting_fill(prescription__dea_schedule="CIV", is_cold_chain=True)
    with CaptureQueriesContext(connection) as more:
        response = client_technician.get(queue_url("fill"))

    assert len(response.context["rows"]) == 10
    assert len(more) == len(few)
    # The navigation bar's queue counts are a statement of their own, on the user's row.
    queue_selects = [
        q
        for q in more
        if 'FROM "orders_fill"' in q["sql"] and 'FROM "pharmacy_user"' not in q["sql"]
    ]
    assert len(queue_selects) == 1


# --------------------------------------------------------------------------- access


@pytest.mark.parametrize(
    ("role", "status", "expected"),
    [
        (Role.TECHNICIAN, "intake", 200),
        (Role.TECHNICIAN, "fill", 200),
        (Role.TECHNICIAN, "ready_to_pack", 200),
        (Role.TECHNICIAN, "on_hold", 200),
        (Role.TECHNICIAN, "pv1", 403),
        (Role.TECHNICIAN, "pv2", 403),
        (Role.PHARMACIST, "pv1", 200),
        (Role.PHARMACIST, "pv2", 200),
        (Role.PHARMACIST, "fill", 200),
        (Role.MANAGER, "fill", 403),
        (Role.MANAGER, "pv1", 403),
        (Role.TECHNICIAN, "shipped", 404),
        (Role.TECHNICIAN, "nonsense", 404),
    ],
)
def test_each_queue_is_for_the_roles_that_work_it(client, db, role, status, expected):
    signed_in_client(make_staff("someone", role), client)

    page = client.get(queue_url(status))
    rows = client.get(queue_url(status) + "rows/")

    assert (page.status_code, rows.status_code) == (expected, expected)
    if expected == 403:
        assert "does not work the" in page.content.decode()
    # The page names its patients once; the refresh shows no one new.
    assert AuditEvent.objects.count() == (1 if expected == 200 else 0)


def test_a_signed_out_visitor_is_sent_to_sign_in(client, db):
    response = client.get(queue_url("fill"))

    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


# --------------------------------------------------------------------------- home pages


def test_the_role_home_pages_count_the_queues_and_link_to_them(
    client_technician, client_pharmacist
):
    waiting_fill(Fill.Status.FILL)
    waiting_fill(Fill.Status.FILL)
    waiting_fill(Fill.Status.PV1)
    waiting_fill(Fill.Status.ON_HOLD)

    technician_html = client_technician.get("/technician/").content.decode()
    pharmacist_html = client_pharmacist.get("/pharmacist/").content.decode()

    assert 'href="/fills/queue/fill/" data-testid="queue-fill"' in technician_html
    assert 'href="/fills/queue/on_hold/" data-testid="queue-on-hold"' in technician_html
    assert 'href="/fills/queue/pv1/" data-testid="queue-pv1"' in pharmacist_html
    assert 'href="/fills/queue/pv2/" data-testid="queue-pv2"' in pharmacist_html
    assert 'href="/fills/queue/pv1/"' not in technician_html


def test_fill_events_are_untouched_by_reading_a_queue(client_technician):
    fill = waiting_fill()
    before = list(FillEvent.objects.values_list("pk", flat=True))

    client_technician.get(queue_url("fill"))
    client_technician.get(queue_url("fill") + "rows/")

    assert list(FillEvent.objects.values_list("pk", flat=True)) == before
    fill_after = Fill.objects.get(pk=fill.pk)
    assert (fill_after.status, fill_after.claimed_by_id) == (Fill.Status.FILL, None)


# --------------------------------------------------------------------------- claims


def test_claim_and_open_claims_the_fill_and_opens_its_work_page(client_technician, technician):
    fill = waiting_fill()

    response = client_technician.post(f"/fills/{fill.pk}/claim/")

    assert response.status_code == 302
    assert response["Location"] == f"/fills/{fill.pk}/fill/"
    fill.refresh_from_db()
    assert fill.claimed_by == technician


def test_a_fill_claimed_by_someone_else_opens_view_only_and_stays_theirs(
    client_technician, pharmacist
):
    fill = waiting_fill()
    Fill.objects.filter(pk=fill.pk).update(claimed_by=pharmacist, claimed_at=timezone.now())

    response = client_technician.post(f"/fills/{fill.pk}/claim/", follow=True)

    assert response.redirect_chain == [(f"/fills/{fill.pk}/fill/", 302)]
    assert 'data-testid="claimed-by-other"' in response.content.decode()
    fill.refresh_from_db()
    assert fill.claimed_by == pharmacist


def test_a_stale_claim_is_taken_over_from_the_queue(client_technician, technician, pharmacist):
    fill = waiting_fill()
    Fill.objects.filter(pk=fill.pk).update(
        claimed_by=pharmacist, claimed_at=timezone.now() - timedelta(hours=1)
    )

    html = client_technician.get(queue_url("fill")).content.decode()
    client_technician.post(f"/fills/{fill.pk}/claim/")

    assert 'Paul Pharm <span class="muted">(claim expired)</span>' in html
    assert "Claim and open" in html
    fill.refresh_from_db()
    assert fill.claimed_by == technician


def test_a_technician_cannot_claim_a_pv1_fill(client_technician):
    fill = waiting_fill(Fill.Status.PV1)

    response = client_technician.post(f"/fills/{fill.pk}/claim/")

    assert response.status_code == 403
    fill.refresh_from_db()
    assert fill.claimed_by is None


def test_a_fill_outside_the_work_steps_opens_without_a_claim(client_technician):
    fill = waiting_fill(Fill.Status.READY_TO_PACK)

    response = client_technician.post(f"/fills/{fill.pk}/claim/")

    assert response["Location"] == f"/fills/{fill.pk}/"
    fill.refresh_from_db()
    assert fill.claimed_by is None


def test_putting_a_fill_back_lets_go_of_the_claim(client_technician, technician):
    fill = waiting_fill()
    client_technician.post(f"/fills/{fill.pk}/claim/")

    response = client_technician.post(f"/fills/{fill.pk}/unclaim/", follow=True)

    assert response.redirect_chain == [("/fills/queue/fill/", 302)]
    assert f"Rx {fill.prescription.rx_number} is back in the queue." in response.content.decode()
    fill.refresh_from_db()
    assert fill.claimed_by is None


@pytest.mark.parametrize("code", ["rx", "Rx #rx", "label"])
def test_a_scanned_rx_number_or_label_code_opens_that_fill(client_technician, technician, code):
    waiting_fill()
    fill = waiting_fill()
    typed = code.replace("rx", fill.prescription.rx_number).replace("label", fill.label_code)

    response = client_technician.post(queue_url("fill") + "open/", {"code": typed.lower()})

    assert response["Location"] == f"/fills/{fill.pk}/fill/"
    fill.refresh_from_db()
    assert fill.claimed_by == technician


def test_a_code_not_in_the_queue_says_so_and_claims_nothing(client_technician):
    elsewhere = waiting_fill(Fill.Status.PV2)

    response = client_technician.post(
        queue_url("fill") + "open/", {"code": elsewhere.prescription.rx_number}, follow=True
    )

    assert response.redirect_chain == [("/fills/queue/fill/", 302)]
    assert (
        f"No fill of Rx “{elsewhere.prescription.rx_number}” waits in the Fill queue."
        in response.content.decode()
    )
    assert Fill.objects.filter(claimed_by__isnull=False).count() == 0
