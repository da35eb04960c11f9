"""PV1: a pharmacist passes a fill only with a coded reason for every drug-check alert."""

from datetime import timedelta

import pytest
from django.utils import timezone

from orders.models import DurAlert, DurOverride, Fill, OverrideReason
from orders.services.workflow import Override, WorkflowError, approve_pv1, reject_pv1
from orders.tests.factories import DurAlertFactory, fill_at
from outbox.models import OutboxMessage

pytestmark = pytest.mark.django_db

S = Fill.Status


def state(fill: Fill) -> tuple:
    fill.refresh_from_db()
    return (
        fill.status,
        fill.pv1_by_id,
        fill.pv1_at,
        fill.events.count(),
        DurOverride.objects.count(),
        OutboxMessage.objects.count(),
    )


@pytest.fixture
def fill_with_alerts(db):
    """A fill at PV1 with an allergy and an interaction alert of its own."""
    fill = fill_at(S.PV1)
    allergy = DurAlertFactory(fill=fill)
    interaction = DurAlertFactory(
        fill=fill, type=DurAlert.Type.INTERACTION, message="Warfarin + this: bleeding risk"
    )
    return fill, allergy, interaction


def test_a_fill_without_alerts_passes_and_its_label_is_recorded(
    pharmacist, django_capture_on_commit_callbacks
):
    fill = fill_at(S.PV1)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        approved = approve_pv1(fill, by=pharmacist, overrides=[])

    fill.refresh_from_db()
    assert approved.status == fill.status == S.FILL
    assert fill.pv1_by == pharmacist
    assert timezone.now() - fill.pv1_at < timedelta(seconds=5)
    event = fill.events.latest("pk")
    assert (event.from_status, event.to_status, event.actor, event.reason) == (
        S.PV1,
        S.FILL,
        pharmacist,
        "PV1 approved",
    )
    # The label is recorded with the move and delivered by a worker only after commit.
    assert list(OutboxMessage.objects.values_list("kind", "target_id", "status")) == [
        ("orders.rx_label", fill.pk, "pending")
    ]
    assert len(callbacks) == 1


def test_every_alert_overridden_with_a_coded_reason_passes(pharmacist, fill_with_alerts):
    fill, allergy, interaction = fill_with_alerts

    approve_pv1(
        fill,
        by=pharmacist,
        overrides=[
            Override(allergy.pk, OverrideReason.PREVIOUSLY_TOLERATED, "Took it in 2019"),
            Override(interaction.pk, OverrideReason.PRESCRIBER_CONSULTED),
        ],
    )

    fill.refresh_from_db()
    assert fill.status == S.FILL
    assert sorted(
        DurOverride.objects.values_list("alert_id", "fill_id", "reason_code", "note", "by")
    ) == sorted(
        [
            (allergy.pk, fill.pk, "previously_tolerated", "Took it in 2019", pharmacist.pk),
            (interaction.pk, fill.pk, "prescriber_consulted", "", pharmacist.pk),
        ]
    )
    assert fill.events.latest("pk").reason == "PV1 approved; 2 drug-check alerts overridden"


def test_an_alert_left_without_an_override_is_refused_and_nothing_written(
    pharmacist, fill_with_alerts
):
    fill, allergy, interaction = fill_with_alerts
    before = state(fill)

    with pytest.raises(WorkflowError) as refused:
        approve_pv1(fill, by=pharmacist, overrides=[Override(allergy.pk, "previously_tolerated")])

    assert refused.value.code == "alerts_not_overridden"
    assert refused.value.status == 409
    assert refused.value.extra == {"alerts": [interaction.pk]}
    assert "Drug-drug interaction (major)" in refused.value.detail
    assert state(fill) == before


def test_an_alert_of_the_prescription_as_a_whole_must_be_overridden_too(pharmacist):
    fill = fill_at(S.PV1)
    whole = DurAlertFactory(fill=None, prescription=fill.prescription)

    with pytest.raises(WorkflowError, match="no override reason"):
        approve_pv1(fill, by=pharmacist, overrides=[])
    approve_pv1(fill, by=pharmacist, overrides=[Override(whole.pk, "not_significant")])

    assert DurOverride.objects.get().alert == whole


