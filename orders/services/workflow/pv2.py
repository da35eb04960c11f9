"""PV2: a pharmacist who did not fill it verifies the filled product by scanning the vial
label (and, optionally, the stock bottle again), or sends it back to the fill step.
"""

from django.db import transaction
from django.utils import timezone

from orders.models import Discrepancy, Fill, FillScan, ScanEntry
from orders.services.labels import queue_rx_label
from orders.services.workflow.discrepancies import _check_discrepancy_kind
from orders.services.workflow.filling import _read_scan, _record_refused_scan
from orders.services.workflow.helpers import (
    S,
    ScanRefused,
    WorkflowError,
    _check_move,
    _describe,
    _lock,
    _required_text,
    _short_reason,
    move_locked_fill,
)
from orders.services.workflow.moves import _undo_dispensing
from pharmacy.models import User

__all__ = ["approve_pv2", "check_scan_entry", "reject_pv2"]


def _check_not_filler(fill: Fill, by: User) -> None:
    if fill.filled_by_id == by.pk:
        raise WorkflowError(
            "own_fill",
            f"You filled {_describe(fill, start=False)}: another pharmacist must verify it.",
            403,
        )


def _check_label_scan(fill: Fill, raw: str) -> None:
    code = raw.strip().upper()
    if code == fill.label_code:
        return
    other = Fill.objects.filter(label_code=code).select_related("prescription").first()
    if other is not None:
        raise ScanRefused(
            "wrong_vial",
            f"This is the label of {_describe(other, start=False)}, not of "
            f"{_describe(fill, start=False)}: check the vial in your hand.",
        )
    raise ScanRefused(
        "label_mismatch",
        f"{raw!r} is not the label of {_describe(fill, start=False)}: scan the barcode on the "
        "vial label.",
    )


def _check_stock_scan(fill: Fill, raw: str) -> tuple[str, str]:
    package, parsed = _read_scan(raw)
    if package.pk != fill.dispensed_package_id:
        raise ScanRefused(
            "stock_mismatch",
            f"This bottle is {package.package_ndc}; the fill was filled from {fill.dispensed_ndc}.",
            ndc=package.package_ndc,
        )
    if parsed and parsed.lot and parsed.lot != fill.lot_number:
        raise ScanRefused(
            "lot_mismatch",
            f"This bottle is lot {parsed.lot}; the fill was filled from lot {fill.lot_number}.",
            ndc=package.package_ndc,
            lot=parsed.lot,
        )
    return package.package_ndc, fill.lot_number


def check_scan_entry(entry: str, typed_reason: str) -> tuple[str, str]:
    """The entry (``ScanEntry``; empty counts as typed) and the reason for a code typed
    by hand, checked: an unknown entry or a reason holding control characters is refused
    (400). Shared by PV2 and packing (``shipping.services.shipments.packing``)."""
    entry = (entry or ScanEntry.TYPED).strip().lower()
    if entry not in ScanEntry.values:
        raise WorkflowError(
            "invalid_entry",
            f"{entry!r} is not how a code is entered; use {' or '.join(ScanEntry.values)}.",
            400,
        )
    reason = _short_reason(typed_reason)
    return entry, (reason if entry == ScanEntry.TYPED else "")


def _refuse_typed_code(fill: Fill) -> ScanRefused:
    return ScanRefused(
        "typed_code",
        f"The label code of {_describe(fill, start=False)} was typed, not scanned: scan "
        "the barcode on the vial label. If the label cannot be scanned, give your reason "
        "for typing it; it is kept on the record.",
    )


