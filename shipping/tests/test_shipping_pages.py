"""The shipping pages other than the packing station: the lists per status (most urgent
first, refreshing themselves, audited), the orders that cannot ship, a shipment's record
with its exceptions (reported, resolved with or without a reship), the hand-over scan,
label waves with their progress, manifests, the manager's rules page and its services,
and the shipping cards of the role home pages."""

import datetime
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orders.models import Fill
from orders.services.workflow import approve_pv2
from orders.tests.factories import another_staff
from outbox.services import deliver_side_effect
from outbox.tests.delivery import side_effect
from pharmacy.models import AuditEvent, Role
from shipping.models import (
    Carrier,
    CarrierHoliday,
    CarrierService,
    DeliveryException,
    LabelBatch,
    Manifest,
    Shipment,
    ShipmentEvent,
    ShippingDocument,
    ShippingRules,
)
from shipping.services import documents, settings_admin
from shipping.services.shipments import (
    ShippingError,
    ensure_shipments_for_ready_orders,
    hand_over_to_carrier,
    report_delivery_exception,
)
from shipping.tests.factories import (
    ShipmentFactory,
    labelled_shipment,
    ready_order,
    shippable_patient,
)
from shipping.views import lists

pytestmark = pytest.mark.django_db

Status = Shipment.Status


def waiting(status=Status.AWAITING_PACKING, *, age=timedelta(minutes=5), **fields) -> Shipment:
    """A shipment at ``status`` that has been there for ``age``."""
    shipment = ShipmentFactory(status=status, **fields)
    since = timezone.now() - age
    Shipment.objects.filter(pk=shipment.pk).update(created_at=since, status_changed_at=since)
    shipment.refresh_from_db()
    return shipment


def rows_of(response) -> list[int]:
    return [shipment.pk for shipment in response.context["rows"]]


def handed_over(**fields) -> Shipment:
    """A labelled package handed to the local carrier today."""
    shipment = labelled_shipment(**fields)
    hand_over_to_carrier([shipment], by=another_staff(Role.TECHNICIAN))
    shipment.refresh_from_db()
    return shipment


def with_exception(kind=DeliveryException.Kind.DAMAGED) -> DeliveryException:
    shipment = handed_over()
    return report_delivery_exception(
        shipment, by=another_staff(Role.TECHNICIAN), kind=kind, description="Box crushed"
    )


# --------------------------------------------------------------------------- lists


def test_awaiting_packing_lists_cold_chain_first_then_the_longest_waiting(
    client_technician, technician
):
    oldest = waiting(age=timedelta(hours=3, minutes=12))
    newest = waiting(age=timedelta(minutes=20))
    cold = waiting(age=timedelta(minutes=10), is_cold_chain=True, cold_packs=4)
    old_cold = waiting(age=timedelta(days=2, hours=5), is_cold_chain=True)
    waiting(Status.PACKED)  # another list

    response = client_technician.get("/shipping/list/awaiting_packing/")

    assert response.status_code == 200
    assert rows_of(response) == [old_cold.pk, cold.pk, oldest.pk, newest.pk]
    html = response.content.decode()
    assert "<h1>Shipments · Awaiting packing</h1>" in html
    assert "<strong>4</strong> packages." in html
    assert ">3 h 12 min<" in html
    assert ">2 d 5 h<" in html
    assert "Cold chain · 4 cold packs" in html
    assert oldest.package_code in html
    assert oldest.ship_to_name in html
    assert html.count(">Pack</a>") == 4
    assert '<input id="slip-code" name="code" data-scan' in html
    assert 'hx-get="/shipping/list/awaiting_packing/rows/" hx-trigger="every 10s"' in html
    event = AuditEvent.objects.get()
    assert (event.actor, event.action) == (technician, AuditEvent.Action.VIEW)
    assert sorted(event.patient_ids) == sorted(
        s.order.patient_id for s in (oldest, newest, cold, old_cold)
    )


