#!/usr/bin/env python
"""Our pages beside plain Django and django-oscar's product page (issue 18).

Builds, in a virtual environment of its own, a plain Django project with one view
returning 10 KB ("hello") and django-oscar 4.2.1's shop with one product
(bench/compare_projects.py). Starts the three under the same gunicorn (2 sync workers,
DEBUG off, plain HTTP on loopback) and our site a second time without Redis (local-memory
cache), measures each page with `wrk -t2 -c16` in interleaved rounds, and prints the
median requests/s of each page against hello, Oscar and our /healthz, with each
server's CPU per request, then issue 18's targets: the anonymous and the signed-in
drug page, a signed-in patient's cart and order page, as shares of /healthz. The
pages and the arithmetic are in bench/compare_figures.py. Exit status 1 when a target is not met or a page answered anything but
2xx/3xx.

    psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE pharmacy_bench"   # or let it create it
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pharmacy_bench \\
    REDIS_URL=redis://127.0.0.1:6379/9 CACHE_URL=redis://127.0.0.1:6379/8 \\
    .venv/bin/python bench/compare.py --duration 10 --rounds 3

Runs `migrate` on DATABASE_URL and on the Oscar database (DATABASE_URL's name + `_oscar`
unless --oscar-database-url), creating them when missing: use databases made for it.
"""

import argparse
import os
import platform
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.compare_figures import PAGES, Page, medians, table, verdicts  # noqa: E402
from bench.compare_projects import (  # noqa: E402
    OSCAR_PRODUCT_TITLE,
    OSCAR_SEED,
    build_venv,
    database_settings,
    write_hello,
    write_oscar,
)
from bench.pages import (  # noqa: E402
    ensure_wrk,
    free_port,
    manage,
    run_wrk,
    site_env,
    start_gunicorn,
)

# Two patients, each with a confirmed profile and a verified e-prescription, signed in by
# a session made with the site's own session engine (cached_db with Redis): one with a
# box in the cart, one who has placed an order for a box (waiting for payment). Prints
# both session keys and the order page's path.
PATIENT_SESSIONS = """
import secrets
from importlib import import_module
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from bench.data import (
    bench_package, delivery_option, licence_state, make_partner, make_patient, make_pharmacist,
    receive_e_prescription,
)
from orders.cart import COUNT_KEY, CartLine, SESSION_KEY as CART_KEY
from orders.services import address_save, order_place
from prescriptions.services import prescription_verify

run = secrets.token_hex(4)
package = bench_package()
if package.stock < 100:
    type(package).objects.filter(pk=package.pk).update(stock=1000)
    package.refresh_from_db()
pharmacist = make_pharmacist(email=f"compare-{run}-pharmacist@example.com")
partner = make_partner(name=f"Bench telehealth {run}", slug=f"compare-{run}")
licence_state("NY")
delivery_option()


def signed_in(who, cart):
    patient = make_patient(email=f"compare-{run}-{who}@example.com", first_name="Bench", last_name=who)
    prescription = receive_e_prescription(patient=patient, partner=partner, reference=f"CMP-{run}-{who}")
    prescription_verify(prescription_id=prescription.pk, pharmacist=pharmacist, warnings_acknowledged=True)
    session = import_module(settings.SESSION_ENGINE).SessionStore()
    session[SESSION_KEY] = str(patient.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = patient.get_session_auth_hash()
    session[CART_KEY] = cart
    session[COUNT_KEY] = sum(cart.values())
    session.create()
    return patient, session.session_key


_, cart_key = signed_in("Cart", {str(package.pk): 1})
patient, order_key = signed_in("Order", {})
address = address_save(patient=patient, data={
    "full_name": "Bench Order", "line1": "12 Elm Street", "line2": "", "city": "Springfield",
    "state": "NY", "zip_code": "10001", "phone": "",
})
order = order_place(patient=patient, lines=[CartLine(package, 1)], address=address)
print(cart_key, order_key, order.get_absolute_url())
"""

# The processes -------------------------------------------------------------------------


def ensure_database(url: str) -> None:
    """CREATE DATABASE when it does not exist (PostgreSQL, through the server's `postgres`)."""
    settings = database_settings(url)
    connection = psycopg2.connect(
        dbname="postgres",
        user=settings["USER"] or None,
        password=settings["PASSWORD"] or None,
        host=settings["HOST"] or None,
        port=settings["PORT"] or None,
    )
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [settings["NAME"]])
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{settings["NAME"]}"')
    connection.close()


