"""Manual entry of phone and fax prescriptions: the page, its pickers, its sig preview.

A correct entry goes through intake (``receive_prescription``) with the picked patient,
prescriber and drug and lands on the prescription page; a wrong one shows the reason in
plain words and writes nothing at all.
"""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from inventory.models import DEASchedule
from inventory.ndc import upc_from_ndc
from inventory.tests.factories import PackageFactory, ProductFactory, ProductIngredientFactory
from orders.forms import MAX_ORIGINAL_BYTES
from orders.models import Channel, DurAlert, Fill, FillEvent, Order, Prescription
from orders.tests.factories import amoxicillin_product, penicillin_allergic_patient, tiny_png
from pharmacy.drug_checks import invalidate_interaction_index
from pharmacy.models import AuditEvent, Patient, Prescriber
from pharmacy.tests.factories import PatientFactory, PrescriberFactory

URL = "/intake/new/"
MODELS = (Prescription, Fill, FillEvent, Order, DurAlert, AuditEvent, Patient, Prescriber)


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in MODELS}


@pytest.fixture(autouse=True)
def media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def fresh_interaction_index():
    invalidate_interaction_index()
    yield
    invalidate_interaction_index()


@pytest.fixture
def patient(db):
    return penicillin_allergic_patient(
        first_name="Ada", last_name="Lovelace", date_of_birth="1960-12-10"
    )


@pytest.fixture
def prescriber(db):
    return PrescriberFactory(first_name="Grace", last_name="Hopper")


@pytest.fixture
def product(db):
    return amoxicillin_product()


def png(name="phone-note.png", content=None):
    return SimpleUploadedFile(name, tiny_png() if content is None else content, "image/png")


def entry(patient, prescriber, product, /, **changes):
    data = {
        "channel": Channel.PHONE,
        "original_document": png(),
        "patient": patient.pk,
        "prescriber": prescriber.pk,
        "product": product.pk,
        "package": "",
        "quantity": "30",
        "quantity_unit": "capsule",
        "sig_text": "1 PO TID",
        "days_supply": "",
        "refills": "0",
        "written_date": timezone.localdate().isoformat(),
        "note": "",
        "caller_office": "Hopper Family Medicine",
        "caller_name": "Ms Byron, nurse",
        "callback_phone": "614-555-0142",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def test_the_page_is_scanner_first(client_technician):
    response = client_technician.get(URL)

    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="product-search"' in html
    assert html.count("data-scan") == 1
    assert 'hx-get="/intake/search/patients/"' in html
    assert 'hx-get="/intake/sig-preview/"' in html


def test_a_phone_prescription_is_saved_with_the_picked_records(
    client_technician, technician, patient, prescriber, product
):
    response = client_technician.post(URL, entry(patient, prescriber, product))

    prescription = Prescription.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/prescriptions/{prescription.pk}/"
    assert prescription.status == Prescription.Status.ACTIVE
    assert prescription.channel == Channel.PHONE
    assert (prescription.patient, prescription.prescriber, prescription.product) == (
        patient,
        prescriber,
        product,
    )
    assert prescription.intake_issues == []
    assert prescription.prescribed_ndc == product.packages.get().ndc11
    assert prescription.quantity_unit == "capsule"
    assert prescription.sig_text == "1 PO TID"
    assert prescription.directions == "Take 1 capsule by mouth three times daily"
    assert prescription.days_supply == 10  # 30 capsules, 3 a day
    assert prescription.substitutions_allowed is True
    assert prescription.received_by == technician
    assert prescription.received_data["patient"]["last_name"] == "Lovelace"
    assert prescription.original_document.name.endswith(".png")
    assert prescription.original_document.read() == tiny_png()
    fill = prescription.fills.get()
    assert (fill.status, fill.order.patient) == (Fill.Status.PV1, patient)
    assert list(fill.events.values_list("from_status", "to_status")) == [("", "pv1")]
    allergy = DurAlert.objects.get(type=DurAlert.Type.ALLERGY)
    assert allergy.fill == fill
    assert "allergic to Penicillin" in allergy.message
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.CREATE, object_id=str(prescription.pk), patient=patient
    ).exists()


def test_the_prescription_page_shows_what_was_saved(
    client_technician, patient, prescriber, product
):
    client_technician.post(URL, entry(patient, prescriber, product))
    prescription = Prescription.objects.get()

    response = client_technician.get(f"/prescriptions/{prescription.pk}/")

    html = response.content.decode()
    assert response.status_code == 200
    assert prescription.rx_number in html
    assert "Take 1 capsule by mouth three times daily" in html
    assert "Waiting for PV1" in html
    assert 'data-testid="dur-alert-allergy"' in html
    assert "allergic to Penicillin (reaction: Hives)" in html
    assert f'src="/prescriptions/{prescription.pk}/original/"' in html


