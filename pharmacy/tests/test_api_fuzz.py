"""Every operation of the API's OpenAPI schema (``/api/schema/``), fuzzed by Schemathesis as
each role and as an anonymous caller, in process through the WSGI application against the
test database: no answer is a server error, and every answer is what the schema says.

``FUZZ_EXAMPLES`` (default 5) bounds the examples per operation and role for ``make test``;
``make fuzz`` runs many more and prints a summary. Path ids are drawn from a small data set
(so that steps reach real fills, shipments and lots) as often as from Hypothesis.
"""

import os
import time
from collections import Counter

import pytest
import schemathesis
from django.core import signals
from django.core.cache import cache
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from pharmacy.services import create_api_token
from pharmacy.tests.factories import make_staff

pytestmark = [pytest.mark.django_db, pytest.mark.fuzz]

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "5"))
ROLES = ("technician", "pharmacist", "manager", "anonymous")
CHECKS = [not_a_server_error, response_schema_conformance]


def _load_schema():
    from pharmacy.wsgi import application  # noqa: PLC0415 (Django is set up by then)

    return schemathesis.openapi.from_wsgi("/api/schema/", application)


SCHEMA = _load_schema()
OPERATIONS = sorted(
    (result.ok() for result in SCHEMA.get_all_operations()), key=lambda op: op.label
)
# What each run saw, printed by ``make fuzz``.
SEEN: Counter = Counter()


@pytest.fixture
def keep_test_connection():
    """The WSGI handler closes the database connection after each request unless it is
    in autocommit mode; the test's transaction must outlive the requests (as Django's own
    test client arranges)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def data_set(db, keep_test_connection):
    """A little of everything, so path ids and NDCs can name real rows."""
    from inventory.models import StockLot  # noqa: PLC0415
    from orders.models import Fill  # noqa: PLC0415
    from orders.tests.factories import fill_at  # noqa: PLC0415
    from shipping.tests.factories import labelled_shipment, order_awaiting_packing  # noqa: PLC0415

    fills = [fill_at(status) for status in (Fill.Status.PV1, Fill.Status.FILL, Fill.Status.PV2)]
    order = order_awaiting_packing()
    shipment = labelled_shipment()
    lot = StockLot.objects.select_related("package__product").earliest("pk")
    ids = sorted(
        {f.pk for f in fills}
        | {order.pk, shipment.pk, shipment.order_id, lot.pk, lot.package_id}
        | {f.prescription_id for f in fills}
        | {f.prescription.patient_id for f in fills}
    )
    return {
        "ids": ids,
        "product_ndc": lot.package.product.product_ndc,
        "ndc": lot.package.package_ndc,
        "lot": lot.lot_number,
    }


def _headers(role: str) -> dict:
    if role == "anonymous":
        return {}
    user = make_staff(f"fuzz-{role}", role)
    return {"Authorization": f"Token {create_api_token(user).key}"}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.label)
def test_operation(operation, role, data_set):
    headers = _headers(role)
    ids = data_set["ids"]
    strategy = st.one_of(
        operation.as_strategy(generation_mode=schemathesis.GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=schemathesis.GenerationMode.NEGATIVE),
    )

    @given(case=strategy, known=st.sampled_from([None, *ids]))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=False,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )
    def run(case, known):
        if known is not None and case.path_parameters and "id" in case.path_parameters:
            case.path_parameters["id"] = known
        cache.clear()
        started = time.monotonic()
        response = case.call(headers=headers)
        SEEN[(operation.label, role, response.status_code)] += 1
        SEEN[("seconds",)] += time.monotonic() - started
        case.validate_response(response, checks=CHECKS, headers=headers)

    run()
