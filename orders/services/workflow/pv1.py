"""PV1: a pharmacist verifies the data entry and passes or rejects every drug-check alert.

A ``no_data`` alert (no interaction reference) passes only with the override reason
"checked by hand against a reference". A controlled substance passes only after the
pharmacist recorded the state prescription-monitoring (PDMP) check of this fill
(``record_pdmp_check``) and it allows dispensing.
"""

import re
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from lib.text import stored
from orders.models import DurAlert, DurOverride, Fill, OverrideReason, PdmpCheck
from orders.services.labels import queue_rx_label
from orders.services.workflow.helpers import (
    S,
    WorkflowError,
    _check_move,
    _free_text,
    _lock,
    _required_text,
    move_locked_fill,
)
from pharmacy.models import User

__all__ = ["Override", "approve_pv1", "record_pdmp_check", "reject_pv1"]

STATE_CODE = re.compile(r"[A-Z]{2}")


@dataclass(frozen=True)
class Override:
    """A pharmacist's coded reason for passing one drug-check alert at PV1."""

    alert_id: int
    reason_code: str
    note: str = ""


def approve_pv1(fill: Fill, *, by: User, overrides: list[Override]) -> Fill:
    """A pharmacist passes PV1: the data entry is right and every drug-check alert of the
    fill has a coded override reason. The fill moves to the fill queue, the pharmacist
    and time are recorded, and its Rx label is recorded in the outbox.

    Raises WorkflowError: not at PV1, not a pharmacist, claimed by someone else; an
    override of an alert that is not this fill's, given twice, or with an unknown reason
    (400); an alert left without an override (``alerts_not_overridden``, listing them); a
    ``no_data`` alert overridden with anything but "checked by hand"; a controlled
    substance without a PDMP check of this fill (``pdmp_check_required``) or whose last
    check found concerns left unresolved (``pdmp_concerns``).
    """
    overrides = list(overrides)
    with transaction.atomic():
        fill = _lock(fill)
        _check_move(fill, to=S.FILL, by=by, expected_from=S.PV1)
        _check_pdmp(fill)
        alerts = {alert.pk: alert for alert in DurAlert.objects.for_fill(fill)}
        done = set(DurOverride.objects.filter(fill=fill).values_list("alert_id", flat=True))
        given: set[int] = set()
        for override in overrides:
            alert = alerts.get(override.alert_id)
            if alert is None:
                raise WorkflowError(
                    "unknown_alert",
                    f"Alert {override.alert_id} is not a drug-check alert of this fill.",
                    400,
                )
            if override.alert_id in given or override.alert_id in done:
                raise WorkflowError(
                    "duplicate_override", f"Alert {alert.pk} is overridden twice.", 400
                )
            if override.reason_code not in OverrideReason.values:
                raise WorkflowError(
                    "invalid_reason_code",
                    f"{override.reason_code!r} is not an override reason; use one of "
                    f"{', '.join(OverrideReason.values)}.",
                    400,
                )
            if (
                alert.type == DurAlert.Type.NO_DATA
                and override.reason_code != OverrideReason.CHECKED_MANUALLY
            ):
                # Without reference data nothing was checked: only a check by hand passes it.
                raise WorkflowError(
                    "manual_check_required",
                    f"Alert {alert.pk} says the drug could not be checked ({alert.message}); "
                    f"it passes only as {OverrideReason.CHECKED_MANUALLY.label.lower()}.",
                )
            _free_text(override.note, "note")
            given.add(override.alert_id)
        missing = [alert for pk, alert in alerts.items() if pk not in given and pk not in done]
        if missing:
            raise WorkflowError(
                "alerts_not_overridden",
                f"{len(missing)} drug-check alert{'s' if len(missing) > 1 else ''} "
                f"{'have' if len(missing) > 1 else 'has'} no override reason: "
                + "; ".join(
                    f"{alert.get_type_display()} ({alert.severity_label.lower()})"
                    for alert in missing
                )
                + ". Give each a coded reason, or reject the fill.",
                alerts=[alert.pk for alert in missing],
            )
        DurOverride.objects.bulk_create(
            DurOverride(
                alert_id=override.alert_id,
                fill=fill,
                reason_code=override.reason_code,
                note=stored(override.note),
                by=by,
            )
            for override in overrides
        )
        fill.pv1_by = by
        fill.pv1_at = timezone.now()
        reason = "PV1 approved" + (
            f"; {len(overrides)} drug-check alert{'s' if len(overrides) > 1 else ''} overridden"
            if overrides
            else ""
        )
        move_locked_fill(fill, to=S.FILL, by=by, reason=reason, update_fields=["pv1_by", "pv1_at"])
        queue_rx_label(fill)
    return fill


