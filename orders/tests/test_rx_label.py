"""The Rx vial label: what it prints (read back from the PDF's text), its page, its barcode,
and the stored labels (one current per fill, made again only when the data change)."""

import datetime
import io
import re
import threading
from decimal import Decimal

import pytest
from barcode.charsets import code128
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from pypdf import PdfReader

from inventory.models import DEASchedule, Storage
from inventory.tests.factories import StockLotFactory
from orders.models import Fill, Prescription, RxLabel
from orders.services import labels
from orders.services.labels import (
    RxLabelError,
    current_rx_label,
    discard_after,
    generate_rx_label,
    label_content_hash,
    render_rx_label_pdf,
    rx_label_data,
    rx_label_pdf,
)
from orders.services.pdf import FONT_DIR, thread_renderer
from orders.tests.factories import fill_at, stocked_package, stocked_prescription
from outbox.models import OutboxMessage
from outbox.registry import deliverer
from outbox.services import deliver_due_side_effects, deliver_side_effect, retry_side_effect
from pharmacy.tests.factories import PatientFactory, PrescriberFactory

pytestmark = pytest.mark.django_db

FEDERAL_CAUTION = (
    "Caution: Federal law prohibits the transfer of this drug to any person other than "
    "the patient for whom it was prescribed."
)


def pdf_text(pdf: bytes) -> str:
    """The PDF's text with every run of white space made one space."""
    reader = PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def type_sizes(pdf: bytes) -> dict[str, float]:
    """Each line of text on the page and its type size in points."""
    sizes = {}

    def visit(text, cm, tm, font, size):
        if text.strip():
            sizes[text.strip()] = round(size * cm[0] * tm[0], 1)

    PdfReader(io.BytesIO(pdf)).pages[0].extract_text(visitor_text=visit)
    return sizes


def size_of(sizes: dict[str, float], start: str) -> float:
    [size] = {size for text, size in sizes.items() if text.startswith(start)}
    return size


def us_date(day: datetime.date) -> str:
    return day.strftime("%m/%d/%Y")


def strattera_prescription(**fields):
    """Strattera (atomoxetine hydrochloride) 10 mg capsules, 30 with 3 refills, for
    Ana Maria Rivera from Dr. Chidi Okafor."""
    package = stocked_package(
        name="Strattera",
        generic="atomoxetine hydrochloride",
        ingredient="Atomoxetine",
        strength="10",
        dosage_form="CAPSULE",
    )
    product = package.product
    product.labeler_name = "Eli Lilly and Company"
    product.save(update_fields=["labeler_name"])
    fields.setdefault(
        "patient", PatientFactory(first_name="Ana", middle_name="Maria", last_name="Rivera")
    )
    fields.setdefault(
        "prescriber", PrescriberFactory(first_name="Chidi", last_name="Okafor", credentials="MD")
    )
    return stocked_prescription(
        product=product,
        quantity_unit="capsule",
        directions="Take 1 capsule by mouth every morning",
        **fields,
    )


def decode_code128(modules: str) -> str:
    """Read a Code 128 symbol (a string of 1/0 modules without quiet zones) back to its
    text: start code, symbols of 11 modules, checksum, stop. Code sets B and C."""
    assert modules.endswith(code128.STOP + "11"), "no stop pattern"
    values = [code128.CODES.index(modules[i : i + 11]) for i in range(0, len(modules) - 13, 11)]
    start, *data, check = values
    assert (start + sum(i * value for i, value in enumerate(data, 1))) % 103 == check
    charset = {code128.START_CODES["B"]: "B", code128.START_CODES["C"]: "C"}[start]
    text = ""
    for value in data:
        if value == 99:
            charset = "C"
        elif value == 100:
            charset = "B"
        else:
            text += f"{value:02d}" if charset == "C" else chr(value + 32)
    return text


