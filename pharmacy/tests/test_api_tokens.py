"""API tokens (issue 12): stored as hashes, named, several per person, expiring, revoked
by a manager; the integrations' `Authorization: Token <key>` header unchanged."""

import datetime
import importlib
import json
from datetime import timedelta

import pytest
from django.apps import apps
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from pharmacy.models import ApiToken, AuditEvent, hash_api_key
from pharmacy.services import StaffError, create_api_token, revoke_api_token

PATIENTS = "/api/v1/patients/?last_name=Nobody"


def get(key: str, path: str = PATIENTS):
    return Client().get(path, HTTP_AUTHORIZATION=f"Token {key}")


def test_a_token_is_stored_as_the_hash_of_its_key_and_shown_once(technician, manager, settings):
    settings.API_TOKEN_DAYS = 30

    token = create_api_token(technician, by=manager, name="  e-Rx gateway ")

    stored = ApiToken.objects.get()
    assert len(token.key) == 40
    assert (stored.prefix, stored.key_hash, stored.name) == (
        token.key[:8],
        hash_api_key(token.key),
        "e-Rx gateway",
    )
    assert not hasattr(stored, "key")
    assert token.key not in json.dumps(list(ApiToken.objects.values()), default=str)
    assert stored.expires_at - stored.created_at == pytest.approx(
        timedelta(days=30), abs=timedelta(seconds=5)
    )
    audit = AuditEvent.objects.get()
    assert (audit.actor, audit.action, audit.object_type, audit.object_id) == (
        manager,
        "create",
        "pharmacy.ApiToken",
        str(stored.pk),
    )
    assert audit.summary.startswith(f"API token {token.key[:8]}… 'e-Rx gateway' for tech")
    assert get(token.key).status_code == 200


def test_several_tokens_of_one_person_each_work(technician):
    first = create_api_token(technician, name="gateway")
    second = create_api_token(technician, name="reports")

    assert (get(first.key).status_code, get(second.key).status_code) == (200, 200)
    assert ApiToken.objects.filter(user=technician).count() == 2


def test_an_expired_token_is_refused_with_the_day_it_expired(technician):
    token = create_api_token(technician)
    expired = datetime.datetime(2025, 3, 7, 15, 0, tzinfo=datetime.UTC)
    ApiToken.objects.filter(pk=token.pk).update(expires_at=expired)

    response = get(token.key)

    assert response.status_code == 401
    assert response.json() == {
        "error": "authentication_failed",
        "detail": "This token expired on 2025-03-07; ask a manager for a new one.",
    }


def test_a_revoked_token_is_refused_at_once_and_the_others_go_on(technician, manager):
    revoked = create_api_token(technician, name="old")
    kept = create_api_token(technician, name="new")
    assert get(revoked.key).status_code == 200

    revoke_api_token(revoked, by=manager)

    response = get(revoked.key)
    assert response.status_code == 401
    assert response.json() == {
        "error": "authentication_failed",
        "detail": f"This token was revoked on {timezone.localdate().isoformat()}; ask a "
        "manager for a new one.",
    }
    assert get(kept.key).status_code == 200
    stored = ApiToken.objects.get(pk=revoked.pk)
    assert stored.revoked_by == manager
    assert AuditEvent.objects.filter(action="update", actor=manager).count() == 1


def test_revoking_twice_is_refused_and_writes_nothing(technician, manager):
    token = create_api_token(technician)
    revoke_api_token(token, by=manager)
    first = ApiToken.objects.get().revoked_at
    events = AuditEvent.objects.count()

    with pytest.raises(StaffError, match="was revoked already"):
        revoke_api_token(token, by=manager)

    assert (ApiToken.objects.get().revoked_at, AuditEvent.objects.count()) == (first, events)


@pytest.mark.parametrize(
    ("days", "message"),
    [(0, "A token lasts from 1 to 3650 days, not 0."), (3651, "not 3651")],
)
def test_a_token_life_out_of_range_is_refused_and_nothing_written(technician, days, message):
    with pytest.raises(StaffError, match=message):
        create_api_token(technician, days=days)

    assert (ApiToken.objects.count(), AuditEvent.objects.count()) == (0, 0)


def test_only_a_manager_issues_or_revokes_a_token(technician, pharmacist):
    token = create_api_token(technician)
    events = AuditEvent.objects.count()

    with pytest.raises(StaffError, match="Only a manager can issue API tokens."):
        create_api_token(technician, by=pharmacist)
    with pytest.raises(StaffError, match="Only a manager can revoke API tokens."):
        revoke_api_token(token, by=technician)

    assert list(ApiToken.objects.values_list("revoked_at", flat=True)) == [None]
    assert AuditEvent.objects.count() == events


