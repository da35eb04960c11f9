"""Controlled substances: the perpetual inventory per schedule, NDC and lot, and the
biennial inventory (21 CFR 1304.11)."""

from datetime import datetime, time
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.decorators import permission_required
from django.shortcuts import render
from django.utils import timezone

from inventory.forms import BiennialInventoryForm
from inventory.models import DEASchedule
from inventory.services.counts import (
    CONTROLLED_SCHEDULES,
    biennial_inventory,
    controlled_perpetual_inventory,
)


@permission_required("inventory.view_controlled_inventory", raise_exception=True)
def controlled_inventory(request):
    """The perpetual inventory of controlled substances, per schedule, NDC and lot."""
    schedule = request.GET.get("schedule", "")
    if schedule not in CONTROLLED_SCHEDULES:
        schedule = ""
    groups: dict[str, dict[str, dict]] = {}
    for lot in controlled_perpetual_inventory(schedule=schedule):
        by_package = groups.setdefault(lot.package.product.dea_schedule, {})
        entry = by_package.setdefault(
            lot.package.package_ndc, {"package": lot.package, "lots": [], "total": Decimal(0)}
        )
        entry["lots"].append(lot)
        entry["total"] += lot.quantity_on_hand
    return render(
        request,
        "inventory/controlled_inventory.html",
        {
            "groups": [
                (DEASchedule(key).label, key, list(packages.values()))
                for key, packages in sorted(groups.items())
            ],
            "schedule": schedule,
            "schedules": [(s, DEASchedule(s).label) for s in CONTROLLED_SCHEDULES],
            "biennial_form": BiennialInventoryForm(initial={"date": timezone.localdate()}),
        },
    )


@permission_required("inventory.view_controlled_inventory", raise_exception=True)
def controlled_biennial(request):
    """The biennial inventory (21 CFR 1304.11) as of the opening or close of a day,
    computed from the ledger; printable."""
    form = BiennialInventoryForm(
        request.GET or None,
        initial={"date": timezone.localdate(), "taken_at": BiennialInventoryForm.CLOSE},
    )
    if not form.is_valid():
        return render(
            request,
            "inventory/controlled_biennial.html",
            {"form": form, "report": None},
            status=400 if form.is_bound else 200,
        )
    day, taken_at = form.cleaned_data["date"], form.cleaned_data["taken_at"]
    moment = time.min if taken_at == BiennialInventoryForm.OPENING else time.max
    as_of = timezone.make_aware(datetime.combine(day, moment))
    return render(
        request,
        "inventory/controlled_biennial.html",
        {
            "form": form,
            "report": biennial_inventory(as_of=as_of),
            "day": day,
            "taken_at": dict(form.fields["taken_at"].choices)[taken_at],
            "registrant": {
                "name": settings.PHARMACY_NAME,
                "address": settings.PHARMACY_ADDRESS,
                "dea": settings.PHARMACY_DEA,
            },
            "printed_at": timezone.localtime(),
        },
    )
