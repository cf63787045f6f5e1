"""Stopping and restarting the shared PostgreSQL and Redis, and always bringing them back.

Both services may be shared with other work on the machine (a load benchmark, CI), so
while either is down or restarting the lock file `/tmp/pharmacy-faults.lock` exists;
it holds this process's pid and what it is doing, and it goes once the service answers
again. Every function here restarts what it stopped, in a `finally`, before it lets go
of the lock.

The commands are the machine's own (see FACTS.md): `redis-server --daemonize yes ...`
and `redis-cli shutdown nosave` for Redis, `pg_ctlcluster` for PostgreSQL.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

LOCK_PATH = Path("/tmp/pharmacy-faults.lock")  # noqa: S108 (the path everyone agreed on)
LOCK_WAIT = 120.0  # another run's outage lasts seconds; wait rather than overlap it
READY_TIMEOUT = 60.0
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
POSTGRESQL_CONFIG = Path("/etc/postgresql")
TOOLS = ("redis-server", "redis-cli", "pg_ctlcluster", "pg_isready")


class ServiceError(RuntimeError):
    """A service did not stop or come back in time."""


# What may be stopped ---------------------------------------------------------------


def _redis_address() -> tuple[str, int]:
    url = urlsplit(os.environ.get("REDIS_URL", ""))
    return url.hostname or "127.0.0.1", url.port or 6379


def _postgres_address() -> tuple[str, int]:
    from django.db import connection

    db = connection.settings_dict
    return db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432)


def _cluster() -> tuple[str, str]:
    """(version, name) of the one local PostgreSQL cluster, e.g. ("15", "main")."""
    versions = sorted(p.name for p in POSTGRESQL_CONFIG.iterdir() if p.is_dir())
    if len(versions) != 1:
        raise ServiceError(f"expected one PostgreSQL version in {POSTGRESQL_CONFIG}: {versions}")
    return versions[0], "main"


def cannot_stop_services() -> str | None:
    """Why this machine's PostgreSQL and Redis cannot be stopped from here, or None."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        return f"needs {', '.join(missing)} to stop and restart the services"
    if _redis_address()[0] not in LOCAL_HOSTS or _postgres_address()[0] not in LOCAL_HOSTS:
        return "needs PostgreSQL and Redis on this machine, to stop and restart them"
    try:
        _cluster()
    except (OSError, ServiceError) as exc:
        return f"needs a local PostgreSQL cluster managed by pg_ctlcluster ({exc})"
    return None


# The lock --------------------------------------------------------------------------


def _holder_alive(text: str) -> bool:
    try:
        pid = int(text.split()[0])
    except (IndexError, ValueError):
        return True  # not ours to judge: someone wrote it by hand
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def fault_lock(doing: str) -> Iterator[None]:
    """Hold `/tmp/pharmacy-faults.lock` while a service is down; wait if someone else does.

    A lock left by a process that no longer exists (a run killed mid-outage) is taken
    over; the services are then checked by the caller, which restarts what is down.
    """
    deadline = time.monotonic() + LOCK_WAIT
    content = f"{os.getpid()} pharmacy tests/reliability: {doing}\n"
    while True:
        try:
            fd = os.open(LOCK_PATH, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                held = LOCK_PATH.read_text()
            except FileNotFoundError:
                continue
            if not _holder_alive(held):
                LOCK_PATH.unlink(missing_ok=True)
                continue
            if time.monotonic() > deadline:
                raise ServiceError(
                    f"{LOCK_PATH} held for over {LOCK_WAIT:g} s by: {held.strip()}"
                ) from None
            time.sleep(0.2)
            continue
        with os.fdopen(fd, "w") as lock:
            lock.write(content)
        break
    try:
        yield
    finally:
        try:
            if LOCK_PATH.read_text() == content:
                LOCK_PATH.unlink()
        except FileNotFoundError:
            pass


# Probes ----------------------------------------------------------------------------


def redis_up() -> bool:
    host, port = _redis_address()
    try:
        result = subprocess.run(
            ["redis-cli", "-h", host, "-p", str(port), "ping"],
            capture_output=True,
            text=True,
            timeout=5,
        )
    except subprocess.TimeoutExpired:
        return False
    return result.stdout.strip() == "PONG"


def postgres_up() -> bool:
    host, port = _postgres_address()
    try:
        result = subprocess.run(
            ["pg_isready", "-q", "-h", host, "-p", str(port)], capture_output=True, timeout=5
        )
    except subprocess.TimeoutExpired:
        return False
    return result.returncode == 0


def _wait(check, expected: bool, what: str, timeout: float = READY_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while check() != expected:
        if time.monotonic() > deadline:
            raise ServiceError(f"{what} after {timeout:g} s")
        time.sleep(0.1)


# Redis -----------------------------------------------------------------------------


def start_redis() -> None:
    """Start Redis as the machine does, unless it is answering already; wait for it."""
    if redis_up():
        return
    host, port = _redis_address()
    subprocess.run(
        [
            "redis-server",
            "--daemonize",
            "yes",
            "--bind",
            host,
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        cwd=tempfile.gettempdir(),  # it writes nothing there: no snapshots, no AOF
        check=True,
        capture_output=True,
        timeout=30,
    )
    _wait(redis_up, True, "Redis not answering")


def stop_redis() -> None:
    """Shut Redis down without saving; hold `fault_lock` around this and `start_redis`."""
    host, port = _redis_address()
    # Exits non-zero when the server closes the connection as asked; the probe decides.
    subprocess.run(
        ["redis-cli", "-h", host, "-p", str(port), "shutdown", "nosave"],
        capture_output=True,
        timeout=30,
    )
    _wait(redis_up, False, "Redis still answering")


@contextmanager
def redis_stopped() -> Iterator[None]:
    """Redis down for the block (every database of the server: it keeps nothing), then up."""
    with fault_lock("Redis stopped"):
        try:
            stop_redis()
            yield
        finally:
            start_redis()


# PostgreSQL ------------------------------------------------------------------------


def _pg_ctlcluster(action: str, *options: str) -> subprocess.CompletedProcess:
    version, name = _cluster()
    return subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, name, action, *options],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _start_postgres() -> None:
    if not postgres_up():
        _pg_ctlcluster("start")
    _wait(postgres_up, True, "PostgreSQL not accepting connections")


def restart_postgres() -> float:
    """`pg_ctlcluster ... restart -m fast`: every connection is cut; returns the seconds taken.

    Fast mode rolls back open transactions and ends every session at once, as a
    failover or an operator's restart does.
    """
    with fault_lock("PostgreSQL restarting"):
        started = time.monotonic()
        try:
            result = _pg_ctlcluster("restart", "-m", "fast")
            if result.returncode != 0:
                raise ServiceError(f"pg_ctlcluster restart failed: {result.stderr.strip()}")
        finally:
            _start_postgres()
        return time.monotonic() - started


def ensure_services_up() -> None:
    """Start whichever of Redis and PostgreSQL is down (after a crash mid-outage)."""
    if redis_up() and postgres_up():
        return
    with fault_lock("restarting a service found down"):
        start_redis()
        _start_postgres()
