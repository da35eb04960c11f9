"""The carrier label and the packing slip: what each prints (read back from the PDF's
text), what the outside label never prints, the barcodes, and the stored documents (one
current of each kind per shipment, made again only when what they print changes)."""

import io
import threading
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone
from pypdf import PdfReader

from inventory.models import DEASchedule
from orders.models import Fill
from orders.services.pdf import thread_renderer
from orders.tests.factories import fill_at, stocked_prescription
from orders.tests.test_rx_label import barcode_in_pdf, decode_code128, pdf_text
from outbox.models import OutboxMessage
from outbox.services import deliver_due_side_effects, deliver_side_effect
from outbox.tasks import deliver_side_effect_task
from shipping.models import Shipment, ShippingDocument
from shipping.services import documents
from shipping.services.documents import (
    current_document,
    generate_packing_slip,
    generate_shipping_documents,
    generate_shipping_label,
    packing_slip_data,
    record_shipping_documents,
    render_shipping_label_pdf,
    shipping_label_data,
    storage,
)
from shipping.services.documents._common import _barcode
from shipping.services.documents.label import _address_size
from shipping.services.shipments import ShippingError, pack_shipment
from shipping.tests.factories import (
    CarrierServiceFactory,
    ShipmentFactory,
    deliver_side_effects,
    labelled_shipment,
    ready_order,
    shippable_patient,
    side_effects,
)

pytestmark = pytest.mark.django_db

LABEL = ShippingDocument.Kind.LABEL
SLIP = ShippingDocument.Kind.PACKING_SLIP


def page_size(pdf: bytes, page: int = 0) -> tuple:
    box = PdfReader(io.BytesIO(pdf)).pages[page].mediabox
    return (box.width, box.height)


def drug_words(order) -> set[str]:
    """Every word that would tell a stranger what is in the box: drug names (generic,
    brand, ingredient), Rx numbers, vial label codes, and the words of the trade."""
    words = {"Rx", "controlled", "schedule", "oxycodone", "insulin", "pharmaceutical"}
    for fill in order.fills.select_related("prescription__product"):
        product = fill.prescription.product
        words |= {product.proprietary_name, product.nonproprietary_name}
        words |= set(product.strengths.values_list("ingredient__name", flat=True))
        words |= {fill.prescription.rx_number, fill.label_code, fill.prescription.drug_description}
    return {word for word in words if word}


def cold_and_controlled_shipment(**fields) -> Shipment:
    """A labelled package of a refrigerated fill (Lantus) and a Schedule II fill
    (Roxicodone) for Ana Maria Rivera of Dayton."""
    patient = shippable_patient(
        line1="4410 Maple Avenue", line2="Apt 12", city="Dayton", state="OH", postal_code="45402"
    )
    patient.first_name, patient.middle_name, patient.last_name = "Ana", "Maria", "Rivera"
    patient.save(update_fields=["first_name", "middle_name", "last_name"])
    order = ready_order(
        fills=2, cold_chain=True, controlled=True, patient=patient, status=Fill.Status.PACKED
    )
    return labelled_shipment(order, **fields)


# --------------------------------------------------------------------------- the label


def test_the_label_prints_addresses_service_tracking_package_and_marks_on_4_by_6_inches():
    shipment = cold_and_controlled_shipment(weight_oz=Decimal("20.5"))
    ship_day = timezone.localdate()

    label = generate_shipping_label(shipment)

    pdf = bytes(label.pdf)
    assert len(PdfReader(io.BytesIO(pdf)).pages) == 1
    assert page_size(pdf) == (288, 432)  # 4 x 6 in at 72 pt per inch
    text = pdf_text(pdf)
    tracking = shipment.tracking_number
    for element in [
        # From: settings.SHIP_FROM.
        "Riverbend Mail-Order Pharmacy",
        "1200 Commerce Drive",
        "Suite 100",
        "Columbus, OH 43215",
        "(614) 555-0140",
        # To: the shipment's address snapshot, in capitals.
        "SHIP TO: ANA MARIA RIVERA 4410 MAPLE AVENUE APT 12 DAYTON OH 45402",
        "LOCAL DELIVERY COURIER 2-DAY",
        "REFRIGERATE - PERISHABLE",
        "SIGNATURE REQUIRED",
        # The tracking number in groups of four under its barcode, and the package id.
        " ".join(tracking[i : i + 4] for i in range(0, len(tracking), 4)),
        f"Package {shipment.package_code}",
        f"Ship date {ship_day:%m/%d/%Y}",
        "Weight 1 lb 4.5 oz",
    ]:
        assert element in text, element


