"""Every status a fill passes through is on record: each move writes its FillEvent (from,
to, who, why) in the same transaction, whichever service makes it, so a fill's events
read as one unbroken chain from its creation to its status now."""

from decimal import Decimal

import pytest
from django.utils import timezone

from inventory.models import StockLot
from inventory.tests.factories import StockLotFactory
from orders.models import DurAlert, Fill, FillHold, HoldReason, Order, OverrideReason, Prescription
from orders.services.intake import create_fill
from orders.services.workflow import (
    Override,
    approve_pv1,
    approve_pv2,
    fill_with_scan,
    hold_fill,
    reject_pv1,
    reject_pv2,
    release_fill,
    transition_fill,
)
from orders.tests.erx_samples import cancel_rx, new_rx
from orders.tests.factories import (
    another_staff,
    datamatrix,
    fill_at,
    stocked_package,
    stocked_prescription,
)
from pharmacy.models import Role

pytestmark = pytest.mark.django_db

S = Fill.Status


def history(fill: Fill) -> list[str]:
    """The statuses the fill's events record, after checking they form one unbroken chain
    that starts at its creation and ends at the status the fill has now."""
    fill.refresh_from_db()
    moves = list(fill.events.order_by("occurred_at", "pk").values_list("from_status", "to_status"))
    assert moves, "a fill without a creation event"
    assert moves[0][0] == "", "the first event is not the fill's creation"
    for (_, reached), (left, _) in zip(moves, moves[1:], strict=False):
        assert left == reached, f"a move from {left} follows one that reached {reached}"
    assert moves[-1][1] == fill.status
    return [reached for _, reached in moves]


def override_every_alert(fill: Fill) -> list[Override]:
    return [
        Override(
            alert.pk,
            OverrideReason.CHECKED_MANUALLY
            if alert.type == DurAlert.Type.NO_DATA
            else OverrideReason.NOT_CLINICALLY_SIGNIFICANT,
        )
        for alert in DurAlert.objects.for_fill(fill)
    ]


@pytest.fixture
def shelf(db):
    """Lipitor bottles of 30, lot L-1 of 300 units, and a prescription of 30 tablets of
    that package."""
    package = stocked_package(units=0)
    StockLotFactory(package=package, lot_number="L-1", quantity_on_hand=300)
    prescription = stocked_prescription(product=package.product, prescribed_ndc=package.ndc11)
    return package, prescription


def test_a_fill_from_intake_to_shipped_records_every_status(shelf, technician, pharmacist):
    package, prescription = shelf
    checker = another_staff(Role.PHARMACIST)
    bottle = datamatrix(package, lot="L-1")
    fill = fill_at(S.INTAKE, prescription=prescription)

    transition_fill(fill, to=S.PV1, by=technician)
    hold_fill(fill, by=pharmacist, reason_code=HoldReason.CLARIFICATION, note="Which strength?")
    release_fill(fill, by=pharmacist, note="10 mg confirmed")
    reject_pv1(fill, by=pharmacist, reason="Directions typed wrong")
    transition_fill(fill, to=S.PV1, by=technician)
    approve_pv1(fill, by=pharmacist, overrides=override_every_alert(fill))
    hold_fill(fill, by=technician, reason_code=HoldReason.INSURANCE)
    release_fill(fill, by=technician)
    fill_with_scan(fill, by=technician, scan=bottle, quantity=Decimal(30))
    reject_pv2(fill, by=pharmacist, reason="Counted 29")
    fill_with_scan(fill, by=technician, scan=bottle, quantity=Decimal(30))
    approve_pv2(fill, by=checker, scan=Fill.objects.get(pk=fill.pk).label_code, entry="scanned")
    transition_fill(fill, to=S.PACKED, by=technician)
    transition_fill(fill, to=S.SHIPPED, by=technician)

    assert history(fill) == [
        S.INTAKE, S.PV1, S.ON_HOLD, S.PV1, S.INTAKE, S.PV1, S.FILL, S.ON_HOLD, S.FILL,
        S.PV2, S.FILL, S.PV2, S.READY_TO_PACK, S.PACKED, S.SHIPPED,
    ]  # fmt: skip
    actors = list(fill.events.order_by("pk").values_list("actor__username", flat=True))
    assert actors[1:] == [
        technician.username, pharmacist.username, pharmacist.username, pharmacist.username,
        technician.username, pharmacist.username, technician.username, technician.username,
        technician.username, pharmacist.username, technician.username, checker.username,
        technician.username, technician.username,
    ]  # fmt: skip


