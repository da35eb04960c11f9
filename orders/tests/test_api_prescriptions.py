"""GET /api/v1/prescriptions/ and /api/v1/prescriptions/{id}/: what intake stored, read by
staff with one audit row per request and a fixed number of queries."""

from datetime import timedelta

import pytest
from django.utils import timezone

from orders.models import Fill, Prescription
from orders.tests.erx_samples import new_rx
from pharmacy.models import AuditEvent
from pharmacy.tests.factories import PatientFactory

URL = "/api/v1/prescriptions/"


def receive(client, message_id: str, **message) -> Prescription:
    """A NewRx through the intake endpoint, as the e-prescribing network sends it."""
    message.setdefault("written_date", timezone.localdate().isoformat())
    response = client.post(
        "/api/v1/erx/ncpdp/",
        data=new_rx(message_id=message_id, **message),
        content_type="application/xml",
    )
    assert response.status_code == 201, response.content
    return Prescription.objects.get(message_id=message_id)


def audit_rows() -> int:
    return AuditEvent.objects.count()


# --------------------------------------------------------------------------- detail


def test_the_detail_shows_everything_intake_stored(api_technician, atorvastatin, prescriber, ana):
    prescription = receive(api_technician, "MSG-1", refills="2", days_supply="30", quantity="30")
    fill = prescription.fills.get()
    alerts = list(prescription.dur_alerts.all())
    assert alerts, "without interaction data intake raises at least a no_data alert"

    response = api_technician.get(f"{URL}{prescription.pk}/")

    assert response.status_code == 200
    assert response.json() == {
        "id": prescription.pk,
        "rx_number": prescription.rx_number,
        "status": "active",
        "channel": "ncpdp",
        "message_id": "MSG-1",
        "prescriber_order_number": "PON-7781",
        "patient": ana.pk,
        "prescriber": prescriber.pk,
        "drug": {
            "product": atorvastatin.pk,
            "product_ndc": "0071-0155",
            "name": "Lipitor (atorvastatin calcium) 10 mg tablet",
            "description": "Atorvastatin 20 MG Oral Tablet",
            "prescribed_ndc": "00071015523",
            "dea_schedule": "",
        },
        "quantity": "30.000",
        "quantity_unit": "tablet",
        "days_supply": 30,
        "refills_authorized": 2,
        "refills_remaining": 2,
        "substitutions_allowed": True,
        "written_date": timezone.localdate().isoformat(),
        "expires_on": (timezone.localdate() + timedelta(days=365)).isoformat(),
        "sig_text": "Take 1 tablet by mouth once daily at bedtime",
        "directions": "Take 1 tablet by mouth once daily at bedtime",
        "intake_issues": [],
        "note": "Patient prefers easy-open caps",
        "received_at": response.json()["received_at"],
        "fills": [fill.pk],
        "dur_alerts": [
            {
                "id": alert.pk,
                "type": alert.type,
                "severity": alert.severity,
                "message": alert.message,
                "fill": fill.pk,
                "created_at": response.json()["dur_alerts"][n]["created_at"],
            }
            for n, alert in enumerate(alerts)
        ],
    }


def test_the_detail_shows_intake_issues_with_their_labels(api_technician, atorvastatin, prescriber):
    PatientFactory(first_name="Ana", last_name="Rivera", date_of_birth="1961-04-13")
    prescription = receive(api_technician, "MSG-UNSURE")

    shown = api_technician.get(f"{URL}{prescription.pk}/").json()

    assert shown["status"] == "intake"
    assert shown["patient"] is None
    assert shown["intake_issues"] == [
        {"code": "patient_uncertain", "label": "Patient match uncertain"}
    ]


@pytest.mark.parametrize(
    ("statuses", "authorized", "remaining"),
    [
        ([Fill.Status.SHIPPED], 3, 3),
        ([Fill.Status.SHIPPED, Fill.Status.SHIPPED], 3, 2),
        ([Fill.Status.SHIPPED, Fill.Status.CANCELLED, Fill.Status.PV1], 3, 2),
        ([Fill.Status.SHIPPED, Fill.Status.SHIPPED], 1, 0),
        ([Fill.Status.SHIPPED, Fill.Status.SHIPPED, Fill.Status.SHIPPED], 1, 0),
    ],
)
def test_refills_remaining_is_the_services_count(
    api_technician, atorvastatin, prescriber, ana, statuses, authorized, remaining
):
    prescription = receive(api_technician, "MSG-REFILLS", refills=str(authorized))
    prescription.fills.update(status=statuses[0])
    for number, status in enumerate(statuses[1:], start=1):
        Fill.objects.create(
            prescription=prescription, fill_number=number, status=status, quantity=90
        )

    shown = api_technician.get(f"{URL}{prescription.pk}/").json()

    assert shown["refills_remaining"] == remaining == prescription.refills_remaining()
    assert len(shown["fills"]) == len(statuses)


def test_an_unknown_prescription_is_404(api_technician, db):
    rows = audit_rows()

    response = api_technician.get(f"{URL}999999/")

    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "detail": "Not found."}
    assert audit_rows() == rows