def test_the_outside_label_says_nothing_of_what_is_inside():
    shipment = cold_and_controlled_shipment()

    pdf = bytes(generate_shipping_label(shipment).pdf)

    reader = PdfReader(io.BytesIO(pdf))
    text = pdf_text(pdf).lower()
    printed = " ".join([text, str(reader.metadata).lower()])
    words = drug_words(shipment.order)
    assert len(words) > 8
    for word in words:
        assert word.lower() not in printed, word
    # Nor in the data the label is made of (what is hashed and could be shown elsewhere).
    data = str(shipping_label_data(shipment)).lower()
    assert not [word for word in words if word.lower() in data]


def test_a_package_of_room_temperature_non_controlled_fills_has_no_marks():
    shipment = labelled_shipment()

    text = pdf_text(bytes(generate_shipping_label(shipment).pdf))

    assert "REFRIGERATE" not in text
    assert "SIGNATURE" not in text
    assert shipment.tracking_number[:4] in text


def test_the_signature_mark_follows_the_shipment_not_the_drug():
    # A manager's rules may ask a signature for a non-controlled package, or none.
    shipment = labelled_shipment(signature_required=True)

    text = pdf_text(bytes(generate_shipping_label(shipment).pdf))

    assert "SIGNATURE REQUIRED" in text
    assert "REFRIGERATE" not in text


@pytest.mark.parametrize(
    ("name", "line1", "size"),
    [
        ("Ana Rivera", "4410 Maple Avenue", ""),
        ("Maximilian Featherstonehaugh-Wolfe", "12 North Saint Lawrence Boulevard", "long"),
        ("Maximilian Alexander Featherstonehaugh", "12345 North Saint Lawrence Blvd", "longer"),
    ],
)
def test_a_long_address_is_printed_smaller_on_the_one_label(name, line1, size):
    shipment = labelled_shipment(ship_to_name=name, ship_to_line1=line1)

    pdf = bytes(generate_shipping_label(shipment).pdf)

    assert len(PdfReader(io.BytesIO(pdf)).pages) == 1
    assert _address_size([name, line1]) == size
    text = pdf_text(pdf)
    assert name.upper() in text
    assert line1.upper() in text


def test_the_barcode_on_the_label_carries_the_tracking_number():
    shipment = labelled_shipment()

    pdf = bytes(generate_shipping_label(shipment).pdf)

    assert decode_code128(barcode_in_pdf(pdf)) == shipment.tracking_number


def test_a_long_tracking_number_is_narrowed_to_fit_the_label():
    shipment = labelled_shipment(tracking_number="1Z999AA10123456784EXTRA9")

    data = shipping_label_data(shipment)
    narrow = _barcode(
        data["tracking_number"],
        module_pt=documents.TRACKING_MODULE_PT,
        height="1in",
        max_width_pt=documents.TRACKING_MAX_WIDTH_PT,
    )
    pdf = bytes(generate_shipping_label(shipment).pdf)

    assert narrow["width"] == "255.00pt"
    assert decode_code128(barcode_in_pdf(pdf)) == "1Z999AA10123456784EXTRA9"
    assert len(PdfReader(io.BytesIO(pdf)).pages) == 1


def test_an_aggregator_label_names_the_carrier_of_the_service():
    service = CarrierServiceFactory(
        carrier="easypost", code="USPS:Priority", name="USPS Priority Mail"
    )
    shipment = labelled_shipment(carrier="easypost", service=service)

    text = pdf_text(bytes(generate_shipping_label(shipment).pdf))

    assert "USPS USPS PRIORITY MAIL" in text


def test_the_same_data_give_the_same_bytes_and_one_stored_label():
    shipment = labelled_shipment()

    first = generate_shipping_label(shipment)
    again = generate_shipping_label(shipment)

    assert again == first
    assert list(ShippingDocument.objects.all()) == [first]
    assert render_shipping_label_pdf(shipping_label_data(shipment)) == bytes(first.pdf)


def test_a_new_label_only_when_what_it_prints_changes():
    shipment = labelled_shipment(weight_oz=Decimal("12"))
    first = generate_shipping_label(shipment)

    # What the label does not print: no new label.
    Shipment.objects.filter(pk=shipment.pk).update(
        instructions=["Two cold packs"], patient_notified_at=timezone.now()
    )
    assert generate_shipping_label(shipment) == first

    # The weight is printed: a new current label, the old one kept, not current.
    Shipment.objects.filter(pk=shipment.pk).update(weight_oz=Decimal("13.5"))
    second = generate_shipping_label(shipment)
    assert second != first
    assert "Weight 13.5 oz" in pdf_text(bytes(second.pdf))
    first.refresh_from_db()
    assert (first.is_current, second.is_current) == (False, True)

    # Back as it was: the first label is current again, nothing rendered or stored.
    Shipment.objects.filter(pk=shipment.pk).update(weight_oz=Decimal("12"))
    assert generate_shipping_label(shipment) == first
    assert ShippingDocument.objects.filter(shipment=shipment).count() == 2
    assert current_document(shipment, LABEL) == first