def test_an_order_that_passed_pv2_is_listed_without_waiting_for_the_beat(
    client_technician, django_capture_on_commit_callbacks
):
    order = ready_order(status=Fill.Status.PV2)
    (last,) = order.fills.all()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        approve_pv2(last, by=another_staff(Role.PHARMACIST), scan=last.label_code, entry="scanned")
    assert len(callbacks) == 1
    deliver_side_effect(side_effect("shipping.create_shipment", order.pk).pk)  # the worker

    response = client_technician.get("/shipping/list/awaiting_packing/")

    assert rows_of(response) == [Shipment.objects.get(order=order).pk]


def test_finished_lists_show_the_newest_first(client_pharmacist):
    older = waiting(Status.DELIVERED, age=timedelta(days=3))
    newer = waiting(Status.DELIVERED, age=timedelta(hours=1))

    response = client_pharmacist.get("/shipping/list/delivered/")

    assert rows_of(response) == [newer.pk, older.pk]
    assert ">Open</a>" in response.content.decode()


def test_the_rows_refresh_alone_and_audit_only_new_patients(client_technician):
    first = waiting()
    client_technician.get("/shipping/list/awaiting_packing/")

    same = client_technician.get("/shipping/list/awaiting_packing/rows/")
    assert AuditEvent.objects.count() == 1
    second = waiting()
    more = client_technician.get("/shipping/list/awaiting_packing/rows/")

    assert same.status_code == 200
    assert "<html" not in same.content.decode()
    assert rows_of(more) == [first.pk, second.pk]
    assert AuditEvent.objects.count() == 2
    assert AuditEvent.objects.latest("pk").patient_ids == sorted(
        [first.order.patient_id, second.order.patient_id]
    )


def test_pages_of_a_long_list_follow_on(client_technician, monkeypatch):
    monkeypatch.setattr(lists, "ROWS_PER_PAGE", 2)
    shipments = [waiting(age=timedelta(minutes=50 - n)) for n in range(5)]

    first = client_technician.get("/shipping/list/awaiting_packing/")
    second = client_technician.get(f"/shipping/list/awaiting_packing/?after={shipments[1].pk}")
    last = client_technician.get(f"/shipping/list/awaiting_packing/?after={shipments[3].pk}")

    assert rows_of(first) == [s.pk for s in shipments[:2]]
    assert f'?after={shipments[1].pk}" data-testid="list-next"' in first.content.decode()
    assert rows_of(second) == [s.pk for s in shipments[2:4]]
    assert rows_of(last) == [shipments[4].pk]
    assert "list-next" not in last.content.decode()


def test_a_list_counts_its_packages_up_to_the_cap_in_the_statement_of_its_rows(
    client_technician, monkeypatch
):
    for _ in range(4):
        waiting()
    waiting(Status.PACKED)  # another list
    client_technician.get("/shipping/list/packed/")  # the session's first request sets it up

    with CaptureQueriesContext(connection) as queries:
        counted = client_technician.get("/shipping/list/awaiting_packing/")
    # The navigation bar's queue counts are a statement of their own, on the user's row.
    shipment_reads = [
        q
        for q in queries
        if 'FROM "shipping_shipment"' in q["sql"] and 'FROM "pharmacy_user"' not in q["sql"]
    ]
    monkeypatch.setattr(lists, "COUNT_CAP", 2)
    capped = client_technician.get("/shipping/list/awaiting_packing/rows/")

    assert (counted.context["waiting"], counted.context["waiting_capped"]) == (4, False)
    assert "<strong>4</strong> packages." in counted.content.decode()
    assert len(shipment_reads) == 1
    # Counting stops one past the cap: enough to say "more than".
    assert (capped.context["waiting"], capped.context["waiting_capped"]) == (3, True)
    assert "More than <strong>2</strong> packages." in capped.content.decode()


def test_an_unknown_list_is_not_found_and_a_stranger_is_sent_to_sign_in(client):
    waiting()
    assert client.get("/shipping/list/awaiting_packing/").status_code == 302


