"""PV1 in the browser: the original beside what was typed, the patient's allergies and
medications, every drug-check alert with its coded override reason; approve, reject
back to intake, hold. Refusals say why in plain words and change nothing."""

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from orders.intake.ncpdp import parse_new_rx
from orders.models import (
    Channel,
    DurAlert,
    DurOverride,
    Fill,
    FillEvent,
    FillHold,
    OverrideReason,
    Prescription,
)
from orders.services.intake import receive_prescription
from orders.services.workflow import Override, approve_pv1
from orders.tests.erx_samples import new_rx
from orders.tests.factories import (
    DurAlertFactory,
    FillFactory,
    PrescriptionFactory,
    another_staff,
    tiny_png,
)
from pharmacy.models import AuditEvent, Role
from pharmacy.tests.factories import AllergyFactory

MODELS = (Fill, FillEvent, DurOverride, FillHold)


def snapshot(fill: Fill) -> tuple:
    fill.refresh_from_db()
    counts = tuple(model.objects.count() for model in MODELS)
    return (fill.status, fill.pv1_by_id, fill.claimed_by_id, *counts)


def url(fill: Fill, action: str = "") -> str:
    return f"/fills/{fill.pk}/pv1/{action}"


@pytest.fixture
def fill(db) -> Fill:
    """A phone prescription's fill at PV1 with two drug-check alerts."""
    fill = FillFactory(status=Fill.Status.PV1)
    DurAlertFactory(fill=fill)
    DurAlertFactory(
        fill=fill,
        type=DurAlert.Type.DOSE,
        severity="moderate",
        message="Quantity: 90 days supply is more than usual.",
    )
    return fill


@pytest.fixture
def erx_fill(ana, prescriber, atorvastatin) -> Fill:
    """Ana's atorvastatin sent as an NCPDP NewRx, at PV1 (no interaction data is loaded,
    so it carries a "no data" alert)."""
    written = (timezone.localdate() - timedelta(days=2)).isoformat()
    incoming = parse_new_rx(new_rx(written_date=written))
    result = receive_prescription(incoming, channel=Channel.NCPDP, by=None)
    return result.prescription.fills.get()


def alert_reasons(fill: Fill, reason=OverrideReason.PRESCRIBER_CONSULTED) -> dict:
    return {f"override_{alert.pk}": reason for alert in DurAlert.objects.for_fill(fill)}


# --------------------------------------------------------------------------- the page


def test_the_page_shows_the_message_beside_what_was_typed(client_pharmacist, erx_fill):
    response = client_pharmacist.get(url(erx_fill))

    html = response.content.decode()
    assert response.status_code == 200
    original = html[html.index('data-testid="original"') : html.index('data-testid="entered"')]
    assert "Ana Maria Rivera, born 1961-04-12" in original
    assert "Atorvastatin 20 MG Oral Tablet, 20 mg, NDC 00071015523" in original
    assert "90 tablets" in original
    assert "Take 1 tablet by mouth once daily at bedtime" in original
    # The raw message indented for reading, one element a line.
    assert '<pre class="raw" data-testid="raw-message">' in html
    assert "\n  &lt;Header&gt;\n    &lt;To Qualifier=&quot;P&quot;&gt;7701630&lt;/To&gt;" in html
    entered = html[html.index('data-testid="entered"') : html.index('data-testid="allergies"')]
    assert "Ana Maria Rivera, born 1961-04-12" in entered
    assert "Lipitor (atorvastatin calcium) 10 mg tablet, NDC 00071015523" in entered
    assert "differs from the original" not in entered
    assert "No known allergies." in html
    assert "No other active prescriptions." in html
    assert 'data-testid="dur-alert-no_data"' in html
    assert f'name="override_{erx_fill.dur_alerts.get().pk}"' in html


def test_a_typed_value_that_differs_from_the_message_is_marked(client_pharmacist, erx_fill):
    Prescription.objects.filter(pk=erx_fill.prescription_id).update(quantity=30)

    html = client_pharmacist.get(url(erx_fill)).content.decode()

    assert '<dd class="differs" data-testid="differs">30 tablets' in html
    assert html.count('data-testid="differs"') == 1


