"""The recall trace names the fill, prescription and patient of every dispensing of a lot."""

import pytest

from inventory.models import StockLot
from orders.models import Fill
from orders.tests.factories import fill_at
from pharmacy.models import AuditEvent

pytestmark = pytest.mark.django_db

TRACE = "/api/v1/inventory/recalls/trace/"


def test_the_trace_names_each_fill_and_patient_that_received_the_lot(api_pharmacist, pharmacist):
    fill = fill_at(Fill.Status.PV2)
    lot = StockLot.objects.get(pk=fill.stock_lot_id)
    patient = fill.prescription.patient
    audit_rows = AuditEvent.objects.count()

    response = api_pharmacist.get(TRACE, {"ndc": lot.package.package_ndc, "lot": lot.lot_number})

    assert response.status_code == 200
    (row,) = response.json()["dispensings"]
    assert {key: row[key] for key in (
        "reference", "fill", "fill_status", "rx_number", "order", "patient", "patient_name",
        "shipment", "quantity",
    )} == {
        "reference": f"fill:{fill.pk}",
        "fill": fill.pk,
        "fill_status": "pv2",
        "rx_number": fill.prescription.rx_number,
        "order": fill.order_id,
        "patient": patient.pk,
        "patient_name": f"{patient.last_name}, {patient.first_name}",
        "shipment": None,
        "quantity": f"{fill.quantity.normalize():f}",
    }  # fmt: skip
    audit = AuditEvent.objects.order_by("pk").last()
    assert AuditEvent.objects.count() == audit_rows + 1
    assert (audit.actor, audit.action, audit.patient_ids) == (
        pharmacist,
        AuditEvent.Action.SEARCH,
        [patient.pk],
    )


def test_a_technician_cannot_trace_a_lot(api_technician):
    response = api_technician.get(TRACE, {"ndc": "0002-3227-30", "lot": "A123"})

    assert response.status_code == 403