def test_an_unknown_status_is_not_found(client_technician):
    assert client_technician.get("/shipping/list/lost/").status_code == 404


def test_the_labelled_list_offers_the_hand_over_scan(client_technician):
    shipment = labelled_shipment()

    html = client_technician.get("/shipping/list/labelled/").content.decode()

    assert 'data-testid="hand-over"' in html
    assert shipment.tracking_number in html
    assert f'action="/shipping/{shipment.pk}/hand-over/"' in html


def test_the_navigation_and_home_pages_lead_to_shipping(client_technician, client_manager):
    waiting()
    labelled_shipment()
    with_exception()

    technician = client_technician.get("/technician/").content.decode()
    manager = client_manager.get("/manager/").content.decode()

    assert '<a href="/shipping/">Shipping</a>' in technician
    assert 'data-testid="queue-awaiting-packing"' in technician
    assert 'data-testid="queue-labelled"' in technician
    assert 'data-testid="queue-cannot-ship"' in technician
    assert 'data-testid="queue-delivery-exceptions"' in technician
    assert 'href="/shipping/pack/"' in technician
    assert '<a href="/shipping/">Shipping</a>' in manager
    assert 'data-testid="shipping-counts"' in manager
    assert 'href="/shipping/rules/"' in manager
    cards = {
        card["label"]: card["count"]
        for card in client_technician.get("/technician/").context["shipping"]
    }
    assert cards == {
        "Awaiting packing": 1,
        "Labelled": 1,
        "Cannot ship": 0,
        "Delivery exceptions": 1,
    }


# --------------------------------------------------------------------------- cannot ship


def test_an_order_that_cannot_ship_is_listed_with_the_reason(client_technician, technician):
    patient = shippable_patient(postal_code="4321")
    order = ready_order(patient=patient)

    response = client_technician.get("/shipping/cannot-ship/")
    awaiting = client_technician.get("/shipping/list/awaiting_packing/")

    html = response.content.decode()
    assert f'data-order="{order.pk}"' in html
    assert patient.full_name in html
    assert "&#x27;4321&#x27; is not a ZIP code (5 digits, or 5+4 as 12345-6789)." in html
    assert f'href="/patients/{patient.pk}/"' in html
    assert rows_of(awaiting) == []
    event = AuditEvent.objects.filter(summary__startswith="Orders that cannot ship").get()
    assert event.patient_ids == [patient.pk]


# --------------------------------------------------------------------------- one shipment


def test_the_record_shows_the_address_as_it_was_and_everything_that_happened(
    client_technician, technician
):
    shipment = labelled_shipment()
    documents.generate_shipping_label(shipment)
    patient = shipment.order.patient
    patient.addresses.update(line1="1 New Street")  # the patient moved afterwards
    fill = shipment.order.fills.select_related("prescription").get()

    response = client_technician.get(f"/shipping/{shipment.pk}/")

    assert response.status_code == 200
    html = response.content.decode()
    assert shipment.ship_to_line1 in html
    assert "1 New Street" not in html
    assert "Courier 2-day" in html
    assert shipment.tracking_number in html
    assert "20.5 oz" in html
    assert fill.prescription.rx_number in html
    # The vial label's code is scanned from the vial, never copied off a page (issue 13).
    assert fill.label_code not in html
    assert "<strong>Labelled</strong>" in html
    label = ShippingDocument.objects.get(shipment=shipment)
    assert f'href="/shipping/{shipment.pk}/documents/{label.pk}.pdf"' in html
    assert 'data-testid="no-exceptions"' in html
    assert 'data-testid="report-form"' not in html  # not handed over yet
    event = AuditEvent.objects.get()
    assert (event.actor, event.patient, event.object_id) == (technician, patient, str(shipment.pk))


