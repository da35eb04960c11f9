"""Scans that cannot be skipped, in a real Chromium (issue 13): a fill whose count must be
typed (nothing filled in, a half tablet stopped, the good scan confirmed large and the
next fill offered, not claimed); a later-expiring lot that asks for the rotation reason,
shown at PV2, where a vial code typed by hand is stopped until the pharmacist gives a
reason; and a clarification hold that only a pharmacist releases, with what was clarified
and a corrected quantity that sends the fill back to PV1."""

import pytest
from playwright.sync_api import expect

from orders.models import Fill, FillScan, HoldReason
from orders.tests.factories import another_staff, datamatrix, fill_at
from orders.tests.test_browser_workflow import open_from_queue, sign_in, sign_out
from pharmacy.models import Role
from pharmacy.tests.scanner import scan, type_by_hand

pytestmark = pytest.mark.browser

S = Fill.Status


def bottle(lot) -> str:
    return datamatrix(lot.package, lot=lot.lot_number, expiry=lot.expiry)


def test_a_fill_where_the_count_must_be_typed(page, screenshot, transactional_db, technician):
    fill = fill_at(S.FILL)
    following = fill_at(S.FILL)
    lot = fill.prescription.product.packages.get().lots.get()
    rx_number = fill.prescription.rx_number

    sign_in(page, technician.username)
    open_from_queue(page, "fill", rx_number)
    count = page.get_by_label("Count")
    # Nothing is filled in: not the count, not the lot.
    expect(count).to_have_value("")
    expect(page.get_by_label("Lot, typed from the bottle")).to_have_value("")
    field = page.locator("#id_scan")
    expect(field).to_be_focused()

    # The bottle's scan alone does not fill: the count is asked for.
    scan(field, bottle(lot))
    expect(count).to_be_focused()
    expect(page.locator("[data-fill-note]")).to_have_text("Count the units and enter your count.")
    assert Fill.objects.get(pk=fill.pk).status == S.FILL
    screenshot("fill-station-count-asked")

    # Half a tablet is refused, large, and nothing changes.
    type_by_hand(count, "29.5")
    stop = page.get_by_test_id("work-error")
    expect(stop).to_contain_text("29.5 is not a whole number: count whole units (tablet)")
    expect(stop).to_have_attribute("data-scan-feedback", "bad")
    expect(stop).to_have_css("font-size", "32px")
    screenshot("fill-station-half-tablet")
    assert Fill.objects.get(pk=fill.pk).status == S.FILL

    # The right count and the bottle again: filled, confirmed large, the next one offered.
    count = page.get_by_label("Count")
    count.fill("")
    type_by_hand(count, "30", enter=False)
    scan(page.locator("#id_scan"), bottle(lot))
    done = page.locator(".message.scan-confirmed")
    expect(done).to_contain_text(f"Rx {rx_number} filled: 30 tablets from lot {lot.lot_number}")
    expect(done).to_have_attribute("data-scan-feedback", "good")
    offer = page.get_by_test_id("next-offer")
    expect(offer).to_contain_text(f"Next: Rx {following.prescription.rx_number}")
    following.refresh_from_db()
    assert following.claimed_by is None  # offered, not claimed
    screenshot("fill-station-done-next-offered")

    # The sound can be switched off, and stays off.
    # The scan field keeps the focus (a scanned Rx opens that one); the offer is a click.
    expect(page.locator("#queue-code")).to_be_focused()
    offer.get_by_role("button", name=f"Open Rx {following.prescription.rx_number}").click()
    expect(page.get_by_test_id("rx-number")).to_have_text(following.prescription.rx_number)
    following.refresh_from_db()
    assert following.claimed_by == technician
    toggle = page.get_by_test_id("scan-sound-toggle")
    expect(toggle).to_have_text("Sound on scans: on")
    toggle.click()
    expect(toggle).to_have_text("Sound on scans: off")
    page.reload()
    expect(page.get_by_test_id("scan-sound-toggle")).to_have_text("Sound on scans: off")


