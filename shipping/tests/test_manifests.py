"""End-of-day manifests: every package handed to one carrier on one day, as a PDF and a
CSV, naming no patient and nothing of the contents; one per carrier and day, rebuilt in
place."""

import csv
import datetime
import io
from decimal import Decimal

import pytest
from django.utils import timezone
from pypdf import PdfReader

from orders.models import Fill
from orders.tests.test_rx_label import pdf_text
from shipping.models import Carrier, Manifest, Shipment
from shipping.services.documents import MANIFEST_COLUMNS, build_manifest, manifest_shipments
from shipping.services.shipments import ShippingError, hand_over_to_carrier
from shipping.tests.factories import CarrierServiceFactory, labelled_shipment, ready_order

pytestmark = pytest.mark.django_db

S = Shipment.Status
DAY = datetime.date(2026, 11, 24)


def at(day: datetime.date, hour: int, minute: int = 0) -> datetime.datetime:
    """That local time of day, aware."""
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour, minute)))


def handed_over(when: datetime.datetime, *, status: str = S.HANDED_TO_CARRIER, **fields):
    return labelled_shipment(status=status, handed_over_at=when, **fields)


def csv_rows(manifest: Manifest) -> list[dict]:
    return list(csv.DictReader(io.StringIO(manifest.csv)))


def test_the_manifest_lists_every_package_handed_to_the_carrier_that_day(manager):
    morning = handed_over(at(DAY, 9, 5), weight_oz=Decimal("12"))
    cold = handed_over(
        at(DAY, 16, 40),
        status=S.IN_TRANSIT,  # moved on since: still on the day's manifest
        order=ready_order(fills=2, cold_chain=True, controlled=True, status=Fill.Status.SHIPPED),
        weight_oz=Decimal("40.5"),
    )
    delivered = handed_over(at(DAY, 23, 59), status=S.DELIVERED, weight_oz=Decimal("8"))
    # Not on it: the day before and after, another carrier, not handed over yet.
    handed_over(at(DAY - datetime.timedelta(days=1), 23, 59))
    handed_over(at(DAY + datetime.timedelta(days=1), 0, 0))
    easypost = CarrierServiceFactory(carrier=Carrier.EASYPOST, code="UPS:Ground", name="UPS Ground")
    handed_over(at(DAY, 12), service=easypost)
    labelled_shipment()

    manifest = build_manifest(Carrier.LOCAL, DAY, by=manager)

    assert (manifest.carrier, manifest.day, manifest.created_by) == (Carrier.LOCAL, DAY, manager)
    assert list(manifest.shipments.order_by("handed_over_at")) == [morning, cold, delivered]
    rows = csv_rows(manifest)
    assert list(rows[0]) == MANIFEST_COLUMNS
    assert rows[1] == {
        "package_id": cold.package_code,
        "tracking_number": cold.tracking_number,
        "service_code": "TWO_DAY",
        "service": "Courier 2-day",
        "weight_oz": "40.5",
        "signature_required": "yes",
        "cold_chain": "yes",
        "destination_zip": cold.ship_to_postal_code,
        "handed_over_at": timezone.localtime(cold.handed_over_at).isoformat(),
    }
    assert [(row["signature_required"], row["cold_chain"]) for row in rows] == [
        ("no", "no"),
        ("yes", "yes"),
        ("no", "no"),
    ]

    pdf = bytes(manifest.pdf)
    text = pdf_text(pdf)
    assert "Local delivery end-of-day manifest 11/24/2026" in text
    assert "Riverbend Mail-Order Pharmacy 1200 Commerce Drive" in text
    assert (
        f"2 {cold.package_code} {cold.tracking_number} Courier 2-day 2 lb 8.5 oz "
        f"Signature, Cold {cold.ship_to_postal_code} 16:40"
    ) in text
    assert f"1 {morning.package_code} {morning.tracking_number} Courier 2-day 12 oz" in text
    assert "3 packages, 3 lb 12.5 oz in all." in text
    assert "Received by (Local delivery driver)" in text
    box = PdfReader(io.BytesIO(pdf)).pages[0].mediabox
    assert (box.width, box.height) == (612, 792)


def test_the_manifest_names_no_patient_and_nothing_of_the_contents(manager):
    shipment = handed_over(
        at(DAY, 10),
        order=ready_order(fills=2, cold_chain=True, controlled=True, status=Fill.Status.SHIPPED),
    )

    manifest = build_manifest(Carrier.LOCAL, DAY, by=manager)

    printed = (pdf_text(bytes(manifest.pdf)) + manifest.csv).lower()
    patient = shipment.order.patient
    words = {patient.first_name, patient.last_name, shipment.ship_to_line1, "oxycodone"}
    for fill in shipment.order.fills.select_related("prescription__product"):
        product = fill.prescription.product
        words |= {product.proprietary_name, product.nonproprietary_name}
        words |= {fill.prescription.rx_number, fill.label_code}
    for word in words:
        assert word.lower() not in printed, word


def test_building_again_replaces_the_days_manifest(manager, technician):
    first_package = handed_over(at(DAY, 9))
    first = build_manifest(Carrier.LOCAL, DAY, by=technician)
    late_package = handed_over(at(DAY, 18))

    again = build_manifest(Carrier.LOCAL, DAY, by=manager)

    assert again.pk == first.pk
    assert Manifest.objects.count() == 1
    again.refresh_from_db()
    assert set(again.shipments.all()) == {first_package, late_package}
    assert [row["package_id"] for row in csv_rows(again)] == [
        first_package.package_code,
        late_package.package_code,
    ]
    assert late_package.package_code in pdf_text(bytes(again.pdf))
    assert again.created_by == manager
    assert again.created_at > first.created_at


def test_a_day_with_nothing_handed_over_is_refused_and_nothing_stored(manager):
    labelled_shipment()  # labelled, still in the building

    with pytest.raises(ShippingError) as refused:
        build_manifest(Carrier.LOCAL, DAY, by=manager)

    assert refused.value.code == "manifest_empty"
    assert refused.value.detail == "No package was handed to Local delivery on 11/24/2026."
    assert not Manifest.objects.exists()


def test_an_unknown_carrier_is_refused(manager):
    with pytest.raises(ShippingError) as refused:
        build_manifest("pony-express", DAY, by=manager)

    assert (refused.value.code, refused.value.status) == ("unknown_carrier", 400)
    assert not Manifest.objects.exists()


def test_packages_handed_over_by_the_service_are_on_todays_manifest(technician, manager):
    shipments = [labelled_shipment() for _ in range(2)]
    assert hand_over_to_carrier(shipments, by=technician) == 2
    today = timezone.localdate()

    manifest = build_manifest(Carrier.LOCAL, today, by=manager)

    assert set(manifest.shipments.all()) == set(shipments)
    assert list(manifest_shipments(Carrier.LOCAL, today)) == sorted(
        shipments, key=lambda s: (Shipment.objects.get(pk=s.pk).handed_over_at, s.pk)
    )


def test_a_long_manifest_runs_to_more_pages_with_the_table_header_on_each(manager):
    for minute in range(45):
        handed_over(at(DAY, 8, minute))

    manifest = build_manifest(Carrier.LOCAL, DAY, by=manager)

    pages = PdfReader(io.BytesIO(bytes(manifest.pdf))).pages
    assert len(pages) == 2
    for number, page in enumerate(pages, 1):
        text = " ".join(page.extract_text().split())
        assert "Package id Tracking number Service" in text
        assert f"Page {number} of 2" in text
    assert "45 packages" in pdf_text(bytes(manifest.pdf))
