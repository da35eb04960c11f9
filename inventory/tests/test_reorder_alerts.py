"""Reorder alerts: one alert and one e-mail per fall below the reorder point, whatever
happens at the same time or goes wrong on the way."""

import smtplib
import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone

from inventory.effects import deliver_reorder_email
from inventory.models import ReorderAlert, ReorderRule, StockLot
from inventory.services import reorder
from inventory.services.reorder import (
    ReorderError,
    acknowledge_reorder_alert,
    close_reorder_alert,
    set_reorder_rule,
)
from inventory.services.stock import dispense_from_lot
from inventory.tests.factories import PackageFactory, StockLotFactory, SupplierFactory
from outbox.models import OutboxMessage
from outbox.services import deliver_due_side_effects, deliver_side_effect
from outbox.tests.delivery import side_effect

TODAY = timezone.localdate()


@pytest.fixture
def manager_with_email(manager):
    manager.email = "mona@example.com"
    manager.save(update_fields=["email"])
    return manager


@pytest.fixture
def package(db):
    """Bottles of 30; the product's rule: reorder 300 units below 100, from a wholesaler
    with a 2-day lead time."""
    package = PackageFactory(quantity=30)
    supplier = SupplierFactory(name="Cardinal Health", lead_time_days=2)
    ReorderRule.objects.create(
        product=package.product,
        reorder_point=100,
        reorder_quantity=300,
        preferred_supplier=supplier,
    )
    return package


def dispense(lot, quantity, by, reference="fill:1"):
    return dispense_from_lot(
        lot, quantity=Decimal(quantity), by=by, reference=reference, usable_until=TODAY
    )


def recorded_emails() -> list[tuple]:
    """The reorder e-mails recorded in the outbox: target, dedupe key, status."""
    return list(
        OutboxMessage.objects.filter(kind="inventory.reorder_email").values_list(
            "target_id", "dedupe_key", "status"
        )
    )


def test_falling_below_the_reorder_point_raises_an_alert_and_records_its_email(
    package, technician, django_capture_on_commit_callbacks
):
    lot = StockLotFactory(package=package, quantity_on_hand=110)

    with django_capture_on_commit_callbacks() as callbacks:
        dispense(lot, 20, technician)

    alert = ReorderAlert.objects.get()
    assert (alert.product, alert.status, alert.available_at_crossing, alert.reorder_point) == (
        package.product,
        "open",
        90,
        100,
    )
    assert (alert.suggested_quantity, alert.suggested_package, alert.suggested_packages) == (
        300,
        package,
        10,
    )
    assert (alert.suggested_supplier.name, alert.lead_time_days) == ("Cardinal Health", 2)
    assert alert.email_sent_at is None
    # The e-mail is recorded with the stock change and delivered only after its commit.
    assert recorded_emails() == [(alert.pk, f"inventory.reorder_email:{alert.pk}", "pending")]
    assert OutboxMessage.objects.count() == 1
    assert len(callbacks) == 1


def test_staying_at_the_reorder_point_raises_nothing(
    package, technician, django_capture_on_commit_callbacks
):
    lot = StockLotFactory(package=package, quantity_on_hand=110)

    with django_capture_on_commit_callbacks() as callbacks:
        dispense(lot, 10, technician)

    assert ReorderAlert.objects.count() == 0
    assert OutboxMessage.objects.count() == 0
    assert callbacks == []


def test_a_stock_change_that_rolls_back_leaves_no_alert_and_no_email(package, technician):
    lot = StockLotFactory(package=package, quantity_on_hand=110)

    def failing_fill():
        with transaction.atomic():
            dispense(lot, 20, technician)
            raise RuntimeError("the fill failed after taking the stock")

    with pytest.raises(RuntimeError):
        failing_fill()

    assert (ReorderAlert.objects.count(), OutboxMessage.objects.count()) == (0, 0)
    lot.refresh_from_db()
    assert lot.quantity_on_hand == 110


def test_a_product_without_a_rule_raises_nothing(technician):
    lot = StockLotFactory(package=PackageFactory(), quantity_on_hand=10)

    dispense(lot, 10, technician)

    assert ReorderAlert.objects.count() == 0


