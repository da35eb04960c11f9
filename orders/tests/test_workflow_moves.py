"""The fill state machine: every move of FILL_MOVES by every role, every move it does not
list, and the rules of ``transition_fill`` itself."""

import pytest
from django.db.models import Sum

from inventory.models import StockMovement
from inventory.ndc import upc_from_ndc
from orders.models import (
    FILL_MOVES,
    DurAlert,
    Fill,
    FillEvent,
    FillHold,
    HoldReason,
    Prescription,
)
from orders.services.workflow import (
    STEP_SERVICES,
    WorkflowError,
    approve_pv1,
    approve_pv2,
    fill_with_scan,
    hold_fill,
    reject_pv1,
    reject_pv2,
    release_fill,
    suggest_lot,
    transition_fill,
)
from orders.tests.factories import FillFactory, PrescriptionFactory, fill_at, stocked_prescription
from pharmacy.models import Role
from pharmacy.tests.factories import PatientFactory

pytestmark = pytest.mark.django_db

S = Fill.Status
ROLES = [Role.TECHNICIAN, Role.PHARMACIST, Role.MANAGER]
ALLOWED = [
    (from_status, to_status) for from_status, moves in FILL_MOVES.items() for to_status in moves
]
FORBIDDEN = [
    (from_status, to_status)
    for from_status in S.values
    for to_status in S.values
    if to_status not in FILL_MOVES[from_status]
]
USERS = {
    Role.TECHNICIAN: "technician",
    Role.PHARMACIST: "pharmacist",
    Role.MANAGER: "manager",
}


def make_move(fill: Fill, to: str, by) -> Fill:
    """Make an allowed move with the service that owns it, given valid input."""
    key = (fill.status, to)
    if to == S.ON_HOLD:
        return hold_fill(fill, by=by, reason_code="clarification", note="Call the office").fill
    if fill.status == S.ON_HOLD and to != S.CANCELLED:
        return release_fill(fill, by=by, note="Prescriber called back")
    if key == (S.PV1, S.FILL):
        return approve_pv1(fill, by=by, overrides=[])
    if key == (S.PV1, S.INTAKE):
        return reject_pv1(fill, by=by, reason="Directions typed wrong")
    if key == (S.FILL, S.PV2):
        package = fill.prescription.product.packages.get()
        return fill_with_scan(
            fill,
            by=by,
            scan=upc_from_ndc(package.package_ndc),
            quantity=fill.quantity,
            lot_number=suggest_lot(fill).lot_number,
        )
    if key == (S.PV2, S.READY_TO_PACK):
        return approve_pv2(fill, by=by, scan=fill.label_code, entry="scanned")
    if key == (S.PV2, S.FILL):
        return reject_pv2(fill, by=by, reason="Counted 29, not 30")
    return transition_fill(fill, to=to, by=by, reason="Moved in a test")


def fill_for_move(from_status: str, to_status: str) -> Fill:
    if from_status == S.ON_HOLD:
        # Held at the step the release returns to (cancelling: held at the fill step).
        held_from = to_status if to_status not in (S.CANCELLED, S.ON_HOLD) else S.FILL
        if held_from in (S.PACKED, S.SHIPPED):
            held_from = S.FILL
        # A hold any role FILL_MOVES names may release (a clarification needs a
        # pharmacist: test_workflow_holds).
        return fill_at(S.ON_HOLD, held_from=held_from, hold_reason=HoldReason.PATIENT_REQUEST)
    return fill_at(from_status)


def snapshot(fill: Fill) -> tuple:
    fill.refresh_from_db()
    return (
        fill.status,
        fill.held_from_status,
        fill.dispensed_quantity,
        fill.pv1_by_id,
        fill.pv2_by_id,
        fill.events.count(),
        FillHold.objects.filter(fill=fill).count(),
        StockMovement.objects.count(),
    )


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("from_status", "to_status"), ALLOWED)
def test_every_allowed_move_by_every_role(request, role, from_status, to_status):
    user = request.getfixturevalue(USERS[role])
    fill = fill_for_move(from_status, to_status)
    events = fill.events.count()

    if role in FILL_MOVES[from_status][to_status]:
        moved = make_move(fill, to_status, user)

        fill.refresh_from_db()
        assert moved.status == fill.status == to_status
        assert fill.events.count() == events + 1
        event = fill.events.latest("pk")
        assert (event.from_status, event.to_status, event.actor) == (
            from_status,
            to_status,
            user,
        )
        assert fill.claimed_by is None
    else:
        before = snapshot(fill)
        with pytest.raises(WorkflowError) as refused:
            make_move(fill, to_status, user)

        assert refused.value.code == "role_not_allowed"
        assert refused.value.status == 403
        assert snapshot(fill) == before


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("from_status", "to_status"), FORBIDDEN)
def test_every_move_not_listed_is_refused_for_every_role(request, role, from_status, to_status):
    user = request.getfixturevalue(USERS[role])
    fill = fill_for_move(from_status, S.FILL)
    before = snapshot(fill)

    with pytest.raises(WorkflowError) as refused:
        transition_fill(fill, to=to_status, by=user, reason="Moved in a test")

    assert refused.value.code == "move_not_allowed"
    assert refused.value.status == 409
    assert snapshot(fill) == before


def test_managers_make_no_move_at_all():
    assert all(
        Role.MANAGER not in roles for moves in FILL_MOVES.values() for roles in moves.values()
    )


