"""The whole application on real processes, started by a test for itself: web servers
(gunicorn, as in production), Celery workers, beat, and a Redis of its own that the test
may stop, restart or freeze; the database is the test database, directly or through a
PgBouncer. What the many-hosts and chaos tests run and break."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from pharmacy.tests.servers import (
    ROOT,
    RedisServer,
    free_port,
    process_environment,
    start_gunicorn,
    start_redis,
    stop_process,
    wait_for_health,
)

ARTIFACTS = ROOT / "test-artifacts"


@dataclass
class Stack:
    """What ``start_stack`` started; ``stop`` ends it all."""

    directory: Path
    env: dict[str, str]
    redis: RedisServer | None = None
    web: list[tuple[int, subprocess.Popen]] = field(default_factory=list)
    workers: list[subprocess.Popen] = field(default_factory=list)
    beat: subprocess.Popen | None = None

    @property
    def ports(self) -> list[int]:
        return [port for port, _ in self.web]

    def add_worker(self) -> subprocess.Popen:
        """Start one more worker (``--pool solo``: the process that delivers is the one a
        kill stops) without waiting for it, as a supervisor restarts one: it takes work
        once it is up, however long a busy machine makes that."""
        log = ARTIFACTS / "stack-workers.log"
        worker = subprocess.Popen(
            [
                *_celery("worker"),
                "--pool",
                "solo",
                "--hostname",
                f"stack-{len(self.workers) + 1}@%h",
                "--without-mingle",
                "--without-gossip",
            ],
            cwd=ROOT,
            env=process_environment(**self.env),
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        self.workers.append(worker)
        return worker

    def stop_redis(self) -> None:
        """Redis goes away: connections refused, what it held (queued tasks) lost."""
        self.redis.stop()

    def start_redis_again(self) -> None:
        self.redis = start_redis(self.directory / "redis")

    def stop(self) -> None:
        for process in [*(p for _, p in self.web), *self.workers, self.beat]:
            if process is not None:
                stop_process(process)
        if self.redis is not None:
            self.redis.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


def _celery(command: str) -> list[str]:
    return [str(Path(sys.executable).parent / "celery"), "-A", "pharmacy", command, "-l", "INFO"]


def _start_beat(directory: Path, env: dict[str, str]) -> subprocess.Popen:
    """Celery beat as the deployment runs it (one per installation)."""
    log = ARTIFACTS / "stack-beat.log"
    return subprocess.Popen(
        [
            *_celery("beat"),
            "--schedule",
            str(directory / "celerybeat-schedule"),
        ],
        cwd=ROOT,
        env=process_environment(**env),
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def start_stack(
    *,
    web_servers: int = 1,
    workers: int = 1,
    database_url: str | None = None,
    **settings: str,
) -> Stack:
    """Start Redis, ``web_servers`` gunicorns (2 processes x 4 threads each), ``workers``
    workers and beat, all on one Redis of the test's own; ``database_url`` (PgBouncer's,
    in transaction pooling) instead of the test database's own server when given.
    ``settings`` go to every process's environment. Beat sweeps the outbox every two
    seconds, so what a broker outage kept back goes out soon after it."""
    ARTIFACTS.mkdir(exist_ok=True)
    directory = stack_directory()
    redis = start_redis(directory / "redis")
    env = {
        "REDIS_URL": redis.url(),
        "OUTBOX_SWEEP_SECONDS": "2",
        "EMAIL_URL": f"file:{directory / 'mail'}",
        **settings,
    }
    if database_url:
        env |= {"DATABASE_URL": database_url, "DATABASE_TRANSACTION_POOLING": "true"}
    stack = Stack(directory=directory, env=env, redis=redis)
    try:
        for number in range(web_servers):
            port = free_port()
            log = ARTIFACTS / f"stack-web-{number + 1}.log"
            stack.web.append(
                (
                    port,
                    start_gunicorn(port, process_environment(**env), workers=2, threads=4, log=log),
                )
            )
        for _ in range(workers):
            stack.add_worker()
        stack.beat = _start_beat(directory, env)
        # Each web server up, and a worker's heartbeat seen: the stack takes work.
        for port in stack.ports:
            wait_for_health(port, worker="ok", timeout=120)
    except BaseException:
        stack.stop()
        raise
    return stack


def stack_directory() -> Path:
    """A new directory for a stack's Redis, mail and beat schedule. Not pytest's
    ``tmp_path``: pytest deletes all but the last three sessions' temporary directories, so
    another test session started meanwhile would delete the running Redis's socket."""
    return Path(tempfile.mkdtemp(prefix="pharmacy-stack-"))


def wait_until(what: str, check, *, timeout: float = 120, every: float = 0.2):
    """``check()``'s first true answer; AssertionError naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not after {timeout} s (see {ARTIFACTS})")
        time.sleep(every)
