"""Page speed benchmark: the pages patients hit most against a trivial view of the site.

Starts gunicorn (2 sync workers, DEBUG off) on a throw-away SQLite database with the
embedded defaults and, when DATABASE_URL is set, on that PostgreSQL database too
(with Redis as cache and session store when REDIS_URL is set: the production stack);
drives each page with wrk for DURATION seconds, ROUNDS times with the pages
interleaved, and prints the median requests/s, p50 and p99, and each page's rate as a
share of the trivial view's in the same run, with MET or NOT MET against its target:

- the drug page, anonymous: >= 90% of /healthz
- the drug page, signed in (the patient's own header): >= 40%
- the cart, signed in (one package in it, covered by a verified prescription): >= 30%
- an order's page, signed in (waiting for payment): >= 30%

    .venv/bin/python bench/pages.py            # DURATION=5 ROUNDS=3 CONNECTIONS=16
    SQLITE=0 DATABASE_URL=... REDIS_URL=... CACHE_URL=... .venv/bin/python bench/pages.py

Needs wrk (Debian: apt-get install wrk; installed automatically when run as root).
The figures and the machine they came from are in bench/README.md.
"""

import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
DURATION = int(os.environ.get("DURATION", "5"))
ROUNDS = int(os.environ.get("ROUNDS", "3"))
CONNECTIONS = int(os.environ.get("CONNECTIONS", "16"))
TRIVIAL = "trivial view"
# (name, path, signed in, target share of the trivial view's requests/s, what the
# page must show for the figures to mean anything); {order} is the patient's order.
PAGES = [
    (TRIVIAL, "/healthz", False, None, "ok"),
    ("drug page", "/medicines/baclofen/", False, 0.90, "Sign in"),
    ("drug, signed in", "/medicines/baclofen/", True, 0.40, "Sign out"),
    ("cart, signed in", "/cart/", True, 0.30, ">Check out</a>"),
    ("order, signed in", "/orders/{order}/", True, 0.30, "{order}"),
]
# A patient with a verified e-prescription, an address, one box in the cart and one
# order waiting for payment, made through the site's services (bench/data.py); prints
# the session key and the order number.
SETUP = """
from importlib import import_module
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from bench.data import (
    bench_package, delivery_option, licence_state, make_partner, make_patient,
    make_pharmacist, receive_e_prescription,
)
from orders.cart import COUNT_KEY, CartLine, SESSION_KEY as CART_KEY
from orders.services import address_save, order_place
from prescriptions.services import prescription_verify

run = "%(run)s"
address = {
    "full_name": "Bench Patient", "line1": "12 Elm Street", "line2": "", "city": "Springfield",
    "state": "NY", "zip_code": "10001", "phone": "",
}
package = bench_package()
type(package).objects.filter(pk=package.pk).update(stock=1000)
licence_state(address["state"])
delivery_option()
pharmacist = make_pharmacist(email=f"bench-pages-{run}-pharmacist@example.com")
partner = make_partner(name=f"Bench pages {run}", slug=f"bench-pages-{run}")
patient = make_patient(
    email=f"bench-pages-{run}@example.com", first_name="Bench", last_name="Patient"
)
prescription = receive_e_prescription(
    patient=patient, partner=partner, reference=f"BENCH-PAGES-{run}"
)
prescription_verify(
    prescription_id=prescription.pk, pharmacist=pharmacist, warnings_acknowledged=True
)
order = order_place(
    patient=patient,
    lines=[CartLine(bench_package(), 1)],
    address=address_save(patient=patient, data=address),
)
session = import_module(settings.SESSION_ENGINE).SessionStore()
session[SESSION_KEY] = str(patient.pk)
session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
session[HASH_SESSION_KEY] = patient.get_session_auth_hash()
session[CART_KEY] = {str(package.pk): 1}
session[COUNT_KEY] = 1
session.create()
print(session.session_key, order.number)
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
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if done.returncode:
        sys.exit(f"manage.py {args[0]} failed:\n{done.stderr}")
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
    setup = SETUP % {"run": secrets.token_hex(4)}
    session_key, order = manage(env, "shell", "-c", setup).strip().splitlines()[-1].split()
    port = free_port()
    proc = start_gunicorn(env, port)
    runs: dict[str, list[dict]] = {name: [] for name, *_ in PAGES}
    try:
        for round_number in range(ROUNDS):
            for name, path, signed_in, _, shows in PAGES:
                url = f"http://127.0.0.1:{port}{path.format(order=order)}"
                headers = {"Cookie": f"sessionid={session_key}"} if signed_in else {}
                request = urllib.request.Request(url, headers=headers)
                body = urllib.request.urlopen(request, timeout=5).read().decode()  # noqa: S310
                if shows.format(order=order) not in body:
                    sys.exit(
                        f"{name}: the page does not show {shows!r}; the figures would be wrong."
                    )
                wrk_headers = [f"{k}: {v}" for k, v in headers.items()]
                runs[name].append(run_wrk(wrk, url, wrk_headers))
                print(f"{label}, round {round_number + 1}: {name} {runs[name][-1]['rps']:.0f}/s")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    return [(label, name, _median(results)) for name, results in runs.items()]


def _median(results: list[dict]) -> dict:
    """The run with the median rate, and the rates' range over the rounds."""
    ordered = sorted(results, key=lambda r: r["rps"])
    median = dict(ordered[len(ordered) // 2])
    median["rps"] = statistics.median(r["rps"] for r in results)
    median["low"], median["high"] = ordered[0]["rps"], ordered[-1]["rps"]
    return median


def main() -> None:
    wrk = ensure_wrk()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        if os.environ.get("SQLITE", "1") != "0":
            results += bench_database(wrk, "SQLite", f"sqlite:///{tmp}/bench.sqlite3", tmp)
        if os.environ.get("DATABASE_URL"):
            redis_url = os.environ.get("REDIS_URL", "")
            label = "PostgreSQL" + (" + Redis" if redis_url else "")
            results += bench_database(wrk, label, os.environ["DATABASE_URL"], tmp, redis_url)

    print(
        f"\nwrk -t2 -c{CONNECTIONS} -d{DURATION}s, {ROUNDS} rounds interleaved (median), "
        f"gunicorn 2 sync workers, DEBUG off, {os.cpu_count()} CPUs shared with wrk"
    )
    print(
        f"{'database':<18} {'page':<17} {'req/s':>7} {'range':>11} {'p50 ms':>7} "
        f"{'p99 ms':>7} {'errors':>6} {'share':>6} {'target':>6}  verdict"
    )
    targets = {name: target for name, _, _, target, _ in PAGES}
    missed = 0
    for label, name, r in results:
        trivial = next(t for db, n, t in results if db == label and n == TRIVIAL)
        share = r["rps"] / trivial["rps"]
        target = targets[name]
        verdict = "" if target is None else ("MET" if share >= target else "NOT MET")
        missed += verdict == "NOT MET"
        spread = f"{r['low']:.0f}-{r['high']:.0f}"
        print(
            f"{label:<18} {name:<17} {r['rps']:>7.0f} {spread:>11} {r['p50']:>7.2f} "
            f"{r['p99']:>7.2f} {r['errors']:>6} {share:>6.0%} "
            f"{'' if target is None else f'{target:.0%}':>6}  {verdict}"
        )
    print(f"\n{missed} target(s) not met" if missed else "\nevery target met")


if __name__ == "__main__":
    main()
