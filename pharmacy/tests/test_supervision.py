"""`make run`'s processes under supervisord, as real processes on the test database and the
tests' Redis: a worker or beat killed outright is started again on its own within
seconds, the web server is untouched, and /health/ shows the worker down meanwhile."""

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from pharmacy import devservices
from pharmacy.celery import app
from pharmacy.tests.servers import (
    BIN,
    ROOT,
    free_port,
    process_environment,
    request,
    wait_for_health,
)

pytestmark = pytest.mark.worker

LOG = ROOT / "test-artifacts" / "supervised.log"


@dataclass
class Supervised:
    process: subprocess.Popen
    config: Path
    port: int

    def ctl(self, *args: str) -> str:
        return subprocess.run(
            [str(BIN / "supervisorctl"), "-c", str(self.config), *args],
            capture_output=True,
            text=True,
        ).stdout.strip()

    def pid(self, program: str) -> int:
        """The program's pid, 0 while it is not running."""
        return int(self.ctl("pid", program) or 0)

    def running_pid(self, program: str) -> int:
        """The pid of supervisord's child that runs ``program`` (``pid`` without starting
        supervisorctl: fast enough to poll); 0 when there is none."""
        for child in psutil.Process(self.process.pid).children():
            try:
                command = child.cmdline()
            except psutil.NoSuchProcess:
                continue
            if program in command or (program == "web" and "pharmacy.wsgi" in command):
                return child.pid
        return 0

    def state(self, program: str) -> str:
        return self.ctl("status", program).split()[1]


@pytest.fixture
def supervised(transactional_db, tmp_path):
    """web, worker and beat as `make run` starts them (one web and one worker process
    each, to spare the machine). The worker beats every 0.2 s, so it is counted dead
    0.6 s after it was killed, sooner than a new one can start (Django and Celery take a
    second to load); /health/ runs its checks again at every request."""
    port = free_port()
    config = devservices.write_supervisor_config(
        tmp_path / "supervisor",
        port=str(port),
        beat_schedule=tmp_path / "celerybeat-schedule",
        web_workers=1,
        worker_concurrency=1,
    )
    LOG.parent.mkdir(exist_ok=True)
    process = subprocess.Popen(
        [str(BIN / "supervisord"), "-n", "-c", str(config)],
        env=process_environment(WORKER_HEARTBEAT_SECONDS="0.2", HEALTH_CACHE_SECONDS="0"),
        stdout=LOG.open("ab"),
        stderr=subprocess.STDOUT,
        process_group=0,
    )
    running = Supervised(process=process, config=config, port=port)
    try:
        wait_for_health(port, worker="ok", timeout=90)
        yield running
    finally:
        process.terminate()  # supervisord stops its programs, then itself
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        app.control.purge()  # what beat queued must not reach another test's worker


def watch(
    supervised: Supervised, program: str, old_pid: int, *, until_worker_down: bool, timeout: float
) -> dict:
    """Poll /health/ and the program's pid until a new process of it runs and /health/
    says the worker is ok (with ``until_worker_down``, ok again after it said down);
    returns what was seen, and when (seconds since the call)."""
    started = time.monotonic()
    seen = {"worker states": [], "restarted after": None, "web answered": True}
    while time.monotonic() - started < timeout:
        try:
            worker = request(supervised.port, "GET", "/health/", timeout=5).json()["worker"]
        except OSError:
            seen["web answered"] = False
            worker = "no answer"
        if not seen["worker states"] or seen["worker states"][-1][1] != worker:
            seen["worker states"].append((round(time.monotonic() - started, 1), worker))
        new_pid = supervised.running_pid(program)
        if seen["restarted after"] is None and new_pid not in (0, old_pid):
            seen["restarted after"] = round(time.monotonic() - started, 1)
            seen["new pid"] = new_pid
        states = [state for _, state in seen["worker states"]]
        if seen["restarted after"] is not None and worker == "ok":
            if not until_worker_down or "down" in states:
                return seen
        time.sleep(0.05)
    pytest.fail(f"{program} was not back within {timeout} s: {seen}")


def test_a_killed_worker_or_beat_is_restarted_alone_and_health_shows_the_worker_down(
    supervised,
):
    web_pid, worker_pid = supervised.pid("web"), supervised.pid("worker")
    pool = psutil.Process(worker_pid).children()

    os.kill(worker_pid, signal.SIGKILL)
    seen = watch(supervised, "worker", worker_pid, until_worker_down=True, timeout=30)

    print(f"worker killed: {seen}")
    # Down once its last heartbeat ran out, ok again once the new worker began beating.
    assert [state for _, state in seen["worker states"]] == ["ok", "down", "ok"]
    assert seen["restarted after"] < 5
    # A new worker consumes once Django and the tasks are loaded: 3-10 s on a busy
    # two-core machine.
    assert seen["worker states"][-1][0] < 30
    assert seen["web answered"] is True
    assert supervised.pid("web") == web_pid
    # The dead worker's pool processes went with it.
    psutil.wait_procs(pool, timeout=10)
    assert [child.pid for child in pool if child.is_running()] == []

    worker_pid, beat_pid = seen["new pid"], supervised.pid("beat")
    os.kill(beat_pid, signal.SIGKILL)
    seen = watch(supervised, "beat", beat_pid, until_worker_down=False, timeout=20)

    print(f"beat killed: {seen}")
    assert seen["restarted after"] < 5
    assert seen["web answered"] is True
    # It stays up (supervisord counts it started after 3 s), beside the same web and worker.
    time.sleep(3.5)
    assert supervised.state("beat") == "RUNNING"
    assert supervised.pid("beat") == seen["new pid"]
    assert (supervised.pid("web"), supervised.pid("worker")) == (web_pid, worker_pid)