def test_a_later_lot_asks_why_and_pv2_sees_it_and_refuses_a_typed_vial_code(
    page, screenshot, transactional_db, technician, pharmacist, two_lots
):
    fill, early, late = two_lots
    rx_number = fill.prescription.rx_number

    sign_in(page, technician.username)
    open_from_queue(page, "fill", rx_number)
    expect(page.get_by_test_id("suggested-lot")).to_contain_text("EARLY")
    type_by_hand(page.get_by_label("Count"), "30", enter=False)
    scan(page.locator("#id_scan"), bottle(late))

    stop = page.get_by_test_id("work-error")
    expect(stop).to_contain_text("Lot LATE expires on")
    expect(stop).to_contain_text("but lot EARLY (bin A-01) expires earlier")
    reason = page.get_by_label("Why this lot and not the earlier-expiring one")
    expect(reason).to_be_focused()
    screenshot("fill-station-rotation-prompt")
    type_by_hand(reason, "EARLY bottle has a cracked cap")
    # Enter with the reason given goes back to the scan: the bottle is scanned again.
    expect(page.locator("#id_scan")).to_be_focused()
    scan(page.locator("#id_scan"), bottle(late))
    expect(page.locator(".message.scan-confirmed")).to_contain_text(f"Rx {rx_number} filled")
    fill.refresh_from_db()
    assert (fill.lot_number, fill.rotation_reason) == ("LATE", "EARLY bottle has a cracked cap")
    sign_out(page)

    sign_in(page, pharmacist.username)
    open_from_queue(page, "pv2", rx_number)
    expect(page.get_by_test_id("pv2-checks")).to_contain_text("EARLY bottle has a cracked cap")
    # The code typed by hand (read off somewhere) is stopped before it goes.
    field = page.locator("#id_scan")
    type_by_hand(field, fill.label_code)
    note = page.locator("[data-entry-note]")
    expect(note).to_contain_text("That code was typed, not scanned")
    expect(note).to_have_attribute("data-scan-feedback", "bad")
    typed_reason = page.get_by_label("Why the code is typed, not scanned")
    expect(typed_reason).to_be_focused()
    screenshot("pv2-typed-code-stopped")
    assert Fill.objects.get(pk=fill.pk).status == S.PV2
    # Scanned, it passes with no reason to give.
    scan(field, fill.label_code)
    expect(page.locator(".message.scan-confirmed")).to_contain_text(
        f"Rx {rx_number} passed PV2: ready to pack."
    )
    accepted = FillScan.objects.get(step="pv2", is_accepted=True)
    assert (accepted.entry, accepted.typed_reason) == ("scanned", "")


def test_a_clarification_hold_is_released_only_by_a_pharmacist(
    page, screenshot, transactional_db, technician, pharmacist
):
    fill = fill_at(S.ON_HOLD, held_from=S.FILL, hold_reason=HoldReason.CLARIFICATION)
    another_staff(Role.TECHNICIAN)

    sign_in(page, technician.username)
    page.goto(f"/fills/{fill.pk}/")
    expect(page.get_by_test_id("open-hold")).to_contain_text(
        "Clarification needed from the prescriber"
    )
    expect(page.get_by_test_id("release-needs-pharmacist")).to_have_text(
        "A pharmacist releases this hold, with what was clarified."
    )
    expect(page.get_by_test_id("release-form")).to_have_count(0)
    screenshot("hold-clarification-technician")
    sign_out(page)

    sign_in(page, pharmacist.username)
    page.goto(f"/fills/{fill.pk}/")
    form = page.get_by_test_id("release-form")
    form.get_by_role("button", name="Release: back to waiting to be filled").click()
    expect(page.locator(".messages")).to_contain_text(
        "Not released: Say what was clarified (with whom, and the answer)"
    )
    form = page.get_by_test_id("release-form")
    form.get_by_label("What was clarified").fill("Dr Chen by phone: 60 tablets, not 30")
    form.get_by_label("Corrected quantity").fill("60")
    screenshot("hold-clarification-pharmacist")
    form.get_by_role("button", name="Release: back to waiting to be filled").click()
    expect(page.locator(".messages")).to_contain_text("is released: waiting for PV1.")
    fill.refresh_from_db()
    assert (fill.status, fill.quantity) == (S.PV1, 60)
    expect(page.get_by_test_id("holds")).to_contain_text("Dr Chen by phone: 60 tablets, not 30")
