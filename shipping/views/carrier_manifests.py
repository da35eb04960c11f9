"""The carriers' end-of-day manifests: build one for a carrier and day, and download past
ones (PDF, CSV)."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from pharmacy.access import staff_permission_required
from shipping.forms import ManifestForm
from shipping.models import Carrier, Manifest, Shipment
from shipping.services.documents import build_manifest
from shipping.services.shipments import ShippingError
from shipping.views._common import BUILD_MANIFESTS, VIEW_MANIFESTS, _pdf_response


def _manifest_page(request, form: ManifestForm, *, error="", status=200):
    today = timezone.localdate()
    handed_today = dict(
        Shipment.objects.filter(handed_over_at__date=today)
        .values_list("carrier")
        .annotate(n=Count("id"))
        .order_by()
    )
    context = {
        "form": form,
        "error": error,
        "manifests": list(
            Manifest.objects.defer("pdf", "csv")
            .select_related("created_by")
            .annotate(packages=Count("shipments"))[:30]
        ),
        "handed_today": [(label, handed_today.get(value, 0)) for value, label in Carrier.choices],
    }
    return render(request, "shipping/manifests.html", context, status=status)


@staff_permission_required(VIEW_MANIFESTS)
def manifests(request):
    """Build the end-of-day manifest of a carrier, and download past ones (PDF, CSV)."""
    if request.method != "POST":
        initial = {"carrier": Carrier.LOCAL, "day": timezone.localdate()}
        return _manifest_page(request, ManifestForm(initial=initial))
    if not request.user.has_perm(BUILD_MANIFESTS):
        raise PermissionDenied(f"Your role ({request.user.role_label}) does not build manifests.")
    form = ManifestForm(request.POST)
    if not form.is_valid():
        return _manifest_page(request, form, status=400)
    carrier, day = form.cleaned_data["carrier"], form.cleaned_data["day"]
    try:
        manifest = build_manifest(carrier, day, by=request.user)
    except ShippingError as error:
        return _manifest_page(request, form, error=error.detail, status=error.status)
    count = manifest.shipments.count()
    messages.success(
        request,
        f"{manifest.get_carrier_display()} manifest of {day:%Y-%m-%d}: "
        f"{count} package{'s' if count != 1 else ''}.",
    )
    return redirect("manifests")


def _manifest_download(pk: int, kind: str):
    """A manifest as built (package ids, tracking numbers, ZIP codes: no patient data, so
    no audit row)."""
    manifest = get_object_or_404(Manifest, pk=pk)
    filename = f"manifest-{manifest.carrier}-{manifest.day:%Y-%m-%d}.{kind}"
    if kind == "pdf":
        return _pdf_response(bytes(manifest.pdf), filename)
    response = HttpResponse(manifest.csv, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
@staff_permission_required(VIEW_MANIFESTS)
def manifest_pdf(request, pk: int):
    return _manifest_download(pk, "pdf")


@require_GET
@staff_permission_required(VIEW_MANIFESTS)
def manifest_csv(request, pk: int):
    return _manifest_download(pk, "csv")
