"""The Django admin of the shipping app: everything read-only; shipments and delivery
exceptions show a patient's name and address, so viewing them is audited."""

import pytest

from pharmacy.models import AuditEvent
from shipping.models import ShippingRules
from shipping.tests.factories import ShipmentFactory

pytestmark = pytest.mark.django_db


def test_a_shipments_admin_page_is_audited_with_its_patient(admin_client, admin_user):
    shipment = ShipmentFactory()

    response = admin_client.get(f"/admin/shipping/shipment/{shipment.pk}/change/")

    assert response.status_code == 200
    assert 'name="_save"' not in response.content.decode()
    event = AuditEvent.objects.get()
    assert (event.actor, event.object_type, event.object_id, event.patient_id) == (
        admin_user,
        "shipping.Shipment",
        str(shipment.pk),
        shipment.order.patient_id,
    )


def test_the_packaging_rules_change_on_the_managers_page_not_in_the_admin(admin_client):
    rules = ShippingRules.objects.get(pk=1)
    before = rules.cold_packs_minimum

    response = admin_client.post(
        f"/admin/shipping/shippingrules/{rules.pk}/change/", {"cold_packs_minimum": 9}
    )

    assert response.status_code == 403
    rules.refresh_from_db()
    assert (rules.cold_packs_minimum, rules.updated_by) == (before, None)
