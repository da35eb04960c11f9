"""Patient pages: create and edit, addresses, allergies (NKA), conditions, the
child-resistant waiver, prescriptions and history; one audit row per page shown."""

import datetime
import re

import pytest
from django.utils import timezone

from inventory.tests.factories import IngredientFactory, PharmacologicClassFactory
from pharmacy.models import Allergy, AuditEvent, Condition, Patient, PatientAddress
from pharmacy.tests.factories import (
    STAFF_PASSWORD,
    AllergyFactory,
    PatientAddressFactory,
    PatientFactory,
    PrescriberFactory,
)

pytestmark = pytest.mark.django_db


def audit_rows() -> list[tuple[str, str]]:
    return list(AuditEvent.objects.order_by("pk").values_list("action", "object_type"))


def new_patient_form(**fields) -> dict:
    return {
        "first_name": "Ana",
        "middle_name": "Maria",
        "last_name": "Rivera",
        "date_of_birth": "1961-04-12",
        "sex": "F",
        "phone": "(937) 555-0142",
        "email": "ana@example.com",
        "preferred_language": "Spanish",
        "child_resistant_waiver_on": "",
        "address-label": "Home",
        "address-line1": "418 Maple Ave",
        "address-line2": "Apt 2B",
        "address-city": "Dayton",
        "address-state": "oh",
        "address-postal_code": "45402",
        **fields,
    }


def edit_form(patient: Patient, **fields) -> dict:
    return {
        "first_name": patient.first_name,
        "middle_name": patient.middle_name,
        "last_name": patient.last_name,
        "date_of_birth": patient.date_of_birth.isoformat(),
        "sex": patient.sex,
        "phone": patient.phone,
        "email": patient.email,
        "preferred_language": patient.preferred_language,
        "child_resistant_waiver_on": "",
        **fields,
    }


def text_of(response) -> str:
    """The page's text without tags, whitespace collapsed (what a person reads)."""
    html = response.content.decode()
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", html).replace("&#x27;", "'").split())


# --------------------------------------------------------------------------- create


@pytest.mark.parametrize("role", ["technician", "pharmacist"])
def test_staff_create_a_patient_with_a_shipping_address(request, role):
    client = request.getfixturevalue(f"client_{role}")

    response = client.post("/patients/new/", new_patient_form())

    patient = Patient.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/patients/{patient.pk}/"
    assert (patient.full_name, patient.date_of_birth, patient.preferred_language) == (
        "Ana Maria Rivera",
        datetime.date(1961, 4, 12),
        "Spanish",
    )
    address = patient.addresses.get()
    assert (str(address), address.is_default_shipping) == (
        "418 Maple Ave, Apt 2B, Dayton, OH 45402",
        True,
    )
    assert audit_rows() == [("create", "pharmacy.Patient")]
    assert "Ana Maria Rivera was added." in text_of(client.get(response["Location"]))


def test_the_new_patient_page_shows_no_patient_and_writes_no_audit_row(client_technician):
    response = client_technician.get("/patients/new/")

    assert response.status_code == 200
    assert audit_rows() == []


def test_create_shows_every_mistake_at_once_and_writes_nothing(client_technician):
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)

    response = client_technician.post(
        "/patients/new/",
        new_patient_form(
            date_of_birth=tomorrow.isoformat(),
            **{"address-state": "ZZ", "address-postal_code": "4321"},
        ),
    )

    page = text_of(response)
    assert response.status_code == 200
    assert "Nothing was saved." in page
    assert "The date of birth is in the future." in page
    assert "'ZZ' is not a US state or territory code." in page
    assert "'4321' is not a ZIP code (5 digits, or 5+4 as 12345-6789)." in page
    assert response.context["form"].errors == {
        "date_of_birth": ["The date of birth is in the future."]
    }
    assert response.context["address_form"].errors == {
        "state": ["'ZZ' is not a US state or territory code."],
        "postal_code": ["'4321' is not a ZIP code (5 digits, or 5+4 as 12345-6789)."],
    }
    assert (Patient.objects.count(), PatientAddress.objects.count(), audit_rows()) == (0, 0, [])


