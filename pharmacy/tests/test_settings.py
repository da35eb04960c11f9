"""Settings fail loudly, naming the variable, when a deploy value is malformed."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def import_settings(**env) -> subprocess.CompletedProcess:
    """Import the settings module in a fresh interpreter with the given environment."""
    return subprocess.run(
        [sys.executable, "-c", "import pharmacy.settings"],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_settings_import_with_no_configuration_at_all():
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DEBUG"}}
    result = subprocess.run(
        [sys.executable, "-c", "import pharmacy.settings"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DEBUG": "maybe"}, "DEBUG='maybe' is not a boolean"),
        ({"DEBUG": "false", "SECRET_KEY": ""}, "The environment variable SECRET_KEY is required"),
        ({"DEBUG": "false", "SECRET_KEY": "short"}, "SECRET_KEY must be at least 50 characters"),
        (
            {"DEBUG": "false", "SECRET_KEY": "x" * 60, "LOCAL_CARRIER_WEBHOOK_SECRET": ""},
            "The environment variable LOCAL_CARRIER_WEBHOOK_SECRET is required",
        ),
        (
            {"DEBUG": "false", "SECRET_KEY": "x" * 60, "LOCAL_CARRIER_WEBHOOK_SECRET": "short"},
            "LOCAL_CARRIER_WEBHOOK_SECRET must be at least 32 characters",
        ),
        ({"EASYPOST_API_BASE": "ftp://api"}, "EASYPOST_API_BASE must be an https:// URL"),
        ({"DATABASE_URL": "mysql://db/pharmacy"}, "DATABASE_URL must be a postgres:// URL"),
        ({"DATABASE_URL": "postgres://db.example.com"}, "DATABASE_URL must name a database"),
        (
            {"DATABASE_TRANSACTION_POOLING": "sometimes"},
            "DATABASE_TRANSACTION_POOLING='sometimes' is not a boolean",
        ),
        ({"REDIS_URL": "http://cache"}, "REDIS_URL must be a redis://"),
        ({"EMAIL_URL": "pigeon://coop"}, "EMAIL_URL must look like smtp://"),
        ({"EMAIL_URL": "smtp://mail.example.com:notaport"}, "EMAIL_URL has an invalid port"),
        (
            {"TIME_ZONE": "Mars/Olympus_Mons"},
            "TIME_ZONE='Mars/Olympus_Mons' is not an IANA time zone",
        ),
        ({"SESSION_IDLE_MINUTES": "ten"}, "SESSION_IDLE_MINUTES='ten' is not a whole number"),
        ({"SESSION_IDLE_MINUTES": "0"}, "SESSION_IDLE_MINUTES='0' must be at least 1"),
        ({"PHARMACY_NCPDP_ID": "12AB"}, "PHARMACY_NCPDP_ID must be the 7-digit NCPDP provider ID"),
        ({"TRUSTED_PROXY_COUNT": "-1"}, "TRUSTED_PROXY_COUNT='-1' must be at least 0"),
        ({"API_USER_RATE": "lots"}, "API_USER_RATE='lots' is not a rate; write it like 60/min"),
        ({"API_ANON_RATE": "60/fortnight"}, "API_ANON_RATE='60/fortnight' is not a rate"),
        (
            {"LOGIN_ADDRESS_FAILURE_LIMIT": "0"},
            "LOGIN_ADDRESS_FAILURE_LIMIT='0' must be at least 1",
        ),
    ],
)
def test_bad_value_stops_the_process_naming_the_variable(env, message):
    result = import_settings(**env)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_good_production_values_are_taken():
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from pharmacy import settings as s; "
            "print(s.DATABASES['default']['HOST'], s.EMAIL_HOST, "
            "s.EMAIL_PORT, s.EMAIL_USE_TLS, s.DEBUG, s.ALLOWED_HOSTS)",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={
            **os.environ,
            "DEBUG": "off",
            "SECRET_KEY": "x" * 60,
            "LOCAL_CARRIER_WEBHOOK_SECRET": "w" * 40,
            "DATABASE_URL": "postgres://u:p@db.internal:5432/pharmacy",
            "EMAIL_URL": "smtp://u:p@mail.internal:587?tls=1",
            "ALLOWED_HOSTS": "pharmacy.example.com, api.example.com",
        },
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "db.internal mail.internal 587 True False ['pharmacy.example.com', 'api.example.com']"
    )


def test_the_client_address_and_the_api_rates_come_from_the_environment():
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from pharmacy import settings as s; "
            "print(s.TRUSTED_PROXY_COUNT, s.REST_FRAMEWORK['DEFAULT_THROTTLE_RATES'])",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={
            **os.environ,
            "TRUSTED_PROXY_COUNT": "2",
            "API_ANON_RATE": "10/sec",
            "API_USER_RATE": " 5000/min ",
            "API_REFILL_REQUEST_RATE": "30/hour",
            "API_IDENTITY_CHECK_RATE": "100/day",
        },
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "2 {'anon': '10/sec', 'user': '5000/min', 'refill_request': '30/hour', "
        "'identity_check': '100/day'}"
    )


@pytest.mark.parametrize(("value", "disabled"), [("true", "True"), ("", "False")])
def test_transaction_pooling_turns_off_server_side_cursors(value, disabled):
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from pharmacy import settings as s; "
            "print(s.DATABASES['default']['DISABLE_SERVER_SIDE_CURSORS'])",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "DATABASE_TRANSACTION_POOLING": value},
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == disabled


def test_deploy_checks_pass_with_debug_off():
    # The browser tests' DJANGO_ALLOW_ASYNC_UNSAFE is not part of a deployment.
    deployment_env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={
            **deployment_env,
            "DEBUG": "false",
            "SECRET_KEY": "k" * 20 + "Q7#x" * 10,
            "LOCAL_CARRIER_WEBHOOK_SECRET": "w" * 40,
            "ALLOWED_HOSTS": "pharmacy.example.com",
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr
