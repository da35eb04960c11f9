"""Shipments are made when an order is ready (with the address as it was), orders whose
address cannot be shipped to are blocked with the reason, and statuses move only along
SHIPMENT_MOVES with an event for every change."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from orders.models import Fill
from orders.services.workflow import approve_pv2
from orders.tests.factories import another_staff, fill_at, stocked_prescription
from outbox.models import OutboxMessage
from outbox.services import deliver_due_side_effects, deliver_side_effect
from outbox.tasks import deliver_side_effect_task
from pharmacy.models import Patient, PatientAddress, Role
from shipping.models import CarrierEvent, Shipment, ShipmentEvent, ShippingDocument
from shipping.services.shipments import (
    ShippingError,
    blocked_orders,
    ensure_shipments_for_ready_orders,
    hand_over_to_carrier,
    notify_patient_of_shipment,
    transition_shipment,
)
from shipping.tasks import ensure_shipments_task
from shipping.tests.factories import (
    ShipmentFactory,
    labelled_shipment,
    ready_order,
    shippable_patient,
    side_effects,
)

pytestmark = pytest.mark.django_db

S = Shipment.Status
NOT_A_ZIP = " is not a ZIP code (5 digits, or 5+4 as 12345-6789)."


# --------------------------------------------------------------------------- making shipments


def test_a_ready_order_gets_one_shipment_awaiting_packing_with_the_address_as_it_was():
    patient = shippable_patient(line1="12 Elm Street", line2="Apt 3", postal_code="43215-1234")
    order = ready_order(fills=2, patient=patient)

    assert ensure_shipments_for_ready_orders() == 1
    assert ensure_shipments_for_ready_orders() == 0  # idempotent

    shipment = Shipment.objects.get(order=order)
    assert (shipment.status, shipment.reship_of, shipment.package_code[:4]) == (
        S.AWAITING_PACKING,
        None,
        "PKG-",
    )
    assert (
        shipment.ship_to_name,
        shipment.ship_to_line1,
        shipment.ship_to_line2,
        shipment.ship_to_city,
        shipment.ship_to_state,
        shipment.ship_to_postal_code,
        shipment.ship_to_phone,
    ) == (
        patient.full_name,
        "12 Elm Street",
        "Apt 3",
        "Columbus",
        "OH",
        "43215-1234",
        patient.phone,
    )
    (event,) = shipment.events.all()
    assert (event.from_status, event.to_status, event.actor, event.detail) == (
        "",
        S.AWAITING_PACKING,
        None,
        "Every fill of the order passed PV2.",
    )
    # The patient moves: the shipment keeps the address it was made with.
    PatientAddress.objects.filter(patient=patient).update(line1="1 New Road")
    shipment.refresh_from_db()
    assert shipment.ship_to_line1 == "12 Elm Street"


def test_the_rules_are_applied_when_the_shipment_is_made():
    order = ready_order(fills=2, cold_chain=True, controlled=True)

    ensure_shipments_for_ready_orders()

    shipment = Shipment.objects.get(order=order)
    assert (
        shipment.is_cold_chain,
        shipment.is_controlled,
        shipment.packaging,
        shipment.signature_required,
        shipment.carrier,
    ) == (True, True, Shipment.Packaging.INSULATED_PLAIN, True, "local")
    assert shipment.service.allows_cold_chain
    assert shipment.service.allows_controlled
    assert shipment.cold_packs >= 2
    assert shipment.instructions[0].startswith("Use a plain insulated box with")


def test_the_shipment_exists_as_soon_as_the_last_fill_passes_pv2():
    patient = shippable_patient()
    order = ready_order(patient=patient)
    last = fill_at(Fill.Status.PV2, prescription=stocked_prescription(patient=patient), order=order)
    assert ensure_shipments_for_ready_orders() == 0
    assert not Shipment.objects.filter(order=order).exists()

    approve_pv2(last, by=another_staff(Role.PHARMACIST), scan=last.label_code, entry="scanned")

    assert ensure_shipments_for_ready_orders() == 1
    assert Shipment.objects.get(order=order).status == S.AWAITING_PACKING


def test_cancelled_fills_do_not_hold_an_order_back_but_a_held_one_does():
    patient = shippable_patient()
    order = ready_order(patient=patient)
    fill_at(Fill.Status.CANCELLED, prescription=stocked_prescription(patient=patient), order=order)
    held = ready_order(patient=patient)
    fill_at(
        Fill.Status.ON_HOLD,
        held_from=Fill.Status.FILL,
        prescription=stocked_prescription(patient=patient),
        order=held,
    )

    assert ensure_shipments_for_ready_orders() == 1
    assert list(Shipment.objects.values_list("order", flat=True)) == [order.pk]


def test_two_processes_making_shipments_at_once_make_each_once(transactional_db):
    orders = [ready_order() for _ in range(3)]
    barrier = threading.Barrier(2)
    errors = []

    def make():
        try:
            barrier.wait()
            ensure_shipments_for_ready_orders()
        except Exception as error:  # anything fails the test
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=make) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(Shipment.objects.values_list("order", flat=True)) == [o.pk for o in orders]
    assert ShipmentEvent.objects.count() == 3


# --------------------------------------------------------------------------- addresses


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ({"line1": ""}, "The street line is missing."),
        ({"city": "  "}, "The city is missing."),
        ({"state": ""}, "The state is missing."),
        ({"state": "ZZ"}, "'ZZ' is not a US state or territory code."),
        ({"postal_code": ""}, "The ZIP code is missing."),
        ({"postal_code": "4321"}, "'4321'" + NOT_A_ZIP),
        ({"postal_code": "43215-12"}, "'43215-12'" + NOT_A_ZIP),
        ({"postal_code": "ABCDE"}, "'ABCDE'" + NOT_A_ZIP),
    ],
)  # fmt: skip
def test_an_address_that_cannot_be_shipped_to_blocks_the_order_with_the_reason(address, problem):
    patient = shippable_patient(**address)
    order = ready_order(patient=patient)

    assert ensure_shipments_for_ready_orders() == 0

    assert not Shipment.objects.exists()
    assert not ShipmentEvent.objects.exists()
    (blocked,) = blocked_orders()
    assert (blocked.order, blocked.code, blocked.problems) == (order, "address_invalid", [problem])
    assert blocked.detail == (
        f"The shipping address of {patient.full_name} cannot be shipped to: {problem} "
        "Correct it on the patient's record."
    )


def test_territories_and_military_states_are_addresses():
    for state in ("PR", "GU", "AE", "dc"):
        ready_order(patient=shippable_patient(state=state, postal_code="00901"))

    assert ensure_shipments_for_ready_orders() == 4
    assert sorted(Shipment.objects.values_list("ship_to_state", flat=True)) == [
        "AE",
        "DC",
        "GU",
        "PR",
    ]


def test_a_patient_without_a_default_address_is_blocked_until_one_is_added():
    patient = shippable_patient()
    PatientAddress.objects.filter(patient=patient).update(is_default_shipping=False)
    order = ready_order(patient=patient)

    assert ensure_shipments_for_ready_orders() == 0
    (blocked,) = blocked_orders()
    assert (blocked.order, blocked.code) == (order, "no_shipping_address")

    PatientAddress.objects.filter(patient=patient).update(is_default_shipping=True)

    assert ensure_shipments_for_ready_orders() == 1
    assert blocked_orders() == []


def test_a_corrected_address_unblocks_the_order():
    patient = shippable_patient(state="XX")
    order = ready_order(patient=patient)
    ensure_shipments_for_ready_orders()

    PatientAddress.objects.filter(patient=patient).update(state="oh")

    assert ensure_shipments_for_ready_orders() == 1
    assert Shipment.objects.get(order=order).ship_to_state == "OH"


# --------------------------------------------------------------------------- moves


def test_an_unknown_status_is_refused():
    shipment = ShipmentFactory()

    with pytest.raises(ShippingError) as refused:
        transition_shipment(shipment, to="lost_in_space", by=another_staff(Role.PHARMACIST))

    assert (refused.value.code, refused.value.status) == ("unknown_status", 400)


def test_moves_not_listed_are_refused_and_nothing_changes():
    shipment = ShipmentFactory()
    pharmacist = another_staff(Role.PHARMACIST)

    with pytest.raises(ShippingError) as refused:
        transition_shipment(shipment, to=S.DELIVERED, by=pharmacist)

    assert refused.value.code == "move_not_allowed"
    assert refused.value.detail == (
        f"Package {shipment.package_code} is awaiting packing; it cannot move to delivered."
    )
    shipment.refresh_from_db()
    assert shipment.status == S.AWAITING_PACKING
    assert shipment.events.count() == 1


def test_only_a_carrier_event_moves_a_package_in_transit():
    shipment = labelled_shipment()
    Shipment.objects.filter(pk=shipment.pk).update(status=S.HANDED_TO_CARRIER)

    with pytest.raises(ShippingError) as refused:
        transition_shipment(shipment, to=S.IN_TRANSIT, by=another_staff(Role.PHARMACIST))
    assert refused.value.code == "carrier_only"

    with pytest.raises(ShippingError) as refused:
        transition_shipment(shipment, to=S.IN_TRANSIT)
    assert refused.value.code == "carrier_event_required"
    assert shipment.events.count() == 1


def test_a_carrier_event_moves_it_with_the_carriers_time():
    shipment = labelled_shipment()
    Shipment.objects.filter(pk=shipment.pk).update(status=S.HANDED_TO_CARRIER)
    event = CarrierEvent.objects.create(
        carrier="local",
        event_id="e1",
        tracking_number=shipment.tracking_number,
        status="delivered",
        occurred_at=timezone.now() + timedelta(hours=1),  # after the label's event
        body="{}",
        shipment=shipment,
    )

    transition_shipment(
        shipment, to=S.DELIVERED, detail="Left at door", occurred_at=event.occurred_at,
        carrier_event=event,
    )  # fmt: skip

    shipment.refresh_from_db()
    assert (shipment.status, shipment.delivered_at) == (S.DELIVERED, event.occurred_at)
    last = shipment.events.last()
    assert (last.from_status, last.to_status, last.carrier_event, last.actor) == (
        S.HANDED_TO_CARRIER,
        S.DELIVERED,
        event,
        None,
    )


def test_steps_with_checks_of_their_own_are_refused_here():
    shipment = ShipmentFactory()

    with pytest.raises(ShippingError) as refused:
        transition_shipment(shipment, to=S.PACKED, by=another_staff(Role.TECHNICIAN))

    assert refused.value.code == "step_required"
    assert "pack_shipment" in refused.value.detail


def test_a_pharmacist_sends_a_labelled_package_back_to_packing_voiding_its_label():
    shipment = labelled_shipment()
    ShippingDocument.objects.create(
        shipment=shipment, kind=ShippingDocument.Kind.LABEL, content_hash="x", pdf=b"%PDF"
    )
    pharmacist = another_staff(Role.PHARMACIST)

    transition_shipment(shipment, to=S.AWAITING_PACKING, by=pharmacist, detail="Wrong box")

    shipment.refresh_from_db()
    assert (shipment.status, shipment.tracking_number, shipment.packed_at) == (
        S.AWAITING_PACKING,
        "",
        None,
    )
    assert not ShippingDocument.objects.filter(is_current=True).exists()
    last = shipment.events.last()
    assert (last.from_status, last.to_status, last.actor, last.detail) == (
        S.LABELLED,
        S.AWAITING_PACKING,
        pharmacist,
        "Wrong box",
    )
    # The fills stay packed: FILL_MOVES has no way back, packing again takes them.
    assert set(shipment.order.fills.values_list("status", flat=True)) == {Fill.Status.PACKED}


def test_a_technician_may_not_unpack_and_a_reason_is_required():
    shipment = labelled_shipment()

    with pytest.raises(ShippingError) as refused:
        transition_shipment(
            shipment, to=S.AWAITING_PACKING, by=another_staff(Role.TECHNICIAN), detail="x"
        )
    assert (refused.value.code, refused.value.status) == ("role_not_allowed", 403)

    with pytest.raises(ShippingError) as refused:
        transition_shipment(
            shipment, to=S.AWAITING_PACKING, by=another_staff(Role.PHARMACIST), detail=" "
        )
    assert (refused.value.code, refused.value.status) == ("reason_required", 400)
    shipment.refresh_from_db()
    assert (shipment.status, shipment.events.count()) == (S.LABELLED, 1)


# --------------------------------------------------------------------------- hand-over, e-mail


def test_handing_over_ships_the_fills_and_queues_one_email_each(
    django_capture_on_commit_callbacks,
):
    ready = [labelled_shipment(), labelled_shipment()]
    waiting = ShipmentFactory()
    technician = another_staff(Role.TECHNICIAN)

    with django_capture_on_commit_callbacks() as callbacks:
        handed = hand_over_to_carrier([*ready, waiting], by=technician)

    assert (handed, len(callbacks)) == (2, 2)
    for shipment in ready:
        shipment.refresh_from_db()
        assert (shipment.status, shipment.handed_over_at is not None) == (
            S.HANDED_TO_CARRIER,
            True,
        )
        assert set(shipment.order.fills.values_list("status", flat=True)) == {Fill.Status.SHIPPED}
        assert shipment.events.last().detail == "Handed to Local delivery (built in)"
    waiting.refresh_from_db()
    assert waiting.status == S.AWAITING_PACKING
    # Handing over again does nothing more.
    assert hand_over_to_carrier(ready, by=technician) == 0


def test_a_manager_cannot_hand_packages_over():
    shipment = labelled_shipment()

    with pytest.raises(ShippingError) as refused:
        hand_over_to_carrier([shipment], by=another_staff(Role.MANAGER))

    assert (refused.value.code, refused.value.status) == ("role_not_allowed", 403)
    shipment.refresh_from_db()
    assert shipment.status == S.LABELLED


def handed_over(**fields) -> Shipment:
    shipment = labelled_shipment(**fields)
    hand_over_to_carrier([shipment], by=another_staff(Role.TECHNICIAN))
    shipment.refresh_from_db()
    return shipment


def shipped_email(shipment: Shipment) -> OutboxMessage:
    [message] = side_effects("shipping.shipped_email", target_id=shipment.pk)
    return message


def test_the_hand_over_records_the_email_once_in_its_transaction(
    django_capture_on_commit_callbacks,
):
    shipment = labelled_shipment()
    technician = another_staff(Role.TECHNICIAN)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        hand_over_to_carrier([shipment], by=technician)
    hand_over_to_carrier([shipment], by=technician)  # handed over already: nothing more

    message = shipped_email(shipment)
    assert (message.status, message.dedupe_key, message.description) == (
        "pending",
        f"shipping.shipped_email:{shipment.pk}",
        f"Shipped e-mail of package {shipment.package_code}",
    )
    assert message.payload == {}  # no patient data in the outbox
    assert len(callbacks) == 1
    shipment.refresh_from_db()
    assert shipment.patient_notified_at is None  # written when it is sent, not before


def test_a_refused_hand_over_records_no_email():
    shipment = labelled_shipment()

    with pytest.raises(ShippingError):
        hand_over_to_carrier([shipment], by=another_staff(Role.MANAGER))

    assert side_effects("shipping.shipped_email") == []


def test_the_patient_is_told_once_with_the_tracking_number_and_no_drug_name(mailoutbox):
    shipment = handed_over()
    drug = shipment.order.fills.get().prescription.product.proprietary_name
    message = shipped_email(shipment)

    assert deliver_side_effect(message.pk) is True
    assert deliver_side_effect(message.pk) is False  # a duplicate task finds it delivered

    (mail,) = mailoutbox
    assert mail.to == [shipment.order.patient.email]
    assert mail.subject == "Your order from Riverbend Mail-Order Pharmacy has shipped"
    assert mail.extra_headers["Message-ID"] == (
        f"<shipped-{shipment.pk}.outbox-{message.pk}.{message.created_at:%Y%m%d%H%M%S}@localhost>"
    )
    assert shipment.tracking_number in mail.body
    assert shipment.package_code in mail.body
    assert drug not in mail.subject
    assert drug not in mail.body
    shipment.refresh_from_db()
    assert shipment.patient_notified_at is not None


def test_no_email_without_an_address_or_before_the_hand_over(mailoutbox):
    patient = shippable_patient()
    Patient.objects.filter(pk=patient.pk).update(email="")
    no_address = handed_over(order=ready_order(patient=patient, status=Fill.Status.PACKED))
    labelled = labelled_shipment()

    assert side_effects("shipping.shipped_email") == []  # none recorded for no address
    assert notify_patient_of_shipment(no_address, message_id="<x@localhost>") is False
    assert notify_patient_of_shipment(labelled, message_id="<y@localhost>") is False
    assert mailoutbox == []


def test_a_mail_server_failure_leaves_it_unsent_and_the_outbox_tries_again(settings, mailoutbox):
    shipment = handed_over()
    message = shipped_email(shipment)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2

    assert deliver_side_effect(message.pk) is False

    message.refresh_from_db()
    assert (message.status, message.attempts) == ("pending", 1)
    assert message.last_error.startswith("ConnectionRefusedError")
    shipment.refresh_from_db()
    assert shipment.patient_notified_at is None
    # The mail server is back and the back-off has passed.
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    OutboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=message.created_at)
    assert deliver_due_side_effects() == 1
    assert len(mailoutbox) == 1


def test_redis_down_at_the_hand_over_delays_the_email_to_the_sweep_once(
    monkeypatch, caplog, mailoutbox, django_capture_on_commit_callbacks
):
    from kombu.exceptions import OperationalError  # noqa: PLC0415

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to the broker. Connection refused.")

    monkeypatch.setattr(deliver_side_effect_task, "apply_async", broker_down)
    shipment = labelled_shipment()

    with django_capture_on_commit_callbacks(execute=True):
        assert hand_over_to_carrier([shipment], by=another_staff(Role.TECHNICIAN)) == 1

    message = shipped_email(shipment)
    assert f"Could not queue side effect {message.pk}" in caplog.text
    assert mailoutbox == []
    shipment.refresh_from_db()
    assert (shipment.status, shipment.patient_notified_at) == (S.HANDED_TO_CARRIER, None)

    # Redis is back: beat's sweep delivers it, and a sweep again sends nothing more.
    monkeypatch.undo()
    assert deliver_due_side_effects() == 1
    assert deliver_due_side_effects() == 0
    assert len(mailoutbox) == 1
    shipment.refresh_from_db()
    assert shipment.patient_notified_at is not None


def test_an_email_delivered_again_after_a_worker_died_keeps_its_message_id(mailoutbox):
    shipment = handed_over()
    message = shipped_email(shipment)
    deliver_side_effect(message.pk)
    # What a worker that died after the mail server took the e-mail, and before it
    # recorded the time, leaves: the e-mail sent, no time, the claim running out.
    Shipment.objects.filter(pk=shipment.pk).update(patient_notified_at=None)
    OutboxMessage.objects.filter(pk=message.pk).update(
        status="pending", claimed_until=timezone.now() - timedelta(seconds=1)
    )

    assert deliver_due_side_effects() == 1

    # SMTP cannot take an e-mail exactly once: the second copy carries the first's
    # Message-ID, which mail programs fold into one.
    first, second = mailoutbox
    assert first.extra_headers["Message-ID"] == second.extra_headers["Message-ID"]
    assert first.body == second.body
    assert deliver_due_side_effects() == 0
    assert len(mailoutbox) == 2


@pytest.mark.worker
def test_a_real_worker_sends_the_email_after_the_hand_over(start_celery_worker, tmp_path):
    maildir = tmp_path / "mail"
    start_celery_worker(EMAIL_URL=f"file:{maildir}")
    shipment = labelled_shipment()

    hand_over_to_carrier([shipment], by=another_staff(Role.TECHNICIAN))

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (maildir.exists() and any(maildir.iterdir())):
        time.sleep(0.2)
    (sent,) = list(maildir.iterdir())
    text = sent.read_text()
    shipment.refresh_from_db()
    assert shipment.tracking_number in text
    assert "has shipped" in text
    assert shipment.patient_notified_at is not None


def test_the_beat_task_makes_the_shipments_and_the_email_task_sends_once(mailoutbox):
    order = ready_order()

    assert ensure_shipments_task() == 1
    assert Shipment.objects.filter(order=order).count() == 1

    shipment = handed_over()
    assert deliver_side_effect(shipped_email(shipment).pk) is True
    assert deliver_side_effect(shipped_email(shipment).pk) is False
    assert len(mailoutbox) == 1
