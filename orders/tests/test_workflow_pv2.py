"""PV2: another pharmacist than the filler scans the vial label; a rejection puts the
units back on their lot through the ledger and records a discrepancy."""

from datetime import timedelta

import pytest
from django.db.models import Sum
from django.utils import timezone

from inventory.models import StockMovement
from inventory.ndc import upc_from_ndc
from inventory.tests.factories import StockLotFactory
from orders.models import Discrepancy, Fill, FillScan
from orders.services.workflow import WorkflowError, approve_pv2, fill_with_scan, reject_pv2
from orders.tests.factories import another_staff, bottle_scan, datamatrix, fill_at, stocked_package
from outbox.models import OutboxMessage
from pharmacy.models import Role

pytestmark = pytest.mark.django_db

S = Fill.Status


def state(fill: Fill) -> tuple:
    fill.refresh_from_db()
    return (
        fill.status,
        fill.pv2_by_id,
        fill.dispensed_quantity,
        fill.stock_lot_id,
        fill.events.count(),
        StockMovement.objects.count(),
        Discrepancy.objects.count(),
    )


def test_another_pharmacist_scanning_the_label_passes_pv2(pharmacist):
    fill = fill_at(S.PV2)

    approved = approve_pv2(fill, by=pharmacist, scan=fill.label_code, entry="scanned")

    fill.refresh_from_db()
    assert approved.status == fill.status == S.READY_TO_PACK
    assert fill.pv2_by == pharmacist
    assert timezone.now() - fill.pv2_at < timedelta(seconds=5)
    assert fill.dispensed_quantity == 30  # the product stays in the vial
    scan = FillScan.objects.get()
    assert (scan.step, scan.raw, scan.is_accepted, scan.by) == ("pv2", fill.label_code, True,
                                                                pharmacist)  # fmt: skip
    event = fill.events.latest("pk")
    assert (event.from_status, event.to_status, event.reason) == (
        S.PV2,
        S.READY_TO_PACK,
        "PV2 approved",
    )


def test_the_label_code_is_read_whatever_the_scanners_case(pharmacist):
    fill = fill_at(S.PV2)

    approve_pv2(fill, by=pharmacist, scan=f" {fill.label_code.lower()}\n", entry="scanned")

    assert Fill.objects.get(pk=fill.pk).status == S.READY_TO_PACK


def test_the_pharmacist_who_filled_it_cannot_verify_it(pharmacist):
    fill = fill_at(S.PV2, filled_by=pharmacist)
    before = state(fill)

    for attempt in (
        lambda: approve_pv2(fill, by=pharmacist, scan=fill.label_code, entry="scanned"),
        lambda: reject_pv2(fill, by=pharmacist, reason="Looks off"),
    ):
        with pytest.raises(WorkflowError) as refused:
            attempt()
        assert (refused.value.code, refused.value.status) == ("own_fill", 403)
        assert "another pharmacist must verify it" in refused.value.detail
    assert state(fill) == before
    assert not FillScan.objects.exists()


def test_a_pharmacist_fill_then_another_pharmacists_pv2(pharmacist):
    filler = another_staff(Role.PHARMACIST)
    fill = fill_at(S.FILL)
    fill_with_scan(fill, by=filler, scan=bottle_scan(fill), quantity=30)

    approve_pv2(fill, by=pharmacist, scan=fill.label_code, entry="scanned")

    fill.refresh_from_db()
    assert (fill.filled_by, fill.pv2_by, fill.status) == (filler, pharmacist, S.READY_TO_PACK)


def test_a_technician_cannot_verify(technician):
    fill = fill_at(S.PV2)
    before = state(fill)

    with pytest.raises(WorkflowError) as refused:
        approve_pv2(fill, by=technician, scan=fill.label_code, entry="scanned")

    assert (refused.value.code, refused.value.status) == ("role_not_allowed", 403)
    assert state(fill) == before


def test_the_label_of_another_fill_is_refused_and_recorded(pharmacist):
    fill, other = fill_at(S.PV2), fill_at(S.PV2)
    before = state(fill)

    with pytest.raises(WorkflowError) as refused:
        approve_pv2(fill, by=pharmacist, scan=other.label_code, entry="scanned")

    assert refused.value.code == "wrong_vial"
    assert refused.value.detail == (
        f"This is the label of fill {other.pk} of Rx {other.prescription.rx_number}, not of "
        f"fill {fill.pk} of Rx {fill.prescription.rx_number}: check the vial in your hand."
    )
    assert state(fill) == before
    scan = FillScan.objects.get()
    assert (scan.fill, scan.step, scan.is_accepted, scan.refusal_code, scan.raw) == (
        fill,
        "pv2",
        False,
        "wrong_vial",
        other.label_code,
    )


def test_a_code_that_is_no_label_is_refused_and_recorded(pharmacist):
    fill = fill_at(S.PV2)
    before = state(fill)

    with pytest.raises(WorkflowError) as refused:
        approve_pv2(fill, by=pharmacist, scan="0002-3227-30", entry="scanned")

    assert refused.value.code == "label_mismatch"
    assert state(fill) == before
    assert FillScan.objects.get().refusal_code == "label_mismatch"


def test_no_scan_is_bad_input(pharmacist):
    fill = fill_at(S.PV2)
    before = state(fill)

    with pytest.raises(WorkflowError) as refused:
        approve_pv2(fill, by=pharmacist, scan="", entry="scanned")

    assert (refused.value.code, refused.value.status) == ("scan_required", 400)
    assert state(fill) == before
    assert not FillScan.objects.exists()


