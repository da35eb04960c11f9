"""Blind cycle counts: start one, scan and count each lot, submit it, then approve it
(which posts the variances to the ledger) or cancel it."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.views.decorators.http import require_POST

from inventory.forms import ApproveCountForm, CountLineForm, CountScanForm, StartCountForm
from inventory.models import CycleCount, DEASchedule, Package
from inventory.services.counts import (
    approve_cycle_count,
    cancel_cycle_count,
    record_count,
    start_cycle_count,
    submit_cycle_count,
)
from inventory.services.stock import StockError
from inventory.views._common import lot_of_scan, package_of_code


@permission_required("inventory.view_cyclecount", raise_exception=True)
def count_list(request):
    form = StartCountForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if not request.user.has_perm("inventory.add_cyclecount"):
            raise PermissionDenied
        if form.is_valid():
            data = form.cleaned_data
            try:
                package = None
                if data["ndc"].strip():
                    package = package_of_code(data["ndc"])[0]
                count = start_cycle_count(
                    by=request.user, location=data["location"], package=package,
                    controlled_only=data["controlled_only"], note=data["note"],
                )  # fmt: skip
            except StockError as refused:
                form.add_error(None, refused.detail)
            else:
                messages.success(request, f"Count {count.pk} started: {count.lines.count()} lots.")
                return redirect("count_detail", pk=count.pk)
        status = 400
    counts = CycleCount.objects.select_related("created_by", "approved_by").annotate(
        lot_count=Count("lines"),
        counted=Count("lines", filter=Q(lines__counted_quantity__isnull=False)),
    )
    return render(
        request,
        "inventory/count_list.html",
        {
            "form": form,
            "open_counts": counts.open(),
            "closed_counts": counts.exclude(pk__in=counts.open().values("pk"))[:50],
            "can_start": request.user.has_perm("inventory.add_cyclecount"),
        },
        status=status,
    )


def _count_page(request, count: CycleCount, *, approve_form=None, pending_scan=None, status=200):
    lines = list(count.lines.select_related("lot__package__product", "correction", "counted_by"))
    corrections = [line for line in lines if line.variance and not line.is_estimate]
    focus = request.GET.get("line", "")
    user = request.user
    return render(
        request,
        "inventory/count_detail.html",
        {
            "count": count,
            # The counter never sees what the ledger expects: the counting page is given
            # no expected quantity at all, not just a hidden one.
            "blind": count.status == CycleCount.Status.COUNTING,
            "lines": lines,
            "counted": sum(1 for line in lines if line.is_counted),
            "corrections": corrections,
            "units_short": sum((-line.variance for line in corrections if line.variance < 0), 0),
            "units_over": sum((line.variance for line in corrections if line.variance > 0), 0),
            "schedule_ii_variance": any(
                line.lot.package.product.dea_schedule == DEASchedule.CII for line in corrections
            ),
            "focus_line": int(focus) if focus.isdigit() else None,
            "scan_form": CountScanForm(),
            # A scan that names the product but not the lot (a UPC or an NDC): kept,
            # waiting for the lot number to be typed or picked.
            "pending_scan": pending_scan,
            "approve_form": approve_form or ApproveCountForm(),
            "can_count": count.status == CycleCount.Status.COUNTING
            and user.has_perm("inventory.add_cyclecount"),
            "can_approve": count.status == CycleCount.Status.SUBMITTED
            and user.has_perm("inventory.change_cyclecount"),
            "can_cancel": count.status in (CycleCount.Status.COUNTING, CycleCount.Status.SUBMITTED)
            and (user.has_perm("inventory.change_cyclecount") or count.created_by_id == user.pk),
        },
        status=status,
    )


@permission_required("inventory.view_cyclecount", raise_exception=True)
def count_detail(request, pk: int):
    count = get_object_or_404(CycleCount.objects.select_related("created_by"), pk=pk)
    return _count_page(request, count)


@require_POST
@permission_required("inventory.add_cyclecount", raise_exception=True)
def count_scan(request, pk: int):
    """Find the line of the scanned lot and put the cursor in its count."""
    count = get_object_or_404(CycleCount, pk=pk)
    form = CountScanForm(request.POST)
    url = reverse("count_detail", args=[count.pk])
    if not form.is_valid():
        messages.error(request, "Scan the lot's DataMatrix, or type its NDC and lot number.")
        return redirect(url)
    scan, lot_number = form.cleaned_data["scan"], form.cleaned_data["lot_number"]
    try:
        if not lot_number.strip():
            package, parsed = package_of_code(scan)
            if not parsed.lot:
                return _count_page(request, count, pending_scan=_pending_scan(count, scan, package))
        lot = lot_of_scan(scan, lot_number)
        line = count.lines.filter(lot=lot).first()
        if line is None:
            raise StockError(
                "lot_not_in_count",
                f"Lot {lot.lot_number} of {lot.package.package_ndc} is not part of count "
                f"{count.pk}; count only the lots listed.",
            )
    except StockError as refused:
        messages.error(request, refused.detail)
        return redirect(url)
    return redirect(f"{url}?line={line.pk}#line-{line.pk}")


def _pending_scan(count: CycleCount, scan: str, package: Package) -> dict:
    """What the page asks after a scan without a lot: the scan itself (sent again with
    the lot), the package it named, and the lot numbers of that package in this count
    to pick from (the lot numbers are on the count's lines already; no quantity)."""
    lots = (
        count.lines.filter(lot__package=package)
        .order_by("lot__lot_number")
        .values_list("lot__lot_number", flat=True)
    )
    return {"scan": scan, "package": package, "lot_numbers": list(lots)}


@require_POST
@permission_required("inventory.add_cyclecount", raise_exception=True)
def count_record(request, pk: int, line_pk: int):
    count = get_object_or_404(CycleCount, pk=pk)
    line = get_object_or_404(count.lines.select_related("lot__package"), pk=line_pk)
    form = CountLineForm(request.POST)
    url = reverse("count_detail", args=[count.pk])
    if not form.is_valid():
        messages.error(request, "Type the number you counted.")
        return redirect(f"{url}?line={line.pk}#line-{line.pk}")
    try:
        record_count(
            count, lot=line.lot, counted_quantity=form.cleaned_data["counted_quantity"],
            by=request.user, is_estimate=form.cleaned_data["is_estimate"],
        )  # fmt: skip
    except StockError as refused:
        messages.error(request, f"Lot {line.lot.lot_number}: {refused.detail}")
        return redirect(f"{url}?line={line.pk}#line-{line.pk}")
    messages.success(request, f"Lot {line.lot.lot_number} counted.")
    return redirect(url)


@require_POST
@permission_required("inventory.add_cyclecount", raise_exception=True)
def count_submit(request, pk: int):
    count = get_object_or_404(CycleCount, pk=pk)
    try:
        submit_cycle_count(count, by=request.user)
    except StockError as refused:
        messages.error(request, refused.detail)
    else:
        messages.success(request, f"Count {count.pk} is submitted for approval.")
    return redirect("count_detail", pk=count.pk)


@require_POST
@permission_required("inventory.change_cyclecount", raise_exception=True)
def count_approve(request, pk: int):
    count = get_object_or_404(CycleCount.objects.select_related("created_by"), pk=pk)
    form = ApproveCountForm(request.POST, request=request)
    if form.is_valid():
        try:
            approve_cycle_count(
                count, by=request.user, witness=form.cleaned_data["witness"],
                note=form.cleaned_data["note"],
            )  # fmt: skip
        except StockError as refused:
            form.add_error(None, refused.detail)
        else:
            posted = count.lines.filter(correction__isnull=False).count()
            messages.success(
                request,
                f"Count {count.pk} is approved; {posted} correction{pluralize(posted)} posted.",
            )
            return redirect("count_detail", pk=count.pk)
    return _count_page(request, count, approve_form=form, status=400)


@require_POST
@permission_required("inventory.view_cyclecount", raise_exception=True)
def count_cancel(request, pk: int):
    count = get_object_or_404(CycleCount, pk=pk)
    user = request.user
    if not (user.has_perm("inventory.change_cyclecount") or count.created_by_id == user.pk):
        raise PermissionDenied
    try:
        cancel_cycle_count(count, by=user)
    except StockError as refused:
        messages.error(request, refused.detail)
    else:
        messages.success(request, f"Count {count.pk} is cancelled; nothing was posted.")
    return redirect("count_detail", pk=count.pk)