def test_create_names_missing_fields(client_technician):
    response = client_technician.post(
        "/patients/new/",
        new_patient_form(first_name="", date_of_birth="1961-13-45", **{"address-line1": ""}),
    )

    assert response.context["form"].errors == {
        "first_name": ["This field is required."],
        "date_of_birth": ["Enter a valid date."],
    }
    assert response.context["address_form"].errors == {"line1": ["This field is required."]}
    assert (Patient.objects.count(), audit_rows()) == (0, [])


# --------------------------------------------------------------------------- edit


def test_the_edit_page_writes_one_audit_row(client_technician):
    patient = PatientFactory(first_name="Ana")

    response = client_technician.get(f"/patients/{patient.pk}/edit/")

    assert response.status_code == 200
    assert response.context["form"]["first_name"].value() == "Ana"
    assert audit_rows() == [("view", "pharmacy.Patient")]
    assert AuditEvent.objects.get().patient == patient


def test_editing_saves_the_details_and_marks_the_record_checked(client_pharmacist):
    patient = PatientFactory(needs_review=True, phone="")

    response = client_pharmacist.post(
        f"/patients/{patient.pk}/edit/",
        edit_form(patient, phone="(614) 555-0177", child_resistant_waiver_on="2025-01-20"),
    )

    assert response.status_code == 302
    patient.refresh_from_db()
    assert (patient.phone, patient.child_resistant_waiver_on, patient.needs_review) == (
        "(614) 555-0177",
        datetime.date(2025, 1, 20),
        False,
    )
    assert audit_rows() == [("update", "pharmacy.Patient")]
    page = text_of(client_pharmacist.get(f"/patients/{patient.pk}/"))
    assert "Waived on 2025-01-20 (blanket waiver)" in page


def test_a_bad_edit_shows_the_errors_and_changes_nothing(client_technician):
    patient = PatientFactory(first_name="Ana", date_of_birth=datetime.date(1961, 4, 12))
    future = (timezone.localdate() + datetime.timedelta(days=30)).isoformat()

    response = client_technician.post(
        f"/patients/{patient.pk}/edit/",
        edit_form(patient, first_name="Anna", date_of_birth=future, email="ana@",
                  child_resistant_waiver_on=future),
    )  # fmt: skip

    page = text_of(response)
    assert response.status_code == 200
    assert "The date of birth is in the future." in page
    assert "The waiver date is in the future." in page
    assert "Enter an e-mail address such as name@example.com." in page
    patient.refresh_from_db()
    assert (patient.first_name, patient.date_of_birth) == ("Ana", datetime.date(1961, 4, 12))
    # The page shown again is a view of the record, nothing more.
    assert audit_rows() == [("view", "pharmacy.Patient")]


# --------------------------------------------------------------------------- the patient page


def test_the_patient_page_shows_prescriptions_and_history_with_one_audit_row(
    client_technician,
):
    patient = PatientFactory(first_name="Ana", last_name="Rivera")
    prescriber = PrescriberFactory(first_name="Sarah", last_name="Chen", credentials="MD")
    today = timezone.localdate()
    prescription = patient.prescriptions.create(
        rx_number="1000042", status="active", channel="ncpdp", prescriber=prescriber,
        drug_description="Lisinopril 10 MG Oral Tablet", quantity=90, quantity_unit="tablet",
        days_supply=90, refills_authorized=3, sig_text="Take 1 tablet daily",
        directions="Take 1 tablet by mouth daily", written_date=today, expires_on=today,
    )  # fmt: skip
    prescription.fills.create(fill_number=0, status="shipped", quantity=90)
    prescription.fills.create(fill_number=1, status="pv1", quantity=90)

    response = client_technician.get(f"/patients/{patient.pk}/")

    page = text_of(response)
    assert "1000042 Lisinopril 10 MG Oral Tablet Sarah Chen, MD" in page
    history = page[page.index("History") :]
    assert history.index("Refill 1") < history.index("Original fill")
    assert history.index("Original fill") < history.index("Prescription received")
    assert "Waiting for PV1" in history
    assert "Shipped" in history
    assert audit_rows() == [("view", "pharmacy.Patient")]