def test_the_original_is_served_to_staff_only_and_its_viewing_audited(
    client_technician, client_manager, technician, patient, prescriber, product
):
    client_technician.post(URL, entry(patient, prescriber, product))
    prescription = Prescription.objects.get()
    before = AuditEvent.objects.count()

    response = client_technician.get(f"/prescriptions/{prescription.pk}/original/")
    refused = client_manager.get(f"/prescriptions/{prescription.pk}/original/")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == (
        f'inline; filename="rx-{prescription.rx_number}.png"'
    )
    assert b"".join(response.streaming_content) == tiny_png()
    assert refused.status_code == 403
    assert AuditEvent.objects.count() == before + 1
    event = AuditEvent.objects.first()
    assert (event.action, event.actor, event.patient, event.summary) == (
        AuditEvent.Action.VIEW,
        technician,
        patient,
        f"Original of Rx {prescription.rx_number}",
    )


def test_a_prescription_without_an_original_has_none_to_serve(
    client_technician, patient, prescriber, product
):
    client_technician.post(URL, entry(patient, prescriber, product, original_document=None))
    prescription = Prescription.objects.get()

    response = client_technician.get(f"/prescriptions/{prescription.pk}/original/")

    assert response.status_code == 404


def test_a_typed_days_supply_and_dispense_as_written_are_kept(
    client_technician, patient, prescriber, product
):
    client_technician.post(
        URL,
        entry(patient, prescriber, product, days_supply="7", dispense_as_written="on"),
    )

    prescription = Prescription.objects.get()
    assert prescription.days_supply == 7
    assert prescription.substitutions_allowed is False


def test_a_fax_with_a_pdf_is_saved(client_technician, patient, prescriber, product):
    pdf = SimpleUploadedFile("fax.pdf", b"%PDF-1.4\n%\xe2\xe3\n1 0 obj\n", "application/pdf")

    response = client_technician.post(
        URL, entry(patient, prescriber, product, channel=Channel.FAX, original_document=pdf)
    )

    prescription = Prescription.objects.get()
    assert response.status_code == 302
    assert prescription.channel == Channel.FAX
    page = client_technician.get(f"/prescriptions/{prescription.pk}/").content.decode()
    assert "Open the original (PDF)" in page


def test_a_scanned_package_is_the_prescribed_ndc(client_technician, patient, prescriber, product):
    other = PackageFactory(product=product, description="100 CAPSULE in 1 BOTTLE")

    client_technician.post(URL, entry(patient, prescriber, product, package=other.package_ndc))

    assert Prescription.objects.get().prescribed_ndc == other.ndc11


def test_a_phone_note_may_have_no_original(client_technician, patient, prescriber, product):
    response = client_technician.post(
        URL, entry(patient, prescriber, product, original_document=None)
    )

    assert response.status_code == 302
    assert not Prescription.objects.get().original_document


# --------------------------------------------------------------------------- errors


