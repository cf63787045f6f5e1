#!/usr/bin/env python
"""Page speed benchmark: the drug page against a trivial view of the same site.

Starts gunicorn (2 workers, DEBUG off) on a throw-away SQLite database and, when
DATABASE_URL is set, on that PostgreSQL database too; drives each URL with wrk for
DURATION seconds and prints requests/s, p50 and p99, and the ratio of the drug page
to the trivial view. Target: the drug page at >= 70% of the trivial view's rate.

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
TARGET_RATIO = 0.70
PAGES = [("trivial view", "/healthz"), ("drug page", "/medicines/baclofen/")]


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


def site_env(database_url: str, static_root: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DEBUG"}}
    env.update(
        DATABASE_URL=database_url,
        SECRET_KEY=secrets.token_urlsafe(40),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        HTTPS="off",  # plain HTTP on loopback; everything else as in production
        STATIC_ROOT=static_root,
        LOG_LEVEL="WARNING",
    )
    return env


def manage(env: dict, *args: str) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True)


def start_gunicorn(env: dict, port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "gunicorn",
            "pharmacy.wsgi:application",
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    sys.exit("gunicorn did not start")


def to_ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(wrk: str, url: str, headers: list[str]) -> dict:
    args = [wrk, "-t2", f"-c{CONNECTIONS}", f"-d{DURATION}s", "--latency", url]
    for header in headers:
        args += ["-H", header]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": to_ms(re.search(r"\s50%\s+(\S+)", out).group(1)),
        "p99": to_ms(re.search(r"\s99%\s+(\S+)", out).group(1)),
        "errors": int(errors.group(1)) if errors else 0,
    }


def bench_database(wrk: str, label: str, database_url: str, tmp: str) -> list[tuple]:
    env = site_env(database_url, os.path.join(tmp, "static"))
    manage(env, "migrate", "--noinput", "-v", "0")
    manage(env, "collectstatic", "--noinput", "-v", "0")
    port = free_port()
    proc = start_gunicorn(env, port)
    rows = []
    try:
        for name, path in PAGES:
            url = f"http://127.0.0.1:{port}{path}"
            urllib.request.urlopen(url, timeout=5)
            rows.append((label, name, run_wrk(wrk, url, [])))
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
            results += bench_database(wrk, "PostgreSQL", os.environ["DATABASE_URL"], tmp)

    print(
        f"\nwrk -t2 -c{CONNECTIONS} -d{DURATION}s, gunicorn 2 workers, DEBUG off, {os.cpu_count()} CPUs"
    )
    print(f"{'database':<11} {'page':<14} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for label, name, r in results:
        print(
            f"{label:<11} {name:<14} {r['rps']:>9.0f} {r['p50']:>8.2f} {r['p99']:>8.2f} {r['errors']:>7}"
        )
    for label in dict.fromkeys(row[0] for row in results):
        by_page = {name: r for db, name, r in results if db == label}
        ratio = by_page["drug page"]["rps"] / by_page["trivial view"]["rps"]
        verdict = "meets" if ratio >= TARGET_RATIO else "BELOW"
        print(
            f"{label}: drug page / trivial view = {ratio:.0%} ({verdict} the {TARGET_RATIO:.0%} target)"
        )


if __name__ == "__main__":
    main()
