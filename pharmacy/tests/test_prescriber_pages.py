"""Prescriber pages: search by name or NPI (as one types), the prescriber's page, and
the create and edit forms with their NPI and DEA checks."""

import re

import pytest
from django.utils import timezone

from pharmacy.identifiers import dea_number_with_check_digit, npi_with_check_digit
from pharmacy.models import AuditEvent, Prescriber
from pharmacy.tests.factories import STAFF_PASSWORD, PatientFactory, PrescriberFactory

pytestmark = pytest.mark.django_db

VALID_NPI = npi_with_check_digit("123456789")  # 1234567893
VALID_DEA = dea_number_with_check_digit("BC", "482910")


def text_of(response) -> str:
    html = response.content.decode()
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", html).replace("&#x27;", "'").split())


def prescriber_form(**fields) -> dict:
    return {
        "first_name": "Sarah",
        "last_name": "Chen",
        "credentials": "MD",
        "npi": VALID_NPI,
        "dea_number": VALID_DEA,
        "dea_schedules": ["CII", "CIII", "CIV", "CV"],
        "state_license_number": "35.094821",
        "license_state": "OH",
        "practice_name": "Olentangy Internal Medicine",
        "address_line1": "3545 Olentangy River Rd",
        "address_line2": "Suite 210",
        "city": "Columbus",
        "state": "OH",
        "postal_code": "43214",
        "phone": "(614) 555-0142",
        "fax": "(614) 555-0143",
        **fields,
    }


@pytest.fixture
def prescribers():
    return {
        "chen": PrescriberFactory(first_name="Sarah", last_name="Chen", npi="1284937509"),
        "cheng": PrescriberFactory(first_name="Wei", last_name="Cheng", npi="1548702368"),
        "park": PrescriberFactory(first_name="Linda", last_name="Park", npi="1730582610"),
    }


# --------------------------------------------------------------------------- search


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("chen", ["Chen, Sarah, MD", "Cheng, Wei, MD"]),
        ("Chen, Sarah", ["Chen, Sarah, MD"]),
        ("sarah chen", ["Chen, Sarah, MD"]),
        ("12849", ["Chen, Sarah, MD"]),
        ("1", ["Chen, Sarah, MD", "Cheng, Wei, MD", "Park, Linda, MD"]),
        ("Nobody", []),
    ],
)
def test_prescribers_are_found_by_name_or_npi(client_technician, prescribers, query, found):
    response = client_technician.get("/prescribers/", {"q": query})

    assert (
        re.findall(r'<a href="/prescribers/\d+/">([^<]+)</a>', response.content.decode()) == found
    )
    assert AuditEvent.objects.count() == 0


def test_search_as_you_type_answers_htmx_with_the_results_only(client_technician, prescribers):
    response = client_technician.get("/prescribers/", {"q": "park"}, HTTP_HX_REQUEST="true")

    html = response.content.decode()
    assert "<html" not in html
    assert "Park, Linda" in text_of(response)
    assert [t.name for t in response.templates] == ["pharmacy/prescriber_results.html"]


def test_the_search_page_explains_itself_before_a_search(client_technician):
    page = text_of(client_technician.get("/prescribers/"))

    assert "Type a name or the first digits of an NPI" in page


def test_every_role_may_search_prescribers(client_manager, prescribers):
    response = client_manager.get("/prescribers/", {"q": "park"})

    assert response.status_code == 200
    assert "Park, Linda" in text_of(response)
    assert "New prescriber" not in text_of(response)


# --------------------------------------------------------------------------- the prescriber page


def test_the_prescriber_page_shows_the_registration(client_technician):
    prescriber = PrescriberFactory(
        first_name="Sarah", last_name="Chen", credentials="MD", npi=VALID_NPI,
        dea_number=VALID_DEA, dea_schedules=["CIII", "CIV"], state_license_number="35.094821",
        license_state="OH",
    )  # fmt: skip

    page = text_of(client_technician.get(f"/prescribers/{prescriber.pk}/"))

    assert f"NPI {VALID_NPI} DEA number {VALID_DEA} DEA schedules CIII CIV" in page
    assert "State license 35.094821 (OH)" in page
    assert "No prescription from this prescriber yet." in page
    assert AuditEvent.objects.count() == 0


def test_the_prescriber_page_lists_prescriptions_with_one_audit_row(client_technician):
    prescriber = PrescriberFactory()
    patients = [PatientFactory(last_name="Rivera"), PatientFactory(last_name="Okafor")]
    today = timezone.localdate()
    for number, patient in enumerate(patients):
        patient.prescriptions.create(
            rx_number=f"100010{number}", channel="fax", prescriber=prescriber,
            drug_description="Amoxicillin 500 MG Oral Capsule", quantity=30,
            quantity_unit="capsule", sig_text="1 cap tid", directions="1 capsule 3 times a day",
            written_date=today, expires_on=today,
        )  # fmt: skip

    page = text_of(client_technician.get(f"/prescribers/{prescriber.pk}/"))

    assert "Rivera," in page
    assert "Okafor," in page
    event = AuditEvent.objects.get()
    assert (event.action, event.object_type, sorted(event.patient_ids)) == (
        "view",
        "pharmacy.Prescriber",
        sorted(p.pk for p in patients),
    )