def barcode_in_pdf(pdf: bytes) -> str:
    """The modules of the barcode drawn on the page: its bars are the rectangles drawn in
    the SVG's module units (``x 0 m``, ``x+w 0 l``, ...), read from the content stream."""
    content = PdfReader(io.BytesIO(pdf)).pages[0].get_contents().get_data().decode("latin-1")
    bars = [
        (int(start), int(end))
        for start, end in re.findall(r"^(\d+) 0 m\n(\d+) 0 l\n\d+ 1 l\n\d+ 1 l\nh$", content, re.M)
    ]
    assert bars, "no barcode drawn"
    origin = bars[0][0]
    modules = ["0"] * (bars[-1][1] - origin)
    for start, end in bars:
        modules[start - origin : end - origin] = "1" * (end - start)
    return "".join(modules)


# --------------------------------------------------------------------------- what it prints


def test_the_label_prints_every_required_element_on_one_4_by_2_5_inch_page():
    prescription = strattera_prescription()
    fill = fill_at(Fill.Status.PV2, prescription=prescription)
    today = timezone.localdate()

    label = generate_rx_label(fill)

    reader = PdfReader(io.BytesIO(bytes(label.pdf)))
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert (box.width, box.height) == (288, 180)  # 4 x 2.5 in at 72 pt per inch
    text = pdf_text(bytes(label.pdf))
    package = fill.dispensed_package
    for element in [
        "Riverbend Mail-Order Pharmacy",  # pharmacy name, address, phone (settings)
        "1200 Commerce Drive, Suite 100, Columbus, OH 43215",
        "(614) 555-0140",
        f"Rx {prescription.rx_number}",
        fill.label_code,  # the barcode's code, also in text
        f"Filled: {us_date(today)}",
        "Ana Maria Rivera",
        "ATOMOXETINE HYDROCHLORIDE 10 MG CAPSULE",  # generic and strength, at the top
        "Brand: Strattera",
        "Take 1 capsule by mouth every morning",
        "Qty: 30 capsules",
        "Prescriber: Chidi Okafor, MD",
        "Refills left: 3",
        f"Discard after: {us_date(today.replace(year=today.year + 1))}",
        f"NDC {package.package_ndc}",
        "Mfr: Eli Lilly and Company",
    ]:
        assert element in text, element
    # USP <17>: the drug comes first, in the largest type; then the patient and the
    # directions, larger than the rest.
    assert text.index("ATOMOXETINE") < text.index("Ana Maria Rivera")
    sizes = type_sizes(bytes(label.pdf))
    assert size_of(sizes, "ATOMOXETINE") == max(sizes.values()) == 12.5
    assert size_of(sizes, "Ana Maria Rivera") == 10
    assert size_of(sizes, "Take 1 capsule") == 9.5
    assert size_of(sizes, "Qty: 30 capsules") == 7
    assert FEDERAL_CAUTION not in text
    assert "Controlled substance" not in text


def test_the_barcode_on_the_page_carries_the_fills_label_code():
    fill = fill_at(Fill.Status.PV2)

    pdf = bytes(generate_rx_label(fill).pdf)

    assert decode_code128(barcode_in_pdf(pdf)) == fill.label_code


@pytest.mark.parametrize("code", ["0123456789AB", "A1B2C3D4E5F6", "ZZZZ00000000", "7K3M9Q2XW4PB"])
def test_the_barcode_svg_reads_back_as_its_code(code):
    svg = labels.code128_svg(code)

    [path] = re.findall(r' d="([^"]+)"', svg)
    bars = [(int(x), int(w)) for x, w in re.findall(r"M(\d+) 0h(\d+)v1h-\d+z", path)]
    modules = ["0"] * (bars[-1][0] + bars[-1][1])
    for x, width in bars:
        modules[x : x + width] = "1" * width
    assert bars[0][0] == labels.QUIET_ZONE_MODULES
    assert decode_code128("".join(modules)[labels.QUIET_ZONE_MODULES :]) == code


