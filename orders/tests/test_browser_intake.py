"""A technician's intake day in a real Chromium: the patient's medications and allergies
shown as soon as they are picked, a phone prescription typed with its caller and its
original uploaded, the allergy alert it raises, a wrong entry refused, and the intake
queue with a prescription resolved from it."""

import dataclasses
from datetime import date, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from inventory.tests.factories import ProductFactory
from orders.intake.messages import (
    IncomingDrug,
    IncomingPatient,
    IncomingPrescriber,
    IncomingPrescription,
)
from orders.models import Channel, Fill, Prescription
from orders.services.intake import receive_prescription
from orders.tests.factories import (
    PrescriptionFactory,
    amoxicillin_product,
    penicillin_allergic_patient,
    tiny_png,
)
from pharmacy.drug_checks import invalidate_interaction_index
from pharmacy.tests.factories import STAFF_PASSWORD, PrescriberFactory

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def fresh_interaction_index():
    invalidate_interaction_index()
    yield
    invalidate_interaction_index()


@pytest.fixture
def ada(transactional_db):
    return penicillin_allergic_patient(
        first_name="Ada", last_name="Lovelace", date_of_birth=date(1960, 12, 10)
    )


@pytest.fixture
def hopper(transactional_db):
    return PrescriberFactory(first_name="Grace", last_name="Hopper")


@pytest.fixture
def amoxil(transactional_db):
    return amoxicillin_product()


def sign_in(page, username):
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def open_manual_entry(page, technician):
    sign_in(page, technician.username)
    page.get_by_test_id("nav-queue-intake").click()
    page.get_by_role("link", name="New phone or fax prescription").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New phone or fax prescription")


def pick(page, name, query, *, expected):
    """Type into a search-as-you-type picker and choose the match shown."""
    page.locator(f"#{name}-search").fill(query)
    option = page.locator(f"#{name}-results .pick-option").first
    expect(option).to_contain_text(expected)
    option.click()
    expect(page.get_by_test_id(f"{name}-chosen")).to_contain_text(expected)


def fill_caller(page):
    """Who phoned the order in, as the technician notes it from the call."""
    page.get_by_label("Caller's office").fill("Hopper Family Medicine")
    page.get_by_label("Caller's name").fill("Ms Byron, nurse")
    page.get_by_label("Call-back number").fill("614 555 0142")


def test_picking_the_patient_shows_their_medications_and_allergies_before_saving(
    page, screenshot, technician, ada
):
    simvastatin = ProductFactory(
        proprietary_name="Zocor", nonproprietary_name="simvastatin", dosage_form="TABLET"
    )
    PrescriptionFactory(
        patient=ada, product=simvastatin, directions="Take 1 tablet by mouth at bedtime"
    )
    open_manual_entry(page, technician)
    expect(page.locator("#patient-panel")).to_contain_text("Pick the patient to see")

    page.locator("#patient-search").fill("lovel")
    page.locator("#patient-search").press("Enter")

    panel = page.get_by_test_id("patient-panel")
    expect(panel.get_by_test_id("panel-allergies")).to_contain_text("Penicillin: Hives")
    expect(panel.get_by_test_id("panel-medications")).to_contain_text(
        f"{simvastatin.full_description} · Take 1 tablet by mouth at bedtime"
    )
    # Enter picked the only match and moved on to the prescriber.
    assert page.evaluate("document.activeElement.id") == "prescriber-search"
    screenshot("manual-entry-patient-panel")
    assert Prescription.objects.filter(patient=ada).count() == 1  # nothing saved


def test_a_phone_prescription_for_a_penicillin_allergic_patient_shows_the_alert(
    page, screenshot, technician, ada, hopper, amoxil, tmp_path
):
    original = tmp_path / "phone-note.png"
    original.write_bytes(tiny_png())

    open_manual_entry(page, technician)

    # The patient first: their search has the focus when the page opens.
    assert page.evaluate("document.activeElement.id") == "patient-search"
    pick(page, "patient", "lovel", expected="Ada Lovelace (1960-12-10)")
    expect(page.get_by_test_id("patient-chosen")).to_contain_text("Allergies: Penicillin")
    expect(page.get_by_test_id("panel-allergies")).to_contain_text("Penicillin: Hives")
    page.get_by_label("Phone").check()
    page.get_by_label("Original (image or PDF)").set_input_files(str(original))
    # A scanned or typed code and Enter picks the only match, like a scan.
    page.locator("#prescriber-search").fill(hopper.npi)
    page.locator("#prescriber-search").press("Enter")
    expect(page.get_by_test_id("prescriber-chosen")).to_contain_text(f"NPI {hopper.npi}")
    fill_caller(page)
    pick(page, "product", "amox", expected="Amoxil (amoxicillin)")
    expect(page.locator("#id_quantity_unit")).to_have_value("capsule")
    assert page.evaluate("document.activeElement.id") == "id_quantity"
    page.locator("#id_quantity").fill("30")
    page.get_by_label("Sig (directions as prescribed)").fill("1 PO TID")
    expect(page.get_by_test_id("sig-expansion")).to_have_text(
        "Take 1 capsule by mouth three times daily"
    )
    expect(page.locator("#id_days_supply")).to_have_value("10")
    screenshot("manual-entry")

    page.get_by_role("button", name="Save prescription").click()

    prescription = Prescription.objects.get()
    expect(page.get_by_test_id("rx-number")).to_have_text(prescription.rx_number)
    expect(page.get_by_test_id("prescription-status")).to_have_text("Active")
    expect(page.get_by_test_id("fill-status")).to_have_text("Waiting for PV1")
    alert = page.get_by_test_id("dur-alert-allergy")
    expect(alert).to_contain_text("Allergy")
    expect(alert).to_contain_text("Major")
    expect(alert).to_contain_text(
        "the patient is allergic to Penicillin (reaction: Hives), and Amoxil (amoxicillin) "
        "is a penicillin-class antibacterial"
    )
    expect(page.get_by_test_id("directions")).to_have_text(
        "Take 1 capsule by mouth three times daily"
    )
    image = page.get_by_test_id("original-document").locator("img")
    expect(image).to_be_visible()
    # the image really loads (served by the audited original view), not a broken icon
    expect(image).to_have_js_property("naturalWidth", 1)
    screenshot("prescription-allergy-alert")
    assert (prescription.patient, prescription.prescriber, prescription.product) == (
        ada,
        hopper,
        amoxil,
    )
    assert prescription.days_supply == 10
    assert prescription.original_document.read() == tiny_png()
    assert prescription.callback_phone == "(614) 555-0142"


