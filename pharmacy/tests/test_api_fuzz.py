"""Every operation of the API's OpenAPI schema (``/api/schema/``), fuzzed by Schemathesis as
each role and as an anonymous caller, in process through the WSGI application against the
test database: no answer is a server error, and every answer is one the schema documents
(its status, its media type, its body).

``FUZZ_EXAMPLES`` (default 5) bounds the examples per operation and role, valid and
invalid data mixed; ``make test`` runs them the same each time (Hypothesis derandomized),
``make fuzz`` runs many more, random (``FUZZ_RANDOM=1``), and prints a summary. Path ids,
product NDCs, carriers and lots are drawn from a small data set (so the steps reach real
fills, shipments and lots) as often as Hypothesis makes them up. Every write is rolled
back with the test's transaction.
"""

import json
import os
import time
from collections import Counter

import pytest
import schemathesis
from django.core import signals
from django.core.cache import cache
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from pharmacy.services import create_api_token
from pharmacy.tests.factories import make_staff

pytestmark = pytest.mark.fuzz

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "5"))
RANDOM = os.environ.get("FUZZ_RANDOM", "") not in ("", "0")
ROLES = ("technician", "pharmacist", "manager", "anonymous")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
SUMMARY = os.path.join(os.path.dirname(__file__), "..", "..", "test-artifacts", "api-fuzz.json")


def _load_schema():
    from pharmacy.wsgi import application  # noqa: PLC0415 (Django is set up by then)

    return schemathesis.openapi.from_wsgi("/api/schema/", application)


SCHEMA = _load_schema()
OPERATIONS = sorted(
    (result.ok() for result in SCHEMA.get_all_operations()), key=lambda op: op.label
)
# What the run saw, written to test-artifacts/api-fuzz.json (``make fuzz`` prints it).
SEEN = {"examples": Counter(), "statuses": Counter(), "seconds": 0.0}


@pytest.fixture(scope="module")
def keep_test_connection():
    """The WSGI handler closes the database connection after each request unless it is
    in autocommit mode; the tests' transaction must outlive the requests (as Django's own
    test client arranges)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture(scope="module")
def data_set(django_db_setup, django_db_blocker, keep_test_connection):
    """A little of everything and a token per role, made once for the module in a
    transaction rolled back at its end; each test's own changes roll back with it."""
    from inventory.models import StockLot  # noqa: PLC0415
    from orders.models import Fill  # noqa: PLC0415
    from orders.tests.factories import fill_at  # noqa: PLC0415
    from shipping.tests.factories import labelled_shipment, order_awaiting_packing  # noqa: PLC0415

    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            fills = [fill_at(s) for s in (Fill.Status.PV1, Fill.Status.FILL, Fill.Status.PV2)]
            order = order_awaiting_packing()
            shipment = labelled_shipment()
            lot = StockLot.objects.select_related("package__product").get(
                pk=Fill.objects.get(pk=fills[2].pk).stock_lot_id
            )
            tokens = {
                role: create_api_token(make_staff(f"fuzz-{role}", role)).key
                for role in ROLES
                if role != "anonymous"
            }
            yield {
                "id": sorted(
                    {f.pk for f in fills}
                    | {f.prescription_id for f in fills}
                    | {f.prescription.patient_id for f in fills}
                    | {order.pk, shipment.pk, shipment.order_id, lot.pk}
                ),
                "product_ndc": [lot.package.product.product_ndc],
                "carrier": ["local"],
                "ndc": [lot.package.package_ndc, lot.package.ndc11],
                "lot": [lot.lot_number],
                "tokens": tokens,
            }
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture(scope="module", autouse=True)
def summary():
    yield
    os.makedirs(os.path.dirname(SUMMARY), exist_ok=True)
    with open(SUMMARY, "w") as file:
        json.dump(
            {
                "operations": len(OPERATIONS),
                "examples_per_operation_and_role": EXAMPLES,
                "random": RANDOM,
                "requests_per_role": dict(SEEN["examples"]),
                "statuses": {str(k): v for k, v in sorted(SEEN["statuses"].items())},
                "seconds_in_requests": round(SEEN["seconds"], 1),
            },
            file,
            indent=2,
        )


def _forget_throttling() -> None:
    """DRF's throttles count requests in the cache; the fuzzer is no abuser to slow down."""
    client = cache._cache.get_client(write=True)
    keys = list(client.scan_iter(match="*throttle_*", count=1000))
    if keys:
        client.delete(*keys)


def _use_known_values(case, known: dict, choice: int) -> None:
    """Swap generated path and query values for rows of the data set, one time in two."""
    if choice % 2:
        return
    for container in (case.path_parameters, case.query):
        for name in container or {}:
            if known.get(name):
                container[name] = known[name][choice // 2 % len(known[name])]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.label)
def test_operation(operation, role, data_set, db):
    headers = {}
    if role != "anonymous":
        headers["Authorization"] = f"Token {data_set['tokens'][role]}"
    strategy = st.one_of(
        operation.as_strategy(generation_mode=schemathesis.GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=schemathesis.GenerationMode.NEGATIVE),
    )

    @given(case=strategy, choice=st.integers(min_value=0, max_value=63))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=not RANDOM,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case, choice):
        _use_known_values(case, data_set, choice)
        _forget_throttling()
        started = time.monotonic()
        response = case.call(headers=headers)
        SEEN["seconds"] += time.monotonic() - started
        SEEN["examples"][role] += 1
        SEEN["statuses"][response.status_code] += 1
        case.validate_response(response, checks=CHECKS, headers=headers)

    run()


# The e-prescription endpoints answer in their protocols' formats.
OWN_MEDIA = {
    "/api/v1/erx/ncpdp/": {"application/xml"},
    "/api/v1/erx/fhir/": {"application/json", "application/fhir+json"},
}


@pytest.mark.parametrize("role", ["technician", "manager"])
@pytest.mark.parametrize("method", ["OPTIONS", "TRACE", "PUT", "DELETE"])
def test_every_path_answers_other_methods_without_a_server_error(method, role, data_set, db):
    """Methods the schema does not list: OPTIONS answers the view's metadata, the others
    405, or 403 for a role that may not; in JSON, or the e-prescription endpoints' own
    formats. None is a server error (a view's helper named ``trace`` once was)."""
    client = APIClient(HTTP_AUTHORIZATION=f"Token {data_set['tokens'][role]}")
    paths = sorted({operation.path for operation in OPERATIONS})
    answers = {}
    for path in paths:
        url = path.format(id=data_set["id"][0], product_ndc="0002-3227", carrier="local")
        response = client.generic(method, url)
        answers[path] = (response.status_code, response["Content-Type"].split(";")[0])

    statuses = {200, 403, 405} if method == "OPTIONS" else {403, 405}
    refused = {
        path: (status, media)
        for path, (status, media) in answers.items()
        if status not in statuses or media not in OWN_MEDIA.get(path, {"application/json"})
    }
    assert refused == {}
