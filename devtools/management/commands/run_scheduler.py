"""The periodic tasks of CELERY_BEAT_SCHEDULE, run in this process.

For the embedded default only (no Redis: tasks run in-process), where there is no
worker for `celery beat` to send tasks to. With a broker, `celery -A pharmacy beat`
is the scheduler, so this command refuses to run rather than have the same task
scheduled twice.
"""

import logging
import signal
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections, connections

from pharmacy.celery import app

logger = logging.getLogger(__name__)


@dataclass
class Entry:
    name: str
    task: str
    every: float
    args: tuple = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    next_run: float = 0.0  # time.monotonic(); 0 runs it at once


def beat_entries(schedule: dict[str, dict]) -> list[Entry]:
    """The schedule as entries; only intervals (seconds or timedelta) are understood."""
    entries = []
    for name, spec in schedule.items():
        every = spec.get("schedule")
        if isinstance(every, timedelta):
            every = every.total_seconds()
        if isinstance(every, bool) or not isinstance(every, int | float) or every <= 0:
            raise CommandError(
                f"Beat entry {name!r}: run_scheduler understands a schedule in seconds "
                f"(or a timedelta), not {every!r}; use `celery -A pharmacy beat` for others."
            )
        entries.append(
            Entry(
                name=name,
                task=spec["task"],
                every=float(every),
                args=tuple(spec.get("args", ())),
                kwargs=dict(spec.get("kwargs", {})),
            )
        )
    return entries


class Command(BaseCommand):
    help = (
        "Run the periodic tasks of CELERY_BEAT_SCHEDULE in this process, each at its "
        "interval, until interrupted. For the embedded default (tasks run in-process); "
        "with Redis, run `celery -A pharmacy beat` instead."
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Run every entry once, then exit.")
        parser.add_argument(
            "--tick",
            type=float,
            default=5.0,
            help="Seconds between looks at the schedule (default 5).",
        )

    def handle(self, *args, once: bool, tick: float, **options):
        if not app.conf.task_always_eager:
            raise CommandError(
                "run_scheduler runs tasks in this process and is only for the embedded "
                "default (CELERY_TASK_ALWAYS_EAGER on, no REDIS_URL). With a broker the "
                "worker runs the tasks and `celery -A pharmacy beat` schedules them: run that."
            )
        if tick <= 0:
            raise CommandError("--tick must be a positive number of seconds.")
        # Tasks are registered when their modules are imported, which a worker does at
        # start; this process has to ask. (Not import_default_modules: through Celery's
        # Django fixup it would run django.setup() and the system checks again.)
        app.autodiscover_tasks(force=True)
        entries = beat_entries(settings.CELERY_BEAT_SCHEDULE)
        if once:
            failed = [entry.name for entry in entries if not self.run_entry(entry)]
            if failed:
                raise CommandError(
                    f"{len(failed)} of {len(entries)} scheduled tasks failed: {', '.join(failed)}."
                )
            return
        self.loop(entries, tick=tick)

    def loop(self, entries: list[Entry], *, tick: float) -> None:
        """Until SIGINT or SIGTERM; a task running when one arrives is finished first."""
        stop = threading.Event()
        previous = {}
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                previous[signum] = signal.signal(signum, lambda *_: stop.set())
        logger.info(
            "Scheduler started: %s",
            ", ".join(f"{entry.name} every {entry.every:g}s" for entry in entries),
        )
        try:
            while not stop.is_set():
                for entry in entries:
                    if stop.is_set():
                        break
                    now = time.monotonic()
                    if now >= entry.next_run:
                        entry.next_run = now + entry.every
                        self.run_entry(entry)
                stop.wait(tick)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        logger.info("Scheduler stopped.")

    def run_entry(self, entry: Entry) -> bool:
        """Run one task now; log one line either way and never raise."""
        task = app.tasks.get(entry.task)
        if task is None:
            logger.error("%s: no task named %s is registered", entry.name, entry.task)
            return False
        started = time.monotonic()
        _drop_stale_connections()
        try:
            result = task.apply(args=entry.args, kwargs=entry.kwargs, throw=True)
        except Exception as error:
            logger.error(
                "%s (%s) failed after %.2fs: %s: %s",
                entry.name,
                entry.task,
                time.monotonic() - started,
                type(error).__name__,
                error,
                exc_info=logger.isEnabledFor(logging.DEBUG),
            )
            return False
        finally:
            _drop_stale_connections()
        logger.info(
            "%s (%s) ran in %.2fs: %r",
            entry.name,
            entry.task,
            time.monotonic() - started,
            result.result,
        )
        return True


def _drop_stale_connections() -> None:
    """What Django does around each request, for a process that lives for days.

    A connection inside a transaction is someone else's (a test's) and is left alone.
    """
    if not any(conn.in_atomic_block for conn in connections.all(initialized_only=True)):
        close_old_connections()