def test_a_manager_sees_the_prescriber_but_not_their_patients(client_manager):
    prescriber = PrescriberFactory(last_name="Chen")
    patient = PatientFactory(last_name="Rivera")
    today = timezone.localdate()
    patient.prescriptions.create(
        rx_number="1000100", channel="fax", prescriber=prescriber, drug_description="Amoxicillin",
        quantity=30, quantity_unit="capsule", sig_text="1 cap tid", directions="1 cap tid",
        written_date=today, expires_on=today,
    )  # fmt: skip

    response = client_manager.get(f"/prescribers/{prescriber.pk}/")

    page = text_of(response)
    assert response.status_code == 200
    assert "Chen" in page
    assert "Rivera" not in page
    assert "Edit" not in page
    assert AuditEvent.objects.count() == 0


# --------------------------------------------------------------------------- create and edit


@pytest.mark.parametrize("role", ["technician", "pharmacist"])
def test_staff_add_a_prescriber(request, role):
    client = request.getfixturevalue(f"client_{role}")

    response = client.post("/prescribers/new/", prescriber_form(dea_schedules=["CIV", "CII"]))

    prescriber = Prescriber.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/prescribers/{prescriber.pk}/"
    assert (str(prescriber), prescriber.npi, prescriber.dea_schedules) == (
        "Sarah Chen, MD",
        VALID_NPI,
        ["CII", "CIV"],
    )
    assert list(AuditEvent.objects.values_list("action", "object_type")) == [
        ("create", "pharmacy.Prescriber")
    ]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"npi": "1234567890"}, "'1234567890' is not a valid NPI"),
        ({"dea_number": "BC4829102"}, "'BC4829102' is not a valid DEA number"),
        ({"dea_number": ""}, "A DEA number is required to prescribe controlled substances"),
        ({"state": "ZZ"}, "'ZZ' is not a US state or territory code."),
        ({"postal_code": "4321"}, "'4321' is not a ZIP code (5 digits, or 5+4 as 12345-6789)."),
        ({"dea_schedules": ["CI"]}, "Select a valid choice. CI is not one of"),
    ],
)
def test_bad_prescriber_data_is_refused_with_a_clear_error(client_technician, fields, message):
    response = client_technician.post("/prescribers/new/", prescriber_form(**fields))

    page = text_of(response)
    assert response.status_code == 200
    assert "Nothing was saved." in page
    assert message in page
    assert (Prescriber.objects.count(), AuditEvent.objects.count()) == (0, 0)


def test_an_npi_already_on_file_is_refused(client_technician):
    existing = PrescriberFactory(npi=VALID_NPI, first_name="Sarah", last_name="Chen")

    response = client_technician.post("/prescribers/new/", prescriber_form())

    assert f"NPI {VALID_NPI} already belongs to Sarah Chen, MD" in text_of(response)
    assert list(Prescriber.objects.all()) == [existing]


def test_editing_a_prescriber_from_intake_marks_it_checked(client_technician):
    prescriber = PrescriberFactory(
        first_name="Elena", last_name="Vasquez", npi=VALID_NPI, dea_number=VALID_DEA,
        dea_schedules=[], needs_review=True,
    )  # fmt: skip
    edit_page = text_of(client_technician.get(f"/prescribers/{prescriber.pk}/edit/"))
    assert "saving marks it as checked" in edit_page

    response = client_technician.post(
        f"/prescribers/{prescriber.pk}/edit/",
        prescriber_form(first_name="Elena", last_name="Vasquez", dea_schedules=["CIV"]),
    )

    assert response.status_code == 302
    prescriber.refresh_from_db()
    assert (prescriber.dea_schedules, prescriber.needs_review, prescriber.city) == (
        ["CIV"],
        False,
        "Columbus",
    )
    event = AuditEvent.objects.get()
    assert event.action == "update"
    assert "dea_schedules" in event.summary
    assert "needs_review" in event.summary


def test_a_bad_edit_changes_nothing(client_pharmacist):
    prescriber = PrescriberFactory(npi=VALID_NPI, dea_number=VALID_DEA)

    response = client_pharmacist.post(
        f"/prescribers/{prescriber.pk}/edit/", prescriber_form(dea_number="XX1234567")
    )

    assert "'XX1234567' is not a valid DEA number" in text_of(response)
    prescriber.refresh_from_db()
    assert prescriber.dea_number == VALID_DEA
    assert AuditEvent.objects.count() == 0


def test_a_manager_may_not_create_or_edit_prescribers(client_manager):
    prescriber = PrescriberFactory()

    responses = [
        client_manager.get("/prescribers/new/"),
        client_manager.post("/prescribers/new/", prescriber_form()),
        client_manager.get(f"/prescribers/{prescriber.pk}/edit/"),
        client_manager.post(f"/prescribers/{prescriber.pk}/edit/", prescriber_form()),
    ]

    assert [r.status_code for r in responses] == [403, 403, 403, 403]
    assert Prescriber.objects.count() == 1
    assert AuditEvent.objects.count() == 0


# --------------------------------------------------------------------------- browser


@pytest.mark.django_db(transaction=True)
def test_results_appear_as_the_technician_types(page, screenshot, technician):
    PrescriberFactory(first_name="Sarah", last_name="Chen", practice_name="Olentangy IM")
    PrescriberFactory(first_name="Linda", last_name="Park")
    page.goto("/login/")
    page.get_by_label("Username").fill(technician.username)
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    page.get_by_text("More", exact=True).click()  # the navigation's rarer areas
    page.get_by_role("link", name="Prescribers").click()
    page.get_by_label("Name or NPI").press_sequentially("che", delay=50)

    results = page.get_by_test_id("prescriber-results")
    results.get_by_text("Chen, Sarah").wait_for()
    assert "Park" not in results.inner_text()
    assert page.url.endswith("/prescribers/?q=che")
    screenshot("prescriber-search")
    results.get_by_role("link", name="Chen, Sarah").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Sarah Chen, MD"
