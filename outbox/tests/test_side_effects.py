"""The outbox: a side effect is recorded with its change, delivered once, retried with
back-off, given up on after its attempts, taken over when a worker dies, and sent again
by a manager."""

import threading
from datetime import timedelta

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from outbox.models import OutboxMessage
from outbox.registry import PermanentFailure, delivers
from outbox.services import (
    OutboxError,
    deliver_due_side_effects,
    deliver_side_effect,
    record_side_effect,
    retry_side_effect,
)

# What the test deliverers did, by message id.
DELIVERED: list[int] = []


@delivers("test.echo")
def _echo(message):
    DELIVERED.append(message.pk)


@delivers("test.broken")
def _broken(message):
    raise ConnectionError("the carrier did not answer")


@delivers("test.gone")
def _gone(message):
    raise PermanentFailure("the shipment was deleted")


@delivers("test.slow")
def _slow(message):
    started.set()
    release.wait(5)
    DELIVERED.append(message.pk)


started = threading.Event()
release = threading.Event()


@pytest.fixture(autouse=True)
def _clear():
    DELIVERED.clear()
    started.clear()
    release.clear()


def test_a_side_effect_exists_only_if_its_transaction_commits(db):
    with transaction.atomic():
        kept = record_side_effect("test.echo", target_id=7, description="Echo 7")

    def failing_change():
        with transaction.atomic():
            record_side_effect("test.echo", target_id=8)
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        failing_change()

    assert list(OutboxMessage.objects.values_list("pk", "kind", "target_id", "status")) == [
        (kept.pk, "test.echo", 7, "pending")
    ]


def test_recording_queues_the_delivery_after_commit(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        record_side_effect("test.echo", target_id=1)

    assert len(callbacks) == 1


def test_an_unknown_kind_is_refused_where_it_is_recorded(db):
    with pytest.raises(LookupError, match="no deliverer is registered for side effect"):
        record_side_effect("test.typo", target_id=1)

    assert OutboxMessage.objects.count() == 0


def test_a_dedupe_key_keeps_one_row_and_the_callers_transaction_usable(db):
    with transaction.atomic():
        first = record_side_effect("test.echo", target_id=1, dedupe_key="echo:1")
        again = record_side_effect("test.echo", target_id=1, dedupe_key="echo:1")
        other = record_side_effect("test.echo", target_id=2)

    assert again.pk == first.pk
    assert OutboxMessage.objects.count() == 2
    assert other.pk != first.pk


def test_delivery_marks_it_delivered_once(db):
    message = record_side_effect("test.echo", target_id=1)

    assert deliver_side_effect(message.pk) is True
    assert deliver_side_effect(message.pk) is False  # a duplicate task finds it done

    message.refresh_from_db()
    assert DELIVERED == [message.pk]
    assert (message.status, message.attempts, message.last_error) == ("delivered", 1, "")
    assert message.delivered_at is not None
    assert message.claimed_until is None


def test_a_failure_is_recorded_and_tried_again_after_a_back_off(db):
    message = record_side_effect("test.broken", target_id=1)
    before = timezone.now()

    assert deliver_side_effect(message.pk) is False

    message.refresh_from_db()
    assert message.status == "pending"
    assert message.attempts == 1
    assert message.last_error == "ConnectionError: the carrier did not answer"
    assert message.next_attempt_at >= before + timedelta(seconds=10)
    assert message.claimed_until is None
    # Not due yet: the sweep leaves it alone.
    assert deliver_due_side_effects() == 0
    message.refresh_from_db()
    assert message.attempts == 1


def test_after_its_last_attempt_it_waits_for_a_person(db):
    message = record_side_effect("test.broken", target_id=1)
    OutboxMessage.objects.filter(pk=message.pk).update(attempts=9)

    deliver_side_effect(message.pk)

    message.refresh_from_db()
    assert (message.status, message.attempts) == ("failed", 10)


def test_a_permanent_failure_waits_for_a_person_at_once(db):
    message = record_side_effect("test.gone", target_id=1)

    deliver_side_effect(message.pk)

    message.refresh_from_db()
    assert (message.status, message.attempts) == ("failed", 1)
    assert message.last_error == "outbox.registry.PermanentFailure: the shipment was deleted"


def test_the_sweep_delivers_what_was_never_queued_and_what_a_dead_worker_held(db):
    never_queued = record_side_effect("test.echo", target_id=1)
    held_by_dead_worker = record_side_effect("test.echo", target_id=2)
    held_by_live_worker = record_side_effect("test.echo", target_id=3)
    now = timezone.now()
    OutboxMessage.objects.filter(pk=held_by_dead_worker.pk).update(
        claimed_until=now - timedelta(seconds=1), attempts=1
    )
    OutboxMessage.objects.filter(pk=held_by_live_worker.pk).update(
        claimed_until=now + timedelta(minutes=1), attempts=1
    )

    assert deliver_due_side_effects() == 2

    assert sorted(DELIVERED) == sorted([never_queued.pk, held_by_dead_worker.pk])
    held_by_live_worker.refresh_from_db()
    assert held_by_live_worker.status == "pending"


@pytest.mark.django_db(transaction=True)
def test_two_workers_delivering_one_message_deliver_it_once():
    message = record_side_effect("test.slow", target_id=1)
    results = []
    first = threading.Thread(target=lambda: results.append(deliver_side_effect(message.pk)))
    first.start()
    assert started.wait(5)
    second = deliver_side_effect(message.pk)  # while the first holds its claim
    release.set()
    first.join(10)

    assert (results, second) == ([True], False)
    assert DELIVERED == [message.pk]


def test_a_manager_sends_a_failed_one_again(db, manager):
    message = record_side_effect("test.gone", target_id=1)
    deliver_side_effect(message.pk)

    retry_side_effect(message, by=manager)
    message.refresh_from_db()
    assert (message.status, message.retried_by, message.max_attempts) == ("pending", manager, 11)

    OutboxMessage.objects.filter(pk=message.pk).update(kind="test.echo")  # the cause is fixed
    assert deliver_side_effect(message.pk) is True


def test_only_a_failed_one_can_be_sent_again(db, manager):
    message = record_side_effect("test.echo", target_id=1)

    with pytest.raises(OutboxError, match="only a failed one can be sent again"):
        retry_side_effect(message, by=manager)

    message.refresh_from_db()
    assert (message.status, message.retried_by) == ("pending", None)


def test_managers_see_failures_with_their_error_and_send_them_again(client_manager):
    message = record_side_effect("test.gone", target_id=5, description="Label of shipment 5")
    deliver_side_effect(message.pk)

    page = client_manager.get(reverse("side_effect_list"))
    assert page.status_code == 200
    text = page.content.decode()
    assert "Label of shipment 5" in text
    assert "the shipment was deleted" in text

    response = client_manager.post(reverse("side_effect_retry", args=[message.pk]))
    assert response.status_code == 302
    message.refresh_from_db()
    assert message.status == "pending"


def test_technicians_and_pharmacists_cannot_see_or_retry(client_technician, client_pharmacist):
    message = record_side_effect("test.gone", target_id=5)
    deliver_side_effect(message.pk)

    for client in (client_technician, client_pharmacist):
        assert client.get(reverse("side_effect_list")).status_code == 403
        assert client.post(reverse("side_effect_retry", args=[message.pk])).status_code == 403
    message.refresh_from_db()
    assert message.status == "failed"