def test_a_partial_fill_and_its_remainder_each_record_every_status(shelf, technician, pharmacist):
    package, prescription = shelf
    StockLot.objects.filter(package=package).update(status="quarantined")
    StockLotFactory(package=package, lot_number="L-SHORT", quantity_on_hand=20)
    fill = fill_at(S.FILL, prescription=prescription)

    fill_with_scan(
        fill,
        by=technician,
        scan=datamatrix(package, lot="L-SHORT"),
        quantity=Decimal(20),
        partial=True,
    )
    remainder = Fill.objects.get(partial_of=fill)
    release_fill(remainder, by=technician, note="Stock arrived")
    hold_fill(remainder, by=technician, reason_code=HoldReason.PATIENT_REQUEST)
    transition_fill(remainder, to=S.CANCELLED, by=pharmacist, reason="Patient declined")

    assert history(fill) == [S.FILL, S.PV2]
    assert history(remainder) == [S.ON_HOLD, S.FILL, S.ON_HOLD, S.CANCELLED]
    assert list(remainder.holds.order_by("pk").values_list("reason_code", "release_note")) == [
        (HoldReason.OUT_OF_STOCK, "Stock arrived"),
        (HoldReason.PATIENT_REQUEST, "Cancelled: Patient declined"),
    ]
    assert not FillHold.objects.filter(fill=remainder, released_at__isnull=True).exists()


def test_a_fill_made_on_hold_starts_with_its_event_and_its_open_hold(technician):
    prescription = stocked_prescription()
    order = Order.objects.create(patient=prescription.patient)

    fill = create_fill(
        prescription,
        by=technician,
        order=order,
        status=S.ON_HOLD,
        held_from_status=S.FILL,
        reason_code=HoldReason.OUT_OF_STOCK,
        reason="Nothing on the shelf",
        requested_via="refill_request",
        quantity=Decimal(30),
        days_supply=30,
        fill_number=1,
    )

    assert history(fill) == [S.ON_HOLD]
    event = fill.events.get()
    assert (event.reason_code, event.reason, event.actor) == (
        HoldReason.OUT_OF_STOCK,
        "Nothing on the shelf",
        technician,
    )
    hold = fill.holds.get()
    assert (hold.reason_code, hold.from_status, hold.note, hold.placed_by, hold.released_at) == (
        HoldReason.OUT_OF_STOCK,
        S.FILL,
        "Nothing on the shelf",
        technician,
        None,
    )
    assert (fill.order, fill.fill_number, fill.held_from_status) == (order, 1, S.FILL)


def test_a_fill_made_on_hold_needs_the_step_and_the_reason(technician):
    prescription = stocked_prescription()
    fills_before = Fill.objects.count()

    with pytest.raises(ValueError, match="needs the step it is held at"):
        create_fill(
            prescription,
            by=technician,
            order=None,
            status=S.ON_HOLD,
            reason="Held",
            requested_via="refill_request",
            quantity=Decimal(30),
            days_supply=30,
        )

    assert Fill.objects.count() == fills_before


# --------------------------------------------------------------------------- CancelRx


def receive_new_rx(api_client) -> Prescription:
    response = api_client.post(
        "/api/v1/erx/ncpdp/",
        data=new_rx(written_date=timezone.localdate().isoformat()),
        content_type="application/xml",
    )
    assert response.status_code == 201, response.content
    return Prescription.objects.get(message_id="NEWRX-20240301-0001")


def send_cancel_rx(api_client):
    response = api_client.post(
        "/api/v1/erx/ncpdp/", data=cancel_rx(), content_type="application/xml"
    )
    assert response.status_code == 200, response.content
    return response.content.decode()


def test_a_prescribers_cancel_rx_closes_the_hold_of_a_held_fill_and_records_the_move(
    api_technician, technician, pharmacist, atorvastatin, prescriber, ana
):
    prescription = receive_new_rx(api_technician)
    fill = prescription.fills.get()
    hold_fill(fill, by=pharmacist, reason_code=HoldReason.CLARIFICATION, note="Call the office")

    answer = send_cancel_rx(api_technician)

    assert "<Approved" in answer
    prescription.refresh_from_db()
    assert prescription.status == Prescription.Status.CANCELLED
    assert history(fill) == [S.PV1, S.ON_HOLD, S.CANCELLED]
    cancelled = fill.events.latest("pk")
    assert cancelled.actor == technician  # the e-prescribing network's account
    assert cancelled.reason.startswith("CancelRx from prescriber: Therapy changed")
    hold = fill.holds.get()
    assert hold.released_at is not None
    assert hold.release_note.startswith("Cancelled: CancelRx from prescriber: Therapy changed")
    assert hold.released_by == technician
    assert fill.held_from_status == ""


def test_a_cancel_rx_for_a_fill_held_after_the_fill_step_is_denied(
    api_technician, pharmacist, atorvastatin, prescriber, ana
):
    prescription = receive_new_rx(api_technician)
    Fill.objects.filter(prescription=prescription).update(status=S.ON_HOLD, held_from_status=S.PV2)
    events_before = list(prescription.fills.get().events.values_list("pk", flat=True))

    answer = send_cancel_rx(api_technician)

    assert "The prescription was already filled; contact the pharmacy." in answer
    prescription.refresh_from_db()
    fill = prescription.fills.get()
    assert (prescription.status, fill.status) == (Prescription.Status.ACTIVE, S.ON_HOLD)
    assert list(fill.events.values_list("pk", flat=True)) == events_before