def test_the_pharmacy_printed_comes_from_the_settings(settings):
    settings.PHARMACY_NAME = "Lakeside Pharmacy"
    settings.PHARMACY_ADDRESS = "9 Harbor Road, Erie, PA 16501"
    settings.PHARMACY_PHONE = "(814) 555-0199"
    fill = fill_at(Fill.Status.PV2)

    text = pdf_text(bytes(generate_rx_label(fill).pdf))

    assert "Lakeside Pharmacy 9 Harbor Road, Erie, PA 16501 · (814) 555-0199" in text


def test_before_the_fill_step_the_label_names_the_prescribed_package():
    prescription = strattera_prescription()
    fill = fill_at(Fill.Status.FILL, prescription=prescription)
    prescribed = prescription.product.packages.get()

    text = pdf_text(bytes(generate_rx_label(fill).pdf))

    assert f"NDC {prescribed.package_ndc}" in text
    assert "Mfr: Eli Lilly and Company" in text
    created = timezone.localtime(fill.created_at).date()
    assert f"Discard after: {us_date(created.replace(year=created.year + 1))}" in text


def test_discard_after_is_the_lot_expiry_when_it_comes_before_a_year():
    package = stocked_package(units=0)
    expiry = timezone.localdate() + datetime.timedelta(days=200)
    StockLotFactory(package=package, quantity_on_hand=300, expiry=expiry)
    fill = fill_at(Fill.Status.PV2, prescription=stocked_prescription(product=package.product))

    text = pdf_text(bytes(generate_rx_label(fill).pdf))

    assert f"Discard after: {us_date(expiry)}" in text


def test_discard_after_rule():
    day = datetime.date(2026, 3, 10)
    assert discard_after(day, None) == datetime.date(2027, 3, 10)
    assert discard_after(day, datetime.date(2026, 9, 30)) == datetime.date(2026, 9, 30)
    assert discard_after(day, datetime.date(2028, 1, 31)) == datetime.date(2027, 3, 10)
    assert discard_after(datetime.date(2028, 2, 29), None) == datetime.date(2029, 2, 28)


@pytest.mark.parametrize("schedule", [DEASchedule.CII, DEASchedule.CIII, DEASchedule.CIV])
def test_schedule_ii_to_iv_labels_carry_the_federal_transfer_caution(schedule):
    package = stocked_package()
    package.product.dea_schedule = schedule
    package.product.save(update_fields=["dea_schedule"])
    refills = 0 if schedule == DEASchedule.CII else 2
    prescription = stocked_prescription(product=package.product, refills_authorized=refills)
    fill = fill_at(Fill.Status.PV2, prescription=prescription)

    text = pdf_text(bytes(generate_rx_label(fill).pdf))

    assert FEDERAL_CAUTION in text
    assert f"Controlled substance: Schedule {schedule[1:]}." in text
    assert ("No refills left" if schedule == DEASchedule.CII else "Refills left: 2") in text


def test_schedule_v_and_uncontrolled_labels_have_no_transfer_caution():
    package = stocked_package()
    package.product.dea_schedule = DEASchedule.CV
    package.product.save(update_fields=["dea_schedule"])
    schedule_v = fill_at(
        Fill.Status.PV2, prescription=stocked_prescription(product=package.product)
    )
    uncontrolled = fill_at(Fill.Status.PV2)

    schedule_v_text = pdf_text(bytes(generate_rx_label(schedule_v).pdf))
    uncontrolled_text = pdf_text(bytes(generate_rx_label(uncontrolled).pdf))

    # 21 CFR 290.5 asks the caution of Schedules II-IV only.
    assert "Controlled substance: Schedule V." in schedule_v_text
    assert "Federal law prohibits" not in schedule_v_text
    assert "Federal law prohibits" not in uncontrolled_text
    assert rx_label_data(uncontrolled)["transfer_caution"] == ""
    assert rx_label_data(schedule_v)["transfer_caution"] == ""