def _controlled_product(schedule=DEASchedule.CII, name="oxycodone"):
    product = ProductFactory(nonproprietary_name=name, dea_schedule=schedule)
    ProductIngredientFactory(product=product, ingredient__name=name.title())
    PackageFactory(product=product)
    return product


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"original_document": SimpleUploadedFile("note.txt", b"hello", "text/plain")},
            "The file note.txt is not an image or a PDF.",
        ),
        (
            {"original_document": SimpleUploadedFile("note.png", b"%PDF-1.4 x", "image/png")},
            "The file note.png is named as PNG but its content is PDF",
        ),
        (
            {"original_document": png(content=b"")},
            "The submitted file is empty.",
        ),
        (
            {
                "original_document": png(
                    "huge.png", tiny_png() + b"\0" * (MAX_ORIGINAL_BYTES + 1 - len(tiny_png()))
                )
            },
            "The file huge.png is 10.0 MB; the limit is 10.0 MB.",
        ),
        (
            {"channel": Channel.FAX, "original_document": None},
            "A fax prescription needs the image or PDF of the fax.",
        ),
        (
            {"written_date": (timezone.localdate() + timedelta(days=1)).isoformat()},
            "is in the future.",
        ),
        (
            {"written_date": (timezone.localdate() - timedelta(days=400)).isoformat()},
            "expired on",
        ),
        ({"written_date": "10/32/2024"}, "Enter the written date as YYYY-MM-DD."),
        ({"quantity": "0"}, "The quantity 0 is not possible: it must be more than 0"),
        ({"quantity": "lots"}, "The quantity is a number, such as 30 or 150.5."),
        ({"quantity": ""}, "Enter the quantity prescribed."),
        ({"days_supply": "0"}, "The days supply is at least 1 day."),
        ({"days_supply": "400"}, "The days supply 400 is not possible: 1 to 365."),
        ({"refills": "-1"}, "Refills cannot be negative."),
        ({"refills": "100"}, "100 refills were written: at most 99 refills."),
        ({"sig_text": ""}, "Enter the directions (sig), such as 1 PO BID."),
        ({"patient": ""}, "Pick the patient: search by name or date of birth, then choose one."),
        ({"prescriber": ""}, "Pick the prescriber: search by name or NPI, then choose one."),
        ({"product": ""}, "Pick the drug: search by name or NDC, or scan the package."),
        ({"patient": "999999"}, "That choice is no longer on file; search again."),
        ({"package": "0000-0000-00"}, "The package scanned is not one of this drug&#x27;s."),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_a_wrong_entry_says_why_and_writes_nothing(
    client_technician, patient, prescriber, product, changes, message
):
    before = counts()

    response = client_technician.post(URL, entry(patient, prescriber, product, **changes))

    assert response.status_code == 400
    html = response.content.decode()
    assert "Nothing was saved." in html
    assert message in html
    assert counts() == before


@pytest.mark.parametrize("channel", ["phone", "fax"])
def test_a_schedule_ii_prescription_by_phone_or_fax_is_refused(
    client_technician, patient, prescriber, channel
):
    before = counts()

    response = client_technician.post(
        URL,
        entry(patient, prescriber, _controlled_product(), channel=channel, quantity_unit="tablet"),
    )

    assert response.status_code == 400
    assert (
        "A Schedule II prescription cannot be taken by phone or fax: it must arrive "
        "electronically or as the signed original (21 CFR 1306.11)." in response.content.decode()
    )
    assert counts() == before


def test_a_schedule_iv_prescription_with_six_refills_is_refused(
    client_technician, patient, prescriber
):
    before = counts()
    alprazolam = _controlled_product(DEASchedule.CIV, "alprazolam")

    response = client_technician.post(
        URL, entry(patient, prescriber, alprazolam, refills="6", quantity_unit="tablet")
    )

    assert response.status_code == 400
    assert (
        "6 refills were written: Schedule IV prescriptions allow at most 5 refills "
        "(21 CFR 1306.22)." in response.content.decode()
    )
    assert counts() == before


def test_a_controlled_drug_outside_the_prescriber_registration_is_refused(
    client_technician, patient
):
    prescriber = PrescriberFactory(dea_schedules=["CIV", "CV"])
    before = counts()
    testosterone = _controlled_product(DEASchedule.CIII, "testosterone")

    response = client_technician.post(
        URL, entry(patient, prescriber, testosterone, quantity_unit="mL")
    )

    assert response.status_code == 400
    assert "does not cover Schedule III" in response.content.decode()
    assert counts() == before


def test_an_error_keeps_the_picked_records_on_the_page(
    client_technician, patient, prescriber, product
):
    response = client_technician.post(URL, entry(patient, prescriber, product, quantity="0"))

    html = response.content.decode()
    assert f'name="patient" id="patient-value" value="{patient.pk}"' in html
    assert "Ada Lovelace (1960-12-10)" in html
    assert f'name="product" id="product-value" value="{product.pk}"' in html
    assert "Choose the file again" in html
    assert 'value="1 PO TID"' in html
    assert "Take 1 capsule by mouth three times daily" in html


# --------------------------------------------------------------------------- pickers


def test_patients_are_found_by_name_or_birth_date_and_the_search_is_audited(
    client_technician, technician, patient
):
    PatientFactory(first_name="Adam", last_name="Smith", date_of_birth="1970-01-01")

    by_name = client_technician.get("/intake/search/patients/", {"q": "lovel"})
    by_birth = client_technician.get("/intake/search/patients/", {"q": "12/10/1960"})
    by_both = client_technician.get("/intake/search/patients/", {"q": "ada 1960-12-10"})
    nobody = client_technician.get("/intake/search/patients/", {"q": "zzz"})

    for response in (by_name, by_birth, by_both):
        html = response.content.decode()
        assert f'data-value="{patient.pk}"' in html
        assert "Ada Lovelace (1960-12-10)" in html
        assert "Allergies: Penicillin" in html
        assert "Smith" not in html
    assert "No patient matches “zzz”" in nobody.content.decode()
    searches = AuditEvent.objects.filter(action=AuditEvent.Action.SEARCH)
    assert searches.count() == 3
    assert {tuple(event.patient_ids) for event in searches} == {(patient.pk,)}
    assert {event.actor for event in searches} == {technician}


