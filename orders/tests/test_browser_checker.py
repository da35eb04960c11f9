"""What the checker sees, in a real Chromium: PV2 with the product's strength, the
prescribed and filled packages side by side and the Rx label inline as it prints; PV1 of
a controlled substance at 1280x720 with the drug-check alerts above the fold, the PDMP
check recorded on the page before the approval passes."""

import pytest
from playwright.sync_api import expect

from inventory.tests.factories import PackageFactory
from orders.models import DurAlert, Fill, PdmpCheck
from orders.tests.factories import DurAlertFactory, fill_at, stocked_package, stocked_prescription
from pharmacy.tests.second_factor import sign_in_in_browser

pytestmark = pytest.mark.browser

S = Fill.Status


def sign_in(page, user):
    sign_in_in_browser(page, user.username)
    expect(page.get_by_test_id("current-user")).to_be_visible()


def test_pv2_shows_strength_package_and_the_label_inline(
    page, screenshot, transactional_db, pharmacist
):
    prescription = stocked_prescription()
    product = prescription.product
    product.unit_description = "White oval film-coated tablet, imprint PD 155"
    product.save()
    ninety = PackageFactory(product=product, description="90 TABLET in 1 BOTTLE")
    prescription.prescribed_ndc = ninety.ndc11
    prescription.save()
    fill = fill_at(S.PV2, prescription=prescription)

    sign_in(page, pharmacist)
    page.goto(f"/fills/{fill.pk}/pv2/")

    compare = page.get_by_test_id("pv2-compare")
    expect(page.get_by_test_id("filled-product")).to_have_text(
        "Lipitor (atorvastatin calcium) 10 mg tablet"
    )
    expect(compare).to_contain_text("90 TABLET in 1 BOTTLE")
    expect(page.get_by_test_id("filled-package")).to_contain_text("30 TABLET in 1 BOTTLE")
    expect(page.get_by_test_id("difference")).to_have_text("Another package of the same product")
    expect(page.get_by_test_id("filled-unit")).to_have_text(
        "White oval film-coated tablet, imprint PD 155"
    )
    expect(page.get_by_test_id("filled-ndc")).to_have_text(fill.dispensed_ndc)
    preview = page.locator("iframe.label-preview")
    expect(preview).to_be_visible()
    label = page.frame_locator("iframe.label-preview")
    expect(label.locator(".drug")).to_have_text("atorvastatin calcium 10 mg TABLET")
    expect(label.locator(".patient")).to_contain_text(prescription.patient.full_name)
    expect(label.locator(".facts")).to_contain_text(f"NDC {fill.dispensed_ndc}")
    # Where the vial code prints, a box of its size without it: scanned from the label.
    expect(label.locator(".code-hidden")).to_have_text("Vial code: scan the printed label")
    expect(label.locator("svg.barcode")).to_have_count(0)
    # A 4 x 2.5 inch label at 96 CSS pixels an inch, its text inside it.
    box = preview.bounding_box()
    assert (round(box["width"]), round(box["height"])) == (386, 242)  # and a 1 px border
    assert label.locator("html").evaluate("e => e.scrollWidth <= e.clientWidth")
    assert label.locator(".pharmacy").evaluate(
        "e => e.getBoundingClientRect().bottom <= document.documentElement.clientHeight"
    )
    screenshot("pv2-strength-package-label")


def test_controlled_pv1_at_1280x720_alerts_above_the_fold_then_the_pdmp_check(
    page, screenshot, transactional_db, pharmacist
):
    product = stocked_package(name="Roxicodone", generic="oxycodone hydrochloride").product
    product.dea_schedule = "CII"
    product.save()
    fill = fill_at(S.PV1, prescription=stocked_prescription(product=product, refills_authorized=0))
    DurAlertFactory(
        fill=fill, type=DurAlert.Type.DOSE, severity="moderate", message="Above 90 MME."
    )
    DurAlertFactory(
        fill=fill,
        type=DurAlert.Type.INTERACTION,
        severity="major",
        message="Oxycodone with a benzodiazepine (alprazolam): profound sedation.",
    )
    page.set_viewport_size({"width": 1280, "height": 720})
    sign_in(page, pharmacist)

    # The queue says how many alerts and how bad, before anyone opens the fill.
    page.goto("/fills/queue/pv1/")
    expect(page.get_by_test_id("queue-alerts")).to_have_text("2 alerts, worst major")
    expect(page.get_by_test_id("queue-row")).to_contain_text("Roxicodone (oxycodone hydrochloride)")
    page.get_by_role("button", name="Claim and open").click()

    alerts = page.get_by_test_id("dur-alerts")
    expect(alerts).to_be_visible()
    expect(page.get_by_test_id("alert-severity")).to_have_text(["Major", "Moderate"])
    assert page.evaluate("window.scrollY") == 0
    assert alerts.evaluate("e => e.getBoundingClientRect().bottom") <= 720
    shot = screenshot("pv1-controlled-full")
    page.screenshot(path=str(shot.with_name("pv1-alerts-above-the-fold-1280x720.png")))

    # The controlled panel: the prescriber's DEA number, the schedule's rules.
    panel = page.get_by_test_id("controlled-panel")
    expect(panel).to_contain_text("Controlled substance: Schedule II")
    expect(panel).to_contain_text(f"{fill.prescription.prescriber.dea_number}, check digit correct")
    expect(page.get_by_test_id("pdmp-missing")).to_be_visible()

    for alert in ("drug-drug interaction", "quantity or days supply"):
        page.get_by_label(f"Override reason for the {alert} alert").select_option(
            "prescriber_consulted"
        )
    page.get_by_role("button", name="Approve PV1").click()
    expect(page.get_by_test_id("work-error")).to_contain_text(
        "record the state prescription-monitoring (PDMP) check"
    )
    assert fill.__class__.objects.get(pk=fill.pk).status == S.PV1

    page.get_by_label("State").fill("OH")
    page.get_by_label("Result").select_option("no_concerns")
    page.get_by_label("Report number").fill("OARRS-20261208")
    page.get_by_role("button", name="Record the PDMP check").click()
    expect(page.get_by_test_id("pdmp-latest")).to_contain_text("No concerns found")
    expect(page.get_by_test_id("pdmp-latest")).to_contain_text("report OARRS-20261208")
    screenshot("pv1-controlled-pdmp-recorded")

    for alert in ("drug-drug interaction", "quantity or days supply"):
        page.get_by_label(f"Override reason for the {alert} alert").select_option(
            "prescriber_consulted"
        )
    page.get_by_role("button", name="Approve PV1").click()
    expect(page.locator(".messages")).to_contain_text(
        f"Rx {fill.prescription.rx_number} passed PV1."
    )
    fill.refresh_from_db()
    assert fill.status == S.FILL
    assert PdmpCheck.objects.get().checked_by == pharmacist