def test_auxiliary_warnings_follow_from_the_data():
    package = stocked_package(dosage_form="TABLET, EXTENDED RELEASE")
    product = package.product
    product.storage = Storage.REFRIGERATED
    product.save(update_fields=["storage"])
    patient = PatientFactory(child_resistant_waiver_on=datetime.date(2026, 1, 5))
    fill = fill_at(
        Fill.Status.PV2, prescription=stocked_prescription(product=product, patient=patient)
    )

    # Without spaces: a warning box may wrap after a hyphen ("child-" / "resistant").
    text = pdf_text(bytes(generate_rx_label(fill).pdf)).replace(" ", "")

    for warning in [
        "Keep in a refrigerator, 36-46 °F (2-8 °C). Do not freeze.",
        "Swallow whole. Do not crush or chew.",
        "This container is not child-resistant.",
    ]:
        assert warning.replace(" ", "") in text, warning
    assert rx_label_data(fill_at(Fill.Status.PV2))["warnings"] == []


def test_long_directions_are_set_smaller_and_still_fit_one_label():
    directions = (
        "Take 1 tablet by mouth twice daily with food for 10 days, then 1 tablet once daily "
        "in the morning for 20 days. Do not take with antacids or iron supplements; take "
        "them at least 2 hours apart. Stop and call your doctor if a rash appears."
    )
    fill = fill_at(Fill.Status.PV2, prescription=stocked_prescription(directions=directions))

    pdf = bytes(generate_rx_label(fill).pdf)

    assert len(PdfReader(io.BytesIO(pdf)).pages) == 1
    assert directions in pdf_text(pdf)
    assert size_of(type_sizes(pdf), "Take 1 tablet by mouth twice daily") == 8


def test_directions_too_long_for_any_label_are_refused_and_nothing_is_stored():
    fill = fill_at(
        Fill.Status.PV2,
        prescription=stocked_prescription(directions="Take 1 tablet by mouth daily. " * 40),
    )

    with pytest.raises(RxLabelError) as refused:
        generate_rx_label(fill)

    assert refused.value.code == "label_too_long"
    assert RxLabel.objects.count() == 0


def test_markup_in_the_data_is_printed_as_text_and_nothing_is_fetched():
    directions = 'Take 1 tablet <img src="http://192.0.2.1/x.png"> daily & rest'
    fill = fill_at(Fill.Status.PV2, prescription=stocked_prescription(directions=directions))

    text = pdf_text(bytes(generate_rx_label(fill).pdf))

    assert directions in text


def test_the_renderer_fetches_nothing_but_its_own_fonts():
    fetcher = thread_renderer(
        labels.LABEL_CSS, document="Rx label", user_agent_stylesheet=False
    ).url_fetcher
    for url in [
        "http://192.0.2.1/label.css",
        "https://cdn.example.com/font.woff2",
        "file:///etc/passwd",
        (settings.BASE_DIR / "static" / "css" / "rx_label.css").as_uri(),
    ]:
        with pytest.raises(ValueError, match="nothing but its fonts"):
            fetcher.fetch(url)
    font = FONT_DIR / "DejaVuSansCondensed-Latin.ttf"
    assert fetcher.fetch(font.as_uri()).read(4) == b"\x00\x01\x00\x00"


# --------------------------------------------------------------------------- same data, same label


def test_the_same_data_renders_the_same_bytes():
    fill = fill_at(Fill.Status.PV2)
    data = rx_label_data(fill)

    assert render_rx_label_pdf(data) == render_rx_label_pdf(rx_label_data(fill))
    assert label_content_hash(data) == label_content_hash(rx_label_data(fill))


def test_generating_twice_stores_one_label():
    fill = fill_at(Fill.Status.PV2)

    first = generate_rx_label(fill)
    second = generate_rx_label(fill)

    assert second.pk == first.pk
    label = RxLabel.objects.get()
    assert (label.is_current, label.content_hash) == (True, label_content_hash(rx_label_data(fill)))
    assert current_rx_label(fill) == label


