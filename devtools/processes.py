"""Real processes for integration tests, the browser suite and benchmarks.

A payment is confirmed by a Celery worker, in another process, reading the task
from Redis and the order from PostgreSQL; in-process eager tasks cannot show that
the rows were committed first, that a task survives serialisation, or that
fifty concurrent webhooks end in one payment. These helpers start the production
commands as subprocesses, wait until each is really serving, keep each one's
output in a log file (`.log_path`, `.tail()` for failure messages) and stop each
by its own pid.

    with celery_worker(site_env()) as worker, gunicorn_server(site_env()) as site:
        ...  # site.url; worker.wait_idle() before asserting on counts

`site_env(**overrides)` is the environment that makes those processes use the
same database and Redis as the calling test (or benchmark) process, whose Django
settings are read when it is called:

- `DATABASE_URL`: built from `django.db.connection.settings_dict` (NAME, USER,
  PASSWORD, HOST, PORT). Inside a test with `transactional_db` or `live_server`
  that is pytest-django's test database (e.g. `test_pharmacy_ci`); rows the test
  commits are visible to the processes. PostgreSQL only: a worker cannot share an
  in-memory SQLite test database (see `missing_services()`).
- `REDIS_URL`: from the environment, unchanged, database number included, so the
  test enqueues into the very queue the worker consumes.
- `DEBUG` and `TEST_ONLY_DEVTOOLS`: removed, so the processes run with production settings.
- `SECRET_KEY`, `ALLOWED_HOSTS`, `HTTPS` (`on`/`off`), `STRIPE_SECRET_KEY`,
  `STRIPE_WEBHOOK_SECRET`, `PRIVATE_MEDIA_ROOT`, `STATIC_ROOT`: from the current
  `django.conf.settings`, so signatures, tracking numbers (an HMAC of the
  secret key), uploaded documents and the static manifest agree across processes.
- `CELERY_TASK_ALWAYS_EAGER=0`: tasks go to the broker even where the caller's
  environment says otherwise.
- `EMAIL_URL=consolemail://`: emails are written to the process's log, where a
  test can count them.
- `STRIPE_API_BASE` and `TEST_ONLY_ALLOW_STRIPE_STANDIN`: both removed unless a
  stand-in is given as `STRIPE_API_BASE=<url>`; then the switch is set to 1, the
  only way a DEBUG-off site accepts the stand-in.
- `SITE_URL`: as given (links in emails, Stripe's return URLs); otherwise inherited.

Any other keyword overrides a variable; `None` removes it.

The worker consumes the site's queues (`QUEUES`) on the Redis database of
`REDIS_URL`; those queues, and any messages a killed worker left unacknowledged there, are purged
before it starts, so tasks from an earlier run never leak into this one. `purge=False`
keeps them, for a worker that is to take over what a killed one left unacknowledged.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
# The queues the site's tasks go to (CELERY_TASK_ROUTES in settings), most urgent first:
# a worker started with `-Q payments,celery` takes payment confirmations before
# dispatches and emails.
QUEUES = ("payments", "celery")
# Inherited variables that would change what the processes are, not where they connect.
NOT_INHERITED = (
    "DEBUG",
    "STRIPE_API_BASE",
    "TEST_ONLY_ALLOW_STRIPE_STANDIN",
    "TEST_ONLY_DEVTOOLS",  # the suite's switch: the site's processes run without devtools
    "DJANGO_ALLOW_ASYNC_UNSAFE",  # set for the browser tests' own process, never the site
)

T = TypeVar("T")
_http = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class ProcessError(RuntimeError):
    """A process did not start, or did not become ready; the message ends with its log."""


def free_port() -> int:
    """A TCP port free right now on 127.0.0.1 (another process could take it, rarely)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(
    predicate: Callable[[], T],
    *,
    timeout: float = 20.0,
    interval: float = 0.05,
    message: str = "condition",
    process: ServiceProcess | None = None,
) -> T:
    """Poll until `predicate()` is truthy and return it; time out with `process`'s log."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            log = f"\n{process.tail()}" if process else ""
            raise TimeoutError(f"Timed out after {timeout:g} s waiting for {message}.{log}")
        time.sleep(interval)


class ServiceProcess:
    """One subprocess with its output in a log file, stopped by its own pid.

    It leads a new session, so a SIGKILL after a stuck shutdown reaches its own
    children (Celery's pool, gunicorn's workers) and nothing else.
    """

    def __init__(
        self,
        name: str,
        args: Sequence[str],
        *,
        env: dict[str, str],
        log_path: Path,
        cwd: Path = ROOT,
    ) -> None:
        self.name = name
        self.cwd = cwd
        self.args = list(args)
        self.env = env
        self.log_path = log_path
        self.url: str | None = None
        self.popen: subprocess.Popen | None = None

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    def start(self) -> ServiceProcess:
        with open(self.log_path, "ab") as log:
            self.popen = subprocess.Popen(
                self.args,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def is_running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def tail(self, lines: int = 60) -> str:
        text = "\n".join(self.log_text().splitlines()[-lines:])
        return f"--- last {lines} lines of {self.name} log ({self.log_path}) ---\n{text}"

    def wait_ready(self, check: Callable[[], bool], *, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if not self.is_running():
                code = self.popen.returncode if self.popen else None
                raise ProcessError(f"{self.name} exited with status {code}.\n{self.tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise ProcessError(f"{self.name} not ready after {timeout:g} s.\n{self.tail()}")
            time.sleep(0.1)

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM (a warm shutdown: running tasks finish), then SIGKILL its group."""
        if not self.is_running():
            return
        assert self.popen is not None
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)  # the group it leads: only its own
            self.popen.wait(10)

    def http_ok(self, path: str = "/") -> bool:
        try:
            with _http.open(f"{self.url}{path}", timeout=1) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False


