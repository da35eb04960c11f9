"""Claims: one person works a fill at a time; stale claims may be taken over."""

from datetime import timedelta

import pytest
from django.utils import timezone

from orders.models import Fill, FillScan
from orders.services.workflow import (
    WorkflowError,
    approve_pv1,
    approve_pv2,
    claim_fill,
    fill_with_scan,
    hold_fill,
    reject_pv1,
    reject_pv2,
    unclaim_fill,
)
from orders.tests.factories import another_staff, bottle_scan, fill_at
from pharmacy.models import Role

pytestmark = pytest.mark.django_db

S = Fill.Status


def upc_of(fill: Fill) -> str:
    """The bottle's scan: the DataMatrix of the lot the station suggests."""
    return bottle_scan(fill)


def test_a_claim_names_who_works_the_fill(technician):
    fill = fill_at(S.FILL)

    claimed = claim_fill(fill, by=technician)

    assert claimed.claimed_by == technician
    assert timezone.now() - claimed.claimed_at < timedelta(seconds=5)


def test_a_fill_claimed_by_someone_else_cannot_be_claimed(technician):
    fill = fill_at(S.FILL)
    claim_fill(fill, by=technician)
    other = another_staff(Role.TECHNICIAN)

    with pytest.raises(WorkflowError) as refused:
        claim_fill(fill, by=other)

    assert refused.value.code == "claimed"
    assert f"Fill {fill.pk} of Rx {fill.prescription.rx_number} is claimed by Tina Tech" in (
        refused.value.detail
    )
    assert refused.value.extra == {"claimed_by": "Tina Tech"}
    fill.refresh_from_db()
    assert fill.claimed_by == technician


def test_claiming_again_renews_ones_own_claim(technician):
    fill = fill_at(S.FILL)
    first = claim_fill(fill, by=technician).claimed_at
    Fill.objects.filter(pk=fill.pk).update(claimed_at=first - timedelta(minutes=10))

    renewed = claim_fill(fill, by=technician)

    assert renewed.claimed_at >= first


def test_a_stale_claim_may_be_taken_over(technician, settings):
    settings.FILL_CLAIM_MINUTES = 15
    fill = fill_at(S.FILL)
    claim_fill(fill, by=technician)
    Fill.objects.filter(pk=fill.pk).update(claimed_at=timezone.now() - timedelta(minutes=16))
    other = another_staff(Role.TECHNICIAN)

    assert claim_fill(fill, by=other).claimed_by == other


def test_a_claim_younger_than_the_setting_holds(technician, settings):
    settings.FILL_CLAIM_MINUTES = 30
    fill = fill_at(S.FILL)
    claim_fill(fill, by=technician)
    Fill.objects.filter(pk=fill.pk).update(claimed_at=timezone.now() - timedelta(minutes=16))

    with pytest.raises(WorkflowError, match="claimed by Tina Tech"):
        claim_fill(fill, by=another_staff(Role.TECHNICIAN))


@pytest.mark.parametrize(
    ("status", "role", "code"),
    [
        (S.PV1, Role.TECHNICIAN, "not_claimable"),
        (S.PV2, Role.TECHNICIAN, "not_claimable"),
        (S.ON_HOLD, Role.PHARMACIST, "not_claimable"),
        (S.SHIPPED, Role.PHARMACIST, "not_claimable"),
        (S.FILL, Role.MANAGER, "not_claimable"),
    ],
)
def test_only_work_of_ones_role_can_be_claimed(status, role, code):
    fill = fill_at(status, held_from=S.FILL if status == S.ON_HOLD else "")
    user = another_staff(role)

    with pytest.raises(WorkflowError) as refused:
        claim_fill(fill, by=user)

    assert refused.value.code == code
    assert refused.value.status == (403 if role == Role.MANAGER else 409)
    fill.refresh_from_db()
    assert fill.claimed_by is None


def test_unclaim_lets_go_of_ones_own_claim_only(technician):
    fill = fill_at(S.FILL)
    claim_fill(fill, by=technician)
    other = another_staff(Role.TECHNICIAN)

    with pytest.raises(WorkflowError, match="claimed by Tina Tech, not by you"):
        unclaim_fill(fill, by=other)
    released = unclaim_fill(fill, by=technician)

    assert (released.claimed_by, released.claimed_at) == (None, None)
    assert unclaim_fill(fill, by=other).claimed_by is None  # nothing to let go: no error


def test_work_on_a_fill_claimed_by_another_is_refused_and_changes_nothing(technician, pharmacist):
    other_pharmacist = another_staff(Role.PHARMACIST)
    at_pv1, at_fill, at_pv2 = fill_at(S.PV1), fill_at(S.FILL), fill_at(S.PV2)
    claim_fill(at_pv1, by=other_pharmacist)
    claim_fill(at_fill, by=other_pharmacist)
    claim_fill(at_pv2, by=other_pharmacist)
    name = other_pharmacist.get_full_name()
    attempts = [
        lambda: approve_pv1(at_pv1, by=pharmacist, overrides=[]),
        lambda: reject_pv1(at_pv1, by=pharmacist, reason="Typed wrong"),
        lambda: fill_with_scan(at_fill, by=technician, scan=upc_of(at_fill), quantity=30),
        lambda: hold_fill(at_fill, by=technician, reason_code="insurance"),
        lambda: approve_pv2(at_pv2, by=pharmacist, scan=at_pv2.label_code, entry="scanned"),
        lambda: reject_pv2(at_pv2, by=pharmacist, reason="Wrong count"),
    ]

    for attempt in attempts:
        with pytest.raises(WorkflowError) as refused:
            attempt()
        assert refused.value.code == "claimed"
        assert f"claimed by {name}" in refused.value.detail

    for fill, status in ((at_pv1, S.PV1), (at_fill, S.FILL), (at_pv2, S.PV2)):
        fill.refresh_from_db()
        assert (fill.status, fill.claimed_by) == (status, other_pharmacist)
        assert fill.events.count() == 1
    assert not FillScan.objects.exists()


def test_an_unclaimed_fill_may_be_worked_directly_and_the_move_clears_claims(
    technician, pharmacist
):
    unclaimed, claimed = fill_at(S.FILL), fill_at(S.FILL)
    claim_fill(claimed, by=technician)

    fill_with_scan(unclaimed, by=technician, scan=upc_of(unclaimed), quantity=30)
    fill_with_scan(claimed, by=technician, scan=upc_of(claimed), quantity=30)

    for fill in (unclaimed, claimed):
        fill.refresh_from_db()
        assert (fill.status, fill.claimed_by, fill.claimed_at) == (S.PV2, None, None)


def test_a_refused_scan_claims_the_fill_for_the_scanner(technician):
    fill = fill_at(S.FILL)

    with pytest.raises(WorkflowError):
        fill_with_scan(fill, by=technician, scan="not a barcode", quantity=30)

    fill.refresh_from_db()
    assert (fill.status, fill.claimed_by) == (S.FILL, technician)
    with pytest.raises(WorkflowError, match="claimed by Tina Tech"):
        claim_fill(fill, by=another_staff(Role.TECHNICIAN))