def test_a_document_is_served_to_staff_and_audited(client_technician, technician):
    shipment = labelled_shipment()
    label = documents.generate_shipping_label(shipment)

    response = client_technician.get(f"/shipping/{shipment.pk}/documents/{label.pk}.pdf")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content == bytes(label.pdf)
    assert response["Cache-Control"] == "private, no-store"
    assert AuditEvent.objects.get().patient == shipment.order.patient
    other = labelled_shipment()
    assert (
        client_technician.get(f"/shipping/{other.pk}/documents/{label.pk}.pdf").status_code == 404
    )


def test_staff_report_an_exception_on_a_package_on_its_way(client_technician, technician):
    shipment = handed_over()

    page = client_technician.get(f"/shipping/{shipment.pk}/")
    response = client_technician.post(
        f"/shipping/{shipment.pk}/exceptions/new/",
        {"report-kind": "damaged", "report-description": "The patient called: box crushed"},
    )

    assert 'data-testid="report-form"' in page.content.decode()
    assert response.status_code == 302
    exception = DeliveryException.objects.get()
    assert (exception.kind, exception.description, exception.reported_by) == (
        "damaged",
        "The patient called: box crushed",
        technician,
    )
    shipment.refresh_from_db()
    assert shipment.status == Status.EXCEPTION
    html = client_technician.get(response["Location"]).content.decode()
    assert f"Exception reported on {shipment.package_code}." in html
    assert "The patient called: box crushed" in html
    assert 'data-testid="resolve-form"' not in html  # a technician does not resolve


def test_a_report_without_a_description_is_refused_and_nothing_is_written(client_technician):
    shipment = handed_over()
    events = ShipmentEvent.objects.count()

    response = client_technician.post(
        f"/shipping/{shipment.pk}/exceptions/new/", {"report-kind": "lost"}
    )

    assert response.status_code == 400
    assert "Describe what happened (who called, what they saw)." in response.content.decode()
    assert not DeliveryException.objects.exists()
    assert ShipmentEvent.objects.count() == events


def test_a_report_on_a_package_still_here_shows_the_services_refusal(client_technician):
    shipment = labelled_shipment()

    response = client_technician.post(
        f"/shipping/{shipment.pk}/exceptions/new/",
        {"report-kind": "damaged", "report-description": "Dropped"},
    )

    assert response.status_code == 400
    assert "it has not left the pharmacy" in response.content.decode()
    assert not DeliveryException.objects.exists()


def test_a_manager_resolves_an_exception_without_a_reship(client_manager, manager):
    exception = with_exception()

    page = client_manager.get(f"/shipping/{exception.shipment_id}/")
    response = client_manager.post(
        f"/shipping/exceptions/{exception.pk}/resolve/",
        {f"resolve-{exception.pk}-resolution": "Patient keeps it; refund arranged"},
    )

    assert 'data-testid="resolve-form"' in page.content.decode()
    assert "Only a pharmacist replaces product" in page.content.decode()
    assert response.status_code == 302
    exception.refresh_from_db()
    assert (exception.resolution, exception.resolved_by, exception.reship) == (
        "Patient keeps it; refund arranged",
        manager,
        None,
    )
    html = client_manager.get(response["Location"]).content.decode()
    assert "Exception resolved." in html
    assert 'data-testid="resolution"' in html


def test_a_pharmacist_reships_replacing_the_damaged_product(client_pharmacist, pharmacist):
    exception = with_exception()
    fill = exception.shipment.order.fills.get()
    prefix = f"resolve-{exception.pk}"

    response = client_pharmacist.post(
        f"/shipping/exceptions/{exception.pk}/resolve/",
        {
            f"{prefix}-resolution": "Sent again",
            f"{prefix}-reship": "on",
            f"{prefix}-replace_fills": [fill.pk],
        },
    )

    exception.refresh_from_db()
    reship = exception.reship
    assert response.status_code == 302
    assert response["Location"] == f"/shipping/{reship.pk}/"
    assert reship.reship_of_id == exception.shipment_id
    replacement = Fill.objects.get(replacement_of=fill)
    assert replacement.status == Fill.Status.FILL
    html = client_pharmacist.get(response["Location"]).content.decode()
    assert "1 fill to replace wait for the fill workflow." in html
    assert f'reship of <a href="/shipping/{exception.shipment_id}/">' in html


