"""`create_staff` and `create_api_token` as an outside script calls them."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from pharmacy.models import User

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


@pytest.mark.django_db(transaction=True)
def test_a_new_token_revokes_the_previous_one(technician):
    first = manage("create_api_token", "tech").stdout.strip().splitlines()[-1]
    second = manage("create_api_token", "tech").stdout.strip().splitlines()[-1]

    from rest_framework.authtoken.models import Token  # noqa: PLC0415

    assert first != second
    assert list(Token.objects.values_list("key", flat=True)) == [second]
