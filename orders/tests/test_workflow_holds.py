"""Holds with a coded reason and their release to where the fill was; discrepancies with
their resolution; an order's status following from its fills."""

import pytest

from inventory.models import StockMovement
from inventory.services.stock import return_to_stock
from orders.models import Discrepancy, Fill, FillHold, Order, order_status
from orders.services.workflow import (
    WorkflowError,
    hold_fill,
    record_discrepancy,
    release_fill,
    resolve_discrepancy,
)
from orders.tests.factories import OrderFactory, another_staff, fill_at, stocked_prescription
from pharmacy.models import Role

pytestmark = pytest.mark.django_db

S = Fill.Status


def state(fill: Fill) -> tuple:
    fill.refresh_from_db()
    return (fill.status, fill.held_from_status, fill.events.count(), FillHold.objects.count())


@pytest.mark.parametrize("status", [S.INTAKE, S.PV1, S.FILL])
def test_a_hold_remembers_the_step_and_a_release_returns_there(technician, pharmacist, status):
    fill = fill_at(status)

    hold = hold_fill(
        fill, by=technician, reason_code="clarification", note="Strength unclear on the fax"
    )

    fill.refresh_from_db()
    assert (fill.status, fill.held_from_status) == (S.ON_HOLD, status)
    assert (hold.fill, hold.reason_code, hold.note, hold.from_status, hold.placed_by) == (
        fill,
        "clarification",
        "Strength unclear on the fax",
        status,
        technician,
    )
    event = fill.events.latest("pk")
    assert (event.from_status, event.to_status, event.reason_code, event.reason) == (
        status,
        S.ON_HOLD,
        "clarification",
        "On hold: Clarification needed from the prescriber: Strength unclear on the fax",
    )

    # A clarification is a pharmacist's to release (issue 13).
    released = release_fill(fill, by=pharmacist, note="Dr Chen confirmed 10 mg")

    fill.refresh_from_db()
    hold.refresh_from_db()
    assert released.status == fill.status == status
    assert fill.held_from_status == ""
    assert (hold.released_by, hold.release_note) == (pharmacist, "Dr Chen confirmed 10 mg")
    assert hold.released_at is not None
    event = fill.events.latest("pk")
    assert (event.from_status, event.to_status, event.reason_code, event.reason) == (
        S.ON_HOLD,
        status,
        "clarification",
        "Released from hold: Dr Chen confirmed 10 mg",
    )


def test_a_pharmacist_holds_and_releases_a_filled_product(pharmacist):
    fill = fill_at(S.PV2)

    hold_fill(fill, by=pharmacist, reason_code="damaged_stock")
    release_fill(fill, by=pharmacist)

    fill.refresh_from_db()
    assert fill.status == S.PV2
    assert fill.dispensed_quantity == 30
    assert StockMovement.objects.filter(kind="return").count() == 0


def test_a_technician_cannot_hold_or_release_a_fill_at_pv2(technician):
    at_pv2 = fill_at(S.PV2)
    held_at_pv2 = fill_at(S.ON_HOLD, held_from=S.PV2)
    before = state(at_pv2), state(held_at_pv2)

    with pytest.raises(WorkflowError) as on_hold:
        hold_fill(at_pv2, by=technician, reason_code="insurance")
    with pytest.raises(WorkflowError) as released:
        release_fill(held_at_pv2, by=technician)

    assert on_hold.value.code == released.value.code == "role_not_allowed"
    assert (state(at_pv2), state(held_at_pv2)) == before


@pytest.mark.parametrize(
    ("status", "reason_code", "code", "http"),
    [
        (S.FILL, "felt_like_it", "invalid_reason_code", 400),
        (S.ON_HOLD, "insurance", "already_on_hold", 409),
        (S.SHIPPED, "insurance", "move_not_allowed", 409),
        (S.CANCELLED, "insurance", "move_not_allowed", 409),
    ],
)
def test_holds_refused(pharmacist, status, reason_code, code, http):
    fill = fill_at(status, held_from=S.FILL if status == S.ON_HOLD else "")
    before = state(fill)

    with pytest.raises(WorkflowError) as refused:
        hold_fill(fill, by=pharmacist, reason_code=reason_code)

    assert (refused.value.code, refused.value.status) == (code, http)
    assert state(fill) == before


def test_only_a_fill_on_hold_is_released(technician):
    fill = fill_at(S.FILL)
    before = state(fill)

    with pytest.raises(WorkflowError) as refused:
        release_fill(fill, by=technician)

    assert refused.value.code == "wrong_status"
    assert "is waiting to be filled, not on hold" in refused.value.detail
    assert state(fill) == before


def test_a_manager_neither_holds_nor_releases(manager):
    fill, held = fill_at(S.FILL), fill_at(S.ON_HOLD, held_from=S.FILL)

    for attempt in (
        lambda: hold_fill(fill, by=manager, reason_code="insurance"),
        lambda: release_fill(held, by=manager),
    ):
        with pytest.raises(WorkflowError) as refused:
            attempt()
        assert (refused.value.code, refused.value.status) == ("role_not_allowed", 403)


# --------------------------------------------------------------------------- discrepancies