@pytest.mark.parametrize(
    ("from_status", "to_status"),
    [*STEP_SERVICES, (S.PV1, S.ON_HOLD), (S.FILL, S.ON_HOLD), (S.ON_HOLD, S.FILL)],
)
def test_steps_with_checks_of_their_own_are_not_made_by_a_bare_transition(
    pharmacist, from_status, to_status
):
    fill = fill_for_move(from_status, to_status)
    before = snapshot(fill)

    with pytest.raises(WorkflowError) as refused:
        transition_fill(fill, to=to_status, by=pharmacist)

    assert refused.value.code == "step_required"
    assert snapshot(fill) == before


def test_an_unknown_status_is_bad_input(pharmacist):
    fill = fill_at(S.FILL)

    with pytest.raises(WorkflowError) as refused:
        transition_fill(fill, to="teleported", by=pharmacist)

    assert (refused.value.code, refused.value.status) == ("unknown_status", 400)


def test_a_stale_fill_object_is_read_again_before_moving(pharmacist):
    fill = fill_at(S.PV1)
    stale = Fill.objects.get(pk=fill.pk)
    approve_pv1(fill, by=pharmacist, overrides=[])

    with pytest.raises(WorkflowError) as refused:
        transition_fill(stale, to=S.INTAKE, by=pharmacist, reason="Typed wrong")

    assert refused.value.code == "move_not_allowed"
    assert "waiting to be filled" in refused.value.detail
    assert Fill.objects.get(pk=fill.pk).status == S.FILL


# --------------------------------------------------------------------------- cancelling


def test_cancelling_needs_a_reason(pharmacist):
    fill = fill_at(S.FILL)
    before = snapshot(fill)

    with pytest.raises(WorkflowError) as refused:
        transition_fill(fill, to=S.CANCELLED, by=pharmacist, reason="  ")

    assert (refused.value.code, refused.value.status) == ("reason_required", 400)
    assert snapshot(fill) == before


def test_cancelling_a_held_filled_fill_returns_its_units_and_closes_the_hold(pharmacist):
    fill = fill_at(S.ON_HOLD, held_from=S.PV2)
    lot = fill.stock_lot
    on_hand = lot.quantity_on_hand

    transition_fill(fill, to=S.CANCELLED, by=pharmacist, reason="Patient passed away")

    fill.refresh_from_db()
    lot.refresh_from_db()
    assert fill.status == S.CANCELLED
    assert (fill.stock_lot, fill.dispensed_quantity, fill.lot_number) == (None, None, "")
    assert lot.quantity_on_hand == on_hand + 30
    returned = StockMovement.objects.get(reference=f"fill:{fill.pk}", kind="return")
    assert (returned.quantity_change, returned.reason) == (
        30,
        "Fill cancelled: Patient passed away",
    )
    assert lot.movements.aggregate(total=Sum("quantity_change"))["total"] == lot.quantity_on_hand
    hold = fill.holds.get()
    assert hold.released_by == pharmacist
    assert hold.release_note == "Cancelled: Patient passed away"
    assert fill.held_from_status == ""


# --------------------------------------------------------------------------- intake to PV1


def test_a_fill_sent_back_to_pv1_gets_fresh_drug_checks(technician, pharmacist):
    patient = PatientFactory(no_known_allergies=True)
    fill = fill_at(S.PV1, prescription=stocked_prescription(patient=patient))
    old = DurAlert.objects.create(
        prescription=fill.prescription, fill=fill, type="dose", severity="moderate",
        message="Stale alert on the data as first typed",
    )  # fmt: skip
    reject_pv1(fill, by=pharmacist, reason="Quantity typed wrong")

    transition_fill(fill, to=S.PV1, by=technician, reason="Quantity corrected")

    fill.refresh_from_db()
    assert fill.status == S.PV1
    assert not DurAlert.objects.filter(pk=old.pk).exists()
    # No interaction reference is loaded in this test database: the check says so.
    assert list(fill.dur_alerts.values_list("type", flat=True)) == [DurAlert.Type.NO_DATA]
    assert list(fill.events.values_list("to_status", "actor__username")) == [
        (S.PV1, None),
        (S.INTAKE, "pharm"),
        (S.PV1, "tech"),
    ]


def test_a_fill_without_an_order_gets_one_when_it_leaves_intake(technician):
    fill = fill_at(S.INTAKE, order=None)

    transition_fill(fill, to=S.PV1, by=technician)

    fill.refresh_from_db()
    assert fill.order.patient == fill.prescription.patient


def test_a_fill_whose_prescription_is_unresolved_stays_in_intake(technician):
    prescription = PrescriptionFactory(
        patient=None, status=Prescription.Status.INTAKE, intake_issues=["patient_uncertain"]
    )
    fill = FillFactory(prescription=prescription, status=S.INTAKE)
    before = snapshot(fill)

    with pytest.raises(WorkflowError) as refused:
        transition_fill(fill, to=S.PV1, by=technician)

    assert refused.value.code == "intake_incomplete"
    assert "no patient matched" in refused.value.detail
    assert snapshot(fill) == before
    assert FillEvent.objects.filter(fill=fill).count() == 1


def test_events_record_reason_and_code(pharmacist):
    fill = fill_at(S.PV1, prescription=stocked_prescription())

    transition_fill(
        fill, to=S.CANCELLED, by=pharmacist, reason="Duplicate of Rx 1", reason_code="duplicate"
    )

    event = fill.events.latest("pk")
    assert (event.reason, event.reason_code) == ("Duplicate of Rx 1", "duplicate")
