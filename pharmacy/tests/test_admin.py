"""The Django admin shows patient data read-only and audited, and changes no prescriber:
patients and prescribers change through ``pharmacy.services`` from the staff pages and the
API, which validate and audit each change. (``admin_client`` is pytest-django's: a
superuser signed in.)"""

import pytest

from pharmacy.models import AuditEvent, Patient, Prescriber
from pharmacy.tests.factories import PatientFactory, PrescriberFactory

pytestmark = pytest.mark.django_db


def test_the_patient_list_writes_one_audit_row_naming_the_patients_shown(admin_client, admin_user):
    patients = [PatientFactory(last_name="Rivera"), PatientFactory(last_name="Okafor")]

    response = admin_client.get("/admin/pharmacy/patient/")

    assert response.status_code == 200
    event = AuditEvent.objects.get()
    assert (event.actor, event.action, event.summary) == (
        admin_user,
        AuditEvent.Action.VIEW,
        "Admin: patients (2 shown)",
    )
    assert event.patient_ids == sorted(p.pk for p in patients)


def test_a_patient_search_in_the_admin_is_audited_as_a_search(admin_client):
    rivera = PatientFactory(last_name="Rivera")
    PatientFactory(last_name="Okafor")

    admin_client.get("/admin/pharmacy/patient/", {"q": "Rivera"})

    event = AuditEvent.objects.get()
    assert (event.action, event.patient_ids, event.path) == (
        AuditEvent.Action.SEARCH,
        [rivera.pk],
        "/admin/pharmacy/patient/?q=Rivera",
    )


def test_a_patients_admin_page_is_read_only_and_audited(admin_client, admin_user):
    patient = PatientFactory(last_name="Rivera")

    response = admin_client.get(f"/admin/pharmacy/patient/{patient.pk}/change/")

    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="_save"' not in html
    assert 'name="last_name"' not in html  # shown as text, not a field
    assert "Rivera" in html
    event = AuditEvent.objects.get()
    assert (event.actor, event.action, event.object_type, event.object_id, event.patient) == (
        admin_user,
        AuditEvent.Action.VIEW,
        "pharmacy.Patient",
        str(patient.pk),
        patient,
    )


def test_the_admin_cannot_add_change_or_delete_a_patient(admin_client):
    patient = PatientFactory(last_name="Rivera", first_name="Ana")
    before = Patient.objects.count()

    changed = admin_client.post(
        f"/admin/pharmacy/patient/{patient.pk}/change/",
        {"last_name": "Changed", "first_name": "Ana", "date_of_birth": "1970-01-01"},
    )
    added = admin_client.post("/admin/pharmacy/patient/add/", {"last_name": "New"})
    deleted = admin_client.post(f"/admin/pharmacy/patient/{patient.pk}/delete/", {"post": "yes"})

    assert (changed.status_code, added.status_code, deleted.status_code) == (403, 403, 403)
    patient.refresh_from_db()
    assert (patient.last_name, Patient.objects.count()) == ("Rivera", before)
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.UPDATE).exists()


def test_the_admin_shows_prescribers_and_changes_none(admin_client):
    prescriber = PrescriberFactory(last_name="Chen")

    listed = admin_client.get("/admin/pharmacy/prescriber/")
    shown = admin_client.get(f"/admin/pharmacy/prescriber/{prescriber.pk}/change/")
    changed = admin_client.post(
        f"/admin/pharmacy/prescriber/{prescriber.pk}/change/",
        {"last_name": "Changed", "first_name": prescriber.first_name, "npi": "1234567890"},
    )
    added = admin_client.get("/admin/pharmacy/prescriber/add/")

    assert (listed.status_code, shown.status_code) == (200, 200)
    assert 'name="_save"' not in shown.content.decode()
    assert (changed.status_code, added.status_code) == (403, 403)
    prescriber.refresh_from_db()
    assert (prescriber.last_name, Prescriber.objects.count()) == ("Chen", 1)


def test_a_patients_admin_history_is_audited_and_a_missing_one_is_not(admin_client):
    patient = PatientFactory()

    shown = admin_client.get(f"/admin/pharmacy/patient/{patient.pk}/history/")
    missing = admin_client.get("/admin/pharmacy/patient/999999/change/")

    assert (shown.status_code, missing.status_code) == (200, 302)
    event = AuditEvent.objects.get()
    assert (event.patient, event.summary) == (patient, f"Admin: history of patient {patient.pk}")


def test_the_admin_has_no_second_factor_devices_to_show_a_secret_again(admin_client):
    assert admin_client.get("/admin/otp_totp/totpdevice/").status_code == 404
    assert admin_client.get("/admin/otp_static/staticdevice/").status_code == 404