def test_only_available_unexpired_units_count(package, technician):
    lot = StockLotFactory(package=package, quantity_on_hand=90)
    StockLotFactory(package=package, quantity_on_hand=500, status=StockLot.Status.QUARANTINED)
    StockLotFactory(package=package, quantity_on_hand=500, expiry=TODAY)

    dispense(lot, 1, technician)

    assert list(ReorderAlert.objects.values_list("available_at_crossing", flat=True)) == [89]
    lot.refresh_from_db()
    assert lot.quantity_on_hand == 89


def test_two_dispensings_of_one_fill_transaction_count_what_every_lot_has_left(package, technician):
    # The second count must see the first lot's decrement, made earlier in the same
    # transaction; lots too close to expiry for this patient still count.
    first = StockLotFactory(package=package, quantity_on_hand=30, expiry=TODAY + timedelta(40))
    second = StockLotFactory(package=package, quantity_on_hand=80, expiry=TODAY + timedelta(90))
    StockLotFactory(package=package, quantity_on_hand=25, expiry=TODAY + timedelta(10))

    with transaction.atomic():
        for lot, quantity in ((first, 30), (second, 10)):
            dispense_from_lot(
                lot,
                quantity=Decimal(quantity),
                by=technician,
                reference="fill:1",
                usable_until=TODAY + timedelta(30),
            )

    assert list(ReorderAlert.objects.values_list("available_at_crossing", flat=True)) == [95]
    assert sorted(StockLot.objects.values_list("quantity_on_hand", flat=True)) == [0, 25, 70]


def test_a_current_alert_stops_further_alerts_until_it_is_closed(package, technician, manager):
    lot = StockLotFactory(package=package, quantity_on_hand=200)
    dispense(lot, 120, technician)  # 80 left: raised
    dispense(lot, 10, technician)  # 70: the open alert covers it
    first = ReorderAlert.objects.get()
    acknowledge_reorder_alert(first, by=manager)
    dispense(lot, 10, technician)  # 60: acknowledged still covers it
    assert ReorderAlert.objects.count() == 1

    close_reorder_alert(first, by=manager, note="PO 1001 placed")
    dispense(lot, 10, technician)  # 50, and no current alert: a new one

    assert list(ReorderAlert.objects.values_list("status", "available_at_crossing")) == [
        ("open", 50),
        ("closed", 80),
    ]
    first.refresh_from_db()
    assert (first.acknowledged_by, first.closed_by, first.close_note) == (
        manager,
        manager,
        "PO 1001 placed",
    )


def test_alert_moves_follow_the_table(package, technician, manager):
    dispense(StockLotFactory(package=package, quantity_on_hand=100), 1, technician)
    alert = ReorderAlert.objects.get()
    close_reorder_alert(alert, by=manager)

    with pytest.raises(ReorderError) as refused:
        acknowledge_reorder_alert(alert, by=manager)

    assert refused.value.code == "alert_closed"
    assert refused.value.detail == (
        f"Reorder alert {alert.pk} is closed; it cannot be acknowledged."
    )


def test_par_level_suggests_enough_to_reach_it(package, technician):
    ReorderRule.objects.filter(product=package.product).update(par_level=400)
    lot = StockLotFactory(package=package, quantity_on_hand=110)

    dispense(lot, 20, technician)

    alert = ReorderAlert.objects.get()
    assert (alert.suggested_quantity, alert.suggested_packages) == (310, 11)


def test_the_suggestion_is_in_the_largest_package_that_is_not_a_sample(package, technician):
    largest = PackageFactory(product=package.product, quantity=100)
    PackageFactory(product=package.product, quantity=500, is_sample=True)
    PackageFactory(product=package.product, quantity=None)
    lot = StockLotFactory(package=package, quantity_on_hand=110)

    dispense(lot, 20, technician)

    alert = ReorderAlert.objects.get()
    assert (alert.suggested_package, alert.suggested_packages) == (largest, 3)  # 300 / 100


