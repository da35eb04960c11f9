"""Container health checks (compose.yaml): exit 0 when healthy, 1 with the reason if not.

    python deploy/healthcheck.py web      # this container's gunicorn answers /health/ 200
    python deploy/healthcheck.py worker   # this container's Celery worker is consuming

The web check calls /health/ as the proxy would: with a host name the settings allow and
the proxy's HTTPS header (else it is refused, or redirected to HTTPS). 200 means the
database and the broker answer; a worker that is down does not make the web unhealthy
(restarting the web server would not help it).

The worker check reads this host's worker heartbeat (pharmacy.celery.WorkerHeartbeat):
a worker whose consumer stopped beating is unhealthy even though its process runs.
"""

import os
import socket
import sys
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def check_web() -> str | None:
    port = os.environ.get("PORT", "8000")
    hosts = [host for host in os.environ.get("ALLOWED_HOSTS", "").split(",") if host.strip()]
    host = hosts[0].strip().lstrip(".") if hosts and hosts[0].strip() != "*" else "localhost"
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/health/",
        headers={"Host": host, "X-Forwarded-Proto": "https"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return None if response.status == 200 else f"/health/ answered {response.status}"
    except urllib.error.HTTPError as error:
        return f"/health/ answered {error.code}: {error.read()[:200]!r}"
    except OSError as error:
        return f"/health/ did not answer: {error}"


def check_worker() -> str | None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pharmacy.settings")
    import django  # noqa: PLC0415 (only this check needs Django)

    django.setup()
    from django.conf import settings  # noqa: PLC0415

    from pharmacy.celery import live_worker_names  # noqa: PLC0415

    host = socket.gethostname()
    try:
        names = live_worker_names(settings.REDIS_URL)
    except Exception as error:  # a health check reports, it does not crash
        return f"Redis did not answer: {error}"
    if any(name.endswith(f"@{host}") for name in names):
        return None
    return f"no worker on {host} has beaten lately (live: {', '.join(names) or 'none'})"


def main(argv: list[str]) -> int:
    checks = {"web": check_web, "worker": check_worker}
    if len(argv) != 1 or argv[0] not in checks:
        print(__doc__)
        return 2
    problem = checks[argv[0]]()
    if problem:
        print(problem)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
