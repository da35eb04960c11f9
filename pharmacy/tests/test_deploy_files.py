"""The deployment files (deploy/): what can be checked without a Docker engine. The
compose file has every part the README promises, passes only variables the settings
read, and its web environment loads the settings and passes the deploy checks; the
Dockerfile runs modules that exist; the containers' health checks work on real
processes. Building the image and running the stack are not tested here (no Docker)."""

import importlib.util
import json
import re
import subprocess
import sys

import pytest
import yaml

from pharmacy.tests.servers import (
    ROOT,
    free_port,
    process_environment,
    start_gunicorn,
    stop_process,
    wait_for_health,
)

DEPLOY = ROOT / "deploy"
COMPOSE = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
SERVICES = COMPOSE["services"]
DOCKERFILE = (DEPLOY / "Dockerfile").read_text()
APP_SERVICES = ("migrate", "web", "worker", "beat")
LONG_RUNNING = ("postgres", "pgbouncer", "redis", "web", "worker", "beat", "proxy")


def example_values() -> dict[str, str]:
    """deploy/env.example with a made-up value for every empty variable."""
    values = {}
    for line in (DEPLOY / "env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name] = value or f"example-{name.lower()}-" + "x" * 50
    values["SITE_HOST"] = "pharmacy.example.com"
    values["EMAIL_URL"] = "smtp://mailer:secret@smtp.example.com:587?tls=1"
    values["PHARMACY_NCPDP_ID"] = "3612345"
    return values


def interpolate(text: str, values: dict[str, str]) -> str:
    """Compose's ${NAME}, ${NAME:-default} and ${NAME:?error} in a value, from ``values``."""

    def value(match: re.Match) -> str:
        name, operator, rest = match.group(1), match.group(2), match.group(3)
        if name in values and values[name] != "":
            return values[name]
        if operator == ":-":
            return rest
        raise KeyError(f"compose.yaml needs {name}, which deploy/env.example does not set")

    return re.sub(r"\$\{([A-Z0-9_]+)(?:(:[-?])([^}]*))?\}", value, text)


def settings_variables() -> set[str]:
    source = (ROOT / "pharmacy" / "settings.py").read_text()
    return set(re.findall(r'env_\w+\(\s*"([A-Z0-9_]+)"', source)) | set(
        re.findall(r'os\.environ(?:\.get\(|\[)\s*"([A-Z0-9_]+)"', source)
    )


def test_compose_has_every_part_with_replicas_restarts_and_health_checks():
    assert set(SERVICES) == {
        "postgres",
        "pgbouncer",
        "redis",
        "migrate",
        "web",
        "worker",
        "beat",
        "proxy",
    }
    replicas = {name: SERVICES[name]["deploy"]["replicas"] for name in ("web", "worker", "beat")}
    assert replicas == {"web": 2, "worker": 2, "beat": 1}
    assert {name: SERVICES[name]["restart"] for name in LONG_RUNNING} == dict.fromkeys(
        LONG_RUNNING, "unless-stopped"
    )
    # The migrations run once and finish before any web, worker or beat starts.
    assert SERVICES["migrate"]["restart"] == "on-failure"
    assert SERVICES["migrate"]["command"] == ["python", "manage.py", "migrate", "--no-input"]
    for name in ("web", "worker", "beat"):
        assert SERVICES[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }
    checked = {name for name, service in SERVICES.items() if "healthcheck" in service}
    assert checked == {"postgres", "pgbouncer", "redis", "web", "worker"}
    assert SERVICES["web"]["healthcheck"]["test"] == [
        "CMD",
        "python",
        "deploy/healthcheck.py",
        "web",
    ]
    assert SERVICES["worker"]["healthcheck"]["test"][-1] == "worker"


def test_the_app_goes_through_pgbouncer_in_transaction_mode_and_migrates_directly():
    assert SERVICES["pgbouncer"]["environment"]["POOL_MODE"] == "transaction"
    for name in ("web", "worker", "beat"):
        environment = SERVICES[name]["environment"]
        assert "@pgbouncer:5432/" in environment["DATABASE_URL"]
        assert environment["DATABASE_TRANSACTION_POOLING"] == "true"
        assert environment["REDIS_URL"] == "redis://redis:6379/0"
        assert environment["DEBUG"] == "false"
    assert "@postgres:5432/" in SERVICES["migrate"]["environment"]["DATABASE_URL"]
    assert SERVICES["migrate"]["environment"]["DATABASE_TRANSACTION_POOLING"] == "false"


def test_compose_passes_only_variables_the_settings_read_and_env_example_lists_its_own():
    read = settings_variables()
    for name in APP_SERVICES:
        unknown = set(SERVICES[name]["environment"]) - read
        assert unknown == set(), f"{name} sets variables no setting reads: {unknown}"
    used = set(re.findall(r"\$\{([A-Z0-9_]+)", (DEPLOY / "compose.yaml").read_text()))
    assert used - set(example_values()) == set()


def test_the_compose_web_environment_loads_the_settings_and_passes_the_deploy_checks():
    values = example_values()
    environment = {
        name: interpolate(value, values) for name, value in SERVICES["web"]["environment"].items()
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", **environment},
        capture_output=True,
        text=True,
    )

    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_the_dockerfile_runs_modules_that_exist_as_a_user_with_the_pdf_libraries():
    base_images = re.findall(r"^FROM (\S+)$", DOCKERFILE, flags=re.MULTILINE)
    assert base_images == ["python:3.11-slim-bookworm"]
    for package in ("libpango-1.0-0", "libpangoft2-1.0-0", "libharfbuzz-subset0"):
        assert package in DOCKERFILE
    assert "manage.py collectstatic --no-input" in DOCKERFILE
    users = re.findall(r"^USER (\S+)$", DOCKERFILE, flags=re.MULTILINE)
    assert users == ["pharmacy"]
    command = json.loads(re.search(r"^CMD (\[.*\])$", DOCKERFILE, flags=re.MULTILINE).group(1))
    assert command[:2] == ["gunicorn", "pharmacy.wsgi"]
    assert importlib.util.find_spec("pharmacy.wsgi") is not None
    for name in ("worker", "beat"):
        assert SERVICES[name]["command"][:3] == ["celery", "-A", "pharmacy"]
    assert importlib.util.find_spec("pharmacy.celery") is not None
    requirements = (ROOT / "requirements.txt").read_text()
    assert re.search(r"^gunicorn==", requirements, flags=re.MULTILINE)
    assert re.search(r"^celery==", requirements, flags=re.MULTILINE)


def healthcheck(check: str, **environment: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(DEPLOY / "healthcheck.py"), check],
        cwd=ROOT,
        env=process_environment(**environment),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.worker
def test_the_worker_health_check_follows_this_hosts_worker(start_celery_worker):
    worker = start_celery_worker()
    alive = healthcheck("worker")
    worker.terminate()
    worker.wait(timeout=30)
    stopped = healthcheck("worker")

    assert (alive.returncode, alive.stdout) == (0, "")
    assert stopped.returncode == 1
    assert "has beaten lately" in stopped.stdout


@pytest.mark.worker
def test_the_web_health_check_asks_health_as_the_proxy_would(transactional_db, tmp_path):
    port = free_port()
    web = start_gunicorn(
        port, process_environment(), workers=1, threads=2, log=tmp_path / "web.log"
    )
    try:
        wait_for_health(port, timeout=60)
        healthy = healthcheck("web", PORT=str(port), ALLOWED_HOSTS="127.0.0.1")
    finally:
        stop_process(web)
    gone = healthcheck("web", PORT=str(port), ALLOWED_HOSTS="127.0.0.1")

    assert (healthy.returncode, healthy.stdout) == (0, "")
    assert gone.returncode == 1
    assert "/health/ did not answer" in gone.stdout
