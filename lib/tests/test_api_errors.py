"""Issue 12, "every error a clear one": requests that raised server errors get a 4xx with
the contract's JSON (``{"error", "detail"}``) and change nothing; the API's 404 and 500
answers are JSON too, the pages' stay pages. Through HTTP, as an outside caller."""

import json

import pytest
from django.test import Client
from rest_framework.test import APIClient

from inventory.models import StockLot
from orders.models import Fill, FillEvent
from orders.tests.factories import fill_at
from pharmacy.models import AuditEvent, Patient
from pharmacy.tests.factories import PatientFactory
from shipping.models import ShipmentEvent
from shipping.tests.factories import labelled_shipment

pytestmark = pytest.mark.django_db

NUL_IN_QUERY = (
    "The query parameter 'last_name' contains a NUL character (\\u0000). Remove it and send again."
)


# --------------------------------------------------------------------------- NUL characters


def test_a_nul_in_an_api_query_parameter_is_a_400_before_any_query(api_technician):
    PatientFactory(last_name="Rivera")

    response = api_technician.get("/api/v1/patients/", {"last_name": "Riv\x00era"})

    assert (response.status_code, response.json()) == (
        400,
        {"error": "nul_character", "detail": NUL_IN_QUERY},
    )
    assert AuditEvent.objects.count() == 0


def test_a_nul_in_a_page_search_box_is_a_plain_400_page(client_technician):
    PatientFactory(last_name="Rivera")

    response = client_technician.get("/patients/", {"q": "Riv\x00era"})

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    assert "The query parameter &#x27;q&#x27; contains a NUL character" in response.text
    assert AuditEvent.objects.count() == 0


def test_a_nul_in_a_parameter_name_or_the_path_is_refused_too(api_technician):
    by_name = api_technician.get("/api/v1/patients/?last%00name=x")
    in_path = api_technician.get("/api/v1/products/0002%003227/")

    assert (by_name.status_code, by_name.json()["error"]) == (400, "nul_character")
    assert (in_path.status_code, in_path.json()) == (
        400,
        {
            "error": "nul_character",
            "detail": "The address contains a NUL character (\\u0000). Remove it and send again.",
        },
    )


def test_a_nul_in_a_header_is_refused_before_the_token_is_looked_up():
    response = APIClient().get("/api/v1/patients/", HTTP_AUTHORIZATION="Token abc\x00def")

    assert (response.status_code, response.json()["error"]) == (400, "nul_character")
    assert response.json()["detail"].startswith("The Authorization header contains a NUL")


@pytest.mark.parametrize("content_type", ["json", "multipart"])
def test_a_nul_in_an_api_body_is_a_400_with_nothing_written(api_technician, content_type):
    patient = {
        "first_name": "Ada\x00",
        "last_name": "Lovelace",
        "date_of_birth": "1960-12-10",
        "sex": "F",
    }

    response = api_technician.post("/api/v1/patients/", patient, format=content_type)

    assert (response.status_code, response.json()) == (
        400,
        {
            "error": "malformed_request",
            "detail": "The body contains a NUL character (\\u0000), which no field can hold.",
        },
    )
    assert Patient.objects.count() == 0


# --------------------------------------------------------------------------- bodies


@pytest.mark.parametrize("depth", [100_000, 65])
def test_json_nested_too_deep_is_a_400(api_technician, depth):
    body = "[" * depth + "]" * depth

    response = api_technician.post("/api/v1/patients/", body, content_type="application/json")

    assert (response.status_code, response.json()) == (
        400,
        {"error": "malformed_request", "detail": "The body is nested more than 64 levels deep."},
    )
    assert Patient.objects.count() == 0


def test_fhir_json_nested_100000_deep_is_an_operation_outcome(api_technician):
    body = '{"resourceType": "Bundle", "entry": ' + "[" * 100_000 + "]" * 100_000 + "}"

    response = api_technician.post("/api/v1/erx/fhir/", body, content_type="application/fhir+json")

    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"


