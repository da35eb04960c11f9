"""The packing station: the packing slip's scan opens the shipment, the page shows the
packaging instructions and every vial expected, closing checks every scan again through
the service (a vial of another order, a missing vial, an unknown code stop it with
nothing written), and after closing the label's state is polled until it prints."""

from decimal import Decimal

import pytest

from orders.models import Fill, FillEvent
from orders.services.workflow import approve_pv2
from orders.tests.factories import another_staff
from outbox.services import deliver_side_effect
from outbox.tests.delivery import side_effect
from pharmacy.models import AuditEvent, Role
from shipping.models import Shipment, ShipmentEvent, ShippingDocument
from shipping.services.shipments import ensure_shipments_for_ready_orders
from shipping.tests.factories import deliver_side_effects, ready_order, side_effects

pytestmark = pytest.mark.django_db


def shipment_of(order) -> Shipment:
    ensure_shipments_for_ready_orders()
    return Shipment.objects.get(order=order)


def codes(order) -> list[str]:
    return list(order.fills.order_by("pk").values_list("label_code", flat=True))


def station(shipment: Shipment) -> str:
    return f"/shipping/{shipment.pk}/pack/"


def snapshot(shipment: Shipment) -> tuple:
    """What a refused close must leave as it was."""
    shipment.refresh_from_db()
    return (
        shipment.status,
        shipment.weight_oz,
        shipment.tracking_number,
        ShipmentEvent.objects.filter(shipment=shipment).count(),
        sorted(Fill.objects.filter(order=shipment.order).values_list("status", flat=True)),
        FillEvent.objects.count(),
    )


# --------------------------------------------------------------------------- the first scan


def test_the_packing_slip_scan_opens_its_shipment(client_technician):
    shipment = shipment_of(ready_order())

    page = client_technician.get("/shipping/pack/")
    response = client_technician.post(
        "/shipping/pack/", {"code": f"  {shipment.package_code.lower()}\r\n"}
    )

    assert page.status_code == 200
    assert 'id="id_code" data-scan data-keep-focus' in page.content.decode()
    assert response.status_code == 302
    assert response["Location"] == station(shipment)


def test_the_order_number_typed_from_the_slip_opens_its_shipment(client_technician):
    shipment = shipment_of(ready_order())

    response = client_technician.post("/shipping/pack/", {"code": str(shipment.order_id)})

    assert response["Location"] == station(shipment)


def test_an_order_that_just_passed_pv2_opens_without_waiting_for_the_beat(
    client_technician, django_capture_on_commit_callbacks
):
    order = ready_order(status=Fill.Status.PV2)
    (last,) = order.fills.all()
    assert not Shipment.objects.exists()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        approve_pv2(last, by=another_staff(Role.PHARMACIST), scan=last.label_code, entry="scanned")
    assert len(callbacks) == 1
    deliver_side_effect(side_effect("shipping.create_shipment", order.pk).pk)  # the worker

    response = client_technician.post("/shipping/pack/", {"code": str(order.pk)})

    shipment = Shipment.objects.get(order=order)
    assert response["Location"] == station(shipment)


@pytest.mark.parametrize("code", ["PKG-0000000000", "999999", "hello", ""])
def test_an_unknown_slip_stops_with_a_plain_message_and_a_fresh_field(client_technician, code):
    shipment_of(ready_order())

    response = client_technician.post("/shipping/pack/", {"code": code})

    assert response.status_code == 404
    html = response.content.decode()
    assert 'data-testid="work-error"' in html
    if code:
        assert f"No package or order has the code “{code.upper()}”." in html
    else:
        assert "Scan the packing slip (or type its order number)." in html
    assert 'name="code" id="id_code" data-scan data-keep-focus autocomplete="off" maxlength' in html
    assert 'value="' not in html.split('id="id_code"')[1].split(">")[0]


# --------------------------------------------------------------------------- the station


def test_the_station_shows_the_instructions_and_every_vial_expected(client_technician, technician):
    order = ready_order(fills=2, controlled=True)
    shipment = shipment_of(order)
    fills = list(order.fills.select_related("prescription").order_by("pk"))

    response = client_technician.get(station(shipment))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Plain outer box (controlled substance)" in html
    for line in shipment.instructions:
        assert f"<li>{line}</li>" in html.replace("&#x27;", "'")
    assert "Signature required on delivery." in html
    for fill in fills:
        assert (
            f'data-label-code="{fill.label_code}" data-rx="{fill.prescription.rx_number}"' in html
        )
        assert fill.prescription.product.full_description in html
    assert "<strong data-scanned-count>0</strong> of 2 vials scanned." in html
    assert 'id="vial-scan" data-scan data-keep-focus' in html
    assert "js/packing_station.js" in html
    event = AuditEvent.objects.get(object_type="shipping.Shipment")
    assert (event.actor, event.action, event.patient, event.object_id) == (
        technician,
        AuditEvent.Action.VIEW,
        order.patient,
        str(shipment.pk),
    )
    assert event.summary == f"Packing station of {shipment.package_code}"