class CeleryWorker(ServiceProcess):
    """A worker on the site's queues; `wait_idle()` before asserting on what tasks did."""

    def __init__(self, *args, broker_url: str, nodename: str, pidfile: Path, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.broker_url = broker_url
        self.nodename = nodename
        self.pidfile = pidfile

    def is_ready(self) -> bool:
        prefix = re.escape(self.nodename.split("@")[0])
        return re.search(rf"{prefix}@\S+ ready\.", self.log_text()) is not None

    def wait_idle(self, timeout: float = 20.0) -> None:
        """Wait until nothing is queued or in flight, twice in a row.

        With acks_late a message stays in Redis's `unacked` hash until its task
        returns, and a task's follow-ups are published before that, so an empty
        queue and an empty hash mean the chain of tasks has finished. Tests call
        this before the database is flushed under the worker, and before counting.
        """
        with _broker_channel(self.broker_url) as channel:
            client = channel.client

            def idle() -> bool:
                queued = any(channel._size(queue) for queue in QUEUES)
                return not queued and not client.hlen(channel.unacked_key)

            def idle_twice() -> bool:
                if not idle():
                    return False
                time.sleep(0.05)
                return idle()

            wait_for(idle_twice, timeout=timeout, message="the worker to be idle", process=self)


@contextmanager
def _broker_channel(url: str):
    from kombu import Connection

    with Connection(url) as connection:
        yield connection.default_channel


def purge_broker(url: str) -> None:
    """Drop the site's queues and what an earlier, killed worker left unacknowledged.

    Kombu restores unacknowledged messages to the queue when a worker starts, so
    the `unacked` hash has to go too, or an earlier run's tasks would run here.
    """
    with _broker_channel(url) as channel:
        for queue in QUEUES:
            channel.queue_purge(queue)
        channel.client.delete(
            channel.unacked_key, channel.unacked_index_key, channel.unacked_mutex_key
        )


@contextmanager
def _log_dir(log_dir: Path | None, prefix: str) -> Iterator[Path]:
    """The given folder, or a temporary one removed on success and kept (for its logs) on error."""
    if log_dir is not None:
        yield Path(log_dir)
        return
    path = Path(tempfile.mkdtemp(prefix=f"pharmacy-{prefix}-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@contextmanager
def _running(process: ServiceProcess, check: Callable[[], bool], timeout: float):
    process.start()
    try:
        process.wait_ready(check, timeout=timeout)
        yield process
    finally:
        process.stop()


@contextmanager
def celery_worker(
    env: dict[str, str],
    *,
    concurrency: int = 2,
    extra_args: Sequence[str] = (),
    log_dir: Path | None = None,
    timeout: float = 30.0,
    purge: bool = True,
    code: Path = ROOT,
) -> Iterator[CeleryWorker]:
    """A prefork worker of the `pharmacy` app, ready to consume when this yields.

    `purge=False` leaves the queues and the unacknowledged messages in place, so that
    this worker redelivers what a killed worker was running (after the visibility
    timeout); by default they are dropped first. `code` is the checkout whose `pharmacy`
    it runs (a benchmark compares another commit's worker on the same data).
    """
    broker_url = env.get("REDIS_URL")
    if not broker_url:
        raise ValueError("A worker needs REDIS_URL in its environment (the broker).")
    if env.get("CELERY_TASK_ALWAYS_EAGER", "0").lower() not in ("0", "off", "false", "no"):
        raise ValueError("CELERY_TASK_ALWAYS_EAGER is on: nothing would reach the worker.")
    if purge:
        purge_broker(broker_url)
    nodename = f"test-{secrets.token_hex(4)}@%h"
    with _log_dir(log_dir, "worker") as folder:
        pidfile = folder / f"{nodename.split('@')[0]}.pid"
        args = [
            PYTHON,
            "-m",
            "celery",
            "-A",
            "pharmacy",
            "worker",
            "--pool=prefork",
            f"--concurrency={concurrency}",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-Q",
            ",".join(QUEUES),
            "-n",
            nodename,
            f"--pidfile={pidfile}",
            *extra_args,
        ]
        worker = CeleryWorker(
            "celery worker",
            args,
            env=env,
            log_path=folder / f"{nodename.split('@')[0]}.log",
            broker_url=broker_url,
            nodename=nodename,
            pidfile=pidfile,
            cwd=Path(code),
        )
        with _running(worker, worker.is_ready, timeout):
            yield worker


def set_cpu_priority(process: ServiceProcess, nice: int) -> None:
    """Give the process and its children (its session: it was started in one of its own)
    the CPU weight of `nice` against other services, as deploy/systemd/'s CPUWeight=
    does for a unit. Linux with autogroups (the default) shares the CPU fairly between
    sessions whatever each process's own nice value, so the session's group is set
    (/proc/<pid>/autogroup); the process group's nice value too, for a kernel without
    them. Raising a priority (a negative value) needs root."""
    with contextlib.suppress(OSError):  # not Linux, or no autogroups
        Path(f"/proc/{process.pid}/autogroup").write_text(str(nice))
    try:
        os.setpriority(os.PRIO_PGRP, process.pid, nice)
    except PermissionError as exc:
        raise ProcessError(f"{process.name}: nice {nice} needs root ({exc}).") from exc


@contextmanager
def gunicorn_server(
    env: dict[str, str],
    *,
    workers: int = 2,
    threads: int = 4,
    port: int | None = None,
    log_dir: Path | None = None,
    timeout: float = 30.0,
    nice: int = 0,
) -> Iterator[ServiceProcess]:
    """The WSGI app under gunicorn's gthread workers, answering /healthz when this yields;
    `nice` sets its CPU priority against the other processes (`set_cpu_priority`)."""
    port = port or free_port()
    args = [
        PYTHON,
        "-m",
        "gunicorn",
        "pharmacy.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--worker-class",
        "gthread",
        "--graceful-timeout",
        "10",
    ]
    with _log_dir(log_dir, "gunicorn") as folder:
        server = ServiceProcess("gunicorn", args, env=env, log_path=folder / "gunicorn.log")
        server.url = f"http://127.0.0.1:{port}"
        with _running(server, lambda: server.http_ok("/healthz"), timeout):
            if nice:
                set_cpu_priority(server, nice)
            yield server


@contextmanager
def stripe_standin_process(
    *,
    webhook_url: str,
    webhook_secret: str,
    port: int | None = None,
    env: dict[str, str] | None = None,
    log_dir: Path | None = None,
    timeout: float = 15.0,
) -> Iterator[ServiceProcess]:
    """The local Stripe in its own process, delivering signed webhooks to `webhook_url`."""
    port = port or free_port()
    args = [PYTHON, "-m", "devtools.stripe_standin", "--port", str(port)]
    args += ["--webhook-url", webhook_url, "--webhook-secret", webhook_secret]
    with _log_dir(log_dir, "standin") as folder:
        standin = ServiceProcess(
            "Stripe stand-in",
            args,
            env=dict(os.environ if env is None else env),
            log_path=folder / "stripe-standin.log",
        )
        standin.url = f"http://127.0.0.1:{port}"
        with _running(standin, standin.http_ok, timeout):
            yield standin


def missing_services() -> str | None:
    """Why worker and server processes cannot share this test's data, or None if they can."""
    from django.db import connection

    if not os.environ.get("REDIS_URL"):
        return "needs REDIS_URL: the worker takes its tasks from the test's Redis"
    if connection.vendor != "postgresql":
        return (
            f"needs PostgreSQL (DATABASE_URL), not {connection.vendor}: "
            "other processes cannot see an in-memory test database"
        )
    return None


def database_url() -> str:
    """The URL of the database the current Django connection uses (the test one in tests)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        raise ValueError(
            f"Only PostgreSQL can be shared with other processes, not {connection.vendor}."
        )
    db = connection.settings_dict
    auth = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        auth += ":" + quote(db["PASSWORD"], safe="")
    host = quote(db["HOST"] or "", safe="")
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{auth}@{host}{port}/{quote(db['NAME'], safe='')}"


def site_env(**overrides: str | None) -> dict[str, str]:
    """The environment of the site's processes for this test; see the module docstring."""
    from django.conf import settings

    env = {
        key: value
        for key, value in os.environ.items()
        if key not in NOT_INHERITED and not key.startswith("PYTEST_")
    }
    env.update(
        DATABASE_URL=database_url(),
        SECRET_KEY=settings.SECRET_KEY,
        ALLOWED_HOSTS=",".join(settings.ALLOWED_HOSTS),
        HTTPS="on" if settings.HTTPS else "off",
        STRIPE_SECRET_KEY=settings.STRIPE_SECRET_KEY,
        STRIPE_WEBHOOK_SECRET=settings.STRIPE_WEBHOOK_SECRET,
        PRIVATE_MEDIA_ROOT=str(settings.PRIVATE_MEDIA_ROOT),
        STATIC_ROOT=str(settings.STATIC_ROOT),
        CELERY_TASK_ALWAYS_EAGER="0",
        EMAIL_URL="consolemail://",
    )
    if overrides.get("STRIPE_API_BASE"):
        env["TEST_ONLY_ALLOW_STRIPE_STANDIN"] = "1"
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = str(value)
    return env