def test_replacing_product_without_a_reship_is_refused_and_nothing_changes(client_pharmacist):
    exception = with_exception()
    fill = exception.shipment.order.fills.get()
    prefix = f"resolve-{exception.pk}"

    response = client_pharmacist.post(
        f"/shipping/exceptions/{exception.pk}/resolve/",
        {f"{prefix}-resolution": "Sent again", f"{prefix}-replace_fills": [fill.pk]},
    )

    assert response.status_code == 400
    assert "Replacing product means shipping again: tick the reship box." in (
        response.content.decode()
    )
    exception.refresh_from_db()
    assert exception.is_open
    assert not Fill.objects.filter(replacement_of=fill).exists()
    assert Shipment.objects.count() == 1


def test_a_lost_package_reshipped_without_replacing_shows_the_services_refusal(
    client_pharmacist,
):
    exception = with_exception(DeliveryException.Kind.LOST)
    prefix = f"resolve-{exception.pk}"

    response = client_pharmacist.post(
        f"/shipping/exceptions/{exception.pk}/resolve/",
        {f"{prefix}-resolution": "Sent again", f"{prefix}-reship": "on"},
    )

    assert response.status_code == 400
    assert "must be replaced: its product was lost." in response.content.decode()
    exception.refresh_from_db()
    assert exception.is_open
    assert Shipment.objects.count() == 1


def test_a_technician_does_not_resolve(client_technician):
    exception = with_exception()

    response = client_technician.post(
        f"/shipping/exceptions/{exception.pk}/resolve/",
        {f"resolve-{exception.pk}-resolution": "Done"},
    )

    assert response.status_code == 403
    exception.refresh_from_db()
    assert exception.is_open


# --------------------------------------------------------------------------- hand-over


def test_scanning_a_labelled_package_hands_it_over(client_technician, technician):
    shipment = labelled_shipment()

    response = client_technician.post(
        "/shipping/hand-over/", {"code": f" {shipment.package_code.lower()} "}
    )

    assert response["Location"] == "/shipping/list/labelled/"
    shipment.refresh_from_db()
    assert shipment.status == Status.HANDED_TO_CARRIER
    assert set(shipment.order.fills.values_list("status", flat=True)) == {Fill.Status.SHIPPED}
    html = client_technician.get(response["Location"]).content.decode()
    assert f"{shipment.package_code} handed to Local delivery (built in)." in html


def test_a_hand_over_scan_of_an_unknown_or_unready_package_says_so(client_technician):
    shipment = ShipmentFactory()

    unknown = client_technician.post("/shipping/hand-over/", {"code": "PKG-NOPE"}, follow=True)
    not_labelled = client_technician.post(f"/shipping/{shipment.pk}/hand-over/", follow=True)

    assert "No package has the id “PKG-NOPE”." in unknown.content.decode()
    shipment.refresh_from_db()
    assert shipment.status == Status.AWAITING_PACKING
    assert not_labelled.status_code == 200


def test_a_manager_does_not_hand_packages_over(client_manager):
    shipment = labelled_shipment()

    response = client_manager.post(f"/shipping/{shipment.pk}/hand-over/")

    assert response.status_code == 403
    shipment.refresh_from_db()
    assert shipment.status == Status.LABELLED


# --------------------------------------------------------------------------- label waves