def test_a_cold_chain_package_shows_the_insulated_box_and_its_cold_packs(client_technician):
    shipment = shipment_of(ready_order(cold_chain=True))

    html = client_technician.get(station(shipment)).content.decode()

    assert shipment.is_cold_chain
    assert shipment.cold_packs >= 2
    assert "Insulated box with cold packs" in html
    assert f"<strong>{shipment.cold_packs} cold packs</strong>" in html
    assert 'class="panel packing-instructions cold"' in html


def test_a_manager_does_not_pack(client_manager):
    shipment = shipment_of(ready_order())

    assert client_manager.get(station(shipment)).status_code == 403
    assert (
        client_manager.post("/shipping/pack/", {"code": shipment.package_code}).status_code == 403
    )


# --------------------------------------------------------------------------- closing


def test_closing_with_every_vial_scanned_packs_it_and_queues_the_carrier_label(
    client_technician, technician
):
    order = ready_order(fills=2)
    shipment = shipment_of(order)

    response = client_technician.post(
        station(shipment),
        {"entry": "scanned", "scans": [code.lower() for code in codes(order)], "weight_oz": "12.5"},
    )

    assert response.status_code == 302
    assert response["Location"] == station(shipment)
    shipment.refresh_from_db()
    assert (shipment.status, shipment.weight_oz, shipment.packed_by) == (
        Shipment.Status.PACKED,
        Decimal("12.5"),
        technician,
    )
    assert shipment.tracking_number == ""  # bought by the worker
    assert len(side_effects("shipping.buy_label", target_id=shipment.pk)) == 1
    assert set(order.fills.values_list("status", flat=True)) == {Fill.Status.PACKED}
    page = client_technician.get(response["Location"])
    html = page.content.decode()
    assert f"{shipment.package_code} closed (12.5 oz)." in html
    assert 'id="vial-scan"' not in html
    # The label is the worker's: until it is there, the page polls for it.
    assert f'hx-get="/shipping/{shipment.pk}/label-status/"' in html
    assert "Waiting for the carrier's label" in html
    assert 'data-testid="label-problem"' not in html
    assert 'data-testid="next-slip"' in html


def test_a_vial_of_another_order_stops_the_close_and_nothing_changes(client_technician):
    order = ready_order(fills=2)
    other = ready_order()
    shipment = shipment_of(order)
    before = snapshot(shipment)
    stray = other.fills.get()

    response = client_technician.post(
        station(shipment),
        {"entry": "scanned", "scans": [*codes(order), stray.label_code], "weight_oz": "9"},
    )

    assert response.status_code == 409
    html = response.content.decode()
    assert "<strong>Stop.</strong>" in html
    assert (
        f"This vial is fill {stray.pk} (Rx {stray.prescription.rx_number}) of order {other.pk}, "
        f"not of this package (order {order.pk}): take it out." in html
    )
    assert snapshot(shipment) == before
    # What was scanned of this order stays ticked: the packer takes the stray vial out
    # and closes again without scanning everything again.
    for code in codes(order):
        assert f'<input type="hidden" name="scans" value="{code}">' in html
    assert stray.label_code not in html


def test_a_missing_vial_stops_the_close(client_technician):
    order = ready_order(fills=2)
    shipment = shipment_of(order)
    first, second = order.fills.select_related("prescription").order_by("pk")
    before = snapshot(shipment)

    response = client_technician.post(
        station(shipment), {"entry": "scanned", "scans": [first.label_code], "weight_oz": "9"}
    )

    assert response.status_code == 409
    assert (
        f"1 vial not scanned yet: fill {second.pk} (Rx {second.prescription.rx_number}). "
        "The package cannot be closed until every vial is scanned."
    ) in response.content.decode()
    assert snapshot(shipment) == before


def test_an_unknown_code_stops_the_close(client_technician):
    order = ready_order()
    shipment = shipment_of(order)
    before = snapshot(shipment)

    response = client_technician.post(
        station(shipment),
        {"entry": "scanned", "scans": [*codes(order), "00312345678906"], "weight_oz": "9"},
    )

    assert response.status_code == 400
    assert (
        "&#x27;00312345678906&#x27; is not the label of any vial: scan the barcode on the "
        "vial label." in response.content.decode()
    )
    assert snapshot(shipment) == before


@pytest.mark.parametrize(
    ("weight", "message"),
    [
        ("", "Weigh the closed package and enter its weight in ounces."),
        ("0", "The weight must be more than 0 oz."),
        ("heavy", "The weight is a number of ounces, such as 6 or 12.5."),
        ("12.25", "Weigh to a tenth of an ounce at most (12.5)."),
        ("5000", "A package over 1200 oz cannot be shipped as a parcel."),
    ],
)
def test_the_package_closes_only_with_a_weight(client_technician, weight, message):
    order = ready_order()
    shipment = shipment_of(order)
    before = snapshot(shipment)

    response = client_technician.post(
        station(shipment), {"entry": "scanned", "scans": codes(order), "weight_oz": weight}
    )

    assert response.status_code == 400
    html = response.content.decode()
    assert message in html
    assert snapshot(shipment) == before
    assert f'<input type="hidden" name="scans" value="{codes(order)[0]}">' in html