def test_the_return_address_comes_from_the_settings(settings):
    shipment = labelled_shipment()
    before = generate_shipping_label(shipment)
    settings.SHIP_FROM = {
        "name": "Riverbend Fulfilment Center",
        "line1": "77 Warehouse Row",
        "line2": "",
        "city": "Groveport",
        "state": "OH",
        "postal_code": "43125",
        "phone": "(614) 555-0199",
    }

    after = generate_shipping_label(shipment)

    assert after != before
    text = pdf_text(bytes(after.pdf))
    assert "Riverbend Fulfilment Center 77 Warehouse Row Groveport, OH 43125" in text
    assert "Commerce Drive" not in text


@pytest.mark.parametrize(
    "fields",
    [
        {"status": Shipment.Status.AWAITING_PACKING, "tracking_number": ""},
        {"status": Shipment.Status.PACKED, "tracking_number": ""},  # the carrier failed
        # Sent back to packing: the label is void even if a number were left behind.
        {"status": Shipment.Status.AWAITING_PACKING, "tracking_number": "LCL000000000017"},
    ],
)
def test_no_label_before_the_carrier_sold_one(fields):
    shipment = ShipmentFactory(**fields)

    with pytest.raises(ShippingError) as refused:
        generate_shipping_label(shipment)

    assert refused.value.code == "label_not_ready"
    assert shipment.package_code in refused.value.detail
    assert not ShippingDocument.objects.exists()


def test_data_changed_while_the_pdf_renders_are_rendered_again(monkeypatch):
    shipment = labelled_shipment(weight_oz=Decimal("12"))
    render = documents.render_shipping_label_pdf

    def render_while_someone_reweighs(data):
        pdf = render(data)
        Shipment.objects.filter(pk=shipment.pk).update(weight_oz=Decimal("14"))
        return pdf

    monkeypatch.setattr(
        storage,
        "LABEL",
        storage._DocumentKind(LABEL, storage._check_label, render_while_someone_reweighs),
    )

    label = generate_shipping_label(shipment)

    assert list(ShippingDocument.objects.all()) == [label]
    assert "Weight 14 oz" in pdf_text(bytes(label.pdf))


@pytest.mark.django_db(transaction=True)
def test_two_processes_making_the_same_label_at_once_store_one():
    shipment = labelled_shipment()
    barrier = threading.Barrier(4)
    made, errors = [], []

    def make():
        try:
            barrier.wait()
            made.append(generate_shipping_label(shipment).pk)
        except Exception as error:  # noqa: BLE001 (reported below)
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=make) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    [label] = ShippingDocument.objects.filter(shipment=shipment)
    assert made == [label.pk] * 4


# --------------------------------------------------------------------------- the packing slip


def test_the_packing_slip_lists_what_is_inside_and_how_to_reach_the_pharmacy():
    shipment = cold_and_controlled_shipment()
    fills = list(shipment.order.fills.order_by("pk").select_related("prescription"))

    slip = generate_packing_slip(shipment)

    pdf = bytes(slip.pdf)
    assert page_size(pdf) == (612, 792)  # US Letter
    text = pdf_text(pdf)
    for element in [
        f"Package {shipment.package_code}",
        "Ana Maria Rivera",
        f"Order {shipment.order.pk} of ",
        # Rx number, the drug as its vial label names it, quantity, refills left.
        f"{fills[0].prescription.rx_number} Insulin glargine 100 [iU]/mL injection (Lantus) "
        "Keep refrigerated 30 tablets 3",
        f"{fills[1].prescription.rx_number} Oxycodone hydrochloride 5 mg tablet (Roxicodone) "
        "30 tablets 3",
        "Keep cold: put the medicines marked",
        "Some of these medicines are controlled substances",
        "Questions about your medicines or this package? Call (614) 555-0140",
        "Riverbend Mail-Order Pharmacy 1200 Commerce Drive, Suite 100, Columbus, OH 43215",
        "Page 1 of 1",
    ]:
        assert element in text, element