def test_a_wave_of_labels_prints_with_its_progress_then_one_pdf(client_technician, technician):
    first, second = labelled_shipment(), labelled_shipment()
    ShipmentFactory()  # not labelled: not offered

    page = client_technician.get("/shipping/labels/")
    response = client_technician.post(
        "/shipping/labels/", {"wave": "ticked", "shipments": [first.pk, second.pk]}
    )

    html = page.content.decode()
    assert html.count('name="shipments"') == 2
    assert html.count(" checked>") == 2
    batch = LabelBatch.objects.get()
    assert response["Location"] == f"/shipping/labels/{batch.pk}/"
    assert set(batch.shipments.all()) == {first, second}
    started = client_technician.get(response["Location"]).content.decode()
    assert f'hx-get="/shipping/labels/{batch.pk}/progress/"' in started
    assert '<progress value="0" max="2"' in started
    assert "0 of 2" in started

    documents.print_label_batch(batch)  # what the worker does
    finished = client_technician.get(f"/shipping/labels/{batch.pk}/progress/").content.decode()
    pdf = client_technician.get(f"/shipping/labels/{batch.pk}/labels.pdf")

    assert 'hx-get="' not in finished
    assert "2 of 2" in finished
    assert 'data-testid="batch-finished"' in finished
    assert f'href="/shipping/labels/{batch.pk}/labels.pdf"' in finished
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")
    audit = AuditEvent.objects.filter(summary=f"Labels of batch {batch.pk}").get()
    assert sorted(audit.patient_ids) == sorted([first.order.patient_id, second.order.patient_id])


def test_todays_wave_prints_the_packages_labelled_today(client_technician):
    today = labelled_shipment()
    yesterday = labelled_shipment()
    Shipment.objects.filter(pk=yesterday.pk).update(
        status_changed_at=timezone.now() - timedelta(days=1)
    )

    response = client_technician.post("/shipping/labels/", {"wave": "today"})

    assert response.status_code == 302
    assert list(LabelBatch.objects.get().shipments.all()) == [today]


def test_a_wave_with_nothing_ticked_is_refused(client_technician):
    labelled_shipment()

    response = client_technician.post("/shipping/labels/", {"wave": "ticked"})

    assert response.status_code == 400
    assert "Tick at least one package to print." in response.content.decode()
    assert not LabelBatch.objects.exists()


def test_the_pdf_of_an_unfinished_wave_is_not_there_yet(client_technician, technician):
    batch = documents.start_label_batch([labelled_shipment()], by=technician)

    assert client_technician.get(f"/shipping/labels/{batch.pk}/labels.pdf").status_code == 404


# --------------------------------------------------------------------------- manifests


def test_the_days_manifest_is_built_and_downloaded(client_technician, technician):
    shipment = handed_over()

    page = client_technician.get("/shipping/manifests/")
    response = client_technician.post(
        "/shipping/manifests/", {"carrier": "local", "day": timezone.localdate().isoformat()}
    )

    assert 'data-testid="manifest-form"' in page.content.decode()
    assert response["Location"] == "/shipping/manifests/"
    manifest = Manifest.objects.get()
    assert list(manifest.shipments.all()) == [shipment]
    html = client_technician.get("/shipping/manifests/").content.decode()
    assert (
        f"Local delivery (built in) manifest of {timezone.localdate():%Y-%m-%d}: 1 package." in html
    )
    pdf = client_technician.get(f"/shipping/manifests/{manifest.pk}/manifest.pdf")
    csv = client_technician.get(f"/shipping/manifests/{manifest.pk}/manifest.csv")
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")
    assert csv["Content-Type"] == "text/csv; charset=utf-8"
    assert shipment.package_code in csv.content.decode()
    assert "attachment;" in csv["Content-Disposition"]


def test_a_manifest_of_a_day_with_nothing_handed_over_is_refused(client_technician):
    day = timezone.localdate() - timedelta(days=1)

    response = client_technician.post(
        "/shipping/manifests/", {"carrier": "local", "day": day.isoformat()}
    )

    assert response.status_code == 409
    assert "No package was handed to" in response.content.decode()
    assert not Manifest.objects.exists()


def test_a_manifest_of_a_day_to_come_is_refused(client_technician):
    day = timezone.localdate() + timedelta(days=1)

    response = client_technician.post(
        "/shipping/manifests/", {"carrier": "local", "day": day.isoformat()}
    )

    assert response.status_code == 400
    assert "A manifest lists packages already handed over." in response.content.decode()


