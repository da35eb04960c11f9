"""One e-prescription from intake to a packed, labelled package with every query through
PgBouncer in transaction pooling mode (issue 11): the API calls of this test, the
services they run (locks, savepoints, on-commit hooks) and a real Celery worker process
configured the way production is (``DATABASE_URL`` at PgBouncer,
``DATABASE_TRANSACTION_POOLING=true``) that makes the Rx and shipping labels.

In transaction pooling each transaction may run on another server connection. PgBouncer
here hands each one to the server connection idle longest, and the test warms two, so
consecutive transactions of one client alternate between them as many clients' do in
production: anything that outlives a transaction on the server (a prepared statement, a
session setting, a cursor WITH HOLD) fails here as it would there.

Run them with ``.venv/bin/python -m pharmacy.devservices exec -- .venv/bin/python -m pytest
-m pgbouncer``; without Debian's pgbouncer they are skipped (see the ``pgbouncer`` fixture).
"""

import copy
import time

import psycopg2
import pytest
from django.db import connection
from django.utils import timezone

from inventory.models import Ingredient
from inventory.tests.factories import (
    IngredientFactory,
    PackageFactory,
    ProductFactory,
    ProductIngredientFactory,
    StockLotFactory,
)
from orders.models import Fill
from orders.services.labels import current_rx_label
from orders.tests.erx_samples import VALID_DEA, VALID_NPI, new_rx
from orders.tests.factories import datamatrix
from pharmacy.celery import app
from pharmacy.drug_checks import invalidate_interaction_index
from pharmacy.settings import parse_database_url
from pharmacy.tests.factories import PatientAddressFactory, PatientFactory, PrescriberFactory
from shipping.models import Shipment, ShippingDocument
from shipping.services.documents import current_document
from shipping.services.shipments import ensure_shipments_for_ready_orders

pytestmark = [pytest.mark.pgbouncer, pytest.mark.worker]


def server_connections_of_next_transactions(count: int = 4) -> list[int]:
    """The PostgreSQL backend (server connection) that ran each of ``count`` consecutive
    transactions of this test's connection."""
    pids = []
    with connection.cursor() as cursor:
        for _ in range(count):
            cursor.execute("SELECT pg_backend_pid()")
            pids.append(cursor.fetchone()[0])
    return pids


@pytest.fixture
def through_pgbouncer(pgbouncer, transactional_db):
    """This test's database connection goes through ``pgbouncer``, set as the settings set
    it for ``DATABASE_URL`` there and ``DATABASE_TRANSACTION_POOLING=true``, with two
    server connections open in the pool; the direct connection is back afterwards."""
    settings_dict = connection.settings_dict
    saved = copy.deepcopy(settings_dict)
    pooled = parse_database_url("DATABASE_URL", pgbouncer.database_url(settings_dict["NAME"]))
    connection.close()
    settings_dict.update(
        HOST=pooled["HOST"],
        PORT=pooled["PORT"],
        OPTIONS={**settings_dict["OPTIONS"], **pooled["OPTIONS"]},
        DISABLE_SERVER_SIDE_CURSORS=True,
    )
    try:
        # Two transactions open at once make PgBouncer open a second server connection.
        clients = [psycopg2.connect(**connection.get_connection_params()) for _ in range(2)]
        for client in clients:
            client.cursor().execute("SELECT 1")
        for client in clients:
            # Ended first: PgBouncer closes a server connection left inside a transaction.
            client.rollback()
            client.close()
        yield pgbouncer
    finally:
        connection.close()
        settings_dict.clear()
        settings_dict.update(saved)


@pytest.fixture
def pharmacy_for_the_sample_newrx(through_pgbouncer):
    """The patient (with a shipping address), prescriber and stocked drug the sample NewRx
    names, written through PgBouncer."""
    patient = PatientFactory(
        first_name="Ana",
        middle_name="Maria",
        last_name="Rivera",
        date_of_birth="1961-04-12",
        no_known_allergies=True,
        email="ana.rivera@example.org",
    )
    PatientAddressFactory(patient=patient)
    PrescriberFactory(npi=VALID_NPI, dea_number=VALID_DEA, first_name="Chidi", last_name="Okafor")
    product = ProductFactory(
        product_ndc="0071-0155",
        proprietary_name="Lipitor",
        nonproprietary_name="atorvastatin calcium",
        dosage_form="TABLET",
    )
    ProductIngredientFactory(
        product=product, ingredient__name="Atorvastatin", strength="20", strength_unit="mg/1"
    )
    package = PackageFactory(
        product=product, package_ndc="0071-0155-23", description="90 TABLET in 1 BOTTLE"
    )
    return StockLotFactory(package=package, quantity_on_hand=300)