def oscar_database_url(database_url: str) -> str:
    parts = urlsplit(database_url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "_oscar"))


def plain_env(**extra: str) -> dict:
    """The environment of the hello and Oscar processes: none of this site's settings."""
    keep = ("PATH", "HOME", "LANG", "TMPDIR")
    return {**{k: os.environ[k] for k in keep if k in os.environ}, **extra}


def prepare(args, tmp: str) -> tuple[dict[str, dict], dict[str, str], dict[str, str]]:
    """Build and seed everything; returns each server's start arguments, the paths of
    the pages made here (Oscar's product, the order) and each patient's session key."""
    work = Path(args.workdir)
    python = build_venv(work / "venv")
    write_hello(work / "hello")
    for url in (args.database_url, args.oscar_database_url):
        ensure_database(url)
    write_oscar(python, work / "frobshop", args.oscar_database_url)
    oscar_env = plain_env(SECRET_KEY=secrets.token_urlsafe(40))

    def oscar_manage(*command: str) -> str:
        return subprocess.run(
            [python, "manage.py", *command],
            cwd=work / "frobshop",
            env=oscar_env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    print("migrating and seeding Oscar and our site...", flush=True)
    oscar_manage("migrate", "--noinput", "-v", "0")
    product_path = oscar_manage("shell", "-c", OSCAR_SEED).strip().splitlines()[-1]

    static = os.path.join(tmp, "static")
    redis_env = site_env(args.database_url, static, args.redis_url)
    if args.cache_url:
        redis_env["CACHE_URL"] = args.cache_url
    manage(redis_env, "migrate", "--noinput", "-v", "0")
    manage(redis_env, "collectstatic", "--noinput", "-v", "0")
    made = manage(redis_env, "shell", "-c", PATIENT_SESSIONS).strip().splitlines()[-1]
    cart_key, order_key, order_path = made.split()
    servers = {
        "hello": dict(
            env=plain_env(SECRET_KEY=secrets.token_urlsafe(40)),
            app="wsgi:application",
            python=python,
            cwd=work / "hello",
            ready_path="/",
        ),
        "oscar": dict(
            env=oscar_env,
            app="frobshop.wsgi:application",
            python=python,
            cwd=work / "frobshop",
            ready_path=product_path,
        ),
        "site": dict(env=redis_env),
        "site_locmem": dict(env=site_env(args.database_url, static)),
    }
    paths = {"oscar": product_path, "order": order_path}
    return servers, paths, {"cart": cart_key, "order": order_key}


def cpu_seconds(pid: int) -> float:
    """User and system CPU of a gunicorn master and its workers so far (Linux /proc).

    A figure that a busy machine distorts far less than requests/s: time spent waiting
    for a core, PostgreSQL or Redis is not in it."""
    pids, total = {pid}, 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        if int(fields[1]) == pid:  # ppid
            pids.add(int(stat.parent.name))
    for each in pids:
        try:
            fields = (Path("/proc") / str(each) / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def get(url: str, headers: dict) -> str:
    request = urllib.request.Request(url, headers=headers)  # noqa: S310
    return urllib.request.urlopen(request, timeout=120).read().decode()  # noqa: S310


def check_page(url: str, page: Page, headers: dict) -> None:
    """One request before measuring: the page must be the one meant, not an error or a
    sign-in page, or the figures would be of something else."""
    body = get(url, headers)
    problems = {
        "oscar": OSCAR_PRODUCT_TITLE not in body,
        "drug_signed_in": "Sign out" not in body,
        "cart": "Sign out" not in body or "Your cart is empty" in body,
        "order": "Sign out" not in body,
    }
    if problems.get(page.key):
        sys.exit(f"{url} is not the page to measure ({page.label}); the figures would be wrong.")


def measure(
    args, wrk: str, urls: dict[str, str], headers: dict[str, dict], pids: dict[str, int]
) -> dict:
    """Warm every page, then `rounds` rounds of every page, each round starting one page
    further down the list so that no page always runs first or last.

    After each wrk run, one more request to the same server: it queues behind the
    requests wrk left in the server's backlog (a slow page's can take a second or two),
    so the next page is measured on an idle machine. The server's CPU over the run and
    that backlog, divided by the requests it served (wrk's, the one in flight on each
    connection when wrk stopped, and that last one), is its CPU per request."""
    wrk_headers = {key: [f"{k}: {v}" for k, v in h.items()] for key, h in headers.items()}
    for page in PAGES:
        check_page(urls[page.key], page, headers[page.key])
        if args.warmup:
            run_wrk(wrk, urls[page.key], wrk_headers[page.key], duration=args.warmup)
            get(urls[page.key], headers[page.key])
    runs: dict[str, list[float]] = {page.key: [] for page in PAGES}
    errors: dict[str, int] = {page.key: 0 for page in PAGES}
    cpu_ms: dict[str, list[float]] = {page.key: [] for page in PAGES}
    for n in range(args.rounds):
        order = PAGES[n % len(PAGES) :] + PAGES[: n % len(PAGES)]
        for page in order:
            cpu = cpu_seconds(pids[page.key])
            result = run_wrk(
                wrk,
                urls[page.key],
                wrk_headers[page.key],
                duration=args.duration,
                connections=args.connections,
            )
            get(urls[page.key], headers[page.key])
            served = result["requests"] + args.connections + 1
            cpu_ms[page.key].append((cpu_seconds(pids[page.key]) - cpu) * 1000 / served)
            runs[page.key].append(result["rps"])
            errors[page.key] += result["errors"]
        figures = ", ".join(f"{key} {values[-1]:.0f}" for key, values in runs.items())
        print(f"round {n + 1}: {figures} (load average {os.getloadavg()[0]:.1f})", flush=True)
    return {"runs": runs, "errors": errors, "cpu_ms": cpu_ms}


def options(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run (10)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (3)")
    parser.add_argument("--connections", type=int, default=16, help="wrk -c (16)")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of wrk per page first (2)")
    parser.add_argument(
        "--workdir",
        default=os.path.join(tempfile.gettempdir(), "bench-compare"),
        help="where the venv and the two projects are built; the venv is kept between runs",
    )
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--oscar-database-url", default="", help="default: DATABASE_URL + _oscar")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", ""))
    parser.add_argument("--cache-url", default=os.environ.get("CACHE_URL", ""))
    args = parser.parse_args(argv)
    if not args.database_url.startswith("postgres"):
        parser.error("a PostgreSQL DATABASE_URL (or --database-url) is needed")
    if not args.redis_url:
        parser.error("REDIS_URL (or --redis-url) is needed: the production stack caches in Redis")
    args.oscar_database_url = args.oscar_database_url or oscar_database_url(args.database_url)
    return args


def main(argv=None) -> int:
    args = options(argv)
    wrk = ensure_wrk()
    began, load = time.monotonic(), os.getloadavg()[0]
    procs: list[subprocess.Popen] = []
    with tempfile.TemporaryDirectory() as tmp:
        try:
            servers, paths, sessions = prepare(args, tmp)
        except subprocess.CalledProcessError as failed:
            sys.exit(f"{' '.join(map(str, failed.cmd[:3]))} failed:\n{failed.stderr}")
        ports = {}
        try:
            for name, kwargs in servers.items():
                ports[name] = free_port()
                procs.append(start_gunicorn(port=ports[name], **kwargs))
            urls, headers = {}, {}
            for page in PAGES:
                path = page.path or paths[page.key]
                urls[page.key] = f"http://127.0.0.1:{ports[page.server]}{path}"
                cookie = f"sessionid={sessions[page.patient]}" if page.patient else ""
                headers[page.key] = {"Cookie": cookie} if cookie else {}
            pids = {page.key: procs[list(servers).index(page.server)].pid for page in PAGES}
            results = measure(args, wrk, urls, headers, pids)
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                proc.wait(timeout=30)
    rps, cpu_ms = medians(results["runs"]), medians(results["cpu_ms"])
    print(
        f"\n{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} CPUs, "
        f"{platform.processor() or platform.machine()}, Python {platform.python_version()}, "
        f"load average {load:.1f} before, {os.getloadavg()[0]:.1f} after; "
        f"ran {time.monotonic() - began:.0f} s"
    )
    print(
        f"gunicorn 2 sync workers each, wrk -t2 -c{args.connections} -d{args.duration}s, "
        f"{args.rounds} interleaved rounds, medians\n"
    )
    print("\n".join(table(rps, cpu_ms)))
    print()
    failed = False
    for line, met in verdicts(rps, cpu_ms):
        print(line)
        failed |= not met
    for key, count in results["errors"].items():
        if count:
            print(f"{key}: {count} answers other than 2xx/3xx")
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