def test_a_patient_without_prescriptions_says_so(client_technician):
    patient = PatientFactory()

    page = text_of(client_technician.get(f"/patients/{patient.pk}/"))

    assert "No prescription on file." in page
    assert "Nothing yet" in page


# --------------------------------------------------------------------------- allergies


def test_an_allergy_to_a_class_is_recorded_and_shown_as_the_class(client_technician):
    PharmacologicClassFactory(name="Penicillin-class Antibacterial", kind="EPC")
    patient = PatientFactory()

    response = client_technician.post(
        f"/patients/{patient.pk}/allergies/",
        {"allergen": "Penicillin", "reaction": "Hives", "severity": "moderate"},
        follow=True,
    )

    page = text_of(response)
    assert (
        "Allergy to Penicillin recorded, matched to the drug class "
        "Penicillin-class Antibacterial." in page
    )
    assert "Penicillin Class: Penicillin-class Antibacterial Hives Moderate" in page
    allergy = Allergy.objects.get()
    assert (allergy.pharmacologic_class.name, allergy.recorded_by.username) == (
        "Penicillin-class Antibacterial",
        "tech",
    )


def test_an_allergy_to_an_ingredient_or_to_nothing_known_says_which(client_technician):
    IngredientFactory(name="AMOXICILLIN")
    patient = PatientFactory()
    url = f"/patients/{patient.pk}/allergies/"

    amoxicillin = text_of(
        client_technician.post(url, {"allergen": "Amoxicillin", "severity": "severe"}, follow=True)
    )
    latex = text_of(
        client_technician.post(url, {"allergen": "Latex", "severity": "mild"}, follow=True)
    )

    assert "matched to the ingredient AMOXICILLIN." in amoxicillin
    assert "Latex recorded, not found in the catalogue, kept as written" in latex
    assert "Latex Not matched to the catalogue" in latex


def test_an_empty_allergy_is_refused_on_the_page(client_technician):
    patient = PatientFactory()

    response = client_technician.post(
        f"/patients/{patient.pk}/allergies/", {"allergen": "", "severity": "moderate"}
    )

    assert response.status_code == 200
    assert response.context["allergy_form"].errors == {"allergen": ["This field is required."]}
    assert Allergy.objects.count() == 0
    assert audit_rows() == [("view", "pharmacy.Patient")]


def test_no_known_allergies_is_recorded_with_its_button(client_technician):
    patient = PatientFactory()
    before = text_of(client_technician.get(f"/patients/{patient.pk}/"))
    assert "No allergy information recorded yet. Ask the patient." in before
    assert "Patient has no known allergies" in before

    response = client_technician.post(f"/patients/{patient.pk}/no-known-allergies/", follow=True)

    page = text_of(response)
    assert "No known allergies (recorded)." in page
    assert "Patient has no known allergies" not in page
    patient.refresh_from_db()
    assert patient.no_known_allergies is True


def test_no_known_allergies_is_refused_when_allergies_are_recorded(client_technician):
    patient = PatientFactory(first_name="Ana", last_name="Rivera")
    AllergyFactory(patient=patient)

    response = client_technician.post(f"/patients/{patient.pk}/no-known-allergies/", follow=True)

    assert "Ana Rivera has 1 allergy on file." in text_of(response)
    patient.refresh_from_db()
    assert patient.no_known_allergies is False
    assert ("update", "pharmacy.Patient") not in audit_rows()


def test_an_allergy_recorded_in_error_is_removed(client_technician):
    allergy = AllergyFactory(allergen="Sulfa")

    response = client_technician.post(
        f"/patients/{allergy.patient.pk}/allergies/{allergy.pk}/remove/", follow=True
    )

    assert "The allergy to Sulfa was removed." in text_of(response)
    assert Allergy.objects.count() == 0
    assert audit_rows()[0] == ("delete", "pharmacy.Allergy")