def wait_for(what: str, find, timeout: float = 90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = find()
        if found is not None:
            return found
        time.sleep(0.2)
    pytest.fail(f"no {what} after {timeout} s; see test-artifacts/celery-worker.log")


def test_newrx_to_packed_package_through_pgbouncer_in_transaction_pooling(
    through_pgbouncer,
    pharmacy_for_the_sample_newrx,
    start_celery_worker,
    api_technician,
    api_pharmacist,
):
    lot = pharmacy_for_the_sample_newrx
    # Pooled by transaction, not pinned: this client's transactions take turns on both.
    backends = server_connections_of_next_transactions()
    assert backends[0] != backends[1]
    assert backends == backends[:2] * 2
    app.control.purge()
    start_celery_worker(
        DATABASE_URL=through_pgbouncer.database_url(connection.settings_dict["NAME"]),
        DATABASE_TRANSACTION_POOLING="true",
    )
    # Without interaction data the drug check raises its no-data alert; another test's
    # import must not have left its index in this process.
    invalidate_interaction_index()

    # Intake: an e-prescribing network sends the NewRx.
    intake = api_technician.post(
        "/api/v1/erx/ncpdp/",
        data=new_rx(message_id="PGB-1", written_date=timezone.localdate().isoformat()),
        content_type="application/xml",
    )
    assert intake.status_code == 201, intake.content
    [prescription] = api_technician.get("/api/v1/prescriptions/", {"message_id": "PGB-1"}).json()[
        "results"
    ]
    prescription = api_pharmacist.get(f"/api/v1/prescriptions/{prescription['id']}/").json()
    [fill_id] = prescription["fills"]
    assert [alert["type"] for alert in prescription["dur_alerts"]] == ["no_data"]

    # PV1: the pharmacist checks the drug by hand and approves.
    pv1 = api_pharmacist.post(
        f"/api/v1/fills/{fill_id}/pv1/",
        {
            "decision": "approve",
            "overrides": [
                {"alert": prescription["dur_alerts"][0]["id"], "reason_code": "checked_manually"}
            ],
        },
        format="json",
    )
    assert (pv1.status_code, pv1.json()["status"]) == (200, "fill"), pv1.content

    # Fill: the technician scans the stock bottle and counts.
    filled = api_technician.post(
        f"/api/v1/fills/{fill_id}/fill/",
        {"scan": datamatrix(lot.package, lot=lot.lot_number, serial="SN-PGB"), "quantity": "90"},
        format="json",
    )
    assert filled.status_code == 200, filled.content
    assert (filled.json()["status"], filled.json()["lot"]) == ("pv2", lot.lot_number)
    label_code = filled.json()["label_code"]

    # PV2: the pharmacist scans the vial's label and approves the product.
    pv2 = api_pharmacist.post(
        f"/api/v1/fills/{fill_id}/pv2/",
        {"decision": "approve", "entry": "scanned", "scan": label_code},
        format="json",
    )
    assert (pv2.status_code, pv2.json()["status"]) == (200, "ready_to_pack"), pv2.content

    # The order's shipment, as the PV2 hook and beat's catch-up make it.
    ensure_shipments_for_ready_orders()
    order_id = Fill.objects.get(pk=fill_id).order_id
    [shipment] = api_technician.get("/api/v1/shipments/", {"order": order_id}).json()["results"]
    assert shipment["status"] == "awaiting_packing"

    # Pack: every vial scanned in, weighed; the carrier label is queued.
    packed = api_technician.post(
        f"/api/v1/shipments/{shipment['id']}/pack/",
        {"entry": "scanned", "scans": [label_code], "weight_oz": "6.5"},
        format="json",
    )
    assert packed.status_code == 200, packed.content
    assert packed.json()["status"] == "packed"

    # The worker, through PgBouncer too, bought the label and made the vial's label and
    # the package's papers.
    fill = Fill.objects.get(pk=fill_id)
    shipment = Shipment.objects.get(pk=shipment["id"])
    labelled = wait_for(
        "carrier label bought",
        lambda: Shipment.objects.filter(pk=shipment.pk, status=Shipment.Status.LABELLED).first(),
    )
    assert labelled.tracking_number.startswith("LCL")
    rx_label = wait_for("Rx label", lambda: current_rx_label(fill))
    shipping_label = wait_for(
        "shipping label", lambda: current_document(shipment, ShippingDocument.Kind.LABEL)
    )
    slip = wait_for(
        "packing slip", lambda: current_document(shipment, ShippingDocument.Kind.PACKING_SLIP)
    )
    assert [bytes(document.pdf[:5]) for document in (rx_label, shipping_label, slip)] == [
        b"%PDF-"
    ] * 3
    assert fill.status == Fill.Status.PACKED


def test_iterator_reads_every_chunk_through_pgbouncer(through_pgbouncer):
    # A server-side cursor outside a transaction (WITH HOLD) lives on one server
    # connection and the next chunk's FETCH goes to another: "cursor does not exist".
    # DATABASE_TRANSACTION_POOLING turns them off, so .iterator() reads chunks client-side.
    made = [IngredientFactory(name=f"Ingredient {number}").pk for number in range(5)]

    read = [ingredient.pk for ingredient in Ingredient.objects.order_by("pk").iterator(2)]

    assert read == made