def test_a_label_costs_a_fixed_handful_of_queries(django_assert_num_queries):
    fill = fill_at(Fill.Status.PV2)

    # Read the data (one query: the fill, its related rows, strengths and refills
    # aggregated; was 3); look the hash up; in the transaction (savepoint here) lock and
    # read them again in the same one query, look the hash up, retire the old label,
    # insert the new one. (Was 12 before the data were read in one query.)
    with django_assert_num_queries(8):
        generate_rx_label(fill)
    # Unchanged data: read them (one query), find the current label by its hash. (Was 4.)
    with django_assert_num_queries(2):
        generate_rx_label(fill)


def test_changed_data_make_a_new_current_label_and_the_old_one_stays_as_history():
    fill = fill_at(Fill.Status.PV2)
    first = generate_rx_label(fill)
    prescription = fill.prescription
    prescription.directions = "Take 2 tablets by mouth at bedtime"
    prescription.save(update_fields=["directions"])

    second = generate_rx_label(fill)

    assert second.pk != first.pk
    first.refresh_from_db()
    assert (first.is_current, second.is_current) == (False, True)
    assert "Take 2 tablets by mouth at bedtime" in pdf_text(bytes(second.pdf))
    assert current_rx_label(fill) == second

    # Back to the first data: that label is current again; nothing new is rendered.
    prescription.directions = "Take 1 tablet by mouth once daily"
    prescription.save(update_fields=["directions"])
    assert generate_rx_label(fill).pk == first.pk
    assert list(RxLabel.objects.filter(is_current=True)) == [first]
    assert RxLabel.objects.count() == 2


def test_data_changed_while_the_pdf_renders_are_rendered_again(monkeypatch):
    fill = fill_at(Fill.Status.PV2)
    render = labels.render_rx_label_pdf

    def render_while_someone_edits(data):
        pdf = render(data)
        # Someone changes the directions while this label is on its way.
        Prescription.objects.filter(pk=fill.prescription_id).update(
            directions="Take 2 tablets by mouth at bedtime"
        )
        return pdf

    monkeypatch.setattr(labels, "render_rx_label_pdf", render_while_someone_edits)

    label = generate_rx_label(fill)

    assert RxLabel.objects.get() == label
    assert label.content_hash == label_content_hash(rx_label_data(fill))
    assert "Take 2 tablets by mouth at bedtime" in pdf_text(bytes(label.pdf))


def test_the_fill_step_changes_the_label():
    fill = fill_at(Fill.Status.FILL)
    after_pv1 = generate_rx_label(fill)
    lot = StockLotFactory(
        package=fill.prescription.product.packages.get(),
        expiry=timezone.localdate() + datetime.timedelta(days=90),
        lot_number="L90",
    )
    Fill.objects.filter(pk=fill.pk).update(
        status=Fill.Status.PV2,
        dispensed_package=lot.package,
        dispensed_ndc=lot.package.package_ndc,
        dispensed_quantity=Decimal(30),
        stock_lot=lot,
        lot_number=lot.lot_number,
        expiry=lot.expiry,
        filled_at=timezone.now(),
    )

    after_fill = generate_rx_label(fill)

    assert after_fill.pk != after_pv1.pk
    assert f"Discard after: {us_date(lot.expiry)}" in pdf_text(bytes(after_fill.pdf))


def test_a_later_refill_does_not_change_an_earlier_fills_label():
    fill = fill_at(Fill.Status.PV2)
    label = generate_rx_label(fill)

    fill_at(Fill.Status.PV1, prescription=fill.prescription, fill_number=1)

    assert generate_rx_label(fill).pk == label.pk
    assert "Refills left: 3" in pdf_text(bytes(label.pdf))


def recorded_label(fill: Fill) -> OutboxMessage:
    """The fill's label side effect, recorded as the workflow records it."""
    labels.queue_rx_label(fill)
    return OutboxMessage.objects.get(kind="orders.rx_label", target_id=fill.pk)


