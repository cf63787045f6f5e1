#!/usr/bin/env python
"""Page speed benchmark: the drug page against a trivial view of the same site.

Starts gunicorn (2 workers, DEBUG off) on a throw-away SQLite database with the
embedded defaults and, when DATABASE_URL is set, on that PostgreSQL database too
(with Redis as cache and session store when REDIS_URL is set); drives each page with wrk for
DURATION seconds and prints requests/s, p50 and p99, and each page's rate as a share
of the trivial view's. Targets: the drug page at >= 70% of the trivial view for an
anonymous visitor, >= 25% for a signed-in patient (whose header is personal).

    .venv/bin/python bench/pages.py            # DURATION=10 CONNECTIONS=16 by default

Needs wrk (Debian: apt-get install wrk; installed automatically when run as root).
"""

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
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
DURATION = int(os.environ.get("DURATION", "10"))
CONNECTIONS = int(os.environ.get("CONNECTIONS", "16"))
TRIVIAL = "trivial view"
# (name, path, signed in, target share of the trivial view's requests/s)
PAGES = [
    (TRIVIAL, "/healthz", False, None),
    ("drug page", "/medicines/baclofen/", False, 0.70),
    ("drug, signed in", "/medicines/baclofen/", True, 0.25),
]
SIGNED_IN_SESSION = """
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.db import SessionStore
user, _ = get_user_model().objects.get_or_create(
    email="bench-patient@example.com", defaults={"first_name": "Bench", "last_name": "Patient"}
)
session = SessionStore()
session[SESSION_KEY] = str(user.pk)
session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
session[HASH_SESSION_KEY] = user.get_session_auth_hash()
session.create()
print(session.session_key)
"""


def ensure_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk:
        return wrk
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True)
        return shutil.which("wrk")
    sys.exit("wrk is needed: install it with `sudo apt-get install wrk` (Debian/Ubuntu).")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def site_env(database_url: str, static_root: str, redis_url: str = "") -> dict:
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DEBUG"}}
    if redis_url:
        env["REDIS_URL"] = redis_url
    env.update(
        DATABASE_URL=database_url,
        SECRET_KEY=secrets.token_urlsafe(40),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        HTTPS="off",  # plain HTTP on loopback; everything else as in production
        STRIPE_SECRET_KEY="sk_test_bench_placeholder",  # required; no payment is made
        STRIPE_WEBHOOK_SECRET="whsec_bench_placeholder",
        STATIC_ROOT=static_root,
        LOG_LEVEL="WARNING",
    )
    return env


def manage(env: dict, *args: str) -> str:
    done = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    return done.stdout


def start_gunicorn(
    env: dict,
    port: int,
    *,
    app: str = "pharmacy.wsgi:application",
    python: str = PYTHON,
    cwd: Path = ROOT,
    ready_path: str = "/healthz",
) -> subprocess.Popen:
    """gunicorn with 2 sync workers serving `app`; by default this site, from this
    interpreter. bench/compare.py starts other projects, from their own venv, the same way."""
    proc = subprocess.Popen(
        [
            python,
            "-m",
            "gunicorn",
            app,
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        cwd=cwd,
        env=env,
    )
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}{ready_path}", timeout=1)
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    sys.exit("gunicorn did not start")


def to_ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(
    wrk: str, url: str, headers: list[str], *, duration: int = 0, connections: int = 0
) -> dict:
    """wrk -t2 on `url`; DURATION and CONNECTIONS unless given."""
    duration, connections = duration or DURATION, connections or CONNECTIONS
    args = [wrk, "-t2", f"-c{connections}", f"-d{duration}s", "--latency", url]
    for header in headers:
        args += ["-H", header]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": to_ms(re.search(r"\s50%\s+(\S+)", out).group(1)),
        "p99": to_ms(re.search(r"\s99%\s+(\S+)", out).group(1)),
        "errors": int(errors.group(1)) if errors else 0,
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
    }


def bench_database(
    wrk: str, label: str, database_url: str, tmp: str, redis_url: str = ""
) -> list[tuple]:
    env = site_env(database_url, os.path.join(tmp, "static"), redis_url)
    manage(env, "migrate", "--noinput", "-v", "0")
    manage(env, "collectstatic", "--noinput", "-v", "0")
    session_key = manage(env, "shell", "-c", SIGNED_IN_SESSION).strip().splitlines()[-1]
    port = free_port()
    proc = start_gunicorn(env, port)
    rows = []
    try:
        for name, path, signed_in, _ in PAGES:
            url = f"http://127.0.0.1:{port}{path}"
            headers = {"Cookie": f"sessionid={session_key}"} if signed_in else {}
            request = urllib.request.Request(url, headers=headers)
            body = urllib.request.urlopen(request, timeout=5).read().decode()  # noqa: S310
            if signed_in and "Sign out" not in body:
                sys.exit("The signed-in session was not accepted; the figures would be wrong.")
            wrk_headers = [f"{k}: {v}" for k, v in headers.items()]
            rows.append((label, name, run_wrk(wrk, url, wrk_headers)))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    return rows


def main() -> None:
    wrk = ensure_wrk()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        results += bench_database(wrk, "SQLite", f"sqlite:///{tmp}/bench.sqlite3", tmp)
        if os.environ.get("DATABASE_URL"):
            redis_url = os.environ.get("REDIS_URL", "")
            label = "PostgreSQL" + (" + Redis" if redis_url else "")
            results += bench_database(wrk, label, os.environ["DATABASE_URL"], tmp, redis_url)

    print(f"\nwrk -t2 -c{CONNECTIONS} -d{DURATION}s, gunicorn 2 workers, DEBUG off")
    print(f"{'database':<18} {'page':<16} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for label, name, r in results:
        figures = f"{r['rps']:>9.0f} {r['p50']:>8.2f} {r['p99']:>8.2f} {r['errors']:>7}"
        print(f"{label:<18} {name:<16} {figures}")
    for label in dict.fromkeys(row[0] for row in results):
        by_page = {name: r for db, name, r in results if db == label}
        for name, _, _, target in PAGES:
            if target is None:
                continue
            ratio = by_page[name]["rps"] / by_page[TRIVIAL]["rps"]
            verdict = "meets" if ratio >= target else "BELOW"
            print(f"{label}: {name} / {TRIVIAL} = {ratio:.0%} ({verdict} the {target:.0%} target)")


if __name__ == "__main__":
    main()