def test_a_fill_not_at_pv2_is_refused(pharmacist):
    fill = fill_at(S.READY_TO_PACK)

    with pytest.raises(WorkflowError) as refused:
        approve_pv2(fill, by=pharmacist, scan=fill.label_code, entry="scanned")

    assert refused.value.code == "wrong_status"
    assert "is ready to pack, not waiting for PV2" in refused.value.detail


# --------------------------------------------------------------------------- stock bottle


def test_the_stock_bottle_may_be_scanned_again(pharmacist):
    fill = fill_at(S.PV2)

    approve_pv2(
        fill,
        by=pharmacist,
        scan=fill.label_code,
        stock_scan=datamatrix(fill.dispensed_package, lot=fill.lot_number),
        entry="scanned",
    )

    assert Fill.objects.get(pk=fill.pk).status == S.READY_TO_PACK
    assert list(FillScan.objects.values_list("is_accepted", "scanned_ndc", "lot_number")) == [
        (True, "", ""),
        (True, fill.dispensed_ndc, fill.lot_number),
    ]


@pytest.mark.parametrize("mismatch", ["another package", "another lot"])
def test_a_stock_bottle_that_is_not_the_one_dispensed_is_refused(pharmacist, mismatch):
    fill = fill_at(S.PV2)
    if mismatch == "another package":
        bottle = upc_from_ndc(stocked_package(product=fill.prescription.product).package_ndc)
        code = "stock_mismatch"
    else:
        StockLotFactory(package=fill.dispensed_package, lot_number="OTHER", quantity_on_hand=5)
        bottle = datamatrix(fill.dispensed_package, lot="OTHER")
        code = "lot_mismatch"
    before = state(fill)

    with pytest.raises(WorkflowError) as refused:
        approve_pv2(fill, by=pharmacist, scan=fill.label_code, stock_scan=bottle, entry="scanned")

    assert refused.value.code == code
    assert state(fill) == before
    scan = FillScan.objects.get()
    assert (scan.raw, scan.is_accepted, scan.refusal_code) == (bottle, False, code)


# --------------------------------------------------------------------------- rejection


def test_a_rejection_returns_the_units_to_their_lot_and_records_a_discrepancy(pharmacist):
    fill = fill_at(S.PV2)
    lot = fill.stock_lot
    on_hand = lot.quantity_on_hand

    rejected = reject_pv2(fill, by=pharmacist, reason="Counted 29 in the vial")

    fill.refresh_from_db()
    lot.refresh_from_db()
    assert rejected.status == fill.status == S.FILL
    assert (
        fill.dispensed_package, fill.dispensed_ndc, fill.dispensed_quantity, fill.stock_lot,
        fill.lot_number, fill.expiry, fill.serial_number, fill.filled_by, fill.filled_at,
    ) == (None, "", None, None, "", None, "", None, None)  # fmt: skip
    assert lot.quantity_on_hand == on_hand + 30
    returned = StockMovement.objects.get(kind="return")
    assert (returned.lot, returned.quantity_change, returned.reference, returned.actor) == (
        lot,
        30,
        f"fill:{fill.pk}",
        pharmacist,
    )
    assert returned.reason == "Rejected at PV2: Counted 29 in the vial"
    assert lot.movements.aggregate(total=Sum("quantity_change"))["total"] == lot.quantity_on_hand
    discrepancy = Discrepancy.objects.get()
    assert (
        discrepancy.fill, discrepancy.kind, discrepancy.description, discrepancy.found_by,
        discrepancy.stock_movement, discrepancy.is_open,
    ) == (fill, "pv2_mismatch", "Counted 29 in the vial", pharmacist, returned, True)  # fmt: skip
    event = fill.events.latest("pk")
    assert (event.from_status, event.to_status, event.reason, event.reason_code) == (
        S.PV2,
        S.FILL,
        "PV2 rejected: Counted 29 in the vial",
        "pv2_mismatch",
    )
    # The label must no longer name the returned lot: made again, recorded with the move.
    assert list(OutboxMessage.objects.values_list("kind", "target_id")) == [
        ("orders.rx_label", fill.pk)
    ]


def test_a_rejection_names_the_kind_of_discrepancy(pharmacist):
    fill = fill_at(S.PV2)

    reject_pv2(fill, by=pharmacist, reason="29 tablets", discrepancy_kind="wrong_count")

    assert Discrepancy.objects.get().kind == "wrong_count"


@pytest.mark.parametrize(
    ("reason", "kind", "code"),
    [("", "", "reason_required"), ("Off", "sloppy", "invalid_discrepancy_kind")],
)
def test_a_rejection_without_reason_or_with_an_unknown_kind_is_bad_input(
    pharmacist, reason, kind, code
):
    fill = fill_at(S.PV2)
    before = state(fill)

    with pytest.raises(WorkflowError) as refused:
        reject_pv2(fill, by=pharmacist, reason=reason, discrepancy_kind=kind)

    assert (refused.value.code, refused.value.status) == (code, 400)
    assert state(fill) == before


def test_a_rejected_fill_is_filled_again_and_passes(technician, pharmacist):
    fill = fill_at(S.PV2)
    reject_pv2(fill, by=pharmacist, reason="Wrong cap")

    fill_with_scan(fill, by=technician, scan=bottle_scan(fill), quantity=30)
    approve_pv2(fill, by=pharmacist, scan=fill.label_code, entry="scanned")

    fill.refresh_from_db()
    assert (fill.status, fill.filled_by, fill.dispensed_quantity) == (
        S.READY_TO_PACK,
        technician,
        30,
    )
    assert list(fill.events.values_list("to_status", flat=True)) == [
        S.PV2,
        S.FILL,
        S.PV2,
        S.READY_TO_PACK,
    ]
