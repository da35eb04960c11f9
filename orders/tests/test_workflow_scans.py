"""Scans that cannot be skipped (issue 13), at the service level: the lot from the scan
or typed on purpose, first expiring first unless a reason is given, whole counts of
tablets, vial label codes scanned rather than typed at PV2, and holds whose release is a
pharmacist's (with a correction of the prescription going back to PV1)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils import timezone

from inventory.models import StockLot, StockMovement
from inventory.tests.factories import StockLotFactory
from orders.models import DurAlert, Fill, FillEvent, FillHold, FillScan, HoldReason
from orders.services.workflow import (
    Correction,
    WorkflowError,
    approve_pv2,
    fill_with_scan,
    hold_fill,
    release_fill,
    suggest_lot,
)
from orders.tests.factories import (
    datamatrix,
    fill_at,
    stocked_package,
    stocked_prescription,
)
from outbox.models import OutboxMessage

pytestmark = pytest.mark.django_db

S = Fill.Status


def state(fill: Fill) -> tuple:
    """Everything a refused step must leave as it was."""
    fill.refresh_from_db()
    prescription = fill.prescription
    prescription.refresh_from_db()
    return (
        fill.status,
        fill.quantity,
        fill.stock_lot_id,
        fill.lot_number,
        fill.lot_entered_by_hand,
        fill.rotation_reason,
        fill.held_from_status,
        fill.pv2_by_id,
        prescription.quantity,
        prescription.directions,
        prescription.product_id,
        StockLot.objects.aggregate(total=Sum("quantity_on_hand"))["total"],
        StockMovement.objects.count(),
        FillEvent.objects.count(),
        FillHold.objects.filter(released_at__isnull=True).count(),
        OutboxMessage.objects.count(),
    )


def days(count: int):
    return timezone.localdate() + timedelta(days=count)


# --------------------------------------------------------------------------- rotation


def test_the_station_suggests_the_first_expiring_lot(two_lots):
    fill, early, _late = two_lots

    assert suggest_lot(fill) == early


def test_a_later_lot_is_refused_without_a_reason_and_the_refusal_is_on_record(two_lots, technician):
    fill, early, late = two_lots
    before = state(fill)

    with pytest.raises(WorkflowError) as refused:
        fill_with_scan(
            fill, by=technician, scan=datamatrix(late.package, lot="LATE", expiry=late.expiry),
            quantity=30,
        )  # fmt: skip

    assert (refused.value.code, refused.value.status) == ("rotation_reason_required", 409)
    assert refused.value.detail == (
        f"Lot LATE expires on {late.expiry}, but lot EARLY (bin A-01) expires earlier, on "
        f"{early.expiry}, and holds 100: take that one, or say why you take this one."
    )
    assert state(fill) == before
    scan = FillScan.objects.get()
    assert (scan.is_accepted, scan.refusal_code, scan.lot_number) == (
        False,
        "rotation_reason_required",
        "LATE",
    )


def test_a_later_lot_with_a_reason_is_taken_and_the_reason_kept(two_lots, technician):
    fill, _early, late = two_lots

    fill_with_scan(
        fill,
        by=technician,
        scan=datamatrix(late.package, lot="LATE", expiry=late.expiry),
        quantity=30,
        rotation_reason="  EARLY bottle's seal is broken  ",
    )

    fill.refresh_from_db()
    assert (fill.status, fill.lot_number, fill.rotation_reason, fill.lot_entered_by_hand) == (
        S.PV2,
        "LATE",
        "EARLY bottle's seal is broken",
        False,
    )
    assert fill.events.latest("pk").reason == (
        f"Filled: 30 from {late.package.package_ndc} lot LATE; later-expiring lot taken: "
        "EARLY bottle's seal is broken"
    )


def test_the_first_expiring_lot_needs_no_reason_and_keeps_none(two_lots, technician):
    fill, early, _late = two_lots

    fill_with_scan(
        fill,
        by=technician,
        scan=datamatrix(early.package, lot="EARLY", expiry=early.expiry),
        quantity=30,
        rotation_reason="not needed",
    )

    fill.refresh_from_db()
    assert (fill.lot_number, fill.rotation_reason) == ("EARLY", "")


def test_an_earlier_lot_that_is_quarantined_asks_for_no_reason(two_lots, technician):
    fill, early, late = two_lots
    StockLot.objects.filter(pk=early.pk).update(status="quarantined")

    fill_with_scan(
        fill, by=technician, scan=datamatrix(late.package, lot="LATE", expiry=late.expiry),
        quantity=30,
    )  # fmt: skip

    fill.refresh_from_db()
    assert (fill.lot_number, fill.rotation_reason) == ("LATE", "")


@pytest.mark.parametrize(
    ("reason", "code"),
    [("Seal broken\x00", "invalid_reason"), ("x" * 501, "reason_too_long")],
)
def test_a_rotation_reason_that_cannot_be_kept_is_refused(two_lots, technician, reason, code):
    fill, _early, late = two_lots
    before = state(fill)

    with pytest.raises(WorkflowError) as refused:
        fill_with_scan(
            fill, by=technician, scan=datamatrix(late.package, lot="LATE", expiry=late.expiry),
            quantity=30, rotation_reason=reason,
        )  # fmt: skip

    assert (refused.value.code, refused.value.status) == (code, 400)
    assert state(fill) == before
    assert not FillScan.objects.exists()


# --------------------------------------------------------------------------- counts


@pytest.mark.parametrize(
    ("count", "code", "status"),
    [
        (None, "quantity_required", 400),
        ("", "quantity_required", 400),
        (0, "invalid_quantity", 409),
        (-30, "invalid_quantity", 409),
        ("29.5", "fractional_count", 409),
        ("30.001", "fractional_count", 409),
        (31, "quantity_over_prescribed", 409),
    ],
)
def test_a_count_that_is_not_a_whole_count_up_to_the_fill_is_refused(
    two_lots, technician, count, code, status
):
    fill, early, _late = two_lots
    before = state(fill)

    with pytest.raises(WorkflowError) as refused:
        fill_with_scan(
            fill, by=technician, scan=datamatrix(early.package, lot="EARLY", expiry=early.expiry),
            quantity=count,
        )  # fmt: skip

    assert (refused.value.code, refused.value.status) == (code, status)
    assert state(fill) == before


def test_a_liquid_may_be_measured_in_fractions(technician):
    package = stocked_package(dosage_form="SOLUTION", units=0)
    lot = StockLotFactory(package=package, lot_number="SYRUP", quantity_on_hand=500)
    fill = fill_at(
        S.FILL,
        prescription=stocked_prescription(
            product=package.product, quantity=Decimal("150.5"), quantity_unit="mL"
        ),
        quantity=Decimal("150.5"),
    )

    fill_with_scan(
        fill, by=technician, scan=datamatrix(package, lot="SYRUP", expiry=lot.expiry),
        quantity="150.5",
    )  # fmt: skip

    fill.refresh_from_db()
    assert fill.dispensed_quantity == Decimal("150.5")


# --------------------------------------------------------------------------- PV2 entry


def test_a_typed_vial_code_is_refused_at_pv2_and_on_record(pharmacist):
    fill = fill_at(S.PV2)
    before = state(fill)

    with pytest.raises(WorkflowError) as refused:
        approve_pv2(fill, by=pharmacist, scan=fill.label_code, entry="typed")

    assert (refused.value.code, refused.value.status) == ("typed_code", 409)
    assert "was typed, not scanned: scan the barcode on the vial label" in refused.value.detail
    assert state(fill) == before
    scan = FillScan.objects.get()
    assert (scan.step, scan.is_accepted, scan.refusal_code, scan.entry, scan.by) == (
        "pv2",
        False,
        "typed_code",
        "typed",
        pharmacist,
    )


def test_a_caller_that_does_not_say_how_the_code_came_is_taken_as_typing(pharmacist):
    fill = fill_at(S.PV2)

    with pytest.raises(WorkflowError) as refused:
        approve_pv2(fill, by=pharmacist, scan=fill.label_code)

    assert refused.value.code == "typed_code"
    fill.refresh_from_db()
    assert fill.status == S.PV2


def test_a_typed_vial_code_passes_with_the_pharmacists_reason_on_record(pharmacist):
    fill = fill_at(S.PV2)

    approve_pv2(
        fill,
        by=pharmacist,
        scan=fill.label_code,
        entry="typed",
        typed_reason="Label barcode smudged; code read off the vial",
    )

    fill.refresh_from_db()
    assert (fill.status, fill.pv2_by) == (S.READY_TO_PACK, pharmacist)
    scan = FillScan.objects.get()
    assert (scan.is_accepted, scan.entry, scan.typed_reason) == (
        True,
        "typed",
        "Label barcode smudged; code read off the vial",
    )
    assert fill.events.latest("pk").reason == (
        "PV2 approved (label code typed by hand: Label barcode smudged; code read off the vial)"
    )


def test_a_scanned_vial_code_keeps_no_reason(pharmacist):
    fill = fill_at(S.PV2)

    approve_pv2(fill, by=pharmacist, scan=fill.label_code, entry="scanned", typed_reason="x")

    scan = FillScan.objects.get()
    assert (scan.entry, scan.typed_reason) == ("scanned", "")


def test_an_unknown_entry_is_refused_and_nothing_recorded(pharmacist):
    fill = fill_at(S.PV2)
    before = state(fill)

    with pytest.raises(WorkflowError) as refused:
        approve_pv2(fill, by=pharmacist, scan=fill.label_code, entry="telepathy")

    assert (refused.value.code, refused.value.status) == ("invalid_entry", 400)
    assert state(fill) == before
    assert not FillScan.objects.exists()


# --------------------------------------------------------------------------- holds


@pytest.mark.parametrize("reason", [HoldReason.CLARIFICATION, HoldReason.DISCREPANCY])
def test_a_clinical_hold_is_not_a_technicians_to_release(technician, reason):
    fill = fill_at(S.ON_HOLD, held_from=S.FILL, hold_reason=reason)
    before = state(fill)

    with pytest.raises(WorkflowError) as refused:
        release_fill(fill, by=technician, note="Called the office")

    assert (refused.value.code, refused.value.status) == ("pharmacist_required", 403)
    assert refused.value.detail.startswith(
        f"Only a pharmacist may release a hold for {HoldReason(reason).label.lower()}"
    )
    assert state(fill) == before


def test_a_clinical_hold_needs_what_was_clarified(pharmacist):
    fill = fill_at(S.ON_HOLD, held_from=S.FILL)
    before = state(fill)

    with pytest.raises(WorkflowError) as refused:
        release_fill(fill, by=pharmacist, note="   ")

    assert (refused.value.code, refused.value.status) == ("note_required", 400)
    assert state(fill) == before


def test_another_hold_is_still_a_technicians_to_release(technician):
    fill = fill_at(S.ON_HOLD, held_from=S.FILL, hold_reason=HoldReason.INSURANCE)

    release_fill(fill, by=technician)

    fill.refresh_from_db()
    assert fill.status == S.FILL


def test_a_release_without_changes_returns_to_the_step_it_was_held_at(pharmacist):
    fill = fill_at(S.ON_HOLD, held_from=S.FILL)
    prescription = fill.prescription

    release_fill(
        fill,
        by=pharmacist,
        note="Dr Chen: as written",
        correction=Correction(
            directions=prescription.directions, quantity=str(fill.quantity), drug_ndc=""
        ),
    )

    fill.refresh_from_db()
    assert fill.status == S.FILL
    assert fill.holds.get().release_note == "Dr Chen: as written"


def test_a_corrected_quantity_and_sig_go_back_to_pv1_with_the_stock_returned(pharmacist):
    fill = fill_at(S.ON_HOLD, held_from=S.PV2, hold_reason=HoldReason.DISCREPANCY)
    lot = fill.stock_lot
    on_hand = lot.quantity_on_hand
    DurAlert.objects.create(
        fill=fill, prescription=fill.prescription, type="dose", severity="moderate",
        message="Old alert",
    )  # fmt: skip

    released = release_fill(
        fill,
        by=pharmacist,
        note="Dr Chen: 60 tablets, one twice a day",
        correction=Correction(directions="Take 1 tablet by mouth twice a day", quantity="60"),
    )

    fill.refresh_from_db()
    prescription = fill.prescription
    prescription.refresh_from_db()
    lot.refresh_from_db()
    assert released.status == fill.status == S.PV1
    assert (fill.quantity, prescription.quantity) == (Decimal(60), Decimal(60))
    assert prescription.directions == prescription.sig_text == "Take 1 tablet by mouth twice a day"
    # What was in the vial went back to its lot; the fill is to be filled anew.
    assert lot.quantity_on_hand == on_hand + 30
    assert (fill.stock_lot, fill.dispensed_quantity, fill.lot_number) == (None, None, "")
    # A new PV1: the old alerts went, the checks ran again on the corrected prescription.
    assert not DurAlert.objects.filter(message="Old alert").exists()
    event = fill.events.latest("pk")
    assert (event.from_status, event.to_status, event.actor) == (S.ON_HOLD, S.PV1, pharmacist)
    assert event.reason.startswith(
        "Released from hold: Dr Chen: 60 tablets, one twice a day; corrected directions"
    )
    assert event.reason.endswith("quantity 30 to 60 tablet: back to PV1")
    hold = fill.holds.get()
    assert hold.release_note.startswith("Dr Chen: 60 tablets, one twice a day (corrected: ")


def test_a_corrected_drug_goes_back_to_pv1(pharmacist):
    fill = fill_at(S.ON_HOLD, held_from=S.FILL)
    other = stocked_package(name="Zocor", generic="simvastatin", ingredient="Simvastatin")

    release_fill(
        fill,
        by=pharmacist,
        note="Dr Chen meant simvastatin",
        correction=Correction(drug_ndc=other.package_ndc),
    )

    fill.refresh_from_db()
    prescription = fill.prescription
    prescription.refresh_from_db()
    assert fill.status == S.PV1
    assert (prescription.product, prescription.prescribed_ndc) == (other.product, other.ndc11)
    assert prescription.drug_description == other.product.display_name


def test_a_technician_cannot_correct_at_release(technician):
    fill = fill_at(S.ON_HOLD, held_from=S.FILL, hold_reason=HoldReason.INSURANCE)
    before = state(fill)

    with pytest.raises(WorkflowError) as refused:
        release_fill(fill, by=technician, correction=Correction(quantity="60"))

    assert (refused.value.code, refused.value.status) == ("pharmacist_required", 403)
    assert state(fill) == before


@pytest.mark.parametrize(
    ("correction", "code"),
    [
        (Correction(quantity="0"), "invalid_quantity"),
        (Correction(quantity="-5"), "invalid_quantity"),
        (Correction(quantity="45.5"), "invalid_quantity"),
        (Correction(quantity="lots"), "invalid_quantity"),
        (Correction(drug_ndc="99999-9999-99"), "unknown_ndc"),
        (Correction(directions="Take\u202e1"), "invalid_directions"),
    ],
)
def test_a_correction_that_is_not_valid_is_refused_and_nothing_changes(
    pharmacist, correction, code
):
    fill = fill_at(S.ON_HOLD, held_from=S.FILL)
    before = state(fill)

    with pytest.raises(WorkflowError) as refused:
        release_fill(fill, by=pharmacist, note="Clarified", correction=correction)

    assert (refused.value.code, refused.value.status) == (code, 400)
    assert state(fill) == before


def test_a_drug_of_another_schedule_is_a_new_prescription_not_a_correction(pharmacist):
    fill = fill_at(S.ON_HOLD, held_from=S.FILL)
    controlled = stocked_package(name="Norco", generic="hydrocodone", ingredient="Hydrocodone")
    controlled.product.dea_schedule = "CII"
    controlled.product.save(update_fields=["dea_schedule"])
    before = state(fill)

    with pytest.raises(WorkflowError) as refused:
        release_fill(
            fill, by=pharmacist, note="Clarified",
            correction=Correction(drug_ndc=controlled.package_ndc),
        )  # fmt: skip

    assert (refused.value.code, refused.value.status) == ("schedule_differs", 400)
    assert state(fill) == before


def test_a_hold_placed_and_released_keeps_what_was_clarified(technician, pharmacist):
    fill = fill_at(S.FILL)
    hold_fill(fill, by=technician, reason_code="clarification", note="Strength unclear")

    release_fill(fill, by=pharmacist, note="Dr Chen confirmed 10 mg")

    hold = FillHold.objects.get(fill=fill)
    assert (hold.released_by, hold.release_note) == (pharmacist, "Dr Chen confirmed 10 mg")