def test_the_rules_own_package_and_lead_time_come_before_the_suppliers(package, technician):
    PackageFactory(product=package.product, quantity=100)
    without_count = PackageFactory(product=package.product, quantity=None)
    ReorderRule.objects.filter(product=package.product).update(
        order_package=without_count, lead_time_days=5
    )
    lot = StockLotFactory(package=package, quantity_on_hand=110)

    dispense(lot, 20, technician)

    alert = ReorderAlert.objects.get()
    # A package with no count on file: the units are suggested, not a number of packages.
    assert (alert.suggested_package, alert.suggested_packages) == (without_count, None)
    assert (alert.suggested_quantity, alert.lead_time_days) == (300, 5)
    assert alert.suggested_supplier.name == "Cardinal Health"


def test_the_unique_constraint_backs_the_rule_lock(package, technician, caplog):
    # Under the rule lock a second current alert is never tried; were one written by a
    # path without it, the constraint refuses it and the stock change stands.
    lot = StockLotFactory(package=package, quantity_on_hand=110)
    dispense(lot, 20, technician)
    rule = ReorderRule.objects.get()

    with transaction.atomic():
        assert reorder._raise_alert(rule, available=Decimal(90)) is None
        dispense(lot, 5, technician)  # the transaction goes on

    assert ReorderAlert.objects.count() == 1
    lot.refresh_from_db()
    assert lot.quantity_on_hand == 85
    assert f"Product {package.product_id} already has a current reorder alert." in caplog.text


def test_a_new_rule_above_the_stock_raises_the_alert_at_once(manager):
    package = PackageFactory(quantity=100)
    StockLotFactory(package=package, quantity_on_hand=40)

    rule, created = set_reorder_rule(
        package.product, by=manager, reorder_point=Decimal(50), reorder_quantity=Decimal(200)
    )

    assert created is True
    assert (rule.updated_by, rule.order_package) == (manager, None)
    alert = ReorderAlert.objects.get()
    assert (alert.available_at_crossing, alert.suggested_package, alert.suggested_packages) == (
        40,
        package,
        2,
    )


def test_setting_a_rule_again_replaces_it(package, manager):
    rule, created = set_reorder_rule(
        package.product,
        by=manager,
        reorder_point=Decimal(10),
        reorder_quantity=Decimal(60),
        par_level=Decimal(90),
        order_package=package,
        lead_time_days=5,
    )

    assert created is False
    assert ReorderRule.objects.count() == 1
    rule.refresh_from_db()
    assert (rule.reorder_point, rule.reorder_quantity, rule.par_level, rule.preferred_supplier) == (
        10,
        60,
        90,
        None,
    )
    assert (rule.order_package, rule.effective_lead_time_days) == (package, 5)


@pytest.mark.parametrize(
    ("fields", "detail"),
    [
        ({"reorder_point": -1}, "The reorder point cannot be below zero."),
        ({"reorder_quantity": 0}, "The reorder quantity must be more than zero."),
        ({"par_level": 10}, "The par level must be above the reorder point (or left blank)."),
    ],
)
def test_a_bad_rule_is_refused(package, manager, fields, detail):
    values = {"reorder_point": Decimal(20), "reorder_quantity": Decimal(60), **fields}

    with pytest.raises(ReorderError, match=detail.replace("(", r"\(").replace(")", r"\)")):
        set_reorder_rule(package.product, by=manager, **values)

    rule = ReorderRule.objects.get()
    assert (rule.reorder_point, rule.reorder_quantity) == (100, 300)


# --------------------------------------------------------------------------- e-mail


@pytest.fixture
def alert(package, technician):
    dispense(StockLotFactory(package=package, quantity_on_hand=110), 20, technician)
    return ReorderAlert.objects.get()


@pytest.fixture
def email(alert) -> OutboxMessage:
    """The alert's e-mail side effect (the test's commit never comes, so no worker got it)."""
    return side_effect("inventory.reorder_email", alert.pk)


