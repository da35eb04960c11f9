"""CPU milliseconds per `GET /health/` under a loopback load, with the production web server.

Starts gunicorn (2 workers, DEBUG off) and one Celery worker against the running
PostgreSQL and Redis, sends a fixed number of requests from client threads on
loopback, and divides the CPU time the server processes used by the requests served.
This is the baseline later benchmarks compare with. Run through `make bench`.
"""

import http.client
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
REQUESTS = int(os.environ.get("BENCH_HEALTH_REQUESTS", "3000"))
CLIENTS = int(os.environ.get("BENCH_HEALTH_CLIENTS", "4"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_seconds(process: psutil.Process) -> float:
    total = 0.0
    for proc in [process, *process.children(recursive=True)]:
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def get_health(port: int) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/health/")
    response = conn.getresponse()
    return response.status, response.read()


def client_loop(port: int, count: int, statuses: list) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    for _ in range(count):
        conn.request("GET", "/health/")
        response = conn.getresponse()
        response.read()
        statuses.append(response.status)
    conn.close()


def main() -> None:
    port = free_port()
    env = {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": "bench-" + "x" * 60,
        "LOCAL_CARRIER_WEBHOOK_SECRET": "bench-" + "w" * 40,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "LOG_LEVEL": "WARNING",
    }
    web = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "pharmacy.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--threads",
            "4",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    worker = subprocess.Popen(
        [
            str(BIN / "celery"),
            "-A",
            "pharmacy",
            "worker",
            "--pool",
            "solo",
            "--loglevel",
            "WARNING",
            "--hostname",
            f"bench-{port}@%h",
            "--without-mingle",
            "--without-gossip",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status, body = get_health(port)
                if status == 200 and b'"worker": "ok"' in body:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("health bench: the server or worker did not come up in 60 s")
            time.sleep(0.3)
        web_process, worker_process = psutil.Process(web.pid), psutil.Process(worker.pid)
        # Warm up every gunicorn worker thread and connection before measuring.
        client_loop(port, 100, [])
        web_before, worker_before = cpu_seconds(web_process), cpu_seconds(worker_process)
        statuses: list[int] = []
        threads = [
            threading.Thread(target=client_loop, args=(port, REQUESTS // CLIENTS, statuses))
            for _ in range(CLIENTS)
        ]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        web_cpu = cpu_seconds(web_process) - web_before
        worker_cpu = cpu_seconds(worker_process) - worker_before
        served = len(statuses)
        ok = statuses.count(200)
        print(
            f"/health/: {served} requests from {CLIENTS} loopback clients, {ok} answered 200, "
            f"{served / elapsed:.0f} requests/s; web CPU {web_cpu * 1000 / served:.2f} ms/request, "
            f"Celery worker CPU (ping replies) {worker_cpu * 1000 / served:.2f} ms/request"
        )
    finally:
        for process in (web, worker):
            process.terminate()
        for process in (web, worker):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


if __name__ == "__main__":
    main()
