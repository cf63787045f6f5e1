#!/usr/bin/env python
"""Mixed traffic against the production stack: browsing, carts and paid checkouts.

USERS virtual users (default 50) loop for DURATION seconds (default 120), each
picking an action by weight: 80% browsing (the home page, a search, the drug
page), 15% cart (open the drug page, add a package with its form's CSRF token,
land on the cart) and 5% checkout with payment (a signed-in patient with a
verified prescription puts a box of baclofen 10 mg in the cart, opens checkout,
posts the address form, follows the redirect to the Stripe stand-in's hosted
page, pays there and comes back to the order page). There is no think time by
default (THINK_MS): every user has a request in flight all the time. A cart action
also opens the drug page (its form), and a patient whose cart is empty adds the box
from the drug page first, so the request mix has more drug pages than the action
mix. Browsing and carts are anonymous visitors, each user's replaced by a new one
(no cookies) every VISITOR_ACTIONS actions; checkouts take turns among PATIENTS
signed-in patients (one checkout at a time each).

Every piece runs as in production, in its own process (devtools/processes.py): nginx
with deploy/nginx/'s locations, sending the catalog pages to one gunicorn
(CATALOG_WORKERS x CATALOG_THREADS, default 2 x 2), the checkout, order pages and
payment webhooks to another (CHECKOUT_WORKERS x CHECKOUT_THREADS, default 2 x 4;
CHECKOUT_WORKERS=0: to the web pool, the two-pool layout) and everything else to a
third (WORKERS gthread workers x THREADS threads, default 2 x 4); PostgreSQL, Redis
(broker and result backend on REDIS_URL, cache and sessions on CACHE_URL), one
Celery worker (`-Q payments,celery`, prefork, 2 processes) and the Stripe stand-in,
which sends signed webhooks to the site. FRONT=gunicorn runs one gunicorn (WORKERS x
THREADS) for everything instead, without nginx, for comparison.
Patients are made through the services by bench/checkout.py's setup, one for each box
in stock: a patient's second order on the same prescription within days would be an
early refill, which checkout refuses.

It prints requests/s, count, p50/p95/p99 and errors per page, then, once the
load has stopped and the worker has drained (webhooks, dispatches, emails), the
reconciliation: orders paid = sessions paid at the stand-in = Pay clicks, stock
sold = boxes in live orders, prescription units used = units in live orders,
one payment per order, zero 5xx. Exit status 1 if a target is missed: p95 over
300 ms on a catalog page (home, search, drug page), any error, any mismatch. It
also prints the CPU each process used during the load: the load generator runs on
the same 2 cores as the site.

    psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE pharmacy_bench_load"
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pharmacy_bench_load \\
    REDIS_URL=redis://127.0.0.1:6379/9 CACHE_URL=redis://127.0.0.1:6379/8 \\
    .venv/bin/python bench/load.py

It runs `migrate` on DATABASE_URL and purges the Celery queues on REDIS_URL:
give it a database and Redis database numbers of its own.
"""

import http.client
import os
import queue
import random
import re
import resource
import secrets
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import checkout as checkout_bench  # noqa: E402
from devtools import nginx, processes  # noqa: E402

USERS = int(os.environ.get("USERS", "50"))
DURATION = float(os.environ.get("DURATION", "120"))
THINK_MS = float(os.environ.get("THINK_MS", "0"))
WORKERS = int(os.environ.get("WORKERS", "2"))
THREADS = int(os.environ.get("THREADS", "4"))
# FRONT=nginx (the default): as deployed (deploy/nginx/), nginx sends the catalog pages
# to a gunicorn of their own (CATALOG_WORKERS x CATALOG_THREADS) and the rest to the
# WORKERS x THREADS one. FRONT=gunicorn: one gunicorn answers everything, no nginx.
FRONT = os.environ.get("FRONT", "nginx")
CATALOG_WORKERS = int(os.environ.get("CATALOG_WORKERS", "2"))
CATALOG_THREADS = int(os.environ.get("CATALOG_THREADS", "2"))
# The checkout, order pages and payment webhooks (deploy/nginx/): a pool of their own,
# or none (CHECKOUT_WORKERS=0: the web pool answers them, as with two pools).
CHECKOUT_WORKERS = int(os.environ.get("CHECKOUT_WORKERS", "2"))
CHECKOUT_THREADS = int(os.environ.get("CHECKOUT_THREADS", "4"))
# The pools' CPU weights against the other processes, as deploy/systemd/'s units set
# them with CPUWeight= (the default 100: catalog, PostgreSQL, the worker): the web pool
# (carts, accounts, the admin) at nice 10, about a tenth (CPUWeight=10), the checkout
# pool at nice -5, about three times (CPUWeight=300; needs root here). When the two
# cores are saturated, a patient paying waits least and a cart being filled most.
# 0 and 0: every pool alike.
WEB_NICE = int(os.environ.get("WEB_NICE", "10"))
CHECKOUT_NICE = int(os.environ.get("CHECKOUT_NICE", "-5"))
if FRONT not in ("nginx", "gunicorn"):
    sys.exit("FRONT is nginx or gunicorn.")