@pytest.mark.usefixtures("manager_with_email")
def test_the_email_delivered_twice_is_sent_once(alert, email, mailoutbox):
    assert deliver_side_effect(email.pk) is True
    assert deliver_side_effect(email.pk) is False  # a duplicate task finds it delivered
    # The deliverer again, as the sweep would after a worker died before marking it done.
    deliver_reorder_email(email)

    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["mona@example.com"]
    assert message.subject == (
        f"Reorder {alert.product.display_name}: 90 units left (reorder point 100)"
    )
    assert "Order:          10 x " + alert.suggested_package.package_ndc in message.body
    assert "Supplier:       Cardinal Health" in message.body
    assert message.extra_headers["Message-ID"] == reorder.reorder_alert_message_id(alert)
    assert message.message()["Message-ID"].startswith(f"<reorder-alert-{alert.pk}.")
    alert.refresh_from_db()
    assert alert.email_sent_at is not None
    assert alert.email_recipients == "mona@example.com"
    email.refresh_from_db()
    assert (email.status, email.attempts, email.last_error) == ("delivered", 1, "")


@pytest.mark.usefixtures("manager_with_email")
def test_a_resend_after_a_lost_write_carries_the_same_message_id(alert, email, mailoutbox):
    deliver_side_effect(email.pk)
    # The worker died after the mail server took the message, before it wrote so.
    ReorderAlert.objects.filter(pk=alert.pk).update(email_sent_at=None, email_recipients="")

    deliver_reorder_email(email)

    assert [message.extra_headers["Message-ID"] for message in mailoutbox] == [
        reorder.reorder_alert_message_id(alert)
    ] * 2


@pytest.mark.usefixtures("manager_with_email")
def test_the_sweep_sends_what_was_never_queued(email, mailoutbox):
    # The delivery was never queued (the broker was down at commit): the sweep sends it.
    assert deliver_due_side_effects() == 1
    assert deliver_due_side_effects() == 0

    assert len(mailoutbox) == 1


@pytest.mark.usefixtures("manager_with_email")
def test_a_failed_send_is_tried_again_after_a_back_off(alert, email, mailoutbox, monkeypatch):
    def refuse(self, fail_silently=False):
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")

    with monkeypatch.context() as patch:
        patch.setattr("django.core.mail.EmailMessage.send", refuse)
        assert deliver_side_effect(email.pk) is False
        assert deliver_due_side_effects() == 0  # waiting out its back-off

    email.refresh_from_db()
    assert (email.status, email.attempts, email.last_error) == (
        "pending",
        1,
        "smtplib.SMTPServerDisconnected: Connection unexpectedly closed",
    )
    alert.refresh_from_db()
    assert (alert.email_sent_at, alert.email_recipients) == (None, "")

    OutboxMessage.objects.filter(pk=email.pk).update(next_attempt_at=timezone.now())
    assert deliver_due_side_effects() == 1
    assert len(mailoutbox) == 1
    email.refresh_from_db()
    assert (email.status, email.attempts, email.last_error) == ("delivered", 2, "")


@pytest.mark.usefixtures("manager_with_email")
def test_an_alert_closed_before_its_email_went_is_nothing_to_do(alert, email, manager, mailoutbox):
    close_reorder_alert(alert, by=manager)

    assert deliver_side_effect(email.pk) is True

    assert mailoutbox == []
    alert.refresh_from_db()
    assert (alert.email_sent_at, alert.email_recipients) == (None, "")
    email.refresh_from_db()
    assert (email.status, email.last_error) == ("delivered", "")


@pytest.mark.usefixtures("manager_with_email")
def test_an_acknowledged_alert_is_still_emailed(alert, email, manager, mailoutbox):
    acknowledge_reorder_alert(alert, by=manager)

    assert deliver_side_effect(email.pk) is True

    assert len(mailoutbox) == 1


def test_with_no_manager_address_the_alert_stays_in_the_app(alert, email, manager, mailoutbox):
    assert deliver_side_effect(email.pk) is True

    alert.refresh_from_db()
    assert alert.email_sent_at is not None
    assert alert.email_recipients == ""
    assert mailoutbox == []


