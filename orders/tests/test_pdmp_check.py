"""PV1 of a controlled substance: the prescriber's DEA number and the schedule's rules are
shown, and the state prescription-monitoring (PDMP) check is recorded (who, when, what it
showed) before the fill can pass; the service refuses an approval without one. Through
the service, the PV1 page and the API."""

import pytest

from orders.models import Fill, FillEvent, PdmpCheck
from orders.services.workflow import WorkflowError, approve_pv1, claim_fill, record_pdmp_check
from orders.tests.factories import another_staff, fill_at, stocked_package, stocked_prescription
from pharmacy.models import Role

pytestmark = pytest.mark.django_db

S = Fill.Status


def controlled_fill(**prescription_fields) -> Fill:
    """A Schedule II prescription (no refills) of a catalogue product scheduled CII, at PV1."""
    product = stocked_package(name="Roxicodone", generic="oxycodone hydrochloride").product
    product.dea_schedule = "CII"
    product.save()
    fields = {"product": product, "refills_authorized": 0, **prescription_fields}
    return fill_at(S.PV1, prescription=stocked_prescription(**fields))


def snapshot(fill: Fill) -> tuple:
    fill.refresh_from_db()
    return (
        fill.status,
        fill.pv1_by_id,
        PdmpCheck.objects.count(),
        FillEvent.objects.filter(fill=fill).count(),
    )


# --------------------------------------------------------------------------- service


def test_a_controlled_fill_does_not_pass_pv1_without_a_pdmp_check(pharmacist):
    fill = controlled_fill()
    before = snapshot(fill)

    with pytest.raises(WorkflowError) as refused:
        approve_pv1(fill, by=pharmacist, overrides=[])

    assert refused.value.code == "pdmp_check_required"
    assert refused.value.detail == (
        f"Rx {fill.prescription.rx_number} is for a Schedule II controlled substance: record "
        "the state prescription-monitoring (PDMP) check of the patient before PV1 can pass."
    )
    assert snapshot(fill) == before


def test_the_schedule_comes_from_the_catalogue_when_the_sender_stated_none(pharmacist):
    fill = controlled_fill(dea_schedule="")

    with pytest.raises(WorkflowError) as refused:
        approve_pv1(fill, by=pharmacist, overrides=[])

    assert refused.value.code == "pdmp_check_required"


def test_with_its_pdmp_check_recorded_the_fill_passes(pharmacist):
    fill = controlled_fill()

    check = record_pdmp_check(
        fill, by=pharmacist, state="oh", result="no_concerns", reference="OARRS-1234"
    )
    approve_pv1(fill, by=pharmacist, overrides=[])

    fill.refresh_from_db()
    assert fill.status == S.FILL
    assert (check.fill, check.state, check.result, check.reference, check.checked_by) == (
        fill,
        "OH",
        "no_concerns",
        "OARRS-1234",
        pharmacist,
    )
    assert check.checked_at is not None


def test_concerns_left_unresolved_keep_the_fill_at_pv1_until_a_new_check(pharmacist):
    fill = controlled_fill()
    record_pdmp_check(
        fill,
        by=pharmacist,
        state="OH",
        result="concerns_unresolved",
        note="Three prescribers in 30 days; prescriber not reached yet.",
    )
    before = snapshot(fill)

    with pytest.raises(WorkflowError) as refused:
        approve_pv1(fill, by=pharmacist, overrides=[])

    assert refused.value.code == "pdmp_concerns"
    assert snapshot(fill) == before

    record_pdmp_check(
        fill,
        by=pharmacist,
        state="OH",
        result="concerns_resolved",
        note="Dr. Okafor confirmed; the other prescriptions were stopped.",
    )
    approve_pv1(fill, by=pharmacist, overrides=[])
    fill.refresh_from_db()
    assert fill.status == S.FILL


def test_a_fill_that_is_not_controlled_needs_no_check_and_refuses_one(pharmacist):
    fill = fill_at(S.PV1)

    with pytest.raises(WorkflowError) as refused:
        record_pdmp_check(fill, by=pharmacist, state="OH", result="no_concerns")

    assert (refused.value.code, refused.value.status) == ("not_controlled", 400)
    assert PdmpCheck.objects.count() == 0
    approve_pv1(fill, by=pharmacist, overrides=[])
    fill.refresh_from_db()
    assert fill.status == S.FILL


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"state": "Ohio"}, "invalid_state"),
        ({"state": "4H"}, "invalid_state"),
        ({"result": "fine"}, "invalid_result"),
        ({"result": "concerns_resolved", "note": "  "}, "note_required"),
        ({"note": "ok\u202e"}, "invalid_note"),
        ({"reference": "A\nB"}, "invalid_reference"),
        ({"reference": "R" * 61}, "invalid_reference"),
    ],
)
def test_bad_input_is_refused_and_writes_nothing(pharmacist, fields, code):
    fill = controlled_fill()
    before = snapshot(fill)

    with pytest.raises(WorkflowError) as refused:
        record_pdmp_check(fill, by=pharmacist, **{"state": "OH", "result": "no_concerns", **fields})

    assert (refused.value.code, refused.value.status) == (code, 400)
    assert snapshot(fill) == before


def test_a_technician_may_not_record_it(technician):
    fill = controlled_fill()

    with pytest.raises(WorkflowError) as refused:
        record_pdmp_check(fill, by=technician, state="OH", result="no_concerns")

    assert refused.value.status == 403
    assert PdmpCheck.objects.count() == 0