def test_a_body_over_the_api_limit_is_a_413_before_it_is_read(api_technician, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = json.dumps({"last_name": "x" * 2000})

    response = api_technician.post("/api/v1/patients/", body, content_type="application/json")

    assert (response.status_code, response.json()) == (
        413,
        {
            "error": "too_large",
            "detail": "The body is larger than the 1,000 bytes this address accepts; "
            "nothing was read.",
        },
    )
    assert Patient.objects.count() == 0


# --------------------------------------------------------------------------- pagination


@pytest.mark.parametrize(
    ("query", "error", "detail"),
    [
        ("limit=" + "9" * 20, "invalid_limit",
         "limit must be a whole number from 1 to 500, not '99999999999999999999'."),
        ("limit=-1", "invalid_limit", "limit must be a whole number from 1 to 500, not '-1'."),
        ("limit=0", "invalid_limit", "limit must be a whole number from 1 to 500, not '0'."),
        ("limit=ten", "invalid_limit", "limit must be a whole number from 1 to 500, not 'ten'."),
        ("offset=" + "9" * 20, "invalid_offset",
         "offset must be a whole number from 0 to 1,000,000,000, not '99999999999999999999'."),
        ("offset=-5", "invalid_offset",
         "offset must be a whole number from 0 to 1,000,000,000, not '-5'."),
    ],
)  # fmt: skip
def test_a_limit_or_offset_that_is_no_page_is_a_400(api_technician, query, error, detail):
    PatientFactory(last_name="Rivera")

    response = api_technician.get(f"/api/v1/patients/?last_name=Rivera&{query}")

    assert (response.status_code, response.json()) == (400, {"error": error, "detail": detail})
    assert AuditEvent.objects.count() == 0


def test_a_limit_and_offset_in_range_page_the_list(api_technician):
    for _ in range(3):
        PatientFactory(last_name="Rivera")

    response = api_technician.get("/api/v1/patients/?last_name=Rivera&limit=2&offset=2")

    assert response.status_code == 200
    assert (response.json()["count"], len(response.json()["results"])) == (3, 1)


# --------------------------------------------------------------------------- methods


@pytest.mark.parametrize("step", ["claim", "unclaim"])
def test_options_on_a_bodyless_fill_step_answers_its_metadata(api_technician, step):
    fill = fill_at(Fill.Status.FILL)
    events = FillEvent.objects.count()

    response = api_technician.options(f"/api/v1/fills/{fill.pk}/{step}/")

    assert response.status_code == 200
    assert response.json()["name"] == {"claim": "Fill Claim", "unclaim": "Fill Unclaim"}[step]
    assert "POST" in response["Allow"]
    fill.refresh_from_db()
    assert (fill.claimed_by, FillEvent.objects.count()) == (None, events)


def test_options_on_buying_a_label_again_answers_its_metadata(api_technician):
    shipment = labelled_shipment()
    events = ShipmentEvent.objects.count()

    response = api_technician.options(f"/api/v1/shipments/{shipment.pk}/label/")

    assert response.status_code == 200
    assert response.json()["name"] == "Shipment Buy Label"
    assert ShipmentEvent.objects.count() == events


def test_trace_on_the_recall_trace_is_a_405(api_manager):
    lot = StockLot.objects.get(pk=fill_at(Fill.Status.PV2).stock_lot_id)
    path = f"/api/v1/inventory/recalls/trace/?ndc={lot.package.package_ndc}&lot={lot.lot_number}"

    response = api_manager.generic("TRACE", path)

    assert (response.status_code, response.json()) == (
        405,
        {"error": "method_not_allowed", "detail": 'Method "TRACE" not allowed.'},
    )
    assert "TRACE" not in response["Allow"]
    assert AuditEvent.objects.count() == 0


# --------------------------------------------------------------------------- 404 and 500


def test_an_api_address_that_does_not_exist_is_a_json_404(api_technician):
    response = api_technician.get("/api/v1/no-such-thing/")

    assert (response.status_code, response.json()) == (
        404,
        {"error": "not_found", "detail": "There is nothing at this address."},
    )


def test_a_page_that_does_not_exist_is_still_a_page(client_technician):
    response = client_technician.get("/no-such-page/")

    assert response.status_code == 404
    assert "There is nothing at this address." in response.text
    assert response["Content-Type"].startswith("text/html")


SERVER_ERROR = {
    "error": "server_error",
    "detail": "Something went wrong on our side; the error was recorded. Try again later.",
}


@pytest.mark.urls("lib.tests.urls_raising")
@pytest.mark.parametrize("path", ["/api/v1/failing/", "/api/v1/failing-plain/"])
def test_an_api_server_error_is_json_without_the_traceback(path):
    response = Client(raise_request_exception=False).get(path)

    assert (response.status_code, response.json()) == (500, SERVER_ERROR)
    assert "hunter2" not in response.text


@pytest.mark.urls("lib.tests.urls_raising")
def test_a_page_server_error_is_the_server_error_page():
    response = Client(raise_request_exception=False).get("/failing/")

    assert response.status_code == 500
    assert "Something went wrong on our side" in response.text
    assert "hunter2" not in response.text


def test_a_nul_refused_on_an_e_prescription_address_answers_in_its_protocol(api_technician):
    script = api_technician.post(
        "/api/v1/erx/ncpdp/?x=%00", b"<Message/>", content_type="application/xml"
    )
    fhir = api_technician.post("/api/v1/erx/fhir/?x=%00", {}, format="json")

    assert (script.status_code, script["Content-Type"]) == (400, "application/xml")
    assert b"<Code>900</Code>" in script.content
    assert b"NUL character" in script.content
    assert (fhir.status_code, fhir["Content-Type"]) == (400, "application/fhir+json")
    assert fhir.json()["resourceType"] == "OperationOutcome"
    assert "NUL character" in fhir.json()["issue"][0]["details"]["text"]


@pytest.mark.parametrize("page", ["9" * 20, "-1", "1e5", "x"])
def test_a_page_number_that_is_no_page_shows_a_page_of_the_list(client_technician, page):
    PatientFactory(last_name="Rivera")

    response = client_technician.get("/patients/", {"q": "Rivera", "page": page})

    assert response.status_code == 200
    assert [p.last_name for p in response.context["page"].object_list] == ["Rivera"]
