"""Vial label codes at packing come from the scanner (issue 13): codes typed on a keyboard
are refused from a technician, and from a pharmacist without a reason; a pharmacist's
reason is kept on the shipment and its packed event. Through the service, the API and the
packing station."""

from decimal import Decimal

import pytest

from orders.tests.factories import another_staff
from pharmacy.models import Role
from shipping.models import Shipment
from shipping.services.shipments import ShippingError, pack_shipment
from shipping.tests.factories import ready_order
from shipping.tests.test_packing import MONDAY, codes, shipment_of, snapshot

pytestmark = pytest.mark.django_db


def pack(shipment, by, **extra):
    return pack_shipment(
        shipment,
        by=by,
        scans=codes(shipment.order),
        weight_oz=Decimal("9"),
        today=MONDAY,
        **extra,
    )


@pytest.mark.parametrize("extra", [{"entry": "typed"}, {}], ids=["typed", "not said"])
def test_typed_codes_from_a_technician_are_refused_and_nothing_changes(extra):
    shipment = shipment_of(ready_order(fills=2))
    before = snapshot(shipment)

    with pytest.raises(ShippingError) as refused:
        pack(shipment, another_staff(Role.TECHNICIAN), typed_reason="in a hurry", **extra)

    assert (refused.value.code, refused.value.status) == ("typed_code", 403)
    assert "typed, not scanned: scan the barcode on each vial's label" in refused.value.detail
    assert snapshot(shipment) == before


def test_typed_codes_from_a_pharmacist_need_a_reason():
    shipment = shipment_of(ready_order())
    before = snapshot(shipment)

    with pytest.raises(ShippingError) as refused:
        pack(shipment, another_staff(Role.PHARMACIST), entry="typed", typed_reason="  ")

    assert (refused.value.code, refused.value.status) == ("typed_code", 409)
    assert snapshot(shipment) == before


def test_a_pharmacists_reason_for_typed_codes_is_kept():
    shipment = shipment_of(ready_order())
    pharmacist = another_staff(Role.PHARMACIST)

    pack(shipment, pharmacist, entry="typed", typed_reason="Label torn; checked Rx by hand")

    shipment.refresh_from_db()
    assert (shipment.status, shipment.typed_codes_reason) == (
        Shipment.Status.PACKED,
        "Label torn; checked Rx by hand",
    )
    event = shipment.events.latest("pk")
    assert event.detail.endswith("; vial codes typed by hand: Label torn; checked Rx by hand")


def test_scanned_codes_keep_no_reason():
    shipment = shipment_of(ready_order())

    pack(shipment, another_staff(Role.TECHNICIAN), entry="scanned", typed_reason="ignored")

    shipment.refresh_from_db()
    assert (shipment.status, shipment.typed_codes_reason) == (Shipment.Status.PACKED, "")


def test_an_unknown_entry_is_refused():
    shipment = shipment_of(ready_order())
    before = snapshot(shipment)

    with pytest.raises(ShippingError) as refused:
        pack(shipment, another_staff(Role.TECHNICIAN), entry="magic")

    assert (refused.value.code, refused.value.status) == ("invalid_entry", 400)
    assert snapshot(shipment) == before


def test_the_api_refuses_typed_codes_from_a_technician(api_technician, technician):
    shipment = shipment_of(ready_order())
    before = snapshot(shipment)

    response = api_technician.post(
        f"/api/v1/shipments/{shipment.pk}/pack/",
        {"scans": codes(shipment.order), "weight_oz": "9", "entry": "typed"},
        format="json",
    )

    assert response.status_code == 403
    assert response.json()["error"] == "typed_code"
    assert snapshot(shipment) == before


def test_the_packing_station_refuses_codes_it_did_not_see_scanned(client_technician):
    shipment = shipment_of(ready_order())
    before = snapshot(shipment)

    # No entry posted (no script, or a script that did not see a scanner): typed.
    response = client_technician.post(
        f"/shipping/{shipment.pk}/pack/", {"scans": codes(shipment.order), "weight_oz": "9"}
    )

    assert response.status_code == 403
    html = response.content.decode()
    assert "data-scan-refused><strong>Stop.</strong> The vial codes were typed" in html
    assert snapshot(shipment) == before


def test_the_packing_station_prints_no_vial_code(client_technician):
    order = ready_order(fills=2)
    shipment = shipment_of(order)

    html = client_technician.get(f"/shipping/{shipment.pk}/pack/").content.decode()

    # Matched by the page's script (an attribute), never shown as text to copy.
    for code in codes(order):
        assert html.count(code) == 1
        assert f'data-label-code="{code}"' in html
    assert "Label code" not in html