LAYOUT = (
    f"gunicorn {WORKERS} gthread workers x {THREADS} threads"
    if FRONT == "gunicorn"
    else f"nginx; gunicorn (web) {WORKERS} x {THREADS} threads, "
    f"gunicorn (catalog) {CATALOG_WORKERS} x {CATALOG_THREADS} threads"
    + (
        f", gunicorn (checkout) {CHECKOUT_WORKERS} x {CHECKOUT_THREADS} threads"
        f"; nice: web {WEB_NICE}, checkout {CHECKOUT_NICE}"
        if CHECKOUT_WORKERS
        else ", checkout on the web pool"
    )
)
# Boxes of baclofen 10 mg in stock at the start. Flat out, this 2-core machine places
# 10 to 16 orders a second whatever the number of users (the CPU is the limit): 20 a
# second leaves a margin. A smaller STOCK makes the last checkouts refused (409).
STOCK = int(os.environ.get("STOCK", str(max(50, round(DURATION * 20)))))
# Each patient's prescription (bench/checkout.py's setup) authorises 90 x 2 = 180
# units, but a second order on it within days is an early refill, which checkout
# refuses (409, "no prescription units left" here): a patient orders once, so there is
# one for every box in stock.
PATIENTS = int(os.environ.get("PATIENTS", str(max(USERS, STOCK))))
# A new anonymous visitor (empty cookie jar) replaces the old one after this many actions.
VISITOR_ACTIONS = int(os.environ.get("VISITOR_ACTIONS", "20"))
SEED = int(os.environ.get("SEED", "0")) or None
DRAIN_TIMEOUT = 180.0
TARGET_P95_MS = 300.0

ACTIONS = (("browse", 80), ("cart", 15), ("checkout", 5))
BROWSE = (("home", "/"), ("search", "/?q=baclo"), ("drug page", "/medicines/baclofen/"))
CATALOG_PAGES = tuple(name for name, _ in BROWSE)
PAGES = (
    *CATALOG_PAGES,
    "cart add",
    "cart view",
    "checkout GET",
    "checkout POST",
    "pay page",  # the stand-in's hosted page (GET)
    "pay",  # Pay on the hosted page (POST)
    "order page",  # back on the site after paying
)
DRUG_PAGE = "/medicines/baclofen/"
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]*)"')
PACKAGE_FIELD = re.compile(r'name="package" value="(\d+)"')
STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)


# Results ------------------------------------------------------------------------


@dataclass
class PageStats:
    latencies: list[float] = field(default_factory=list)  # ms
    errors: int = 0
    server_errors: int = 0


@dataclass
class Stats:
    """One virtual user's results; merged after the run (no lock on the hot path)."""

    pages: dict[str, PageStats] = field(default_factory=lambda: {p: PageStats() for p in PAGES})
    actions: Counter = field(default_factory=Counter)
    refusals: Counter = field(default_factory=Counter)  # expected 409s at checkout, by kind
    placed: list[str] = field(default_factory=list)  # stand-in session ids of orders placed
    paid: list[str] = field(default_factory=list)  # session ids whose Pay answered 303
    error_samples: list[str] = field(default_factory=list)
    reconnects: int = 0  # kept-alive connections the server had closed, reopened once
    unfinished: int = 0  # virtual users still stuck in a request long after the end

    def merge(self, other: "Stats") -> None:
        for name, page in other.pages.items():
            mine = self.pages[name]
            mine.latencies += page.latencies
            mine.errors += page.errors
            mine.server_errors += page.server_errors
        self.actions.update(other.actions)
        self.refusals.update(other.refusals)
        self.placed += other.placed
        self.paid += other.paid
        self.error_samples += other.error_samples[: max(0, 10 - len(self.error_samples))]
        self.reconnects += other.reconnects

    @property
    def requests(self) -> int:
        return sum(len(p.latencies) for p in self.pages.values())

    @property
    def errors(self) -> int:
        return sum(p.errors for p in self.pages.values())

    @property
    def server_errors(self) -> int:
        return sum(p.server_errors for p in self.pages.values())