def test_a_wrong_entry_shows_the_error_and_writes_nothing(
    page, screenshot, technician, ada, hopper, amoxil
):
    open_manual_entry(page, technician)
    pick(page, "patient", "1960-12-10", expected="Ada Lovelace")
    pick(page, "prescriber", "hopp", expected="Grace Hopper")
    fill_caller(page)
    pick(page, "product", amoxil.product_ndc, expected="Amoxil")
    page.locator("#id_quantity").fill("0")
    page.get_by_label("Sig (directions as prescribed)").fill("1 PO BID")
    expect(page.get_by_test_id("sig-expansion")).to_have_text("Take 1 capsule by mouth twice daily")

    page.get_by_role("button", name="Save prescription").click()

    errors = page.get_by_test_id("form-errors")
    expect(errors).to_contain_text("Nothing was saved.")
    expect(errors).to_contain_text(
        "The quantity 0 is not possible: it must be more than 0 and at most 10000."
    )
    # what was picked and typed is still there to correct
    expect(page.get_by_test_id("patient-chosen")).to_contain_text("Ada Lovelace")
    expect(page.get_by_label("Sig (directions as prescribed)")).to_have_value("1 PO BID")
    assert page.evaluate("document.activeElement.id") == "id_quantity"
    screenshot("manual-entry-error")
    assert Prescription.objects.count() == 0
    assert Fill.objects.count() == 0


def test_the_intake_queue_lists_a_waiting_prescription_and_it_is_resolved(
    page, screenshot, technician, ada, hopper, amoxil
):
    # Ada's name with another birth date: the match is uncertain.
    incoming = IncomingPrescription(
        message_id="MSG-QUEUE-1",
        channel="ncpdp",
        written_date=timezone.localdate() - timedelta(days=1),
        patient=IncomingPatient(
            first_name="Ada", last_name="Lovelace", date_of_birth=date(1960, 12, 11)
        ),
        prescriber=IncomingPrescriber(first_name="Grace", last_name="Hopper", npi=hopper.npi),
        drug=IncomingDrug(
            description="Amoxicillin 500 mg capsule", ndc=amoxil.packages.get().ndc11
        ),
        quantity=30,
        quantity_unit="C48480",
        sig_text="1 PO TID",
        raw=b"<Message>NewRx</Message>",
    )
    prescription = receive_prescription(incoming, channel=Channel.NCPDP, by=None).prescription
    page.clock.install()

    sign_in(page, technician.username)
    expect(page.get_by_test_id("queue-intake")).to_contain_text("1")
    page.get_by_test_id("queue-intake").click()

    queue = page.get_by_test_id("intake-queue")
    expect(queue).to_contain_text(prescription.rx_number)
    expect(queue).to_contain_text("Patient match uncertain")
    expect(queue).to_contain_text("Ada Lovelace born 1960-12-11 may be the patient")
    screenshot("intake-queue")

    # A second prescription arrives; the table shows it at the next refresh by itself.
    later = receive_prescription(
        dataclasses.replace(incoming, message_id="MSG-QUEUE-2", drug=IncomingDrug("Unknown")),
        channel=Channel.NCPDP,
        by=None,
    ).prescription
    expect(queue).not_to_contain_text(later.rx_number)
    page.clock.run_for(16_000)
    expect(queue).to_contain_text(later.rx_number)
    expect(queue).to_contain_text("Drug not matched")
    expect(page.get_by_test_id("intake-count")).to_contain_text("2 prescriptions waiting")

    page.get_by_role("link", name=prescription.rx_number).click()
    expect(page.get_by_test_id("received")).to_contain_text("born 1960-12-11")
    expect(page.get_by_test_id("raw-message")).to_have_text("<Message>NewRx</Message>")
    page.locator("#patient-results .pick-option").filter(has_text="1960-12-10").click()
    expect(page.get_by_test_id("patient-chosen")).to_contain_text("Ada Lovelace (1960-12-10)")
    screenshot("intake-resolve")
    page.get_by_role("button", name="Save").click()

    expect(page.locator(".messages")).to_contain_text("is resolved; its fill waits for PV1")
    expect(page.get_by_test_id("dur-alert-allergy")).to_contain_text("allergic to Penicillin")
    prescription.refresh_from_db()
    assert (prescription.status, prescription.patient) == (Prescription.Status.ACTIVE, ada)