def test_a_no_data_alert_passes_only_when_checked_by_hand(pharmacist):
    fill = fill_at(S.PV1)
    no_data = DurAlertFactory(
        fill=fill, type=DurAlert.Type.NO_DATA, severity="unknown",
        message="No interaction reference data is loaded: interactions were not checked.",
    )  # fmt: skip
    before = state(fill)

    for silent in ([], [Override(no_data.pk, OverrideReason.NOT_CLINICALLY_SIGNIFICANT)]):
        with pytest.raises(WorkflowError):
            approve_pv1(fill, by=pharmacist, overrides=silent)
        assert state(fill) == before
    approve_pv1(fill, by=pharmacist, overrides=[Override(no_data.pk, "checked_manually")])

    assert Fill.objects.get(pk=fill.pk).status == S.FILL


def test_not_significant_on_a_no_data_alert_says_why(pharmacist):
    fill = fill_at(S.PV1)
    no_data = DurAlertFactory(fill=fill, type=DurAlert.Type.NO_DATA, message="Not checked")

    with pytest.raises(WorkflowError) as refused:
        approve_pv1(fill, by=pharmacist, overrides=[Override(no_data.pk, "not_significant")])

    assert refused.value.code == "manual_check_required"
    assert "checked by hand against a reference" in refused.value.detail


@pytest.mark.parametrize(
    ("override", "code"),
    [
        (lambda own, other: [Override(999_999, "not_significant")], "unknown_alert"),
        (lambda own, other: [Override(other.pk, "not_significant")], "unknown_alert"),
        (
            lambda own, other: [Override(own.pk, "not_significant")] * 2,
            "duplicate_override",
        ),
        (lambda own, other: [Override(own.pk, "because_i_said_so")], "invalid_reason_code"),
    ],
    ids=["unknown alert", "another fill's alert", "twice", "uncoded reason"],
)
def test_bad_overrides_are_bad_input(pharmacist, override, code):
    fill = fill_at(S.PV1)
    own = DurAlertFactory(fill=fill)
    other = DurAlertFactory()  # an alert of another fill, of another patient
    before = state(fill)

    with pytest.raises(WorkflowError) as refused:
        approve_pv1(fill, by=pharmacist, overrides=override(own, other))

    assert (refused.value.code, refused.value.status) == (code, 400)
    assert state(fill) == before


def test_a_technician_cannot_pass_pv1(technician):
    fill = fill_at(S.PV1)
    before = state(fill)

    with pytest.raises(WorkflowError) as refused:
        approve_pv1(fill, by=technician, overrides=[])

    assert (refused.value.code, refused.value.status) == ("role_not_allowed", 403)
    assert refused.value.detail == (
        "A technician cannot move a fill from waiting for PV1 to waiting to be filled."
    )
    assert state(fill) == before


def test_a_fill_already_approved_says_who_approved_it(pharmacist):
    fill = fill_at(S.PV1)
    approve_pv1(fill, by=pharmacist, overrides=[])
    before = state(fill)

    with pytest.raises(WorkflowError) as refused:
        approve_pv1(fill, by=pharmacist, overrides=[])

    assert refused.value.code == "wrong_status"
    assert refused.value.detail.startswith(
        f"Fill {fill.pk} of Rx {fill.prescription.rx_number} is waiting to be filled, not "
        "waiting for PV1 (Paul Pharm moved it at "
    )
    assert state(fill) == before


def test_rejecting_sends_the_fill_back_to_intake_with_the_reason(pharmacist):
    fill = fill_at(S.PV1)

    rejected = reject_pv1(fill, by=pharmacist, reason="Sig typed as BID, written TID")

    fill.refresh_from_db()
    assert rejected.status == fill.status == S.INTAKE
    assert fill.pv1_by is None
    event = fill.events.latest("pk")
    assert (event.to_status, event.actor, event.reason) == (
        S.INTAKE,
        pharmacist,
        "PV1 rejected: Sig typed as BID, written TID",
    )


def test_rejecting_needs_a_reason(pharmacist):
    fill = fill_at(S.PV1)
    before = state(fill)

    with pytest.raises(WorkflowError) as refused:
        reject_pv1(fill, by=pharmacist, reason="")

    assert (refused.value.code, refused.value.status) == ("reason_required", 400)
    assert state(fill) == before
