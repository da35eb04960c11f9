"""POST /api/v1/refill-requests/ as the patient portal or phone system calls it."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from inventory.tests.factories import PackageFactory, ProductFactory, ProductIngredientFactory
from orders.models import DurAlert, Fill, FillEvent, Order, Prescription
from orders.services.intake import request_refill
from orders.tests.erx_samples import VALID_DEA, VALID_NPI, new_rx
from pharmacy.models import AuditEvent
from pharmacy.tests.factories import PatientFactory, PrescriberFactory

URL = "/api/v1/refill-requests/"
BORN = "1961-04-12"
MODELS = (Prescription, Fill, FillEvent, Order, DurAlert, AuditEvent)


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in MODELS}


@pytest.fixture
def prescription(api_technician, db) -> Prescription:
    """Ana's atorvastatin, 3 refills, 30 days a fill; its first fill shipped 40 days ago."""
    product = ProductFactory(product_ndc="0071-0155", nonproprietary_name="atorvastatin")
    ProductIngredientFactory(product=product, ingredient__name="Atorvastatin")
    PackageFactory(product=product, package_ndc="0071-0155-23")
    PrescriberFactory(npi=VALID_NPI, dea_number=VALID_DEA, last_name="Okafor")
    PatientFactory(
        first_name="Ana", last_name="Rivera", date_of_birth=BORN, no_known_allergies=True
    )
    written = timezone.localdate() - timedelta(days=40)
    response = api_technician.post(
        "/api/v1/erx/ncpdp/",
        data=new_rx(
            message_id="MSG-REFILL", written_date=written.isoformat(), days_supply="30",
            quantity="30",
        ),
        content_type="application/xml",
    )  # fmt: skip
    assert response.status_code == 201
    prescription = Prescription.objects.get(message_id="MSG-REFILL")
    ship_all(prescription, days_ago=40)
    return prescription


def ship_all(prescription: Prescription, *, days_ago: int) -> None:
    prescription.fills.update(
        status=Fill.Status.SHIPPED, created_at=timezone.now() - timedelta(days=days_ago)
    )


def ask(client, rx_number, date_of_birth=BORN):
    return client.post(URL, {"rx_number": rx_number, "date_of_birth": date_of_birth}, format="json")


def test_a_refill_due_is_a_new_fill_waiting_for_pv1(api_technician, technician, prescription):
    response = ask(api_technician, prescription.rx_number)

    assert response.status_code == 201
    fill = prescription.fills.get(fill_number=1)
    assert response.json() == {
        "fill": {
            "id": fill.pk,
            "status": "pv1",
            "prescription": prescription.pk,
            "order": fill.order_id,
            "fill_number": 1,
            "quantity": "30.000",
            "days_supply": 30,
            "requested_via": "refill_request",
            "created_at": response.json()["fill"]["created_at"],
        },
        "prescription": prescription.pk,
    }
    assert fill.order.patient == prescription.patient
    assert fill.events.get().actor == technician
    detail = api_technician.get(f"/api/v1/prescriptions/{prescription.pk}/").json()
    assert detail["refills_remaining"] == 2
    assert fill.pk in detail["fills"]


def refill_audit_rows() -> list[tuple]:
    return list(
        AuditEvent.objects.filter(object_type="orders.Fill").values_list(
            "action", "actor_id", "patient_id", "object_id", "summary"
        )
    )


def test_a_refill_request_writes_one_audit_row(api_technician, technician, prescription):
    response = ask(api_technician, prescription.rx_number)

    fill_id = response.json()["fill"]["id"]
    assert refill_audit_rows() == [
        (
            AuditEvent.Action.CREATE,
            technician.pk,
            prescription.patient_id,
            str(fill_id),
            f"Refill of Rx {prescription.rx_number} requested",
        )
    ]


def test_a_refill_requested_by_a_command_writes_the_same_audit_row(prescription):
    # What a management command or a task calls: the service, with no person behind it.
    fill = request_refill(prescription.rx_number, date_of_birth=date.fromisoformat(BORN), by=None)

    assert refill_audit_rows() == [
        (
            AuditEvent.Action.CREATE,
            None,
            prescription.patient_id,
            str(fill.pk),
            f"Refill of Rx {prescription.rx_number} requested",
        )
    ]