def test_a_disabled_person_gets_no_token(technician):
    technician.is_active = False
    technician.save()

    with pytest.raises(StaffError, match="tech is disabled"):
        create_api_token(technician)

    assert ApiToken.objects.count() == 0


def test_last_used_is_written_at_most_once_an_hour(technician):
    key = create_api_token(technician).key

    get(key)
    first_use = ApiToken.objects.get().last_used_at
    with CaptureQueriesContext(connection) as queries:
        get(key)
    ApiToken.objects.update(last_used_at=first_use - timedelta(minutes=61))
    get(key)

    assert first_use is not None
    assert not any(q["sql"].startswith("UPDATE") for q in queries)
    assert ApiToken.objects.get().last_used_at > first_use


def test_the_schema_still_names_the_token_header(client_technician):
    schema = client_technician.get("/api/schema/?format=json").json()

    assert schema["components"]["securitySchemes"]["tokenAuth"] == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": 'Token-based authentication with required prefix "Token"',
    }


def test_the_migration_hashes_drf_tokens_so_integrations_keep_working(technician):
    old_key = "0123456789abcdef0123456789abcdef01234567"
    created = datetime.datetime(2025, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    with connection.cursor() as cursor:
        cursor.execute(
            'CREATE TABLE "authtoken_token" ("key" varchar(40) PRIMARY KEY, '
            '"created" timestamptz NOT NULL, "user_id" bigint NOT NULL)'
        )
        cursor.execute(
            'INSERT INTO "authtoken_token" VALUES (%s, %s, %s)', [old_key, created, technician.pk]
        )
    migration = importlib.import_module("pharmacy.migrations.0011_hash_existing_api_tokens")

    with connection.schema_editor() as editor:
        migration.hash_authtoken_keys(apps, editor)

    token = ApiToken.objects.get()
    assert (token.user, token.name, token.prefix, token.key_hash, token.created_at) == (
        technician,
        "migrated",
        "01234567",
        hash_api_key(old_key),
        created,
    )
    assert token.expires_at - timezone.now() == pytest.approx(
        timedelta(days=90), abs=timedelta(minutes=1)
    )
    assert "authtoken_token" not in connection.introspection.table_names()
    assert get(old_key).status_code == 200


# --------------------------------------------------------------------------- managers' page


def test_managers_see_each_persons_tokens_without_their_keys(client_manager, technician, manager):
    live = create_api_token(technician, name="e-Rx gateway")
    gone = create_api_token(technician, name="old script")
    revoke_api_token(gone, by=manager)

    response = client_manager.get("/manager/access/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "e-Rx gateway" in html
    assert f"<code>{live.prefix}</code>" in html
    assert live.key not in html
    assert gone.key not in html
    assert "Revoked " in html
    assert html.count(">Revoke</button>") == 1


def test_a_manager_issues_a_token_and_sees_it_once(client_manager, manager, technician):
    response = client_manager.post(
        "/manager/access/tokens/", {"user": technician.pk, "name": "label printer", "days": 14}
    )

    token = ApiToken.objects.get()
    key = response.context["token"].key
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert key in response.content.decode()
    assert (token.key_hash, token.name) == (hash_api_key(key), "label printer")
    assert AuditEvent.objects.filter(action="create", actor=manager).count() == 1
    assert key not in client_manager.get("/manager/access/").content.decode()
    assert get(key).status_code == 200


def test_a_token_for_nobody_is_refused_with_the_reason(client_manager):
    response = client_manager.post("/manager/access/tokens/", {"name": "x", "days": 14})

    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert ApiToken.objects.count() == 0


def test_a_manager_revokes_a_token_from_the_page(client_manager, manager, technician):
    token = create_api_token(technician, name="gateway")

    response = client_manager.post(f"/manager/access/tokens/{token.pk}/revoke/")

    assert response.status_code == 302
    assert ApiToken.objects.get().revoked_by == manager
    assert get(token.key).status_code == 401
    again = client_manager.post(f"/manager/access/tokens/{token.pk}/revoke/", follow=True)
    assert "was revoked already" in again.content.decode()


@pytest.mark.parametrize("role", ["technician", "pharmacist"])
def test_only_managers_reach_the_page(request, role):
    client = request.getfixturevalue(f"client_{role}")
    token = create_api_token(request.getfixturevalue(role))

    assert client.get("/manager/access/").status_code == 403
    assert client.post(f"/manager/access/tokens/{token.pk}/revoke/").status_code == 403
    assert ApiToken.objects.get().revoked_at is None