def approve_pv2(
    fill: Fill,
    *,
    by: User,
    scan: str,
    stock_scan: str = "",
    entry: str = ScanEntry.TYPED,
    typed_reason: str = "",
) -> Fill:
    """A pharmacist who did not fill it verifies the filled product: scans the vial
    label's barcode (this fill's ``label_code``) and, optionally, the stock bottle again
    (its package, and lot when the scan carries one, must be those dispensed). Records
    the pharmacist and time; the fill is ready to pack.

    ``entry`` says whether the label code came from a scanner or a keyboard (``ScanEntry``;
    a caller that does not say is taken as typed): a typed code passes only with the
    pharmacist's ``typed_reason``, kept on the accepted scan and in the PV2 event, so
    nobody verifies a vial by reading its code off a screen.

    Raises WorkflowError: not at PV2, not a pharmacist, the filler (``own_fill``), claimed
    by someone else, no scan, an unknown entry (400); and ScanRefused, recorded as a
    refused PV2 scan, for a typed code without a reason (``typed_code``), another fill's
    label (``wrong_vial``), an unknown code, or a stock bottle that does not match.
    """
    raw = (scan or "").strip()
    if not raw:
        raise WorkflowError("scan_required", "Scan the vial label's barcode to verify.", 400)
    entry, typed_reason = check_scan_entry(entry, typed_reason)
    stock_raw = (stock_scan or "").strip()
    current = raw
    try:
        with transaction.atomic():
            fill = _lock(fill)
            _check_move(fill, to=S.READY_TO_PACK, by=by, expected_from=S.PV2)
            _check_not_filler(fill, by)
            if entry == ScanEntry.TYPED and not typed_reason:
                raise _refuse_typed_code(fill)
            _check_label_scan(fill, raw)
            scans = [FillScan(fill=fill, step=FillScan.Step.PV2, raw=raw[:200], entry=entry,
                              typed_reason=typed_reason, is_accepted=True, by=by)]  # fmt: skip
            if stock_raw:
                current = stock_raw
                ndc, lot = _check_stock_scan(fill, stock_raw)
                scans.append(
                    FillScan(fill=fill, step=FillScan.Step.PV2, raw=stock_raw[:200],
                             is_accepted=True, scanned_ndc=ndc, lot_number=lot, by=by)
                )  # fmt: skip
            FillScan.objects.bulk_create(scans)
            fill.pv2_by = by
            fill.pv2_at = timezone.now()
            reason = "PV2 approved" + (
                f" (label code typed by hand: {typed_reason})" if typed_reason else ""
            )
            return move_locked_fill(
                fill, to=S.READY_TO_PACK, by=by, reason=reason,
                update_fields=["pv2_by", "pv2_at"],
            )  # fmt: skip
    except ScanRefused as refused:
        step_entry = entry if current == raw else ScanEntry.SCANNED
        _record_refused_scan(fill, FillScan.Step.PV2, current, refused, by=by, entry=step_entry)
        raise


def reject_pv2(fill: Fill, *, by: User, reason: str, discrepancy_kind: str = "") -> Fill:
    """A pharmacist (not the filler) sends a filled product back to the fill step.

    In one transaction: the dispensed units go back to their lot (a RETURN ledger row),
    a Discrepancy is recorded (``discrepancy_kind``, by default a PV2 mismatch) linked to
    that return, the dispensed product is cleared from the fill, and the fill moves back
    to the fill queue. Raises WorkflowError: reason missing or unknown kind (400), not at
    PV2, not a pharmacist, the filler, claimed by someone else.
    """
    reason = _required_text(reason, "reason")
    kind = discrepancy_kind or Discrepancy.Kind.PV2_MISMATCH
    _check_discrepancy_kind(kind)
    with transaction.atomic():
        fill = _lock(fill)
        _check_move(fill, to=S.FILL, by=by, expected_from=S.PV2)
        _check_not_filler(fill, by)
        update_fields, returned = _undo_dispensing(fill, by=by, reason=f"Rejected at PV2: {reason}")
        Discrepancy.objects.create(
            fill=fill, kind=kind, description=reason, found_by=by, stock_movement=returned
        )
        fill = move_locked_fill(
            fill,
            to=S.FILL,
            by=by,
            reason=f"PV2 rejected: {reason}",
            reason_code=kind,
            update_fields=update_fields,
        )
        # The label printed the product that went back to stock; the next fill's scan
        # makes it again, and until then the current label must not name that lot.
        queue_rx_label(fill)
        return fill