def test_the_packing_slip_carries_the_ship_to_address():
    shipment = cold_and_controlled_shipment()

    slip = generate_packing_slip(shipment)

    text = pdf_text(bytes(slip.pdf))
    assert "Shipped to Ana Maria Rivera 4410 Maple Avenue Apt 12 Dayton, OH 45402" in text
    assert packing_slip_data(shipment)["ship_to"] == {
        "name": "Ana Maria Rivera",
        "line1": "4410 Maple Avenue",
        "line2": "Apt 12",
        "city": "Dayton",
        "state": "OH",
        "postal_code": "45402",
    }


def test_the_slip_prints_the_address_the_package_was_made_for_not_a_later_one():
    shipment = cold_and_controlled_shipment()
    address = shipment.order.patient.addresses.get()
    address.line1, address.line2 = "1 New Street", ""
    address.save(update_fields=["line1", "line2"])

    text = pdf_text(bytes(generate_packing_slip(shipment).pdf))

    assert "4410 Maple Avenue Apt 12 Dayton, OH 45402" in text
    assert "New Street" not in text


def test_the_top_of_the_slips_first_page_shows_only_the_package_id_and_the_patient():
    shipment = cold_and_controlled_shipment()

    pdf = bytes(generate_packing_slip(shipment).pdf)

    lines = []

    def visit(text, cm, tm, font, size):
        if text.strip():
            lines.append((round(cm[5] + tm[5] * cm[3]), text.strip()))

    PdfReader(io.BytesIO(pdf)).pages[0].extract_text(visitor_text=visit)
    heading = max(y for y, text in lines if text.startswith("What is in this package"))
    above = [text for y, text in sorted(lines, reverse=True) if y > heading]
    assert above == [f"Package {shipment.package_code}", "Ana Maria Rivera"]


def test_the_slip_barcode_is_the_package_id_the_packing_station_scans():
    shipment = labelled_shipment()

    pdf = bytes(generate_packing_slip(shipment).pdf)

    assert decode_code128(barcode_in_pdf(pdf)) == shipment.package_code


def test_a_long_slip_runs_to_more_pages_each_naming_its_package():
    patient = shippable_patient()
    order = ready_order(fills=1, patient=patient)
    for _ in range(17):
        fill_at(
            Fill.Status.READY_TO_PACK,
            prescription=stocked_prescription(patient=patient),
            order=order,
        )
    shipment = ShipmentFactory(order=order)

    pdf = bytes(generate_packing_slip(shipment).pdf)

    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 2
    for number, page in enumerate(reader.pages, 1):
        text = " ".join(page.extract_text().split())
        assert f"Package {shipment.package_code}" in text
        assert f"Page {number} of 2" in text
    rx_numbers = [
        fill.prescription.rx_number for fill in order.fills.select_related("prescription")
    ]
    assert all(rx in pdf_text(pdf) for rx in rx_numbers)


def test_the_slip_printed_before_packing_stays_the_current_one_after_labelling(technician):
    order = ready_order(fills=2)
    shipment = ShipmentFactory(order=order)
    CarrierServiceFactory(code="GROUND", transit_days=3, allows_cold_chain=False)
    before = generate_packing_slip(shipment)

    pack_shipment(
        shipment,
        by=technician,
        scans=[shipment.package_code, *[fill.label_code for fill in order.fills.all()]],
        weight_oz=Decimal("9"),
        entry="scanned",
    )
    deliver_side_effects()
    shipment.refresh_from_db()
    assert shipment.status == Shipment.Status.LABELLED

    assert generate_packing_slip(shipment) == before
    assert generate_shipping_documents(shipment) == {
        "label": current_document(shipment, LABEL).pk,
        "packing_slip": before.pk,
    }


def test_a_reship_lists_the_replacement_and_the_product_that_came_back():
    original = labelled_shipment(ready_order(fills=2, status=Fill.Status.PACKED))
    lost, came_back = original.order.fills.order_by("pk").select_related("prescription")
    replacement = fill_at(
        Fill.Status.READY_TO_PACK,
        prescription=lost.prescription,
        order=ready_order(fills=0, patient=original.order.patient),
        replacement_of=lost,
        fill_number=lost.fill_number,
    )
    reship = ShipmentFactory(order=replacement.order, reship_of=original)

    data = packing_slip_data(reship)

    assert [item["rx_number"] for item in data["items"]] == [
        came_back.prescription.rx_number,
        lost.prescription.rx_number,
    ]
    assert data["package_code"] == reship.package_code


# --------------------------------------------------------------------------- the outbox