def test_the_label_delivered_twice_is_still_one_current_label():
    fill = fill_at(Fill.Status.PV2)
    message = recorded_label(fill)

    assert deliver_side_effect(message.pk) is True
    assert deliver_side_effect(message.pk) is False  # a duplicate task finds it delivered
    label = RxLabel.objects.get()
    # The deliverer again, as when a worker died after the label and before the row was
    # marked delivered and the sweep delivers it once more: nothing new.
    deliverer("orders.rx_label")(message)

    assert list(RxLabel.objects.all()) == [label]
    assert label.is_current
    message.refresh_from_db()
    assert (message.status, message.attempts, message.last_error) == ("delivered", 1, "")


@pytest.mark.parametrize(
    ("status", "held_from"),
    [
        (Fill.Status.CANCELLED, ""),  # cancelled after its label was recorded
        (Fill.Status.PV1, ""),  # sent back before PV1: approving again records a new one
        (Fill.Status.ON_HOLD, Fill.Status.PV1),
    ],
)
def test_a_fill_that_no_longer_needs_a_label_is_delivered_as_nothing_to_do(status, held_from):
    fill = fill_at(status, held_from=held_from)
    message = recorded_label(fill)

    assert deliver_side_effect(message.pk) is True

    message.refresh_from_db()
    assert (message.status, message.attempts, message.last_error) == ("delivered", 1, "")
    assert RxLabel.objects.count() == 0


def test_a_label_of_a_fill_that_is_gone_waits_for_a_manager():
    message = OutboxMessage.objects.create(kind="orders.rx_label", target_id=987654321)

    assert deliver_side_effect(message.pk) is False

    message.refresh_from_db()
    assert (message.status, message.attempts) == ("failed", 1)
    assert message.last_error == (
        "outbox.registry.PermanentFailure: Fill 987654321 does not exist."
    )
    assert RxLabel.objects.count() == 0


def test_directions_too_long_wait_for_a_manager_who_sends_the_label_again(manager):
    fill = fill_at(
        Fill.Status.PV2,
        prescription=stocked_prescription(directions="Take 1 tablet by mouth daily. " * 40),
    )
    message = recorded_label(fill)

    assert deliver_side_effect(message.pk) is False

    message.refresh_from_db()
    assert (message.status, message.attempts) == ("failed", 1)
    assert message.last_error == (
        f"outbox.registry.PermanentFailure: The label of Rx {fill.prescription.rx_number} does "
        "not fit on one 4 x 2.5 inch label even in the smallest type: shorten the directions."
    )
    assert RxLabel.objects.count() == 0

    Prescription.objects.filter(pk=fill.prescription_id).update(directions="Take 1 daily.")
    retry_side_effect(message, by=manager)
    assert deliver_side_effect(message.pk) is True
    assert "Take 1 daily." in pdf_text(bytes(RxLabel.objects.get(fill=fill).pdf))


@pytest.mark.django_db(transaction=True)
def test_two_workers_making_the_same_label_at_once_store_one():
    fill = fill_at(Fill.Status.PV2)
    barrier = threading.Barrier(2)
    made, errors = [], []

    def work():
        try:
            barrier.wait(timeout=10)
            made.append(generate_rx_label(fill).pk)
        except Exception as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    label = RxLabel.objects.get()
    assert made == [label.pk, label.pk]
    assert label.is_current


# --------------------------------------------------------------------------- which fills


@pytest.mark.parametrize(
    ("status", "held_from", "code"),
    [
        (Fill.Status.INTAKE, "", "label_not_ready"),
        (Fill.Status.PV1, "", "label_not_ready"),
        (Fill.Status.ON_HOLD, Fill.Status.PV1, "label_not_ready"),
        (Fill.Status.CANCELLED, "", "fill_cancelled"),
    ],
)
def test_no_label_before_pv1_approval(status, held_from, code):
    fill = fill_at(status, held_from=held_from)

    with pytest.raises(RxLabelError) as refused:
        generate_rx_label(fill)

    assert refused.value.code == code
    assert RxLabel.objects.count() == 0


