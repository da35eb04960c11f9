"""Discrepancies: something found wrong with a fill, recorded, and later resolved."""

from django.db import transaction
from django.utils import timezone

from orders.models import Discrepancy, Fill
from orders.services.workflow.helpers import WorkflowError, _name, _required_text
from pharmacy.models import Role, User

__all__ = ["record_discrepancy", "resolve_discrepancy"]


def _check_discrepancy_kind(kind: str) -> None:
    if kind not in Discrepancy.Kind.values:
        raise WorkflowError(
            "invalid_discrepancy_kind",
            f"{kind!r} is not a kind of discrepancy; use one of "
            f"{', '.join(Discrepancy.Kind.values)}.",
            400,
        )


def record_discrepancy(
    fill: Fill, *, by: User, kind: str, description: str, stock_movement=None
) -> Discrepancy:
    """Record something found wrong with a fill (a wrong count, a damaged bottle...), with
    the stock movement it caused if any; it stays open until resolved. Raises
    WorkflowError: unknown kind or no description (400), not a technician or pharmacist."""
    _check_discrepancy_kind(kind)
    description = _required_text(description, "description")
    if by.role not in (Role.TECHNICIAN, Role.PHARMACIST):
        raise WorkflowError(
            "role_not_allowed",
            f"A {by.role_label.lower()} does not record discrepancies on fills.",
            403,
        )
    return Discrepancy.objects.create(
        fill_id=fill.pk,
        kind=kind,
        description=description,
        found_by=by,
        stock_movement=stock_movement,
    )


def resolve_discrepancy(discrepancy: Discrepancy, *, by: User, resolution: str) -> Discrepancy:
    """A pharmacist or manager writes how a discrepancy was settled. Locks it, so two
    people cannot both resolve it. Raises WorkflowError: no resolution (400), role, or
    already resolved."""
    resolution = _required_text(resolution, "resolution")
    if by.role not in (Role.PHARMACIST, Role.MANAGER):
        raise WorkflowError(
            "role_not_allowed",
            f"A {by.role_label.lower()} cannot resolve discrepancies; a pharmacist does.",
            403,
        )
    with transaction.atomic():
        discrepancy = (
            Discrepancy.objects.select_for_update(of=("self",))
            .select_related("resolved_by")
            .get(pk=discrepancy.pk)
        )
        if not discrepancy.is_open:
            raise WorkflowError(
                "already_resolved",
                f"This discrepancy was resolved by {_name(discrepancy.resolved_by)} on "
                f"{timezone.localtime(discrepancy.resolved_at):%Y-%m-%d %H:%M}.",
            )
        discrepancy.resolution = resolution
        discrepancy.resolved_by = by
        discrepancy.resolved_at = timezone.now()
        discrepancy.save(update_fields=["resolution", "resolved_by", "resolved_at"])
    return discrepancy
