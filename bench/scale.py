#!/usr/bin/env python
"""The pharmacist's day at 1,000 and at 100,000 prescriptions and orders (issue 19).

For each size, a PostgreSQL database of its own (`pharmacy_scalebench_1k`,
`pharmacy_scalebench_100k`, ...) is created, migrated and seeded in bulk
(`bench/scale_seed.py`: N prescriptions, N orders, N/5 patients, one patient with 500
orders and 300 profile edits, 50 drugs, audit events, payment events and what each
periodic job finds due). Then every admin list, the patient pages and each periodic
job are measured in-process (`bench/scale_measure.py`) and a table prints ms and
queries per size, the time ratio between the smallest and the largest size, and
whether each target is met (`bench/scale_table.py`).

    .venv/bin/python bench/scale.py                      # --sizes 1000,100000
    .venv/bin/python bench/scale.py --reuse              # keep the seeded databases
    .venv/bin/python bench/scale.py --sizes 1000 --runs 3

Without `--reuse` each database is dropped and made again; with it, a database seeded
for its size less than `REUSE_HOURS` ago is kept (and migrated, so new indexes apply).
Production settings (DEBUG off), no Redis (tasks in-process, local-memory cache), an
in-process Stripe stand-in for the reconciliation and the auto-refill charges, email
to nowhere. Each size runs in a child process, since the database is a setting.
"""

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scale_table import Figure, Row, render, size_label, summary  # noqa: E402

SERVER = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")
# SCALE_DB_PREFIX: databases of another name, e.g. copies made with `createdb -T`.
DB_PREFIX = os.environ.get("SCALE_DB_PREFIX", "pharmacy_scalebench")
REUSE_HOURS = 6  # the seeded times (due today, paid two days ago) age after that


def database_name(size: int, due_as: int = 0) -> str:
    """`pharmacy_scalebench_100k`; with `--due-as 1000`, `pharmacy_scalebench_100k_due1k`."""
    suffix = f"_due{size_label(due_as)}" if due_as and due_as != size else ""
    return f"{DB_PREFIX}_{size_label(size)}{suffix}"


def postgres(sql: str) -> None:
    import psycopg2

    conn = psycopg2.connect(f"{SERVER}/postgres")
    conn.autocommit = True  # CREATE and DROP DATABASE refuse a transaction block
    try:
        with conn.cursor() as cursor:
            cursor.execute(sql)
    finally:
        conn.close()


def database_exists(name: str) -> bool:
    import psycopg2

    conn = psycopg2.connect(f"{SERVER}/postgres")
    with conn, conn.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        found = cursor.fetchone() is not None
    conn.close()
    return found


def run_size(size: int, *, reuse: bool, runs: int, due_as: int = 0) -> dict[str, Figure]:
    """Measure one size in a child process; its figures come back as JSON."""
    due_as = due_as if due_as != size else 0
    name = database_name(size, due_as)
    if not reuse and database_exists(name):
        postgres(f'DROP DATABASE "{name}" WITH (FORCE)')
    if not database_exists(name):
        postgres(f'CREATE DATABASE "{name}"')
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        args = [
            sys.executable,
            __file__,
            "--child",
            str(size),
            "--runs",
            str(runs),
            "--due-as",
            str(due_as),
            "--out",
            out.name,
        ]
        subprocess.run(args, check=True, env={**os.environ, "DATABASE_URL": f"{SERVER}/{name}"})
        figures = json.loads(Path(out.name).read_text())
    return {row: Figure(**value) for row, value in figures.items()}