def _check_pdmp(fill: Fill) -> None:
    """Refuse PV1 of a controlled substance without a PDMP check that allows dispensing."""
    schedule = fill.prescription.controlled_schedule
    if not schedule:
        return
    check = PdmpCheck.objects.filter(fill=fill).order_by("-checked_at", "-pk").first()
    rx = fill.prescription.rx_number
    if check is None:
        raise WorkflowError(
            "pdmp_check_required",
            f"Rx {rx} is for a Schedule {schedule[1:]} controlled substance: record the "
            "state prescription-monitoring (PDMP) check of the patient before PV1 can pass.",
        )
    if not check.allows_dispensing:
        raise WorkflowError(
            "pdmp_concerns",
            f"The PDMP check of Rx {rx} found concerns that are not resolved: resolve them "
            "with the prescriber and record a new check, or reject the fill.",
        )


def record_pdmp_check(
    fill: Fill, *, by: User, state: str, result: str, reference: str = "", note: str = ""
) -> PdmpCheck:
    """A pharmacist records looking the patient up in a state's prescription-monitoring
    program for this controlled-substance fill at PV1: the state, what it showed, the
    program's report number and a note. A note is required when concerns were found (what
    they were, and how they were resolved). Locks the fill row.

    Raises WorkflowError, writing nothing: not at PV1, not a pharmacist, claimed by someone
    else; not a controlled substance (``not_controlled``); a state that is not two
    letters, an unknown result, a missing note, or text with control characters (400).
    """
    state = stored(state or "").upper()
    if not STATE_CODE.fullmatch(state):
        raise WorkflowError(
            "invalid_state", f"{state!r} is not a state: give its two-letter code, e.g. OH.", 400
        )
    if result not in PdmpCheck.Result.values:
        raise WorkflowError(
            "invalid_result",
            f"{result!r} is not a PDMP result; use one of {', '.join(PdmpCheck.Result.values)}.",
            400,
        )
    reference = _free_text(reference, "reference")
    if "\n" in reference or len(reference) > PdmpCheck._meta.get_field("reference").max_length:
        raise WorkflowError(
            "invalid_reference", "The report number must be one line of at most 60 characters.", 400
        )
    note = _free_text(note, "note")
    if result != PdmpCheck.Result.NO_CONCERNS and not note:
        raise WorkflowError(
            "note_required", "Say what the PDMP check found and what was done about it.", 400
        )
    with transaction.atomic():
        fill = _lock(fill)
        _check_move(fill, to=S.FILL, by=by, expected_from=S.PV1)
        if not fill.prescription.controlled_schedule:
            raise WorkflowError(
                "not_controlled",
                f"Rx {fill.prescription.rx_number} is not for a controlled substance: it "
                "needs no PDMP check.",
                400,
            )
        return PdmpCheck.objects.create(
            fill=fill, state=state, result=result, reference=reference, note=note, checked_by=by
        )


def reject_pv1(fill: Fill, *, by: User, reason: str) -> Fill:
    """A pharmacist sends a fill back from PV1 to intake, with the reason, for a
    technician to correct the data entry. Raises WorkflowError (reason missing, not at
    PV1, not a pharmacist, claimed by someone else)."""
    reason = _required_text(reason, "reason")
    with transaction.atomic():
        fill = _lock(fill)
        _check_move(fill, to=S.INTAKE, by=by, expected_from=S.PV1)
        return move_locked_fill(fill, to=S.INTAKE, by=by, reason=f"PV1 rejected: {reason}")