def test_reading_a_prescription_writes_one_audit_row(
    api_pharmacist, pharmacist, atorvastatin, prescriber, ana
):
    prescription = receive(api_pharmacist, "MSG-AUDIT")
    rows = audit_rows()

    api_pharmacist.get(f"{URL}{prescription.pk}/", HTTP_USER_AGENT="pytest-agent")

    assert audit_rows() == rows + 1
    audit = AuditEvent.objects.order_by("-pk").first()
    assert (audit.actor, audit.action, audit.patient) == (pharmacist, "view", ana)
    assert (audit.object_type, audit.object_id) == ("orders.Prescription", str(prescription.pk))
    assert audit.path == f"{URL}{prescription.pk}/"
    assert audit.user_agent == "pytest-agent"


# --------------------------------------------------------------------------- list


def test_the_list_filters_by_message_id_rx_number_patient_and_status(
    api_technician, atorvastatin, prescriber, ana
):
    first = receive(api_technician, "MSG-A")
    second = receive(api_technician, "MSG-B")
    other_patient = receive(
        api_technician, "MSG-C", patient_first="Lena", patient_last="Okonkwo",
        date_of_birth="1990-02-03",
    )  # fmt: skip
    waiting = receive(api_technician, "MSG-D", ndc="70000-0999-01")

    def ids(query: str) -> list[int]:
        response = api_technician.get(f"{URL}?{query}")
        assert response.status_code == 200, response.content
        return [row["id"] for row in response.json()["results"]]

    assert ids("") == [waiting.pk, other_patient.pk, second.pk, first.pk]  # newest first
    assert ids("message_id=MSG-B") == [second.pk]
    assert ids(f"rx_number={first.rx_number}") == [first.pk]
    assert ids(f"patient={ana.pk}") == [waiting.pk, second.pk, first.pk]
    assert ids(f"patient={ana.pk}&status=active") == [second.pk, first.pk]
    assert ids("status=intake") == [waiting.pk]
    assert ids("status=cancelled") == []
    assert ids("message_id=NOPE") == []


@pytest.mark.parametrize(
    ("query", "body"),
    [
        (
            "status=open",
            {
                "error": "invalid_status",
                "detail": "'open' is not a prescription status; use one of intake, active, "
                "on_hold, cancelled, expired, completed.",
                "allowed": ["intake", "active", "on_hold", "cancelled", "expired", "completed"],
            },
        ),
        (
            "patient=ana",
            {"error": "invalid_patient", "detail": "patient must be a patient id, not 'ana'."},
        ),
        (
            "patient=-1",
            {"error": "invalid_patient", "detail": "patient must be a patient id, not '-1'."},
        ),
    ],
)
def test_a_bad_filter_value_is_a_400(api_technician, db, query, body):
    rows = audit_rows()

    response = api_technician.get(f"{URL}?{query}")

    assert response.status_code == 400
    assert response.json() == body
    assert audit_rows() == rows


def test_listing_writes_one_audit_row_naming_the_patients_shown(
    api_technician, technician, atorvastatin, prescriber, ana
):
    receive(api_technician, "MSG-A")
    other = receive(
        api_technician, "MSG-B", patient_first="Lena", patient_last="Okonkwo",
        date_of_birth="1990-02-03",
    )  # fmt: skip
    rows = audit_rows()

    api_technician.get(URL)

    assert audit_rows() == rows + 1
    audit = AuditEvent.objects.order_by("-pk").first()
    assert (audit.actor, audit.action) == (technician, "search")
    assert audit.patient_ids == sorted([ana.pk, other.patient_id])
    assert audit.summary == "API prescription search (2 shown)"


def test_listing_costs_the_same_queries_for_two_or_twelve_prescriptions(
    api_technician, atorvastatin, prescriber, ana, django_assert_max_num_queries,
    django_assert_num_queries,
):  # fmt: skip
    for n in range(2):
        receive(api_technician, f"MSG-{n}")
    # Token + user, role groups, permissions (2), count, prescriptions, fills, alerts, audit.
    with django_assert_max_num_queries(10) as few:
        small = api_technician.get(URL)
    queries_for_two = len(few)
    for n in range(2, 12):
        receive(api_technician, f"MSG-{n}", refills="1")

    with django_assert_num_queries(queries_for_two):
        large = api_technician.get(URL)

    assert (small.status_code, large.status_code) == (200, 200)
    assert len(large.json()["results"]) == 12
    assert all(row["dur_alerts"] and row["fills"] for row in large.json()["results"])


def test_the_detail_costs_a_fixed_number_of_queries(
    api_technician, atorvastatin, prescriber, ana, django_assert_max_num_queries
):
    prescription = receive(api_technician, "MSG-Q")

    with django_assert_max_num_queries(9):
        response = api_technician.get(f"{URL}{prescription.pk}/")

    assert response.status_code == 200


# --------------------------------------------------------------------------- who may read


@pytest.mark.parametrize(("role", "expected"), [("technician", 200), ("pharmacist", 200),
                                                ("manager", 403)])  # fmt: skip
def test_prescriptions_are_for_technicians_and_pharmacists(
    request, atorvastatin, prescriber, ana, role, expected
):
    prescription = receive(request.getfixturevalue("api_technician"), "MSG-ROLE")
    client = request.getfixturevalue(f"api_{role}")

    listing = client.get(URL)
    detail = client.get(f"{URL}{prescription.pk}/")

    assert (listing.status_code, detail.status_code) == (expected, expected)
    if expected == 403:
        assert detail.json() == {
            "error": "permission_denied",
            "detail": "Your role (Manager) does not allow this.",
        }


def test_without_a_token_the_list_is_401(client, db):
    response = client.get(URL)

    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"