# --------------------------------------------------------------------------- rules


def test_a_manager_changes_the_packaging_rules(client_manager, manager):
    page = client_manager.get("/shipping/rules/")
    response = client_manager.post(
        "/shipping/rules/",
        {
            "rules-cold_chain_max_transit_days": "1",
            "rules-cold_packs_per_transit_day": "3",
            "rules-cold_packs_minimum": "2",
            "rules-no_weekend_transit_for_cold_chain": "on",
            "rules-controlled_requires_signature": "on",
        },
    )

    assert page.status_code == 200
    assert 'data-testid="rules-form"' in page.content.decode()
    assert response["Location"] == "/shipping/rules/"
    rules = ShippingRules.objects.get(pk=1)
    assert (
        rules.cold_chain_max_transit_days,
        rules.cold_packs_per_transit_day,
        rules.controlled_requires_signature,
        rules.controlled_plain_packaging,
        rules.updated_by,
    ) == (1, 3, True, False, manager)


def test_rules_out_of_bounds_are_refused_and_nothing_is_saved(client_manager):
    before = ShippingRules.objects.values().get(pk=1)

    response = client_manager.post(
        "/shipping/rules/",
        {
            "rules-cold_chain_max_transit_days": "40",
            "rules-cold_packs_per_transit_day": "2",
            "rules-cold_packs_minimum": "-1",
        },
    )

    assert response.status_code == 400
    assert ShippingRules.objects.values().get(pk=1) == before


def test_a_manager_changes_a_carrier_service(client_manager):
    service = CarrierService.objects.get(carrier=Carrier.LOCAL, code="GROUND")
    prefix = f"service-{service.pk}"

    response = client_manager.post(
        f"/shipping/rules/services/{service.pk}/",
        {f"{prefix}-name": "Ground", f"{prefix}-transit_days": "4", f"{prefix}-is_active": "on"},
    )

    assert response["Location"] == "/shipping/rules/"
    service.refresh_from_db()
    assert (
        service.name,
        service.transit_days,
        service.allows_controlled,
        service.offers_signature,
        service.is_active,
    ) == ("Ground", 4, False, False, True)


def test_a_manager_keeps_the_holiday_calendar(client_manager):
    day = timezone.localdate() + timedelta(days=20)

    added = client_manager.post(
        "/shipping/rules/holidays/",
        {"holiday-day": day.isoformat(), "holiday-carrier": "", "holiday-name": "Founders Day"},
    )
    holiday = CarrierHoliday.objects.get()
    html = client_manager.get("/shipping/rules/").content.decode()
    removed = client_manager.post(f"/shipping/rules/holidays/{holiday.pk}/remove/")

    assert added["Location"] == "/shipping/rules/"
    assert (holiday.day, holiday.carrier, holiday.name) == (day, "", "Founders Day")
    assert "Founders Day" in html
    assert "Every carrier" in html
    assert removed["Location"] == "/shipping/rules/"
    assert not CarrierHoliday.objects.exists()


def test_a_holiday_without_a_name_is_refused(client_manager):
    response = client_manager.post(
        "/shipping/rules/holidays/", {"holiday-day": "2030-07-04", "holiday-name": " "}
    )

    assert response.status_code == 400
    assert "Name the holiday (Thanksgiving Day)." in response.content.decode()
    assert not CarrierHoliday.objects.exists()


def test_technicians_and_pharmacists_do_not_change_the_rules(client_technician, client_pharmacist):
    for client in (client_technician, client_pharmacist):
        assert client.get("/shipping/rules/").status_code == 403
        assert client.post("/shipping/rules/holidays/", {}).status_code == 403


# --------------------------------------------------------------------------- rules services


