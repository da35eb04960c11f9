"""`create_staff`, `create_api_token` and `revoke_api_token` as an outside script calls them."""

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from pharmacy.models import ApiToken, AuditEvent, User, hash_api_key
from pharmacy.services import create_api_token

ROOT = Path(__file__).resolve().parents[2]


def manage(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DATABASE_NAME_OVERRIDE": connection.settings_dict["NAME"]},
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.django_db(transaction=True)
def test_create_staff_then_token_then_call_the_api(live_server):
    created = manage(
        "create_staff",
        "ines",
        "--role",
        "pharmacist",
        "--password",
        "Blue-Heron-Lake-77",
        "--license-number",
        "RPH-1",
        "--license-state",
        "oh",
    )
    token = manage("create_api_token", "ines")

    assert created.returncode == 0, created.stderr
    assert created.stdout.strip() == "Created pharmacist ines."
    assert token.returncode == 0, token.stderr
    key = token.stdout.strip().splitlines()[-1]
    assert len(key) == 40
    user = User.objects.get(username="ines")
    assert (user.role, user.license_state, user.check_password("Blue-Heron-Lake-77")) == (
        "pharmacist",
        "OH",
        True,
    )

    import urllib.request  # noqa: PLC0415

    request = urllib.request.Request(
        f"{live_server.url}/api/v1/patients/", headers={"Authorization": f"Token {key}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["create_staff", "x1", "--role", "janitor", "--password", "Blue-Heron-Lake-77"],
            "invalid choice: 'janitor'",
        ),
        (
            ["create_staff", "x2", "--role", "technician", "--password", "short"],
            "This password is too short",
        ),
        (
            [
                "create_staff",
                "x3",
                "--role",
                "technician",
                "--password",
                "Blue-Heron-Lake-77",
                "--license-state",
                "Ohio",
            ],
            "The license state is the two-letter state code.",
        ),
        (["create_api_token", "nobody"], "No staff member is called 'nobody'."),
    ],
)
def test_bad_input_is_refused_with_a_reason_and_nothing_written(args, message):
    result = manage(*args)

    assert result.returncode != 0
    assert message in result.stderr
    assert User.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_taken_username_is_refused(technician):
    result = manage("create_staff", "TECH", "--role", "manager", "--password", "Blue-Heron-Lake-77")

    assert result.returncode != 0
    assert "already taken" in result.stderr
    assert User.objects.count() == 1


def call_api(live_server, key: str) -> int:
    import urllib.error  # noqa: PLC0415
    import urllib.request  # noqa: PLC0415

    request = urllib.request.Request(
        f"{live_server.url}/api/v1/patients/", headers={"Authorization": f"Token {key}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.django_db(transaction=True)
def test_a_second_token_works_beside_the_first_until_one_is_revoked(live_server, technician):
    # Issue 12: several named tokens per person, each revoked on its own (a new token
    # used to replace the previous one).
    first = manage("create_api_token", "tech", "--name", "e-Rx gateway")
    second = manage("create_api_token", "tech", "--name", "nightly report", "--days", "7")
    first_key = first.stdout.strip().splitlines()[-1]
    second_key = second.stdout.strip().splitlines()[-1]

    revoked = manage("revoke_api_token", first_key[:8])

    assert (first.returncode, second.returncode, revoked.returncode) == (0, 0, 0), revoked.stderr
    assert f"starting {second_key[:8]}, expires" in second.stdout
    assert revoked.stdout.strip() == f"Revoked the API token {first_key[:8]} of tech."
    tokens = {t.name: t for t in ApiToken.objects.all()}
    assert set(tokens) == {"e-Rx gateway", "nightly report"}
    assert tokens["e-Rx gateway"].key_hash == hash_api_key(first_key)
    assert tokens["e-Rx gateway"].revoked_at is not None
    assert tokens["nightly report"].expires_at.date() == (timezone.now() + timedelta(days=7)).date()
    assert not ApiToken.objects.filter(key_hash__in=[first_key, second_key]).exists()
    assert (call_api(live_server, first_key), call_api(live_server, second_key)) == (401, 200)
    assert list(
        AuditEvent.objects.filter(object_type="pharmacy.ApiToken")
        .order_by("id")
        .values_list("action", "actor_username")
    ) == [("create", "command line"), ("create", "command line"), ("update", "command line")]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["create_api_token", "tech", "--days", "0"], "A token lasts from 1 to 3650 days, not 0."),
        (["create_api_token", "norole"], "norole has no role; give them one first."),
        (["revoke_api_token", "abc"], "'abc' is too short: give the first 8 characters"),
        (["revoke_api_token", "abcdefgh"], "No token in use starts with 'abcdefgh'."),
    ],
)
def test_bad_token_commands_are_refused_with_a_reason_and_nothing_written(
    technician, args, message
):
    User.objects.create_user("norole", password="x-Long-Password-1")
    kept = create_api_token(technician, name="kept")

    result = manage(*args)

    assert result.returncode != 0
    assert message in result.stderr
    assert list(ApiToken.objects.values_list("name", "revoked_at")) == [("kept", None)]
    assert kept.key not in result.stdout