def test_the_rx_number_may_come_with_spaces(api_technician, prescription):
    response = ask(api_technician, f"  {prescription.rx_number} ")

    assert response.status_code == 201


def test_a_portal_may_send_a_form(api_technician, prescription):
    response = api_technician.post(
        URL, {"rx_number": prescription.rx_number, "date_of_birth": BORN}
    )

    assert response.status_code == 201


def refused(response, before: dict, status: int, code: str, words: str) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["error"] == code
    assert words in body["detail"]
    assert counts() == before


def test_no_refills_left_is_refused(api_technician, prescription):
    prescription.refills_authorized = 0
    prescription.save(update_fields=["refills_authorized"])
    before = counts()

    response = ask(api_technician, prescription.rx_number)

    refused(response, before, 409, "no_refills_left", "has no refills left")


def test_too_soon_is_refused_with_the_date_it_is_due(api_technician, prescription):
    ship_all(prescription, days_ago=5)
    before = counts()

    response = ask(api_technician, prescription.rx_number)

    due = timezone.localdate() - timedelta(days=5) + timedelta(days=30 * 0.75)
    refused(response, before, 409, "too_soon", f"can be refilled from {due}")


def test_an_expired_prescription_is_refused(api_technician, prescription):
    prescription.expires_on = timezone.localdate() - timedelta(days=1)
    prescription.save(update_fields=["expires_on"])
    before = counts()

    response = ask(api_technician, prescription.rx_number)

    refused(response, before, 409, "expired", "a new prescription is needed")


def test_a_cancelled_prescription_is_refused(api_technician, prescription):
    Prescription.objects.filter(pk=prescription.pk).update(status=Prescription.Status.CANCELLED)
    before = counts()

    response = ask(api_technician, prescription.rx_number)

    refused(response, before, 409, "cancelled", "was cancelled")


def test_a_fill_already_in_progress_is_refused(api_technician, prescription):
    prescription.fills.update(status=Fill.Status.PV2)
    before = counts()

    response = ask(api_technician, prescription.rx_number)

    refused(response, before, 409, "already_in_progress", "already being prepared")


@pytest.mark.parametrize("wrong", ["rx", "birth"])
def test_an_unknown_rx_or_a_wrong_birth_date_is_404_with_the_same_answer(
    api_technician, prescription, wrong
):
    before = counts()
    rx_number, born = prescription.rx_number, BORN
    if wrong == "rx":
        rx_number = "999999999"
    else:
        born = "1961-04-13"

    response = ask(api_technician, rx_number, born)

    assert response.status_code == 404
    assert response.json() == {
        "error": "not_found",
        "detail": "No prescription matches that Rx number and date of birth.",
    }
    assert counts() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"date_of_birth": BORN}, "rx_number"),
        ({"rx_number": "1000001"}, "date_of_birth"),
        ({"rx_number": "1000001", "date_of_birth": "04/12/1961"}, "date_of_birth"),
        ({"rx_number": "1000001", "date_of_birth": "1961-02-30"}, "date_of_birth"),
        ({"rx_number": "", "date_of_birth": BORN}, "rx_number"),
        ({"rx_number": "1" * 21, "date_of_birth": BORN}, "rx_number"),
    ],
)
def test_malformed_input_is_a_400_naming_the_field(api_technician, prescription, body, field):
    before = counts()

    response = api_technician.post(URL, body, format="json")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid"
    assert list(response.json()["fields"]) == [field]
    assert counts() == before


def test_a_body_that_is_not_json_is_a_400(api_technician, prescription):
    response = api_technician.post(URL, data=b"{oops", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"] == "malformed_request"


def test_a_manager_token_cannot_request_refills(api_manager, prescription):
    before = counts()

    response = ask(api_manager, prescription.rx_number)

    assert response.status_code == 403
    assert counts() == before