def child(size: int, runs: int, out: str, due_as: int) -> None:
    """In the child: settings, migrate, seed unless a fresh seed is there, measure."""
    static = tempfile.mkdtemp(prefix="bench-scale-static-")
    from devtools.stripe_standin import StandinServer

    standin = StandinServer(webhook_url=None, webhook_secret="whsec_bench_only").start()
    for name in ("REDIS_URL", "CACHE_URL"):
        os.environ.pop(name, None)
    os.environ.update(
        DJANGO_SETTINGS_MODULE="pharmacy.settings",
        SECRET_KEY="bench-only-not-secret",
        ALLOWED_HOSTS="testserver",
        HTTPS="off",
        DEBUG="0",
        EMAIL_URL="dummymail://",
        STATIC_ROOT=static,
        PRIVATE_MEDIA_ROOT=tempfile.mkdtemp(prefix="bench-scale-private-"),
        STRIPE_SECRET_KEY="sk_test_bench_only",
        STRIPE_WEBHOOK_SECRET="whsec_bench_only",
        STRIPE_API_BASE=standin.url,
        STRIPE_MAX_NETWORK_RETRIES="0",
        TEST_ONLY_ALLOW_STRIPE_STANDIN="1",
    )
    import django

    django.setup()
    # Celery, stripe and the stand-in log every call; the table is what matters here.
    for name in ("celery", "stripe", "stripe_standin"):
        logging.getLogger(name).setLevel(logging.WARNING)
    from django.core.management import call_command
    from django.db import connection, transaction

    from bench import scale_measure, scale_seed

    def log(text: str) -> None:
        print(f"[{size_label(size)}] {text}", file=sys.stderr, flush=True)

    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    seeded = scale_seed.load_meta()
    fresh = seeded is not None and (seeded.size, seeded.due_as) == (size, due_as)
    if fresh:
        age = datetime.now(UTC) - datetime.fromisoformat(seeded.seeded_at)
        fresh = age < timedelta(hours=REUSE_HOURS)
    if fresh:
        log(f"reusing the data seeded at {seeded.seeded_at}")
    else:
        if seeded is not None:
            log("the seeded data is stale or of another size: making the database again")
            connection.close()
            raise SystemExit(3)
        started = time.perf_counter()
        with transaction.atomic():
            seeded = scale_seed.seed(size, due_as=due_as)
            scale_seed.save_meta(seeded)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        log(f"seeded in {time.perf_counter() - started:.0f} s")
    scale_measure.prepare_standin(standin.store, seeded)
    figures = scale_measure.measure_all(
        seeded, scale_seed.items_due(size, due_as=due_as), runs, log
    )
    Path(out).write_text(json.dumps({name: vars(f) for name, f in figures.items()}))
    standin.stop()


def fastest(kept: Figure | None, new: Figure) -> Figure:
    return new if kept is None or new.ms < kept.ms else kept


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,100000", help="comma-separated, e.g. 1000,100000")
    parser.add_argument("--reuse", action="store_true", help="keep a database seeded earlier")
    parser.add_argument("--runs", type=int, default=3, help="warm runs per page or job (median)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="measure the sizes in turn this many times and keep each row's fastest round "
        "(on a shared machine the load changes between one size and the next)",
    )
    parser.add_argument(
        "--due-as",
        type=int,
        default=0,
        help="seed what the jobs find due as at this size, at every size (e.g. 1000: the same "
        "day's work on a larger table), in databases of their own",
    )
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.runs, args.out, args.due_as)
        return 0
    sizes = sorted(int(s) for s in args.sizes.split(","))
    rows: dict[str, Row] = {}
    for round_ in range(args.rounds):
        for size in sizes:
            # Later rounds reuse what the first one seeded.
            reuse = args.reuse or round_ > 0
            try:
                figures = run_size(size, reuse=reuse, runs=args.runs, due_as=args.due_as)
            except subprocess.CalledProcessError as exc:
                if exc.returncode != 3:
                    raise
                # Stale: seed again.
                figures = run_size(size, reuse=False, runs=args.runs, due_as=args.due_as)
            for name, figure in figures.items():
                row = rows.setdefault(name, Row(name))
                row.figures[size] = fastest(row.figures.get(size), figure)
    print(render(list(rows.values()), sizes))
    print()
    print(summary(list(rows.values())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