# --------------------------------------------------------------------------- conditions


def test_a_condition_is_recorded_with_its_icd10_code(client_technician):
    patient = PatientFactory()

    response = client_technician.post(
        f"/patients/{patient.pk}/conditions/",
        {"name": "Chronic kidney disease, stage 3", "icd10_code": "n183", "noted_on": ""},
        follow=True,
    )

    page = text_of(response)
    assert "Condition recorded: Chronic kidney disease, stage 3 (N18.3)." in page
    condition = Condition.objects.get()
    assert (condition.icd10_code, condition.noted_on) == ("N18.3", timezone.localdate())


def test_a_malformed_icd10_code_is_refused_on_the_page(client_technician):
    patient = PatientFactory()

    response = client_technician.post(
        f"/patients/{patient.pk}/conditions/", {"name": "Asthma", "icd10_code": "4J5"}
    )

    assert response.status_code == 200
    assert "'4J5' is not an ICD-10 code" in text_of(response)
    assert Condition.objects.count() == 0
    assert audit_rows() == [("view", "pharmacy.Patient")]


def test_a_condition_is_removed(client_pharmacist):
    patient = PatientFactory()
    condition = Condition.objects.create(patient=patient, name="Asthma", noted_on="2024-01-01")

    client_pharmacist.post(f"/patients/{patient.pk}/conditions/{condition.pk}/remove/")

    assert Condition.objects.count() == 0
    assert audit_rows() == [("delete", "pharmacy.Condition")]


# --------------------------------------------------------------------------- addresses


def test_an_address_is_added_as_the_new_default(client_technician):
    patient = PatientFactory()
    home = PatientAddressFactory(patient=patient, is_default_shipping=True)
    form = {"label": "Winter", "line1": "4150 Beneva Rd", "line2": "Unit 12",
            "city": "Sarasota", "state": "FL", "postal_code": "34233",
            "is_default_shipping": "on"}  # fmt: skip

    page = client_technician.get(f"/patients/{patient.pk}/addresses/new/")
    response = client_technician.post(f"/patients/{patient.pk}/addresses/new/", form)

    assert (page.status_code, response.status_code) == (200, 302)
    assert list(patient.addresses.filter(is_default_shipping=True).values_list("city")) == [
        ("Sarasota",)
    ]
    home.refresh_from_db()
    assert home.is_default_shipping is False
    assert audit_rows() == [("view", "pharmacy.Patient"), ("create", "pharmacy.PatientAddress")]


def test_a_bad_address_is_refused_with_its_errors(client_technician):
    patient = PatientFactory()

    response = client_technician.post(
        f"/patients/{patient.pk}/addresses/new/",
        {"label": "Home", "line1": "1 Main St", "city": "Columbus", "state": "QQ",
         "postal_code": "ABCDE"},
    )  # fmt: skip

    page = text_of(response)
    assert "'QQ' is not a US state or territory code." in page
    assert "'ABCDE' is not a ZIP code (5 digits, or 5+4 as 12345-6789)." in page
    assert PatientAddress.objects.count() == 0
    assert audit_rows() == [("view", "pharmacy.Patient")]


def test_an_address_is_edited_made_default_and_removed(client_technician):
    patient = PatientFactory()
    home = PatientAddressFactory(patient=patient, is_default_shipping=True, line2="")
    work = PatientAddressFactory(patient=patient, is_default_shipping=False)
    base = f"/patients/{patient.pk}/addresses"

    client_technician.post(
        f"{base}/{home.pk}/edit/",
        {"label": "Home", "line1": home.line1, "line2": "Apt 3", "city": home.city,
         "state": home.state, "postal_code": home.postal_code},
    )  # fmt: skip
    client_technician.post(f"{base}/{work.pk}/default/")
    client_technician.post(f"{base}/{work.pk}/remove/")

    home.refresh_from_db()
    assert (home.line2, home.is_default_shipping) == ("Apt 3", True)
    assert list(patient.addresses.all()) == [home]
    assert [action for action, _type in audit_rows()] == ["update", "update", "delete"]


