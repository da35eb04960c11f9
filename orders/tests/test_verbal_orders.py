"""Phone (verbal) orders: who called, the call-back number and the pharmacist who took the
order where the state requires one, in the intake service and on the entry page; and the
patient panel that shows the picked patient's medications and allergies before saving."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from lib.us_phones import format_us_phone, us_phone_problem
from orders.intake.messages import IntakeError
from orders.models import Channel, Fill, Prescription
from orders.services.intake import VerbalOrder, receive_prescription
from orders.tests.factories import (
    PrescriptionFactory,
    amoxicillin_product,
    another_staff,
    penicillin_allergic_patient,
)
from orders.tests.test_intake_queue import message
from orders.tests.test_manual_entry import URL, counts, entry
from pharmacy.drug_checks import invalidate_interaction_index
from pharmacy.models import AuditEvent, Role, User
from pharmacy.settings import env_states
from pharmacy.tests.factories import PatientAddressFactory, PrescriberFactory

CALLER = VerbalOrder("Hopper Family Medicine", "Ms Byron, nurse", "614.555.0142 ext 12")


@pytest.fixture(autouse=True)
def media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def fresh_interaction_index():
    invalidate_interaction_index()
    yield
    invalidate_interaction_index()


@pytest.fixture
def texan(db):
    """A patient who ships to Texas."""
    patient = penicillin_allergic_patient(first_name="Ada", last_name="Lovelace")
    PatientAddressFactory(patient=patient, state="TX", city="Austin", postal_code="78701")
    return patient


@pytest.fixture
def prescriber(db):
    return PrescriberFactory(first_name="Grace", last_name="Hopper")


@pytest.fixture
def product(db):
    return amoxicillin_product()


@pytest.fixture
def pharmacist_states(settings):
    settings.VERBAL_ORDER_PHARMACIST_STATES = frozenset({"TX", "NY"})
    settings.SHIP_FROM = {**settings.SHIP_FROM, "state": "OH"}


def phone_order(patient, verbal: VerbalOrder | None, *, by, channel=Channel.PHONE):
    return receive_prescription(
        message(message_id=""), channel=channel, by=by, patient=patient, verbal_order=verbal
    ).prescription


# --------------------------------------------------------------------------- the rules


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("614-555-0142", "(614) 555-0142"),
        ("1 (614) 555 0142", "(614) 555-0142"),
        ("+1 614.555.0142 ext. 204", "(614) 555-0142 x204"),
    ],
)
def test_a_us_phone_number_in_any_layout_is_kept_in_one(typed, shown):
    assert us_phone_problem(typed) == ""
    assert format_us_phone(typed) == shown


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("555-0142", "it needs 10 digits, area code first"),
        ("(614) 555-01423", "it needs 10 digits"),
        ("(014) 555-0142", "no area code or exchange starts with 0 or 1"),
        ("(614) 155-0142", "no area code or exchange starts with 0 or 1"),
        ("call the front desk", "use digits"),
    ],
)
def test_a_number_that_is_not_a_us_phone_number_says_why(typed, problem):
    assert problem in us_phone_problem(typed)


def test_the_setting_takes_state_codes_in_any_case_and_refuses_anything_else(monkeypatch):
    monkeypatch.setenv("VERBAL_ORDER_PHARMACIST_STATES", " tx, NY ,")
    assert env_states("VERBAL_ORDER_PHARMACIST_STATES", []) == {"TX", "NY"}
    monkeypatch.setenv("VERBAL_ORDER_PHARMACIST_STATES", "TX,Texas,ZZ")
    with pytest.raises(ImproperlyConfigured, match="'TEXAS', 'ZZ', not US state codes"):
        env_states("VERBAL_ORDER_PHARMACIST_STATES", [])


# --------------------------------------------------------------------------- the service


def test_a_phone_order_keeps_who_called_and_the_number_formatted(technician, texan):
    prescription = phone_order(texan, CALLER, by=technician)

    assert (prescription.caller_office, prescription.caller_name) == (
        "Hopper Family Medicine",
        "Ms Byron, nurse",
    )
    assert prescription.callback_phone == "(614) 555-0142 x12"
    assert prescription.verbal_order_taken_by is None  # no state requires one here


@pytest.mark.parametrize(
    ("verbal", "code", "words"),
    [
        (None, "caller_required", "needs the caller's office, the caller's name, a call-back"),
        (
            VerbalOrder("Hopper Family Medicine", "  ", "614 555 0142"),
            "caller_required",
            "A phone order needs the caller's name:",
        ),
        (
            VerbalOrder("Hopper Family Medicine", "Ms Byron", "555-0142"),
            "invalid_callback_phone",
            "'555-0142' is not a US phone number: it needs 10 digits",
        ),
    ],
)
def test_a_phone_order_without_its_caller_is_refused_and_nothing_written(
    technician, texan, verbal, code, words
):
    before = counts()
    with pytest.raises(IntakeError) as refused:
        phone_order(texan, verbal, by=technician)

    assert refused.value.code == code
    assert words in refused.value.description
    assert counts() == before


def test_a_fax_needs_no_caller(technician, texan):
    prescription = phone_order(texan, None, by=technician, channel=Channel.FAX)

    assert (prescription.caller_name, prescription.callback_phone) == ("", "")


def test_where_the_patients_state_requires_it_a_phone_order_names_its_pharmacist(
    pharmacist_states, technician, pharmacist, texan
):
    before = counts()
    with pytest.raises(IntakeError) as refused:
        phone_order(texan, CALLER, by=technician)
    assert refused.value.code == "verbal_order_pharmacist_required"
    assert "only a pharmacist" in refused.value.description
    assert counts() == before

    named = VerbalOrder(CALLER.caller_office, CALLER.caller_name, CALLER.callback_phone, pharmacist)
    prescription = phone_order(texan, named, by=technician)
    assert prescription.verbal_order_taken_by == pharmacist


def test_the_pharmacys_own_state_requires_it_too(settings, technician, texan):
    settings.VERBAL_ORDER_PHARMACIST_STATES = frozenset({"OH"})
    settings.SHIP_FROM = {**settings.SHIP_FROM, "state": "OH"}

    with pytest.raises(IntakeError, match="name the pharmacist who took the call"):
        phone_order(texan, CALLER, by=technician)


def test_a_patient_outside_the_listed_states_needs_no_pharmacist(pharmacist_states, technician, db):
    ohioan = penicillin_allergic_patient()
    PatientAddressFactory(patient=ohioan, state="OH")

    assert phone_order(ohioan, CALLER, by=technician).verbal_order_taken_by is None


@pytest.mark.parametrize("who", ["technician", "inactive pharmacist", "manager"])
def test_only_an_active_pharmacist_can_be_named(pharmacist_states, technician, texan, who):
    role = Role.TECHNICIAN if who == "technician" else Role.MANAGER
    if who == "inactive pharmacist":
        role = Role.PHARMACIST
    named = another_staff(role, first_name="Tess", last_name="Tech")
    if who == "inactive pharmacist":
        User.objects.filter(pk=named.pk).update(is_active=False)
        named.refresh_from_db()
    before = counts()
    with pytest.raises(IntakeError) as refused:
        phone_order(texan, VerbalOrder("Office", "Nurse", "614 555 0142", named), by=technician)

    assert refused.value.code == "not_a_pharmacist"
    assert refused.value.description.startswith("Tess Tech is not an active pharmacist")
    assert counts() == before


# --------------------------------------------------------------------------- the page


def test_the_form_starts_on_the_patient(client_technician):
    html = client_technician.get(URL).content.decode()

    patient_search = html.index('id="patient-search"')
    assert patient_search < html.index('name="channel"') < html.index('id="product-search"')
    assert "data-focus" in html[patient_search - 400 : patient_search + 600]
    assert 'hx-get="/intake/patient-panel/"' in html
    assert 'name="caller_office"' in html
    assert 'name="callback_phone"' in html


@pytest.mark.parametrize(
    ("changes", "field_error"),
    [
        (
            {"caller_office": "", "caller_name": "", "callback_phone": ""},
            "Caller&#x27;s office: Enter the caller&#x27;s office",
        ),
        ({"callback_phone": "555 0142"}, "it needs 10 digits, area code first"),
        ({"callback_phone": "(014) 555-0142"}, "no area code or exchange starts with 0 or 1"),
    ],
)
def test_a_phone_order_typed_without_its_caller_is_refused(
    client_technician, texan, prescriber, product, changes, field_error
):
    before = counts()
    response = client_technician.post(URL, entry(texan, prescriber, product, **changes))

    assert response.status_code == 400
    assert "Nothing was saved." in response.content.decode()
    assert field_error in response.content.decode()
    assert counts() == before


def test_a_technician_cannot_be_chosen_as_the_pharmacist(
    client_technician, technician, texan, prescriber, product
):
    before = counts()
    response = client_technician.post(
        URL, entry(texan, prescriber, product, verbal_order_taken_by=technician.pk)
    )

    assert response.status_code == 400
    assert "Choose an active pharmacist from the list" in response.content.decode()
    assert counts() == before


def test_the_pharmacist_list_holds_active_pharmacists_only(
    client_technician, technician, pharmacist
):
    gone = another_staff(Role.PHARMACIST, first_name="Gone", last_name="Away")
    User.objects.filter(pk=gone.pk).update(is_active=False)
    html = client_technician.get(URL).content.decode()

    assert f'<option value="{pharmacist.pk}">' in html
    assert f'<option value="{gone.pk}">' not in html
    assert f'<option value="{technician.pk}">' not in html


def test_a_missing_pharmacist_where_required_is_shown_beside_its_field(
    pharmacist_states, client_technician, texan, prescriber, product
):
    before = counts()
    response = client_technician.post(URL, entry(texan, prescriber, product))

    html = response.content.decode()
    assert response.status_code == 400
    assert "Pharmacist who took the order: This patient&#x27;s state lets only a pharmacist" in html
    assert "Required for a phone order when the patient or the pharmacy is in NY, TX" in html
    assert counts() == before


def test_the_caller_and_pharmacist_show_on_the_rx_page_and_at_pv1(
    pharmacist_states, client_technician, client_pharmacist, pharmacist, texan, prescriber, product
):
    response = client_technician.post(
        URL, entry(texan, prescriber, product, verbal_order_taken_by=pharmacist.pk)
    )
    assert response.status_code == 302
    prescription = Prescription.objects.get()
    fill = Fill.objects.get(prescription=prescription)

    for html in (
        client_technician.get(response["Location"]).content.decode(),
        client_pharmacist.get(f"/fills/{fill.pk}/pv1/").content.decode(),
    ):
        assert "Ms Byron, nurse, Hopper Family Medicine" in html
        assert "(614) 555-0142" in html
        assert "Paul Pharm, pharmacist" in html


def test_a_fax_is_saved_without_a_caller(client_technician, texan, prescriber, product):
    response = client_technician.post(
        URL,
        entry(
            texan, prescriber, product, channel=Channel.FAX, caller_office="", caller_name="",
            callback_phone="",
        ),
    )  # fmt: skip

    assert response.status_code == 302
    assert Prescription.objects.get().caller_name == ""


# --------------------------------------------------------------------------- the panel


def test_the_panel_shows_the_patients_medications_and_allergies_and_is_audited(
    pharmacist_states, client_technician, technician, texan
):
    product = amoxicillin_product()
    PrescriptionFactory(patient=texan, product=product, directions="Take 1 capsule daily")
    PrescriptionFactory(patient=texan, drug_description="Old drug", status="cancelled")
    before = AuditEvent.objects.count()

    response = client_technician.get("/intake/patient-panel/", {"patient": texan.pk})

    html = response.content.decode()
    assert response.status_code == 200
    assert product.full_description in html
    assert "Take 1 capsule daily" in html
    assert "Old drug" not in html
    assert "Penicillin" in html
    assert "Hives" in html
    assert "a phone order names the pharmacist who took it" in html
    assert AuditEvent.objects.count() == before + 1
    event = AuditEvent.objects.latest("pk")
    assert (event.actor, event.action, event.patient) == (
        technician,
        AuditEvent.Action.VIEW,
        texan,
    )


def test_the_panel_without_a_patient_asks_for_one_and_refuses_an_unknown_one(client_technician, db):
    before = AuditEvent.objects.count()
    empty = client_technician.get("/intake/patient-panel/")
    unknown = client_technician.get("/intake/patient-panel/", {"patient": "99999999999999"})
    junk = client_technician.get("/intake/patient-panel/", {"patient": "abc"})

    assert empty.status_code == 200
    assert "Pick the patient to see" in empty.content.decode()
    for response in (unknown, junk):
        assert response.status_code == 404
        assert "no longer in use" in response.content.decode()
    assert AuditEvent.objects.count() == before