def test_update_shipping_rules_saves_only_the_fields_given(manager):
    rules = settings_admin.shipping_rules()

    settings_admin.update_shipping_rules(rules, by=manager, cold_packs_minimum=3)

    saved = ShippingRules.objects.get(pk=1)
    assert (saved.cold_packs_minimum, saved.cold_packs_per_transit_day, saved.updated_by) == (
        3,
        2,
        manager,
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"cold_packs_minimum": 50}, "The number of cold packs is at most 20."),
        ({"cold_chain_max_transit_days": 0}, "Refrigerated items need at least 1 day"),
        ({"cold_chain_max_transit_days": 11}, "Days in transit is at most 10."),
        ({"colour": "red"}, "The packaging rules have no setting colour."),
    ],
)
def test_update_shipping_rules_refuses_bad_values(manager, fields, message):
    before = ShippingRules.objects.values().get(pk=1)

    with pytest.raises(ShippingError) as refused:
        settings_admin.update_shipping_rules(settings_admin.shipping_rules(), by=manager, **fields)

    assert refused.value.status == 400
    assert message in refused.value.detail
    assert ShippingRules.objects.values().get(pk=1) == before


def test_only_a_manager_changes_the_settings(technician, pharmacist):
    service = CarrierService.objects.first()
    for user in (technician, pharmacist):
        with pytest.raises(ShippingError) as refused:
            settings_admin.update_shipping_rules(
                settings_admin.shipping_rules(), by=user, cold_packs_minimum=5
            )
        assert refused.value.status == 403
        with pytest.raises(ShippingError):
            settings_admin.update_carrier_service(service, by=user, is_active=False)
        with pytest.raises(ShippingError):
            settings_admin.set_carrier_holiday(datetime.date(2030, 1, 1), name="X", by=user)
    assert ShippingRules.objects.get(pk=1).cold_packs_minimum == 2
    service.refresh_from_db()
    assert service.is_active
    assert not CarrierHoliday.objects.exists()


def test_a_service_needs_a_name_and_a_day_in_transit(manager):
    service = CarrierService.objects.get(carrier=Carrier.LOCAL, code="OVERNIGHT")

    with pytest.raises(ShippingError) as no_days:
        settings_admin.update_carrier_service(service, by=manager, transit_days=0)
    with pytest.raises(ShippingError) as no_name:
        settings_admin.update_carrier_service(service, by=manager, name="  ")

    assert no_days.value.detail == "A service takes at least 1 day in transit."
    assert no_name.value.code == "invalid_setting"
    service.refresh_from_db()
    assert (service.name, service.transit_days) == ("Courier overnight", 1)


def test_the_same_holiday_twice_is_one_row_with_the_last_name(manager):
    day = datetime.date(2030, 11, 28)

    settings_admin.set_carrier_holiday(day, carrier="local", name="Thanksgiving", by=manager)
    again = settings_admin.set_carrier_holiday(
        day, carrier="local", name="Thanksgiving Day", by=manager
    )
    every = settings_admin.set_carrier_holiday(day, name="Thanksgiving Day", by=manager)

    assert again.name == "Thanksgiving Day"
    assert CarrierHoliday.objects.count() == 2
    assert every.carrier == ""
    with pytest.raises(ShippingError) as unknown:
        settings_admin.set_carrier_holiday(day, carrier="pony", name="X", by=manager)
    assert unknown.value.code == "unknown_carrier"


def test_a_holiday_changes_the_ship_day_the_rules_give(manager):
    """The rules read what the manager keeps: a holiday on the only pickup day moves the
    ship day of a refrigerated package."""
    from shipping.services.rules import packaging_plan  # noqa: PLC0415

    order = ready_order(cold_chain=True)
    fills = list(order.fills.select_related("prescription__product"))
    monday = datetime.date(2030, 1, 7)
    assert packaging_plan(fills, today=monday).ship_on == monday

    settings_admin.set_carrier_holiday(monday, name="Closed", by=manager)

    assert packaging_plan(fills, today=monday).ship_on == monday + timedelta(days=1)
    ensure_shipments_for_ready_orders()
