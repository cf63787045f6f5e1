"""What each pytest-xdist worker gets of its own, so that `make test -n 2` shares nothing.

pytest-django gives each worker its own test database (`test_<name>_gw0`, ...). The rest
is decided here, in the controller, before the workers start, as environment variables
of each worker (execnet sets them before the worker imports Django's settings):

- `REDIS_URL` and `CACHE_URL`: Redis database numbers of its own. Worker `gwN` takes the
  configured numbers lowered by N times the number of databases in use (2 when the cache
  has its own), e.g. broker 15 and cache 14 for gw0, 13 and 12 for gw1. A Celery worker
  process started by a test consumes its own xdist worker's queues, and one worker's
  `cache.clear()` (a FLUSHDB) cannot empty the other's cache or broker.
- `STATIC_ROOT`: a folder of its own, since every worker runs collectstatic at start.

Ports are never fixed in the suite (`devtools.processes.free_port()`, port 0), and
files go under `tmp_path`, which xdist keeps per worker.

Tests that stop the shared PostgreSQL or Redis (tests/reliability, marker `outage`)
cannot run beside anything: `make test` runs them after the parallel part, on their own.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
# Folders whose modules start processes in module-scoped fixtures (a Celery worker,
# gunicorn pools, nginx): with `--dist loadgroup` each such module's tests go to one
# worker, so that its processes start once, not on every worker.
ONE_WORKER_PER_MODULE = ("integration", "reliability")
# Folders that run as one group: the browser tests each start a whole stack (gunicorn,
# a worker, the stand-in) beside Chromium; one such stack at a time leaves the other
# core to the unit tests instead of starving both stacks' timeouts.
ONE_WORKER_PER_FOLDER = ("e2e",)


def lowered_db(url: str, by: int) -> str:
    """`url` with its Redis database number lowered by `by`; refuses to go below 0."""
    parts = urlsplit(url)
    number = int(parts.path.strip("/") or 0) - by
    if number < 0:
        raise pytest.UsageError(
            f"Not enough Redis databases below {url} for every xdist worker: "
            "configure higher database numbers or fewer workers (-n)."
        )
    return urlunsplit(parts._replace(path=f"/{number}"))


def worker_environment(index: int, environ: dict[str, str]) -> dict[str, str]:
    """The variables that give xdist worker number `index` its own Redis and folders."""
    worker = f"gw{index}"
    static_root = Path(environ.get("STATIC_ROOT") or ROOT / "staticfiles")
    env = {"STATIC_ROOT": str(static_root / f"xdist-{worker}")}
    redis_url = environ.get("REDIS_URL", "")
    if redis_url:
        cache_url = environ.get("CACHE_URL", "")
        own_cache = bool(cache_url) and cache_url != redis_url
        stride = 2 if own_cache else 1
        env["REDIS_URL"] = lowered_db(redis_url, stride * index)
        if own_cache:
            env["CACHE_URL"] = lowered_db(cache_url, stride * index)
    return env


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_setupnodes(config, specs) -> None:
    """Runs in the controller just before the workers start (`gw0`, `gw1`, ... in order)."""
    for index, spec in enumerate(specs):
        spec.env.update(worker_environment(index, dict(os.environ)))


def pytest_itemcollected(item) -> None:
    """Puts tests in xdist groups: by module or by folder, as the lists above say."""
    path = Path(str(item.path))
    if TESTS not in path.parents or not item.config.pluginmanager.hasplugin("xdist"):
        return
    relative = path.relative_to(TESTS)
    if relative.parts[0] in ONE_WORKER_PER_MODULE:
        item.add_marker(pytest.mark.xdist_group(name=relative.as_posix()))
    elif relative.parts[0] in ONE_WORKER_PER_FOLDER:
        item.add_marker(pytest.mark.xdist_group(name=relative.parts[0]))