def test_an_address_of_another_patient_is_not_found(client_technician):
    patient = PatientFactory()
    someone_elses = PatientAddressFactory()

    response = client_technician.post(
        f"/patients/{patient.pk}/addresses/{someone_elses.pk}/remove/"
    )

    assert response.status_code == 404
    assert PatientAddress.objects.count() == 1


# --------------------------------------------------------------------------- permissions


def manager_urls(patient, allergy, address) -> list[tuple[str, str]]:
    base = f"/patients/{patient.pk}"
    return [
        ("get", "/patients/new/"),
        ("post", "/patients/new/"),
        ("get", f"{base}/"),
        ("get", f"{base}/edit/"),
        ("post", f"{base}/edit/"),
        ("get", f"{base}/addresses/new/"),
        ("post", f"{base}/addresses/{address.pk}/remove/"),
        ("post", f"{base}/addresses/{address.pk}/default/"),
        ("post", f"{base}/allergies/"),
        ("post", f"{base}/allergies/{allergy.pk}/remove/"),
        ("post", f"{base}/no-known-allergies/"),
        ("post", f"{base}/conditions/"),
    ]


def test_a_manager_is_refused_every_patient_page_and_change(client_manager):
    patient = PatientFactory()
    allergy = AllergyFactory(patient=patient)
    address = PatientAddressFactory(patient=patient)

    for method, url in manager_urls(patient, allergy, address):
        data = new_patient_form() if method == "post" else None
        response = getattr(client_manager, method)(url, data)
        assert response.status_code == 403, url

    assert (Patient.objects.count(), Allergy.objects.count(), audit_rows()) == (1, 1, [])


def test_signed_out_visitors_are_sent_to_sign_in(client):
    patient = PatientFactory()

    response = client.get(f"/patients/{patient.pk}/edit/")

    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_the_patient_page_offers_changes_only_to_who_may_make_them(client_technician, technician):
    patient = PatientFactory()
    role = technician.groups.get()
    role.permissions.remove(*role.permissions.filter(codename="change_patient"))

    page = text_of(client_technician.get(f"/patients/{patient.pk}/"))

    assert "Edit details" not in page
    assert "Record allergy" not in page


# --------------------------------------------------------------------------- browser


@pytest.mark.django_db(transaction=True)
@pytest.mark.browser
def test_a_technician_creates_a_patient_in_the_browser(page, screenshot, technician):
    PharmacologicClassFactory(name="Penicillin-class Antibacterial", kind="EPC")
    page.goto("/login/")
    page.get_by_label("Username").fill(technician.username)
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    page.get_by_role("link", name="Patients").click()
    page.get_by_role("link", name="New patient").click()
    page.get_by_label("First name").fill("Ana")
    page.get_by_label("Last name").fill("Rivera")
    page.get_by_label("Date of birth").fill("1961-04-12")
    page.get_by_label("Street address").fill("418 Maple Ave")
    page.get_by_label("City").fill("Dayton")
    page.get_by_label("State").fill("OH")
    page.get_by_label("ZIP code").fill("4540")
    page.get_by_role("button", name="Save").click()
    assert "'4540' is not a ZIP code" in page.locator("main").inner_text()
    screenshot("patient-create-errors")
    page.get_by_label("ZIP code").fill("45402")
    page.get_by_role("button", name="Save").click()

    assert page.get_by_role("heading", level=1).inner_text() == "Ana Rivera"
    page.get_by_label("Allergen").fill("Penicillin")
    page.get_by_role("button", name="Record allergy").click()
    assert "Class: Penicillin-class Antibacterial" in page.get_by_test_id("allergies").inner_text()
    screenshot("patient-detail")
