"""A real Celery worker process on real Redis runs our tasks against the test database."""

from datetime import timedelta

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from pharmacy.tasks import clear_expired_sessions_task


@pytest.mark.worker
def test_worker_clears_expired_sessions(celery_worker_process):
    expired = SessionStore()
    expired.create()
    Session.objects.filter(session_key=expired.session_key).update(
        expire_date=timezone.now() - timedelta(minutes=1)
    )
    current = SessionStore()
    current.create()

    clear_expired_sessions_task.delay().get(timeout=30)

    assert list(Session.objects.values_list("session_key", flat=True)) == [current.session_key]


def test_celery_is_configured_for_reliability():
    from pharmacy.celery import app  # noqa: PLC0415

    assert app.conf.task_serializer == "json"
    assert app.conf.accept_content == ["json"]
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.task_time_limit > app.conf.task_soft_time_limit > 0
    assert "clear-expired-sessions" in app.conf.beat_schedule
