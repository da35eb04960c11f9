"""``GET /api/v1/fills/{id}/label.pdf``: the Rx vial label to staff with a role once PV1
has passed (the stored one, or rendered on demand and stored by nobody), JSON errors
otherwise, one audit row per label shown."""

import io

import pytest
from pypdf import PdfReader

from orders.models import Fill, RxLabel
from orders.services.labels import generate_rx_label, render_rx_label_pdf, rx_label_data
from orders.tests.factories import fill_at
from pharmacy.models import AuditEvent

pytestmark = pytest.mark.django_db


def label_url(fill_id: int) -> str:
    return f"/api/v1/fills/{fill_id}/label.pdf"


@pytest.mark.parametrize("role", ["technician", "pharmacist"])
def test_staff_at_the_fill_and_verification_steps_get_the_current_label(role, request):
    client, user = request.getfixturevalue(f"api_{role}"), request.getfixturevalue(role)
    fill = fill_at(Fill.Status.PV2)
    label = generate_rx_label(fill)

    response = client.get(label_url(fill.pk), HTTP_ACCEPT="application/pdf")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Cache-Control"] == "private, no-store"
    assert response.content == bytes(label.pdf)
    assert RxLabel.objects.count() == 1
    event = AuditEvent.objects.get()
    assert (event.actor, event.action, event.patient) == (
        user,
        AuditEvent.Action.VIEW,
        fill.prescription.patient,
    )
    assert (event.object_type, event.object_id) == ("orders.Fill", str(fill.pk))
    assert event.path == label_url(fill.pk)


def test_a_fill_past_pv1_without_a_label_yet_gets_it_rendered_and_nothing_stored(
    api_technician,
):
    fill = fill_at(Fill.Status.FILL)

    first = api_technician.get(label_url(fill.pk))
    second = api_technician.get(label_url(fill.pk))

    assert (first.status_code, second.status_code) == (200, 200)
    assert RxLabel.objects.count() == 0  # a read never writes: the label task stores it
    assert first.content == second.content == render_rx_label_pdf(rx_label_data(fill))
    text = " ".join(PdfReader(io.BytesIO(first.content)).pages[0].extract_text().split())
    assert fill.label_code in text
    assert fill.prescription.rx_number in text
    assert fill.prescription.directions in text
    assert AuditEvent.objects.count() == 2


def test_a_label_whose_data_changed_is_shown_as_it_is_now_and_not_stored(api_pharmacist):
    fill = fill_at(Fill.Status.PV2)
    stored = generate_rx_label(fill)
    fill.prescription.directions = "Take 2 tablets by mouth at bedtime"
    fill.prescription.save(update_fields=["directions"])

    response = api_pharmacist.get(label_url(fill.pk))

    assert response.status_code == 200
    assert response.content != bytes(stored.pdf)
    text = " ".join(PdfReader(io.BytesIO(response.content)).pages[0].extract_text().split())
    assert "Take 2 tablets by mouth at bedtime" in text
    assert RxLabel.objects.get() == stored
    stored.refresh_from_db()
    assert stored.is_current


@pytest.mark.parametrize(
    ("status", "held_from", "code"),
    [
        (Fill.Status.INTAKE, "", "label_not_ready"),
        (Fill.Status.PV1, "", "label_not_ready"),
        (Fill.Status.ON_HOLD, Fill.Status.PV1, "label_not_ready"),
        (Fill.Status.CANCELLED, "", "fill_cancelled"),
    ],
)
def test_a_fill_that_has_not_passed_pv1_has_no_label(api_pharmacist, status, held_from, code):
    fill = fill_at(status, held_from=held_from)

    response = api_pharmacist.get(label_url(fill.pk), HTTP_ACCEPT="application/pdf")

    assert response.status_code == 409
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["error"] == code
    assert f"Fill {fill.pk}" in body["detail"]
    assert RxLabel.objects.count() == 0
    assert AuditEvent.objects.count() == 0


def test_an_unknown_fill_is_404(api_technician):
    response = api_technician.get(label_url(987654321))

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
    assert AuditEvent.objects.count() == 0


def test_a_manager_cannot_print_labels(api_manager):
    fill = fill_at(Fill.Status.PV2)

    response = api_manager.get(label_url(fill.pk))

    assert response.status_code == 403
    assert response.json() == {
        "error": "permission_denied",
        "detail": "Your role (Manager) does not allow this.",
    }
    assert RxLabel.objects.count() == 0
    assert AuditEvent.objects.count() == 0


def test_anonymous_callers_are_refused(client):
    fill = fill_at(Fill.Status.PV2)

    response = client.get(label_url(fill.pk))

    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"
    assert RxLabel.objects.count() == 0