def test_the_email_of_an_alert_that_is_gone_waits_for_a_manager(db, mailoutbox):
    message = OutboxMessage.objects.create(kind="inventory.reorder_email", target_id=999999)

    assert deliver_side_effect(message.pk) is False

    message.refresh_from_db()
    assert (message.status, message.last_error) == (
        "failed",
        "outbox.registry.PermanentFailure: Reorder alert 999999 does not exist.",
    )
    assert mailoutbox == []


# --------------------------------------------------------------------------- concurrency


def run_threads(*targets):
    errors = []

    def run(target):
        try:
            target()
        except Exception as error:  # any database error fails the test
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(target,)) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def two_lots(package):
    return [StockLotFactory(package=package, quantity_on_hand=55) for _ in range(2)]


@pytest.mark.django_db(transaction=True)
def test_two_fills_crossing_at_the_same_moment_raise_one_alert(package, technician):
    # 110 units in two lots; each fill alone takes the stock to 95, below 100.
    first_lot, second_lot = two_lots(package)
    first_took = threading.Event()

    def first_fill():
        with transaction.atomic():  # the fill workflow's transaction, held open a while
            dispense(first_lot, 15, technician, "fill:1")
            first_took.set()
            time.sleep(0.5)

    def second_fill():
        first_took.wait(10)
        dispense(second_lot, 15, technician, "fill:2")

    run_threads(first_fill, second_fill)

    alert = ReorderAlert.objects.get()
    assert alert.available_at_crossing == 95
    assert recorded_emails() == [(alert.pk, f"inventory.reorder_email:{alert.pk}", "pending")]


@pytest.mark.django_db(transaction=True)
def test_two_fills_that_cross_only_together_raise_one_alert(package, technician):
    # Each fill alone leaves 104 (above the point); together they leave 98. Without the
    # rule lock each would count only its own units and no alert would be raised.
    first_lot, second_lot = two_lots(package)
    first_took = threading.Event()

    def first_fill():
        with transaction.atomic():
            dispense(first_lot, 6, technician, "fill:1")
            first_took.set()
            time.sleep(0.5)

    def second_fill():
        first_took.wait(10)
        dispense(second_lot, 6, technician, "fill:2")

    run_threads(first_fill, second_fill)

    alert = ReorderAlert.objects.get()
    assert alert.available_at_crossing == 98
    assert recorded_emails() == [(alert.pk, f"inventory.reorder_email:{alert.pk}", "pending")]


@pytest.mark.django_db(transaction=True)
def test_sixteen_threads_dispensing_at_once_raise_one_alert(package, technician):
    lots = [StockLotFactory(package=package, quantity_on_hand=20) for _ in range(8)]  # 160
    start = threading.Barrier(16)

    def fill(lot, number):
        def run():
            start.wait(10)
            for turn in range(5):
                dispense(lot, 1, technician, f"fill:{number}-{turn}")

        return run

    run_threads(*(fill(lots[n % 8], n) for n in range(16)))

    assert sum(StockLot.objects.values_list("quantity_on_hand", flat=True)) == 80
    alert = ReorderAlert.objects.get()
    assert alert.available_at_crossing == 99
    assert recorded_emails() == [(alert.pk, f"inventory.reorder_email:{alert.pk}", "pending")]


def test_beat_sweeps_expiry_daily_and_reorder_emails_have_no_sweep_of_their_own():
    from pharmacy.celery import app  # noqa: PLC0415

    app.loader.import_default_modules()  # what a worker imports: every app's tasks
    schedule = app.conf.beat_schedule
    assert schedule["expire-lots"]["task"] == "inventory.tasks.expire_lots_task"
    # Unsent reorder e-mails are side effects: the outbox sweep delivers them.
    assert schedule["deliver-due-side-effects"]["task"] == (
        "outbox.tasks.deliver_due_side_effects_task"
    )
    assert not [entry for entry in schedule.values() if "reorder" in entry["task"]]
    assert {name for name in app.tasks if name.startswith("inventory.")} == {
        "inventory.tasks.expire_lots_task"
    }