def test_a_discrepancy_is_a_record_with_its_stock_movement_and_a_resolution(technician, pharmacist):
    fill = fill_at(S.PV2)
    damaged = return_to_stock(
        fill.stock_lot, quantity=1, by=technician, reference=f"fill:{fill.pk}",
        reason="Counted one tablet back into the bottle",
    )  # fmt: skip

    discrepancy = record_discrepancy(
        fill,
        by=technician,
        kind="wrong_count",
        description="31 counted, 30 prescribed",
        stock_movement=damaged,
    )

    assert (discrepancy.fill, discrepancy.kind, discrepancy.found_by) == (
        fill,
        "wrong_count",
        technician,
    )
    assert (discrepancy.stock_movement, discrepancy.is_open) == (damaged, True)

    resolved = resolve_discrepancy(
        discrepancy, by=pharmacist, resolution="Counting tray cleaned; recounted"
    )

    resolved.refresh_from_db()
    assert (resolved.resolution, resolved.resolved_by, resolved.is_open) == (
        "Counting tray cleaned; recounted",
        pharmacist,
        False,
    )
    with pytest.raises(WorkflowError) as again:
        resolve_discrepancy(discrepancy, by=another_staff(Role.PHARMACIST), resolution="Me too")
    assert again.value.code == "already_resolved"
    assert "resolved by Paul Pharm" in again.value.detail
    resolved.refresh_from_db()
    assert resolved.resolution == "Counting tray cleaned; recounted"


@pytest.mark.parametrize(
    ("role", "kind", "description", "code"),
    [
        (Role.TECHNICIAN, "gremlins", "Something", "invalid_discrepancy_kind"),
        (Role.TECHNICIAN, "damaged_stock", "  ", "description_required"),
        (Role.MANAGER, "damaged_stock", "Broken seal", "role_not_allowed"),
    ],
)
def test_bad_discrepancies_are_refused(role, kind, description, code):
    fill = fill_at(S.FILL)

    with pytest.raises(WorkflowError) as refused:
        record_discrepancy(fill, by=another_staff(role), kind=kind, description=description)

    assert refused.value.code == code
    assert not Discrepancy.objects.exists()


@pytest.mark.parametrize(
    ("role", "resolution", "code"),
    [(Role.TECHNICIAN, "Fixed", "role_not_allowed"), (Role.PHARMACIST, "", "resolution_required")],
)
def test_bad_resolutions_are_refused(technician, role, resolution, code):
    discrepancy = record_discrepancy(
        fill_at(S.FILL), by=technician, kind="damaged_stock", description="Cracked bottle"
    )

    with pytest.raises(WorkflowError) as refused:
        resolve_discrepancy(discrepancy, by=another_staff(role), resolution=resolution)

    assert refused.value.code == code
    discrepancy.refresh_from_db()
    assert discrepancy.is_open


def test_a_manager_may_resolve_a_discrepancy(technician, manager):
    discrepancy = record_discrepancy(
        fill_at(S.FILL), by=technician, kind="damaged_stock", description="Cracked bottle"
    )

    resolve_discrepancy(discrepancy, by=manager, resolution="Credit from the wholesaler")

    discrepancy.refresh_from_db()
    assert discrepancy.resolved_by == manager


# --------------------------------------------------------------------------- order status


@pytest.mark.parametrize(
    ("fills", "status"),
    [
        ([], "in_progress"),
        ([S.PV1], "in_progress"),
        ([S.PV2, S.READY_TO_PACK], "in_progress"),
        ([S.READY_TO_PACK, S.ON_HOLD], "on_hold"),
        ([S.FILL, S.ON_HOLD], "on_hold"),
        ([S.READY_TO_PACK, S.READY_TO_PACK], "ready_to_pack"),
        ([S.READY_TO_PACK, S.CANCELLED], "ready_to_pack"),
        ([S.PACKED, S.READY_TO_PACK], "ready_to_pack"),
        ([S.PACKED, S.PACKED], "packed"),
        ([S.SHIPPED, S.CANCELLED], "shipped"),
        ([S.CANCELLED, S.CANCELLED], "cancelled"),
    ],
)
def test_an_order_status_follows_from_its_fills(fills, status):
    assert order_status(fills) == status
    assert Order.Status(status)


def test_an_order_reads_its_status_from_its_fills():
    prescription = stocked_prescription()
    order = OrderFactory(patient=prescription.patient)
    fill_at(S.READY_TO_PACK, prescription=prescription, order=order)
    fill_at(
        S.ON_HOLD,
        held_from=S.FILL,
        prescription=stocked_prescription(patient=prescription.patient),
        order=order,
    )

    assert Order.objects.prefetch_related("fills").get(pk=order.pk).status == "on_hold"


@pytest.mark.parametrize("text", ["Call Dr \u202eAbe", "Strength unclear\x1b[2J", "Line one\u0085"])
def test_notes_and_descriptions_with_hidden_characters_are_refused_and_nothing_written(
    technician, pharmacist, text
):
    fill = fill_at(S.PV1)
    before = state(fill)

    with pytest.raises(WorkflowError) as refused:
        hold_fill(fill, by=pharmacist, reason_code="clarification", note=text)
    assert (refused.value.code, refused.value.status) == ("invalid_note", 400)
    with pytest.raises(WorkflowError) as refused:
        record_discrepancy(fill, by=technician, kind="wrong_count", description=text)
    assert refused.value.code == "invalid_description"

    assert state(fill) == before
    assert not Discrepancy.objects.exists()


def test_a_note_keeps_its_line_breaks(pharmacist):
    fill = fill_at(S.PV1)

    hold = hold_fill(fill, by=pharmacist, reason_code="clarification", note="Line one\nLine two")

    assert hold.note == "Line one\nLine two"
