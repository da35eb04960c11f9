"""The end-of-day manifest of each carrier: every package handed to it that local day,
as PDF and CSV (package ids, tracking numbers, ZIP codes: no names, nothing of the
contents)."""

import csv
import io
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from orders.services.pdf import thread_renderer
from pharmacy.models import User
from shipping.models import Carrier, Manifest, Shipment
from shipping.services.documents._common import (
    CSS_DIR,
    _carrier_name,
    _city_line,
    _refuse_unless_staff,
    _weight,
)
from shipping.services.shipments import ShippingError

MANIFEST_CSS = CSS_DIR / "shipping_manifest.css"

# A package is on a carrier's manifest once handed over, whatever happened to it since.
HANDED_OVER = frozenset(
    {
        Shipment.Status.HANDED_TO_CARRIER,
        Shipment.Status.IN_TRANSIT,
        Shipment.Status.DELIVERED,
        Shipment.Status.EXCEPTION,
        Shipment.Status.RETURNED,
    }
)

MANIFEST_COLUMNS = [
    "package_id",
    "tracking_number",
    "service_code",
    "service",
    "weight_oz",
    "signature_required",
    "cold_chain",
    "destination_zip",
    "handed_over_at",
]


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    """The pharmacy's local day as an aware [start, end) range."""
    start = timezone.make_aware(datetime.combine(day, time.min))
    return start, timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))


def manifest_shipments(carrier: str, day: date):
    """Every package handed to the carrier on that local day (handed over or later)."""
    start, end = _day_bounds(day)
    return (
        Shipment.objects.filter(
            carrier=carrier,
            status__in=HANDED_OVER,
            handed_over_at__gte=start,
            handed_over_at__lt=end,
        )
        .select_related("service")
        .order_by("handed_over_at", "pk")
    )


def _manifest_rows(shipments) -> list[dict]:
    return [
        {
            "package_id": shipment.package_code,
            "tracking_number": shipment.tracking_number,
            "service_code": shipment.service.code if shipment.service else "",
            "service": shipment.service.name if shipment.service else "",
            "weight_oz": f"{shipment.weight_oz:f}" if shipment.weight_oz is not None else "",
            "weight": _weight(shipment.weight_oz),
            "signature_required": shipment.signature_required,
            "cold_chain": shipment.is_cold_chain,
            "destination_zip": shipment.ship_to_postal_code,
            "handed_over_at": timezone.localtime(shipment.handed_over_at).isoformat(
                timespec="seconds"
            ),
            "handed_over_time": timezone.localtime(shipment.handed_over_at).strftime("%H:%M"),
        }
        for shipment in shipments
    ]


def manifest_csv(rows: list[dict]) -> str:
    """The manifest as CSV (a header row, then one row a package; yes/no for marks)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(MANIFEST_COLUMNS)
    for row in rows:
        writer.writerow(
            [
                "yes" if row[column] is True else "no" if row[column] is False else row[column]
                for column in MANIFEST_COLUMNS
            ]
        )
    return out.getvalue()


def render_manifest_pdf(*, carrier: str, day: date, rows: list[dict]) -> bytes:
    """The manifest as PDF: the shipper, the carrier and day, one table row a package
    (no names, nothing of the contents), the totals and the carrier's signature lines."""
    total_oz = sum(Decimal(row["weight_oz"]) for row in rows if row["weight_oz"])
    ship_from = settings.SHIP_FROM
    html = render_to_string(
        "shipping/manifest.html",
        {
            "carrier": _carrier_name(carrier),
            "day": day,
            "rows": rows,
            "total_weight": _weight(total_oz),
            "ship_from": "\n".join(
                filter(
                    None,
                    [
                        ship_from["name"],
                        ship_from["line1"],
                        ship_from.get("line2", ""),
                        _city_line(ship_from["city"], ship_from["state"], ship_from["postal_code"]),
                        ship_from.get("phone", ""),
                    ],
                )
            ),
        },
    )
    document = thread_renderer(MANIFEST_CSS, document="manifest").render(html)
    return document.write_pdf()


def build_manifest(carrier: str, day: date, *, by: User | None) -> Manifest:
    """The end-of-day manifest of one carrier: every package handed to it that local day
    (status handed to carrier or later), as PDF and CSV.

    One manifest per carrier and day: building it again replaces the PDF, the CSV and its
    packages (a package handed over after the first print is on the next build), under
    the same row, with who built it and when. Raises ShippingError: an unknown carrier
    (400), no package handed to it that day (409; nothing stored), a role that does not
    ship (403)."""
    if by is not None:
        _refuse_unless_staff(by, "build a carrier manifest")
    if carrier not in Carrier.values:
        raise ShippingError("unknown_carrier", f"No such carrier: {carrier}.", status=400)
    shipments = list(manifest_shipments(carrier, day))
    if not shipments:
        raise ShippingError(
            "manifest_empty",
            f"No package was handed to {_carrier_name(carrier)} on {day:%m/%d/%Y}.",
        )
    rows = _manifest_rows(shipments)
    pdf = render_manifest_pdf(carrier=carrier, day=day, rows=rows)
    with transaction.atomic():
        manifest, _created = Manifest.objects.update_or_create(
            carrier=carrier,
            day=day,
            defaults={
                "pdf": pdf,
                "csv": manifest_csv(rows),
                "created_by": by,
                "created_at": timezone.now(),
            },
        )
        manifest.shipments.set(shipments)
    return manifest