def test_a_fax_shows_its_image_with_allergies_and_medications(
    client_pharmacist, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    fill = FillFactory(status=Fill.Status.PV1, prescription__channel=Channel.FAX)
    prescription = fill.prescription
    prescription.original_document.save("fax.png", ContentFile(tiny_png()), save=True)
    AllergyFactory(patient=prescription.patient, allergen="Sulfa", reaction="Rash")
    other = PrescriptionFactory(patient=prescription.patient, drug_description="Warfarin 5 mg")

    html = client_pharmacist.get(url(fill)).content.decode()

    assert f'<img src="/prescriptions/{prescription.pk}/original/"' in html
    assert "<strong>Sulfa</strong>: Rash" in html
    assert f"<strong>{other.product.full_description}</strong> · {other.directions}" in html
    assert "No drug-check alerts." in html


def test_every_page_view_is_audited(client_pharmacist, pharmacist, fill):
    client_pharmacist.get(url(fill))

    event = AuditEvent.objects.get()
    assert (event.actor, event.action, event.object_id, event.patient_id) == (
        pharmacist,
        AuditEvent.Action.VIEW,
        str(fill.pk),
        fill.prescription.patient_id,
    )
    assert event.summary == f"PV1 of Rx {fill.prescription.rx_number}"


@pytest.mark.parametrize("client_name", ["client_technician", "client_manager"])
def test_only_a_pharmacist_opens_or_approves_pv1(request, client_name, fill):
    client = request.getfixturevalue(client_name)
    before = snapshot(fill)

    page = client.get(url(fill))
    approve = client.post(url(fill), alert_reasons(fill))
    reject = client.post(url(fill, "reject/"), {"reject-reason": "Wrong"})

    assert (page.status_code, approve.status_code, reject.status_code) == (403, 403, 403)
    assert snapshot(fill) == before


def test_a_fill_no_longer_at_pv1_sends_the_pharmacist_to_its_record(client_pharmacist, fill):
    Fill.objects.filter(pk=fill.pk).update(status=Fill.Status.FILL)

    response = client_pharmacist.get(url(fill), follow=True)

    assert response.redirect_chain == [(f"/fills/{fill.pk}/", 302)]
    assert "is not waiting for PV1 any more: it is waiting to be filled." in (
        response.content.decode()
    )


# --------------------------------------------------------------------------- approve


def test_approving_with_a_reason_for_every_alert_passes_pv1(client_pharmacist, pharmacist, fill):
    data = alert_reasons(fill)
    first = DurAlert.objects.for_fill(fill).first()
    data[f"note_{first.pk}"] = "Called Dr. Okafor"

    response = client_pharmacist.post(url(fill), data)

    assert response.status_code == 302
    assert response["Location"] == "/fills/queue/pv1/"
    fill.refresh_from_db()
    assert (fill.status, fill.pv1_by) == (Fill.Status.FILL, pharmacist)
    overrides = DurOverride.objects.filter(fill=fill).order_by("alert_id")
    assert [(o.reason_code, o.note) for o in overrides] == [
        (OverrideReason.PRESCRIBER_CONSULTED, "Called Dr. Okafor"),
        (OverrideReason.PRESCRIBER_CONSULTED, ""),
    ]
    page = client_pharmacist.get(response["Location"]).content.decode()
    assert f"Rx {fill.prescription.rx_number} passed PV1. Nothing else waits" in page


def test_after_an_approval_the_next_fill_is_offered_not_claimed(client_pharmacist, fill):
    following = FillFactory(status=Fill.Status.PV1)

    response = client_pharmacist.post(url(fill), alert_reasons(fill))

    # Nobody else is kept off it until someone opens it (issue 13).
    assert response["Location"] == f"/fills/queue/pv1/?offer={following.pk}"
    following.refresh_from_db()
    assert following.claimed_by is None


def test_an_alert_left_without_a_reason_is_refused_in_plain_words(client_pharmacist, fill):
    data = alert_reasons(fill)
    left = DurAlert.objects.for_fill(fill).order_by("pk").last()
    data[f"override_{left.pk}"] = ""
    before = snapshot(fill)

    response = client_pharmacist.post(url(fill), data)

    html = response.content.decode()
    assert response.status_code == 409
    assert 'data-testid="work-error"' in html
    assert (
        "1 drug-check alert has no override reason: Quantity or days supply "
        f"({left.severity_label.lower()})." in html
    )
    # What was chosen stays chosen.
    assert '<option value="prescriber_consulted" selected>' in html
    assert snapshot(fill)[:2] == before[:2]
    assert DurOverride.objects.count() == 0
    assert FillEvent.objects.count() == before[4]


def test_a_no_data_alert_passes_only_as_checked_by_hand(client_pharmacist, erx_fill):
    before = snapshot(erx_fill)

    refused = client_pharmacist.post(url(erx_fill), alert_reasons(erx_fill))

    assert refused.status_code == 409
    assert "it passes only as checked by hand against a reference." in refused.content.decode()
    assert snapshot(erx_fill)[:2] == before[:2]

    passed = client_pharmacist.post(
        url(erx_fill), alert_reasons(erx_fill, OverrideReason.CHECKED_MANUALLY)
    )

    assert passed.status_code == 302
    erx_fill.refresh_from_db()
    assert erx_fill.status == Fill.Status.FILL


def test_an_unknown_reason_code_is_a_form_error(client_pharmacist, fill):
    before = snapshot(fill)

    response = client_pharmacist.post(url(fill), alert_reasons(fill, "because"))

    assert response.status_code == 400
    assert "Choose one of the listed override reasons." in response.content.decode()
    assert snapshot(fill) == before


def test_a_fill_claimed_by_another_pharmacist_is_view_only(client_pharmacist, fill):
    other = another_staff(Role.PHARMACIST)
    Fill.objects.filter(pk=fill.pk).update(claimed_by=other, claimed_at=timezone.now())
    before = snapshot(fill)

    page = client_pharmacist.get(url(fill)).content.decode()
    approve = client_pharmacist.post(url(fill), alert_reasons(fill))

    assert f"Claimed by <strong>{other.get_full_name()}</strong>" in page
    assert "Approve PV1" not in page
    assert 'data-testid="hold-form"' not in page
    assert approve.status_code == 409
    assert f"is claimed by {other.get_full_name()}" in approve.content.decode()
    assert snapshot(fill) == before


# --------------------------------------------------------------------------- reject, hold


def test_rejecting_sends_the_fill_back_to_intake_with_the_reason(client_pharmacist, fill):
    response = client_pharmacist.post(
        url(fill, "reject/"), {"reject-reason": "Sig typed as BID, written QD"}
    )

    assert response.status_code == 302
    fill.refresh_from_db()
    assert fill.status == Fill.Status.INTAKE
    assert fill.events.latest("pk").reason == "PV1 rejected: Sig typed as BID, written QD"


def test_rejecting_without_a_reason_is_refused(client_pharmacist, fill):
    before = snapshot(fill)

    response = client_pharmacist.post(url(fill, "reject/"), {"reject-reason": "  "})

    assert response.status_code == 400
    assert "Say what is wrong so the technician can correct it." in response.content.decode()
    assert snapshot(fill) == before


def test_the_pharmacist_puts_the_fill_on_hold_from_the_page(client_pharmacist, pharmacist, fill):
    response = client_pharmacist.post(
        f"/fills/{fill.pk}/hold/",
        {"hold-reason_code": "clarification", "hold-note": "Dose looks high"},
        follow=True,
    )

    assert response.redirect_chain == [("/fills/queue/pv1/", 302)]
    assert "is on hold (clarification needed from the prescriber)." in response.content.decode()
    fill.refresh_from_db()
    assert (fill.status, fill.held_from_status) == (Fill.Status.ON_HOLD, Fill.Status.PV1)
    hold = FillHold.objects.get()
    assert (hold.reason_code, hold.note, hold.placed_by) == (
        "clarification",
        "Dose looks high",
        pharmacist,
    )


def test_a_hold_without_a_reason_is_refused(client_pharmacist, fill):
    before = snapshot(fill)

    response = client_pharmacist.post(
        f"/fills/{fill.pk}/hold/", {"hold-reason_code": "", "hold-note": "?"}, follow=True
    )

    assert response.redirect_chain == [(f"/fills/{fill.pk}/pv1/", 302)]
    assert "Not held: Choose why the fill is held." in response.content.decode()
    assert snapshot(fill) == before


def test_an_approval_racing_another_pharmacists_is_refused_and_changes_nothing(
    client_pharmacist, fill
):
    other = another_staff(Role.PHARMACIST)
    alerts = DurAlert.objects.for_fill(fill)
    approve_pv1(
        fill, by=other, overrides=[Override(a.pk, OverrideReason.DOSE_VERIFIED) for a in alerts]
    )
    before = snapshot(fill)

    response = client_pharmacist.post(url(fill), alert_reasons(fill), follow=True)

    assert response.redirect_chain == [(f"/fills/{fill.pk}/", 302)]
    assert "is not waiting for PV1 any more: it is waiting to be filled." in (
        response.content.decode()
    )
    assert snapshot(fill) == before
    assert fill.pv1_by == other