def test_the_labels_purchase_records_the_documents_in_its_transaction(
    technician, django_capture_on_commit_callbacks
):
    order = ready_order(fills=1)
    shipment = ShipmentFactory(order=order)
    CarrierServiceFactory(code="GROUND", transit_days=3, allows_cold_chain=False)
    pack_shipment(
        shipment,
        by=technician,
        scans=[fill.label_code for fill in order.fills.all()],
        weight_oz=Decimal("9"),
        entry="scanned",
    )
    assert side_effects("shipping.documents") == []  # no label to print yet
    [purchase] = side_effects("shipping.buy_label")

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        deliver_side_effect(purchase.pk)

    [recorded] = side_effects("shipping.documents")
    assert (recorded.target_id, recorded.status) == (shipment.pk, "pending")
    assert recorded.description == f"Label and packing slip of package {shipment.package_code}"
    assert len(callbacks) == 1  # queued once the purchase's transaction commits
    assert not ShippingDocument.objects.exists()  # made by the worker

    assert deliver_side_effect(recorded.pk) is True
    assert sorted(ShippingDocument.objects.values_list("kind", flat=True)) == [LABEL, SLIP]


def test_documents_are_recorded_only_if_their_transaction_commits():
    shipment = labelled_shipment()

    def failing_change():
        with transaction.atomic():
            record_shipping_documents(shipment)
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        failing_change()

    assert side_effects("shipping.documents") == []


def test_a_broker_down_when_recorded_delays_the_documents_to_the_sweep(
    monkeypatch, caplog, django_capture_on_commit_callbacks
):
    from kombu.exceptions import OperationalError  # noqa: PLC0415

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to the broker. Connection refused.")

    monkeypatch.setattr(deliver_side_effect_task, "apply_async", broker_down)
    shipment = labelled_shipment()

    with django_capture_on_commit_callbacks(execute=True):
        record_shipping_documents(shipment)

    [recorded] = side_effects("shipping.documents")
    assert f"Could not queue side effect {recorded.pk}" in caplog.text
    assert not ShippingDocument.objects.exists()

    # Beat's sweep, once the broker is back.
    assert deliver_due_side_effects() == 1
    assert sorted(ShippingDocument.objects.values_list("kind", flat=True)) == [LABEL, SLIP]


def test_documents_delivered_twice_are_one_label_and_one_slip():
    shipment = labelled_shipment()
    record_shipping_documents(shipment)
    [recorded] = side_effects("shipping.documents")
    deliver_side_effect(recorded.pk)
    label, slip = current_document(shipment, LABEL), current_document(shipment, SLIP)
    # The worker died after storing them and before the message was marked delivered.
    OutboxMessage.objects.filter(pk=recorded.pk).update(status="pending")

    assert deliver_side_effect(recorded.pk) is True

    assert ShippingDocument.objects.count() == 2
    assert (current_document(shipment, LABEL), current_document(shipment, SLIP)) == (label, slip)


def test_the_documents_of_a_package_not_labelled_yet_are_only_the_slip():
    shipment = ShipmentFactory()

    result = generate_shipping_documents(shipment)

    assert result == {"label": None, "packing_slip": current_document(shipment, SLIP).pk}


def test_documents_of_a_shipment_that_does_not_exist_wait_for_a_person():
    shipment = ShipmentFactory()
    record_shipping_documents(shipment)
    [recorded] = side_effects("shipping.documents")
    OutboxMessage.objects.filter(pk=recorded.pk).update(target_id=999_999_999)

    assert deliver_side_effect(recorded.pk) is False

    recorded.refresh_from_db()
    assert (recorded.status, recorded.last_error) == (
        "failed",
        "outbox.registry.PermanentFailure: Shipment 999999999 does not exist.",
    )


def test_a_schedule_ii_drug_alone_still_gets_the_signature_mark_only():
    order = ready_order(fills=1, controlled=True, status=Fill.Status.PACKED)
    assert order.fills.get().prescription.dea_schedule == DEASchedule.CII
    shipment = labelled_shipment(order)

    text = pdf_text(bytes(generate_shipping_label(shipment).pdf))

    assert "SIGNATURE REQUIRED" in text
    assert "REFRIGERATE" not in text
    assert "oxycodone" not in text.lower()


@pytest.mark.parametrize(
    "html",
    [
        '<img src="http://127.0.0.1:9/logo.png">',
        '<img src="file:///etc/hostname">',
        '<link rel="stylesheet" href="https://example.com/label.css"><p>Label</p>',
    ],
)
def test_rendering_fetches_nothing_but_the_bundled_fonts(html):
    from weasyprint.urls import FatalURLFetchingError  # noqa: PLC0415

    renderer = thread_renderer(documents.LABEL_CSS, document="shipping label")

    with pytest.raises(FatalURLFetchingError) as refused:
        renderer.render(html)

    assert "the shipping label fetches nothing but its fonts" in str(refused.value.__cause__)