def test_prescribers_are_found_by_name_or_npi(client_technician, prescriber):
    PrescriberFactory(last_name="Turing")

    by_name = client_technician.get("/intake/search/prescribers/", {"q": "hop"})
    by_npi = client_technician.get("/intake/search/prescribers/", {"q": prescriber.npi})

    for response in (by_name, by_npi):
        html = response.content.decode()
        assert f'data-value="{prescriber.pk}"' in html
        assert f"NPI {prescriber.npi}" in html
        assert "Turing" not in html


@pytest.mark.parametrize(
    "how",
    [
        "name",
        "product_ndc",
        "package_ndc",
        "partial_ndc",
        "ndc11",
        "upc",
        "gs1",
        "gs1_unreadable_tail",
    ],
)
def test_drugs_are_found_by_name_ndc_or_scan(client_technician, product, how):
    ProductFactory(proprietary_name="Zocor", nonproprietary_name="simvastatin")
    package = product.packages.get()
    query = {
        "name": "amox",
        "product_ndc": product.product_ndc,
        "package_ndc": package.package_ndc,
        "ndc11": package.ndc11,
        "upc": upc_from_ndc(package.package_ndc),
        "partial_ndc": package.package_ndc[:7],
        "gs1": f"]d201{package.gtin}17291231\x1d10LOT42",
        # A browser that drops the GS characters leaves the fields after the GTIN unreadable.
        "gs1_unreadable_tail": f"]d201{package.gtin}17291399",
    }[how]

    response = client_technician.get("/intake/search/drugs/", {"q": query})

    html = response.content.decode()
    assert f'data-value="{product.pk}"' in html
    assert "Amoxil (amoxicillin)" in html
    assert 'data-unit="capsule"' in html
    assert "Zocor" not in html
    if how in ("upc", "gs1", "gs1_unreadable_tail", "package_ndc", "ndc11"):
        assert f'data-package="{package.package_ndc}"' in html


def test_an_unreadable_scan_says_so(client_technician, product):
    response = client_technician.get("/intake/search/drugs/", {"q": "]d2010000000000000"})

    assert response.status_code == 200
    assert 'class="pick-option"' not in response.content.decode()
    assert 'role="status"' in response.content.decode()


def test_the_sig_preview_expands_the_sig_and_works_out_the_days_supply(client_technician):
    response = client_technician.get(
        "/intake/sig-preview/",
        {"sig_text": "2 PO BID", "quantity": "60", "quantity_unit": "tablet"},
    )
    as_needed = client_technician.get(
        "/intake/sig-preview/", {"sig_text": "1 PO Q6H PRN", "quantity": "20"}
    )

    html = response.content.decode()
    assert "Take 2 tablets by mouth twice daily" in html
    assert 'data-days-supply="15"' in html
    assert "Take 1 tablet by mouth every 6 hours as needed" in as_needed.content.decode()
    assert "does not give a days supply" in as_needed.content.decode()


# --------------------------------------------------------------------------- access


@pytest.mark.parametrize(
    "path",
    [
        URL,
        "/intake/",
        "/intake/rows/",
        "/intake/search/patients/?q=ada",
        "/intake/search/prescribers/?q=hop",
        "/intake/search/drugs/?q=amox",
        "/intake/sig-preview/?sig_text=1+PO+BID",
        "/refills/",
    ],
)
def test_a_manager_is_refused_and_a_visitor_sent_to_sign_in(client_manager, client, path):
    assert client_manager.get(path).status_code == 403
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


def test_a_manager_cannot_post_a_prescription(client_manager, patient, prescriber, product):
    before = counts()

    response = client_manager.post(URL, entry(patient, prescriber, product))

    assert response.status_code == 403
    assert counts() == before


def test_a_pharmacist_may_enter_a_prescription(client_pharmacist, patient, prescriber, product):
    response = client_pharmacist.post(URL, entry(patient, prescriber, product))

    assert response.status_code == 302
    assert Prescription.objects.count() == 1
