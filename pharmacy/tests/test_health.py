"""`GET /health/` as the integration contract says."""

import pytest
from django.db import connection

from pharmacy.health import broker_client


@pytest.mark.django_db
def test_health_reports_a_stopped_worker_as_down_but_stays_200(client):
    response = client.get("/health/")

    assert response.status_code == 200
    assert response.json() == {"database": "ok", "broker": "ok", "worker": "down"}


@pytest.mark.worker
def test_health_reports_a_running_worker_as_ok(client, celery_worker_process):
    response = client.get("/health/")

    assert response.status_code == 200
    assert response.json() == {"database": "ok", "broker": "ok", "worker": "ok"}


@pytest.fixture
def unreachable_broker(settings, tmp_path):
    # A real connection attempt to a socket where no Redis listens.
    settings.REDIS_URL = f"unix://{tmp_path}/no-redis-here.sock"
    broker_client.cache_clear()
    yield
    broker_client.cache_clear()


@pytest.mark.django_db
@pytest.mark.usefixtures("unreachable_broker")
def test_health_is_503_when_the_broker_is_unreachable(client):
    response = client.get("/health/")

    assert response.status_code == 503
    assert response.json() == {"database": "ok", "broker": "down", "worker": "down"}


@pytest.mark.django_db(transaction=True)
def test_health_is_503_when_the_database_is_unreachable(client, tmp_path):
    settings_dict = connection.settings_dict
    original_host = settings_dict["HOST"]
    connection.close()
    settings_dict["HOST"] = str(tmp_path)  # a real connection attempt to an empty socket dir
    try:
        response = client.get("/health/")
    finally:
        connection.close()
        settings_dict["HOST"] = original_host

    assert response.status_code == 503
    assert response.json()["database"] == "down"
    assert response.json()["broker"] == "ok"


def test_health_needs_no_sign_in_and_allows_only_get(client, db):
    assert client.post("/health/").status_code == 405