def test_nothing_scanned_is_refused(client_technician):
    shipment = shipment_of(ready_order())
    before = snapshot(shipment)

    response = client_technician.post(station(shipment), {"weight_oz": "9"})

    assert response.status_code == 400
    assert "Scan every vial before closing." in response.content.decode()
    assert snapshot(shipment) == before


def test_closing_a_package_already_closed_changes_nothing(client_technician):
    order = ready_order()
    shipment = shipment_of(order)
    client_technician.post(
        station(shipment), {"entry": "scanned", "scans": codes(order), "weight_oz": "9"}
    )
    before = snapshot(shipment)

    response = client_technician.post(
        station(shipment), {"entry": "scanned", "scans": codes(order), "weight_oz": "3"}
    )

    assert response.status_code == 302
    assert snapshot(shipment) == before


# --------------------------------------------------------------------------- the label


def test_the_label_status_polls_until_the_label_is_made_then_offers_it(client_technician):
    order = ready_order()
    shipment = shipment_of(order)
    client_technician.post(
        station(shipment), {"entry": "scanned", "scans": codes(order), "weight_oz": "9"}
    )
    url = f"/shipping/{shipment.pk}/label-status/"
    audit_rows = AuditEvent.objects.count()

    waiting = client_technician.get(url).content.decode()
    [purchase] = side_effects("shipping.buy_label")
    deliver_side_effect(purchase.pk)  # what the worker does after the commit: the label bought
    bought = client_technician.get(url).content.decode()
    deliver_side_effects()  # and then its PDF made
    ready = client_technician.get(url).content.decode()

    shipment.refresh_from_db()
    assert f'hx-get="{url}"' in waiting
    assert 'data-testid="label-state">Packed</span>' in waiting
    assert f'hx-get="{url}"' in bought
    assert 'data-testid="label-state">Labelled</span>' in bought
    assert "the label is being made" in bought
    assert f'hx-get="{url}"' not in ready
    assert 'data-testid="label-state">Labelled</span>' in ready
    assert shipment.tracking_number in ready
    assert f'href="/api/v1/shipments/{shipment.pk}/label.pdf"' in ready
    assert 'data-testid="print-label"' in ready
    assert AuditEvent.objects.count() == audit_rows  # no patient data in the poll


def test_the_station_says_why_the_carrier_has_not_sold_the_label(client_technician):
    order = ready_order()
    shipment = shipment_of(order)
    client_technician.post(
        station(shipment), {"entry": "scanned", "scans": codes(order), "weight_oz": "9"}
    )
    # The package went to a carrier this pharmacy has no account with.
    Shipment.objects.filter(pk=shipment.pk).update(carrier="easypost")
    [purchase] = side_effects("shipping.buy_label")
    deliver_side_effect(purchase.pk)

    html = client_technician.get(f"/shipping/{shipment.pk}/label-status/").content.decode()

    assert 'data-testid="label-state">Packed</span>' in html
    assert (
        '<p class="error" data-testid="label-problem">EasyPost is not configured on this '
        "pharmacy. Not tried again until someone asks for the label again.</p>"
    ) in html


def test_the_label_pdf_link_takes_the_browser_session(client_technician):
    order = ready_order()
    shipment = shipment_of(order)
    client_technician.post(
        station(shipment), {"entry": "scanned", "scans": codes(order), "weight_oz": "9"}
    )
    [purchase] = side_effects("shipping.buy_label")
    deliver_side_effect(purchase.pk)  # the label bought, its PDF not made yet

    labels = ShippingDocument.objects.filter(
        shipment=shipment, kind=ShippingDocument.Kind.LABEL, is_current=True
    )

    response = client_technician.get(f"/api/v1/shipments/{shipment.pk}/label.pdf")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    assert labels.count() == 0  # a read stores nothing: the worker does
    deliver_side_effects()
    stored = client_technician.get(f"/api/v1/shipments/{shipment.pk}/label.pdf")
    assert labels.count() == 1
    assert stored.content == response.content == bytes(labels.get().pdf)


def test_the_packing_slip_is_printed_before_packing_and_made_once(client_technician, technician):
    shipment = shipment_of(ready_order())

    first = client_technician.get(f"/shipping/{shipment.pk}/packing-slip.pdf")
    assert ShippingDocument.objects.filter(shipment=shipment).count() == 0  # a read stores none
    [recorded] = side_effects("shipping.documents")  # recorded when the shipment was made
    deliver_side_effect(recorded.pk)
    again = client_technician.get(f"/shipping/{shipment.pk}/packing-slip.pdf")

    assert first.status_code == 200
    assert first["Content-Type"] == "application/pdf"
    assert first.content.startswith(b"%PDF-")
    assert again.content == first.content
    assert ShippingDocument.objects.filter(shipment=shipment).count() == 1
    assert (
        AuditEvent.objects.filter(summary=f"Packing slip of {shipment.package_code}").count() == 2
    )