def test_a_fill_past_pv1_takes_no_check(pharmacist):
    fill = controlled_fill()
    Fill.objects.filter(pk=fill.pk).update(status=S.FILL)

    with pytest.raises(WorkflowError) as refused:
        record_pdmp_check(fill, by=pharmacist, state="OH", result="no_concerns")

    assert refused.value.code == "wrong_status"
    assert PdmpCheck.objects.count() == 0


# --------------------------------------------------------------------------- page


def test_the_pv1_page_shows_the_dea_checks_and_the_missing_pdmp_check(client_pharmacist):
    fill = controlled_fill()
    prescriber = fill.prescription.prescriber

    html = client_pharmacist.get(f"/fills/{fill.pk}/pv1/").content.decode()

    assert "Controlled substance: Schedule II" in html
    assert f"{prescriber.dea_number}, check digit correct" in html
    assert "Yes (registered for CII, CIII, CIV, CV)" in html
    assert "0 authorised; Schedule II allows none" in html
    assert 'data-testid="pdmp-missing"' in html
    assert f'action="/fills/{fill.pk}/pv1/pdmp/"' in html


def test_a_registration_without_the_schedule_is_marked(client_pharmacist):
    fill = controlled_fill()
    prescriber = fill.prescription.prescriber
    prescriber.dea_schedules = ["CIV", "CV"]
    prescriber.save()

    html = client_pharmacist.get(f"/fills/{fill.pk}/pv1/").content.decode()

    assert "No: registered for CIV, CV only" in html


def test_the_page_records_the_check_and_then_approves(client_pharmacist, pharmacist):
    fill = controlled_fill()

    response = client_pharmacist.post(
        f"/fills/{fill.pk}/pv1/pdmp/",
        {"pdmp-state": "OH", "pdmp-result": "no_concerns", "pdmp-reference": "R-77"},
    )

    assert response.status_code == 302
    html = client_pharmacist.get(response["Location"]).content.decode()
    assert "No concerns found</strong>: OH program, report R-77, checked by" in html
    assert client_pharmacist.post(f"/fills/{fill.pk}/pv1/", {}).status_code == 302
    fill.refresh_from_db()
    assert (fill.status, fill.pv1_by) == (S.FILL, pharmacist)


def test_approving_on_the_page_without_the_check_says_why(client_pharmacist):
    fill = controlled_fill()
    before = snapshot(fill)

    response = client_pharmacist.post(f"/fills/{fill.pk}/pv1/", {})

    assert response.status_code == 409
    assert "record the state prescription-monitoring (PDMP) check" in response.content.decode()
    assert snapshot(fill) == before


def test_the_page_refuses_a_bad_check_with_the_reason(client_pharmacist):
    fill = controlled_fill()

    response = client_pharmacist.post(
        f"/fills/{fill.pk}/pv1/pdmp/", {"pdmp-state": "OH", "pdmp-result": "concerns_resolved"}
    )

    assert response.status_code == 400
    assert "Say what the PDMP check found and what was done about it." in (
        response.content.decode()
    )
    assert PdmpCheck.objects.count() == 0


# --------------------------------------------------------------------------- API


def test_the_api_records_the_check_and_shows_it_on_the_fill(api_pharmacist, pharmacist):
    fill = controlled_fill()

    refused = api_pharmacist.post(
        f"/api/v1/fills/{fill.pk}/pv1/", {"decision": "approve"}, format="json"
    )
    recorded = api_pharmacist.post(
        f"/api/v1/fills/{fill.pk}/pdmp-check/",
        {"state": "OH", "result": "no_concerns", "reference": "R-1"},
        format="json",
    )
    approved = api_pharmacist.post(
        f"/api/v1/fills/{fill.pk}/pv1/", {"decision": "approve"}, format="json"
    )

    assert refused.status_code == 409
    assert refused.json()["error"] == "pdmp_check_required"
    assert recorded.status_code == 200
    check = recorded.json()["pdmp_checks"][0]
    assert {k: check[k] for k in ("state", "result", "result_label", "reference")} == {
        "state": "OH",
        "result": "no_concerns",
        "result_label": "No concerns found",
        "reference": "R-1",
    }
    assert check["checked_by"]["id"] == pharmacist.pk
    assert approved.status_code == 200
    assert approved.json()["status"] == "fill"


def test_the_api_refuses_bad_input_and_other_roles(api_pharmacist, api_technician):
    fill = controlled_fill()

    bad = api_pharmacist.post(
        f"/api/v1/fills/{fill.pk}/pdmp-check/", {"state": "OH", "result": "maybe"}, format="json"
    )
    no_note = api_pharmacist.post(
        f"/api/v1/fills/{fill.pk}/pdmp-check/",
        {"state": "OH", "result": "concerns_resolved"},
        format="json",
    )
    technician = api_technician.post(
        f"/api/v1/fills/{fill.pk}/pdmp-check/",
        {"state": "OH", "result": "no_concerns"},
        format="json",
    )

    assert bad.status_code == 400
    assert (no_note.status_code, no_note.json()["error"]) == (400, "note_required")
    assert technician.status_code == 403
    assert PdmpCheck.objects.count() == 0


def test_another_pharmacists_claim_keeps_the_check_out(pharmacist):
    fill = controlled_fill()
    other = another_staff(Role.PHARMACIST)
    claim_fill(fill, by=other)

    with pytest.raises(WorkflowError) as refused:
        record_pdmp_check(fill, by=pharmacist, state="OH", result="no_concerns")

    assert refused.value.code == "claimed"
    assert PdmpCheck.objects.count() == 0