class Unexpected(Exception):
    """An answer the action cannot go on from; already counted as an error."""


# A browser: cookie jar and kept-alive connections ---------------------------------


class Browser:
    """One visitor's cookies and one HTTP/1.1 connection per host, kept alive."""

    def __init__(self, stats: Stats, cookies: dict[str, str] | None = None) -> None:
        self.stats = stats
        self.cookies = dict(cookies or {})
        self.connections: dict[str, http.client.HTTPConnection] = {}

    def close(self) -> None:
        for connection in self.connections.values():
            connection.close()
        self.connections.clear()

    def _send(self, netloc: str, method: str, target: str, body, headers) -> tuple:
        connection = self.connections.get(netloc)
        reused = connection is not None and connection.sock is not None
        if connection is None:
            host, port = netloc.rsplit(":", 1)
            connection = http.client.HTTPConnection(host, int(port), timeout=30)
            self.connections[netloc] = connection
        try:
            connection.request(method, target, body=body, headers=headers)
            response = connection.getresponse()
        except STALE:
            connection.close()
            if not reused:
                raise
            # The server closed the idle connection before it read this request (what
            # a browser retries too): open a new one, once.
            self.stats.reconnects += 1
            connection.request(method, target, body=body, headers=headers)
            response = connection.getresponse()
        content = response.read()
        if response.will_close:
            connection.close()
        return response, content

    def request(
        self, page: str, url: str, *, data: dict | None = None, expect: tuple[int, ...] = (200,)
    ) -> tuple[int, http.client.HTTPMessage, str]:
        """(status, headers, body), never following redirects; timed under `page`.

        Any status not in `expect`, or no answer at all, counts as an error of the
        page (and a 5xx also as a server error) and raises `Unexpected`.
        """
        parts = urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        headers = {"Host": parts.netloc, "Accept": "text/html"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if data is not None:
            body = urlencode(data).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            # As a browser does for a form of the page it shows: the cached drug page
            # carries no CSRF token, and the cart takes the Origin as proof instead.
            headers["Origin"] = f"{parts.scheme}://{parts.netloc}"
        stats = self.stats.pages[page]
        began = time.perf_counter()
        try:
            response, content = self._send(
                parts.netloc, "POST" if body else "GET", target, body, headers
            )
        except (OSError, http.client.HTTPException) as exc:
            stats.latencies.append((time.perf_counter() - began) * 1000)
            self.connections.pop(parts.netloc, None)
            self._error(stats, f"{page}: {type(exc).__name__}: {exc}")
            raise Unexpected(page) from exc
        stats.latencies.append((time.perf_counter() - began) * 1000)
        for header in response.headers.get_all("Set-Cookie") or []:
            self._keep_cookie(header)
        if response.status not in expect:
            if response.status >= 500:
                stats.server_errors += 1
            self._error(stats, f"{page}: {response.status} (expected {expect}) for {url}")
            raise Unexpected(page)
        return response.status, response.headers, content.decode(errors="replace")

    def _keep_cookie(self, header: str) -> None:
        jar = SimpleCookie()
        jar.load(header)
        for name, morsel in jar.items():
            if morsel["max-age"] == "0" or "1970" in morsel["expires"]:
                self.cookies.pop(name, None)  # Django deletes a cookie this way
            else:
                self.cookies[name] = morsel.value

    def _error(self, stats: PageStats, message: str) -> None:
        stats.errors += 1
        if len(self.stats.error_samples) < 10:
            self.stats.error_samples.append(message)


# The actions ----------------------------------------------------------------------


@dataclass
class Patient:
    """A signed-in patient (bench/checkout.py's setup leaves one box in each cart)."""

    session_key: str
    cart_filled: bool = True


def browse(site: str, visitor: Browser, rng: random.Random) -> None:
    name, path = rng.choice(BROWSE)
    visitor.request(name, site + path)


def add_to_cart(site: str, browser: Browser, package_id: str | None, rng: random.Random) -> None:
    """From the drug page: its form's token and a package (`package_id`, or any on sale)."""
    _, _, page = browser.request("drug page", site + DRUG_PAGE)
    token = CSRF_FIELD.search(page)
    packages = PACKAGE_FIELD.findall(page)
    if token is None:
        browser._error(browser.stats.pages["drug page"], "drug page: no add-to-cart form")
        raise Unexpected("drug page")
    package = package_id or (rng.choice(packages) if packages else None)
    if package is None:  # every package out of stock: nothing to add, not an error
        browser.stats.refusals["nothing in stock to add"] += 1
        return
    data = {"csrfmiddlewaretoken": token.group(1), "package": package, "quantity": 1}
    _, headers, _ = browser.request("cart add", site + "/cart/add/", data=data, expect=(302,))
    if urlsplit(headers.get("Location", "")).path != "/cart/":
        browser._error(browser.stats.pages["cart add"], "cart add: not sent to the cart")
        raise Unexpected("cart add")
    browser.request("cart view", site + "/cart/")


def check_out_and_pay(
    site: str, standin: str, browser: Browser, patient: Patient, package_id: str, rng
) -> bool:
    """One patient's order, paid; False when refused for want of units (retire them)."""
    stats = browser.stats
    if not patient.cart_filled:
        add_to_cart(site, browser, package_id, rng)
        patient.cart_filled = True
    _, _, page = browser.request("checkout GET", site + "/checkout/")
    token = CSRF_FIELD.search(page)
    if token is None:
        browser._error(stats.pages["checkout GET"], "checkout GET: no form (not signed in?)")
        raise Unexpected("checkout GET")
    data = {**checkout_bench.ADDRESS, "csrfmiddlewaretoken": token.group(1)}
    status, headers, page = browser.request(
        "checkout POST", site + "/checkout/", data=data, expect=(302, 409)
    )
    if status == 409:  # refused, the cart kept: out of stock, or no units left
        kind = "out of stock" if "out of stock" in page else "no prescription units left"
        stats.refusals[kind] += 1
        return kind == "out of stock"
    pay_url = headers.get("Location", "")
    if not pay_url.startswith(standin + "/pay/"):  # e.g. to the order page: Stripe unreachable
        browser._error(stats.pages["checkout POST"], f"checkout POST: sent to {pay_url}")
        raise Unexpected("checkout POST")
    patient.cart_filled = False  # the order was placed: the site emptied the cart
    session_id = pay_url.rsplit("/", 1)[-1]
    stats.placed.append(session_id)
    browser.request("pay page", pay_url)
    _, headers, _ = browser.request("pay", pay_url, data={"action": "pay"}, expect=(303,))
    stats.paid.append(session_id)
    back = headers.get("Location", "")
    if not back.startswith(site + "/orders/"):
        browser._error(stats.pages["pay"], f"pay: sent back to {back}")
        raise Unexpected("pay")
    browser.request("order page", back)
    return True


def next_patient(patients: queue.Queue) -> Patient | None:
    try:
        return patients.get_nowait()
    except queue.Empty:
        return None


def virtual_user(
    n: int,
    site: str,
    standin: str,
    package_id: str,
    patients: queue.Queue,
    start: threading.Barrier,
    deadline: list[float],
) -> Stats:
    stats = Stats()
    rng = random.Random(None if SEED is None else SEED + n)
    names, weights = zip(*ACTIONS, strict=True)
    visitor = Browser(stats)
    done_as_visitor = 0
    start.wait()
    while time.monotonic() < deadline[0]:
        action = rng.choices(names, weights)[0]
        stats.actions[action] += 1
        try:
            if action == "browse":
                browse(site, visitor, rng)
            elif action == "cart":
                add_to_cart(site, visitor, None, rng)
            elif (patient := next_patient(patients)) is None:
                stats.refusals["no patient free (all busy or out of units)"] += 1
            else:
                browser = Browser(stats, {"sessionid": patient.session_key})
                retire = False  # after an error too, the patient stays in the pool
                try:
                    retire = not check_out_and_pay(site, standin, browser, patient, package_id, rng)
                finally:
                    browser.close()
                    if not retire:
                        patients.put(patient)
        except Unexpected:
            stats.actions["aborted on an error"] += 1
        done_as_visitor += 1
        if done_as_visitor >= VISITOR_ACTIONS:  # a new visitor arrives, without cookies
            visitor.close()
            visitor, done_as_visitor = Browser(stats), 0
        if THINK_MS:
            time.sleep(rng.expovariate(1000 / THINK_MS))
    visitor.close()
    return stats


def run_load(site: str, standin: str, package_id: str, session_keys: list[str]):
    patients: queue.Queue = queue.Queue()
    for key in session_keys:
        patients.put(Patient(key))
    start = threading.Barrier(USERS + 1)
    deadline = [float("inf")]
    results: list[Stats] = []

    def run(n: int) -> None:
        results.append(virtual_user(n, site, standin, package_id, patients, start, deadline))

    threads = [threading.Thread(target=run, args=(n,), daemon=True) for n in range(USERS)]
    for thread in threads:
        thread.start()
    began = time.monotonic()
    deadline[0] = began + DURATION
    start.wait()
    for thread in threads:
        thread.join(DURATION + 120)
    elapsed = time.monotonic() - began
    total = Stats()
    for stats in results:
        total.merge(stats)
    total.unfinished = USERS - len(results)
    return total, elapsed


# CPU accounting (the load generator shares the 2 cores) -----------------------------

TICKS = os.sysconf("SC_CLK_TCK")


def _tree_cpu(pid: int) -> float:
    """CPU seconds of a process, its live descendants and its children that exited."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        # utime, stime, and cutime, cstime: children it has reaped (a gunicorn worker
        # restarted, a PostgreSQL backend closed by CONN_MAX_AGE).
        seconds = sum(int(value) for value in fields[11:15]) / TICKS
        children = []
        for task in Path(f"/proc/{pid}/task").iterdir():
            children += (task / "children").read_text().split()
    except (OSError, IndexError, ValueError):
        return 0.0
    return seconds + sum(_tree_cpu(int(child)) for child in children)


def _server_pid(command: str, marker: str) -> int | None:
    """The pid of a server whose command line starts with `command` and contains `marker`."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            line = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if line.startswith(command) and marker in line:
            return int(proc.name)
    return None


def _machine_busy() -> float:
    """Busy CPU seconds of the whole machine since boot, all cores."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / TICKS  # minus idle and iowait


def cpu_snapshot(named_pids: dict[str, int | None]) -> dict[str, tuple[int | None, float]]:
    """name -> (pid, CPU seconds so far) for our processes, the shared servers, the machine."""
    postgres = _server_pid("/usr/lib/postgresql/", " -D ") or _server_pid("postgres -D", "")
    redis_port = f":{urlsplit(os.environ['REDIS_URL']).port or 6379}"
    pids = {
        **named_pids,
        "PostgreSQL": postgres,
        "Redis": _server_pid("redis-server", redis_port),
    }
    snapshot = {name: (pid, _tree_cpu(pid) if pid else 0.0) for name, pid in pids.items()}
    own = resource.getrusage(resource.RUSAGE_SELF)
    snapshot["load generator"] = (os.getpid(), own.ru_utime + own.ru_stime)
    snapshot["machine"] = (None, _machine_busy())
    return snapshot


def cpu_used(before: dict, after: dict) -> dict[str, float]:
    """CPU seconds used between two snapshots; a server restarted meanwhile counts from 0."""
    return {
        name: seconds - (before[name][1] if before[name][0] == pid else 0.0)
        for name, (pid, seconds) in after.items()
    }


# After the load: drain, then reconcile ----------------------------------------------


def standin_paid_sessions(standin_url: str) -> set[str]:
    """Every checkout session paid at the stand-in (it was started for this run)."""
    import stripe
    from django.conf import settings

    client = stripe.StripeClient(
        settings.STRIPE_SECRET_KEY, base_addresses={"api": standin_url}, max_network_retries=0
    )
    sessions = client.v1.checkout.sessions.list(params={"limit": 100})
    return {s.id for s in sessions.auto_paging_iter() if s.payment_status == "paid"}


def drain(run: str, standin_url: str, worker) -> float:
    """Wait until the paid sessions have paid their orders and the worker is idle."""
    from django.db import close_old_connections

    from orders.models import Order

    began = time.monotonic()
    orders = Order.objects.filter(patient__email__startswith=f"bench-{run}-")

    def confirmed() -> bool:
        close_old_connections()
        paid = standin_paid_sessions(standin_url)
        return orders.filter(stripe_session_id__in=paid, paid_at__isnull=False).count() == len(paid)

    try:
        processes.wait_for(
            confirmed,
            timeout=DRAIN_TIMEOUT,
            interval=0.5,
            message="the paid sessions' orders to be paid",
            process=worker,
        )
    except TimeoutError as exc:
        print(f"warning: {str(exc).splitlines()[0]} (reported below)", file=sys.stderr)
    worker.wait_idle(timeout=DRAIN_TIMEOUT)  # dispatches and emails after the payments
    return time.monotonic() - began


def reconcile(run: str, standin_url: str, package_id: str, stats: Stats) -> dict:
    from django.db.models import Count, F, Q, Sum

    from catalog.models import Package
    from orders.models import Order, OrderLine, OrderStatus, PaymentEvent
    from prescriptions.models import Prescription

    live = [
        OrderStatus.PENDING_PAYMENT,
        OrderStatus.PAID,
        OrderStatus.DISPATCHED,
        OrderStatus.DELIVERED,
    ]
    paid_statuses = [OrderStatus.PAID, OrderStatus.DISPATCHED, OrderStatus.DELIVERED]
    orders = Order.objects.filter(patient__email__startswith=f"bench-{run}-")
    lines = OrderLine.objects.filter(order__in=orders, package_id=package_id)
    boxes = lines.filter(order__status__in=live).aggregate(n=Sum("quantity"))["n"] or 0
    given_back = lines.exclude(order__status__in=live).aggregate(n=Sum("quantity"))["n"] or 0
    units_ordered = (
        OrderLine.objects.filter(order__in=orders, order__status__in=live).aggregate(
            n=Sum(F("quantity") * F("pills_per_package"))
        )["n"]
        or 0
    )
    units_used = (
        Prescription.objects.filter(patient__email__startswith=f"bench-{run}-").aggregate(
            n=Sum("units_used")
        )["n"]
        or 0
    )
    paid_changes = orders.annotate(
        n=Count("status_changes", filter=Q(status_changes__to_status=OrderStatus.PAID))
    )
    second_payments = PaymentEvent.objects.filter(
        order__in=orders, outcome__contains="second payment"
    ).count()
    by_status = Counter(orders.values_list("status", flat=True))
    return {
        "orders": orders.count(),
        "by_status": dict(by_status),
        "paid": orders.filter(status__in=paid_statuses).count(),
        "paid_at": orders.filter(paid_at__isnull=False).count(),
        "standin_paid": len(standin_paid_sessions(standin_url)),
        "stock_left": Package.objects.get(pk=package_id).stock,
        "boxes_live": boxes,
        "boxes_given_back": given_back,
        "units_ordered": units_ordered,
        "units_used": units_used,
        "duplicated": sum(max(0, o.n - 1) for o in paid_changes) + second_payments,
    }


# Report ---------------------------------------------------------------------------


def report(stats: Stats, elapsed: float, r: dict, cpu: dict, drained: float) -> bool:
    pct = checkout_bench.percentile
    print(
        f"\n{USERS} users for {DURATION:g} s (ran {elapsed:.1f} s), think time {THINK_MS:g} ms; "
        f"{LAYOUT}, 1 Celery worker (prefork, 2), Stripe stand-in; DEBUG off"
    )
    actions = ", ".join(f"{stats.actions[a]} {a}" for a, _ in ACTIONS)
    aborted = stats.actions["aborted on an error"]
    print(f"actions: {actions} ({aborted} aborted on an error)")
    print(
        f"requests: {stats.requests} in {elapsed:.1f} s = {stats.requests / elapsed:.1f}/s "
        f"(site and stand-in; webhooks not counted); {stats.reconnects} keep-alive reconnects"
    )
    print(
        f"\n{'page':<14} {'count':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
        f"{'max ms':>8} {'errors':>7} {'5xx':>5}"
    )
    for name in PAGES:
        page = stats.pages[name]
        if not page.latencies:
            print(f"{name:<14} {0:>7}")
            continue
        figures = (
            " ".join(f"{pct(page.latencies, q):>8.1f}" for q in (50, 95, 99))
            + f" {max(page.latencies):>8.1f}"
        )
        print(
            f"{name:<14} {len(page.latencies):>7} {figures} {page.errors:>7} "
            f"{page.server_errors:>5}"
        )
    refusals = ", ".join(f"{n} {kind}" for kind, n in stats.refusals.items()) or "none"
    print(
        f"\ncheckout: {len(stats.placed)} orders placed, {len(stats.paid)} paid on the hosted "
        f"page; refusals (expected, not errors): {refusals}"
    )
    for sample in stats.error_samples:
        print(f"  error: {sample}")

    mine = tuple(cpu.keys() - {"PostgreSQL", "Redis", "machine"})
    mine = sorted(mine, key=lambda name: (name == "load generator", name))
    shared = ("PostgreSQL", "Redis")
    shares = ", ".join(f"{name} {cpu[name] / elapsed:.2f}" for name in (*mine, *shared))
    machine = cpu["machine"] / elapsed
    others = machine - sum(cpu[name] for name in (*mine, *shared)) / elapsed
    print(
        f"\nCPU during the load, in cores (of {os.cpu_count()}): {shares} (the last two: "
        f"whole servers, other databases included); the machine {machine:.2f} busy, of which "
        f"{max(0.0, others):.2f} elsewhere (the kernel, other people's processes)"
    )

    status = ", ".join(f"{n} {s}" for s, n in sorted(r["by_status"].items()))
    sold = STOCK - r["stock_left"]
    print(f"\nreconciliation, after the worker drained ({drained:.1f} s after the load):")
    print(f"  orders: {r['orders']} ({status})")
    print(
        f"  stock of baclofen 10 mg: {STOCK} at the start, {r['stock_left']} now, {sold} sold; "
        f"{r['boxes_live']} boxes in live orders, {r['boxes_given_back']} given back "
        "(cancelled or refunded)"
    )
    checks = [
        ("orders placed = redirects to the hosted page", r["orders"], r["orders"] == len(stats.placed)),
        ("payments succeeded at the stand-in = Pay clicks", r["standin_paid"], r["standin_paid"] == len(stats.paid)),
        ("orders paid (paid, dispatched, delivered) = payments succeeded", r["paid"], r["paid"] == r["standin_paid"]),
        ("orders with paid_at = orders paid", r["paid_at"], r["paid_at"] == r["paid"]),
        ("stock sold = boxes in paid and pending orders", sold, sold == r["boxes_live"] and r["stock_left"] >= 0),
        ("prescription units used = units in paid and pending orders", r["units_used"], r["units_used"] == r["units_ordered"]),
        ("duplicated payments", r["duplicated"], r["duplicated"] == 0),
        ("5xx answers", stats.server_errors, stats.server_errors == 0),
        ("errors (answers other than expected, refusals excepted)", stats.errors, stats.errors == 0),
        ("virtual users that did not finish", stats.unfinished, stats.unfinished == 0),
    ]  # fmt: skip
    for name in CATALOG_PAGES:
        p95 = pct(stats.pages[name].latencies, 95)
        checks.append(
            (f"{name} p95 under {TARGET_P95_MS:.0f} ms", f"{p95:.1f} ms", p95 < TARGET_P95_MS)
        )
    for label, value, ok in checks:
        print(f"  {'ok  ' if ok else 'FAIL'} {label}: {value}")
    return all(ok for _, _, ok in checks)


@contextmanager
def site_processes(env: dict, port: int, logs: Path):
    """The site on `port`, as FRONT says: (the process answering, {name: process})."""
    if FRONT == "gunicorn":
        with processes.gunicorn_server(
            env, workers=WORKERS, threads=THREADS, port=port, log_dir=logs
        ) as site:
            yield site, {"gunicorn": site}
        return
    web_port, catalog_port = processes.free_port(), processes.free_port()
    checkout_port = processes.free_port() if CHECKOUT_WORKERS else None
    (logs / "catalog").mkdir()
    with ExitStack() as stack:
        web = stack.enter_context(
            processes.gunicorn_server(
                env, workers=WORKERS, threads=THREADS, port=web_port, log_dir=logs, nice=WEB_NICE
            )
        )
        catalog = stack.enter_context(
            processes.gunicorn_server(
                env,
                workers=CATALOG_WORKERS,
                threads=CATALOG_THREADS,
                port=catalog_port,
                log_dir=logs / "catalog",
            )
        )
        pools = {"gunicorn (web)": web, "gunicorn (catalog)": catalog}
        if checkout_port:
            (logs / "checkout").mkdir()
            pools["gunicorn (checkout)"] = stack.enter_context(
                processes.gunicorn_server(
                    env,
                    workers=CHECKOUT_WORKERS,
                    threads=CHECKOUT_THREADS,
                    port=checkout_port,
                    log_dir=logs / "checkout",
                    nice=CHECKOUT_NICE,
                )
            )
        front = stack.enter_context(
            nginx.nginx_front(
                web_port=web_port,
                catalog_port=catalog_port,
                checkout_port=checkout_port,
                port=port,
                log_dir=logs,
            )
        )
        yield front, {**pools, "nginx": front}


def main() -> int:
    database_url, redis_url = os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")
    if not database_url.startswith(("postgres://", "postgresql://")) or not redis_url:
        sys.exit("Set DATABASE_URL (PostgreSQL, a database for the benchmark) and REDIS_URL.")
    if FRONT == "nginx" and not nginx.nginx_binary():
        sys.exit("nginx is needed (`make test` installs it; or apt-get install nginx-light).")
    if not os.environ.get("CACHE_URL"):
        print("note: CACHE_URL unset: the cache shares REDIS_URL's database", file=sys.stderr)
    run = secrets.token_hex(3)
    site_port, standin_port = processes.free_port(), processes.free_port()
    site_url, standin_url = f"http://127.0.0.1:{site_port}", f"http://127.0.0.1:{standin_port}"
    checkout_bench.PATIENTS, checkout_bench.STOCK = PATIENTS, STOCK
    with tempfile.TemporaryDirectory() as tmp:
        checkout_bench.configure(tmp, site_url)
        from django.conf import settings
        from django.db import close_old_connections

        from bench.data import bench_package
        from catalog.caching import invalidate_drug_pages

        env = processes.site_env(STRIPE_API_BASE=standin_url)
        logs = Path(tmp)
        with (
            processes.stripe_standin_process(
                webhook_url=f"{site_url}/payments/stripe/webhook/",
                webhook_secret=settings.STRIPE_WEBHOOK_SECRET,
                port=standin_port,
                log_dir=logs,
            ) as standin,
            site_processes(env, site_port, logs) as (site, pools),
            processes.celery_worker(env, log_dir=logs) as worker,
        ):
            try:
                print(f"setting up {PATIENTS} patients, {STOCK} boxes (run {run})...", flush=True)
                session_keys = checkout_bench.create_patients(run)
                package_id = str(bench_package().pk)
                invalidate_drug_pages("baclofen")  # the stock was set by an update: no signal
                worker.wait_idle(timeout=300)  # the prescription emails, before measuring
                close_old_connections()
                warm = Stats()
                for _, path in BROWSE:  # one untimed request each: templates, caches
                    Browser(warm).request("home", site.url + path)
                pids = {
                    **{name: process.pid for name, process in pools.items()},
                    "celery worker": worker.pid,
                    "Stripe stand-in": standin.pid,
                }
                before = cpu_snapshot(pids)
                print(f"load: {USERS} users for {DURATION:g} s...", flush=True)
                stats, elapsed = run_load(site.url, standin.url, package_id, session_keys)
                after = cpu_snapshot(pids)
                cpu = cpu_used(before, after)
                drained = drain(run, standin.url, worker)
                results = reconcile(run, standin.url, package_id, stats)
            except Exception:
                for process in (standin, *pools.values(), worker):
                    print(process.tail(30), file=sys.stderr)
                raise
            if stats.server_errors:
                for process in pools.values():
                    print(process.tail(40), file=sys.stderr)
    return 0 if report(stats, elapsed, results, cpu, drained) else 1


if __name__ == "__main__":
    sys.exit(main())