def test_a_fill_on_hold_after_pv1_has_a_label():
    fill = fill_at(Fill.Status.ON_HOLD, held_from=Fill.Status.FILL)

    assert generate_rx_label(fill).is_current


def test_while_being_checked_the_printed_label_follows_the_data_and_is_not_stored():
    fill = fill_at(Fill.Status.PV2)
    first = generate_rx_label(fill)
    fill.prescription.directions = "Take 1 tablet by mouth at noon"
    fill.prescription.save(update_fields=["directions"])

    printed = rx_label_pdf(fill)

    assert "Take 1 tablet by mouth at noon" in pdf_text(printed)
    assert printed == render_rx_label_pdf(rx_label_data(fill))
    # A read never writes: the label task stores the new label.
    assert RxLabel.objects.get() == first
    assert current_rx_label(fill) == first


def test_the_printed_label_is_the_stored_one_while_the_data_are_unchanged():
    fill = fill_at(Fill.Status.PV2)
    stored = generate_rx_label(fill)

    assert rx_label_pdf(fill) == bytes(stored.pdf)
    assert RxLabel.objects.get() == stored


def test_after_pv2_the_printed_label_is_the_one_verified():
    fill = fill_at(Fill.Status.READY_TO_PACK)
    verified = generate_rx_label(fill)
    fill.prescription.directions = "Take 1 tablet by mouth at noon"
    fill.prescription.save(update_fields=["directions"])

    assert rx_label_pdf(fill) == bytes(verified.pdf)
    assert RxLabel.objects.count() == 1


# --------------------------------------------------------------------------- recording


def test_queue_rx_label_records_one_side_effect_in_the_callers_transaction(
    django_capture_on_commit_callbacks,
):
    fill = fill_at(Fill.Status.FILL)

    with django_capture_on_commit_callbacks(execute=False) as callbacks, transaction.atomic():
        labels.queue_rx_label(fill)
        # Written with the change, before any commit; delivered only after it.
        [message] = OutboxMessage.objects.all()

    assert (message.kind, message.target_id, message.status, message.description) == (
        "orders.rx_label",
        fill.pk,
        "pending",
        f"Rx label of fill {fill.pk}",
    )
    assert len(callbacks) == 1  # the delivery, queued on commit
    assert RxLabel.objects.count() == 0


def test_a_move_that_rolls_back_leaves_no_label_side_effect():
    fill = fill_at(Fill.Status.FILL)

    def failing_move():
        with transaction.atomic():
            labels.queue_rx_label(fill)
            raise RuntimeError("the move failed")

    with pytest.raises(RuntimeError):
        failing_move()

    assert OutboxMessage.objects.count() == 0


def test_the_sweep_makes_a_label_whose_delivery_was_never_queued(
    django_capture_on_commit_callbacks,
):
    fills = [fill_at(Fill.Status.FILL), fill_at(Fill.Status.ON_HOLD, held_from=Fill.Status.PV2)]
    with django_capture_on_commit_callbacks(execute=False):  # the broker was down
        for fill in fills:
            labels.queue_rx_label(fill)

    assert deliver_due_side_effects() == 2
    assert deliver_due_side_effects() == 0

    assert sorted(RxLabel.objects.filter(is_current=True).values_list("fill_id", flat=True)) == [
        fill.pk for fill in fills
    ]


def test_no_label_catch_up_of_its_own_is_on_the_beat_schedule():
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}

    assert "outbox.tasks.deliver_due_side_effects_task" in tasks
    # The one orders task on beat queues scheduled refills; none catches labels up.
    assert [task for task in tasks if task.startswith("orders.")] == [
        "orders.tasks.queue_due_refills_task"
    ]
