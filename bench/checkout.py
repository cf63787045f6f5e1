#!/usr/bin/env python
"""Checkout and payment benchmark: patients racing for scarce stock, then paying.

The production path, each piece in its own process: gunicorn (2 gthread workers,
DEBUG off), PostgreSQL, Redis, a Celery worker and the Stripe stand-in, which
delivers signed webhooks to the site as Stripe does. PATIENTS patients (default
40) with verified prescriptions, a delivery address and one box in their cart
(made through the services, in this process) check out at once over HTTP for
STOCK boxes (default PATIENTS/2), so some are refused. Each placed order is then
paid on the stand-in's hosted page, PAY_CONCURRENCY at a time (default 4), and the time from the page's answer to that POST (the moment the stand-in
sends the webhook) to the order's `paid_at` (written by the worker; polling only
tells when to look) is the webhook-to-paid latency.

It ends with a reconciliation against the targets: zero oversold units, zero lost
or duplicated payments, webhook-to-paid p99 under 1 s; the exit status is 1 if
any is missed.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pharmacy_bench_checkout \\
    REDIS_URL=redis://127.0.0.1:6379/9 .venv/bin/python bench/checkout.py

It runs `migrate` on DATABASE_URL and purges the Celery queue on REDIS_URL: give
it a database and a Redis database number of its own.
"""

import math
import os
import re
import secrets
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.cookies import SimpleCookie
from importlib import import_module
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devtools import processes  # noqa: E402

PATIENTS = int(os.environ.get("PATIENTS", "40"))
STOCK = int(os.environ.get("STOCK", str(PATIENTS // 2)))
# Clicks on the hosted page at a time. The stand-in listens with socketserver's backlog of
# 5 connections: a larger burst gets 1 s SYN retransmits or resets from the stand-in
# itself, which Stripe would not add. 0: every order at once.
PAY_CONCURRENCY = int(os.environ.get("PAY_CONCURRENCY", "4"))
TARGET_P99_SECONDS = 1.0
ADDRESS = {
    "full_name": "Bench Patient",
    "line1": "12 Elm Street",
    "line2": "",
    "city": "Springfield",
    "state": "NY",
    "zip_code": "10001",
    "phone": "",
}


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_http = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects)


def http(url: str, *, data: dict | None = None, cookies: dict | None = None):
    """(status, headers, body) without following redirects: a 302 is an answer here."""
    body = urlencode(data).encode() if data is not None else None
    headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in (cookies or {}).items())}
    request = urllib.request.Request(url, data=body, headers=headers)  # noqa: S310
    try:
        with _http.open(request, timeout=30) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.headers, exc.read().decode(errors="replace")


def percentile(values: list[float], q: float) -> float:
    """Nearest rank, so with few samples p99 is the slowest one, not an interpolation."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


# Setup, in this process, through the services ----------------------------------


def configure(tmp: str, site_url: str) -> None:
    """Production settings for this process too, so it writes what the site reads."""
    for name in ("DEBUG", "STRIPE_API_BASE", "TEST_ONLY_ALLOW_STRIPE_STANDIN"):
        os.environ.pop(name, None)
    os.environ.update(
        DJANGO_SETTINGS_MODULE="pharmacy.settings",
        SECRET_KEY=secrets.token_urlsafe(40),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        HTTPS="off",  # plain HTTP on loopback; everything else as in production
        STATIC_ROOT=os.path.join(tmp, "static"),
        PRIVATE_MEDIA_ROOT=os.path.join(tmp, "private"),
        STRIPE_SECRET_KEY="sk_test_bench_" + secrets.token_hex(8),
        STRIPE_WEBHOOK_SECRET="whsec_bench_" + secrets.token_hex(16),
        SITE_URL=site_url,
        CELERY_TASK_ALWAYS_EAGER="0",
        LOG_LEVEL="WARNING",
    )
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)


def create_patients(run: str) -> list[str]:
    """Session keys of PATIENTS signed-in patients, each with one box in the cart."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    from bench.data import (
        bench_package,
        delivery_option,
        licence_state,
        make_partner,
        make_patient,
        make_pharmacist,
        receive_e_prescription,
    )
    from orders.cart import COUNT_KEY
    from orders.cart import SESSION_KEY as CART_KEY
    from orders.services import address_save
    from prescriptions.services import prescription_verify

    session_store = import_module(settings.SESSION_ENGINE).SessionStore
    package = bench_package()
    licence_state(ADDRESS["state"])
    delivery_option()
    pharmacist = make_pharmacist(email=f"bench-{run}-pharmacist@example.com")
    partner = make_partner(name=f"Bench telehealth {run}", slug=f"bench-{run}")
    keys = []
    for n in range(PATIENTS):
        patient = make_patient(
            email=f"bench-{run}-{n}@example.com", first_name="Bench", last_name=f"Patient {n}"
        )
        prescription = receive_e_prescription(
            patient=patient, partner=partner, reference=f"BENCH-{run}-{n}"
        )
        prescription_verify(
            prescription_id=prescription.pk, pharmacist=pharmacist, warnings_acknowledged=True
        )
        address_save(patient=patient, data=ADDRESS)
        session = session_store()
        session[SESSION_KEY] = str(patient.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = patient.get_session_auth_hash()
        session[CART_KEY] = {str(package.pk): 1}
        session[COUNT_KEY] = 1
        session.create()
        keys.append(session.session_key)
    type(package).objects.filter(pk=package.pk).update(stock=STOCK)
    return keys


# The measured phases, over HTTP ------------------------------------------------


@dataclass
class Checkout:
    status: int
    began: float
    ended: float
    pay_url: str = ""

    @property
    def seconds(self) -> float:
        return self.ended - self.began


def check_out_all(site: str, standin: str, session_keys: list[str]) -> tuple[list[Checkout], float]:
    """Every patient opens checkout, then all post the address form at the same moment."""
    start = threading.Barrier(len(session_keys))

    def one(session_key: str) -> Checkout:
        cookies = {"sessionid": session_key}
        status, headers, body = http(f"{site}/checkout/", cookies=cookies)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body)
        if status != 200 or token is None:
            start.abort()
            raise RuntimeError(f"GET /checkout/ answered {status} without a form: not signed in?")
        jar = SimpleCookie()
        for header in headers.get_all("Set-Cookie") or []:
            jar.load(header)
        cookies["csrftoken"] = jar["csrftoken"].value
        start.wait(timeout=60)
        began = time.perf_counter()
        data = {**ADDRESS, "csrfmiddlewaretoken": token.group(1)}
        status, headers, _ = http(f"{site}/checkout/", data=data, cookies=cookies)
        ended = time.perf_counter()
        location = headers.get("Location", "")
        return Checkout(status, began, ended, location if location.startswith(standin) else "")

    with ThreadPoolExecutor(max_workers=len(session_keys)) as pool:
        results = list(pool.map(one, session_keys))
    # From the first POST sent to the last answer: the GETs before the barrier do not count.
    return results, max(c.ended for c in results) - min(c.began for c in results)


def pay_all(pay_urls: list[str]) -> dict[str, float]:
    """Pay on the hosted page as the patient's browser does; session id -> time it answered."""

    def one(url: str) -> tuple[str, float]:
        status, _, _ = http(url, data={"action": "pay"})
        # The stand-in publishes checkout.session.completed just after this answer, as
        # Stripe does: the webhook's clock starts here, not while the click was queued.
        answered = time.time()
        if status != 303:
            raise RuntimeError(f"the hosted page answered {status} to Pay ({url})")
        return url.rstrip("/").rsplit("/", 1)[-1], answered

    with ThreadPoolExecutor(max_workers=PAY_CONCURRENCY or max(1, len(pay_urls))) as pool:
        return dict(pool.map(one, pay_urls))


# Reconciliation ----------------------------------------------------------------


def reconcile(run: str, standin_url: str, checkouts: list[Checkout], clicks: dict[str, float]):
    import stripe
    from django.conf import settings
    from django.db.models import Count, Q, Sum

    from bench.data import bench_package
    from orders.models import Order, OrderLine, OrderStatus, PaymentEvent

    orders = Order.objects.filter(patient__email__startswith=f"bench-{run}-")
    boxes_ordered = OrderLine.objects.filter(order__in=orders).aggregate(n=Sum("quantity"))["n"]
    stock_left = bench_package().stock
    client = stripe.StripeClient(
        settings.STRIPE_SECRET_KEY, base_addresses={"api": standin_url}, max_network_retries=0
    )
    succeeded = sum(
        client.v1.checkout.sessions.retrieve(session_id).payment_status == "paid"
        for session_id in clicks
    )
    paid = orders.filter(paid_at__isnull=False)
    paid_changes = orders.annotate(
        n=Count("status_changes", filter=Q(status_changes__to_status=OrderStatus.PAID))
    )
    second_payments = PaymentEvent.objects.filter(
        order__in=orders, outcome__contains="second payment"
    ).count()
    latencies = [
        order.paid_at.timestamp() - clicks[order.stripe_session_id]
        for order in paid
        if order.stripe_session_id in clicks
    ]
    return {
        "placed_http": sum(1 for c in checkouts if c.pay_url),
        "orders": orders.count(),
        "boxes_ordered": boxes_ordered or 0,
        "stock_left": stock_left,
        "stock_taken": STOCK - stock_left,
        "succeeded": succeeded,
        "paid": paid.count(),
        "dispatched": orders.filter(status=OrderStatus.DISPATCHED).count(),
        "duplicated": sum(max(0, o.n - 1) for o in paid_changes) + second_payments,
        "latencies": latencies,
    }


def report(checkouts: list[Checkout], checkout_seconds: float, r: dict) -> bool:
    placed = [c for c in checkouts if c.pay_url]
    refused = [c for c in checkouts if c.status == 409]
    errors = [c for c in checkouts if not c.pay_url and c.status != 409]
    latencies = [c.seconds * 1000 for c in checkouts]
    oversold = max(0, r["boxes_ordered"] - STOCK) + abs(r["stock_taken"] - r["boxes_ordered"])
    lost = max(0, r["succeeded"] - r["paid"])
    p99_paid = percentile(r["latencies"], 99)
    print(
        f"\n{PATIENTS} patients, {STOCK} boxes, gunicorn 2 gthread workers x 4 threads, "
        "1 Celery worker (prefork, 2), DEBUG off"
    )
    print(f"checkout: {len(placed)} placed, {len(refused)} refused (409), {len(errors)} errors")
    print(
        f"checkout: {len(placed) / checkout_seconds:.1f} orders/s, "
        f"{len(checkouts) / checkout_seconds:.1f} attempts/s; "
        f"latency p50 {percentile(latencies, 50):.0f} ms, p99 {percentile(latencies, 99):.0f} ms"
    )
    print(
        f"webhook-to-paid ({len(r['latencies'])} orders paid "
        f"{f'{PAY_CONCURRENCY} at a time' if PAY_CONCURRENCY else 'all at once'}): "
        f"p50 {percentile(r['latencies'], 50) * 1000:.0f} ms, p99 {p99_paid * 1000:.0f} ms"
    )
    print(
        f"stock: {STOCK} boxes, {r['stock_left']} left, {r['stock_taken']} taken; "
        f"{r['boxes_ordered']} boxes in {r['orders']} orders ({r['placed_http']} redirects "
        f"to payment); {r['dispatched']} dispatched"
    )
    checks = [
        ("oversold units", oversold, oversold == 0 and r["stock_left"] >= 0),
        ("orders placed = redirects to payment", r["orders"], r["orders"] == r["placed_http"]),
        ("payments succeeded at the stand-in", r["succeeded"], r["succeeded"] == len(placed)),
        ("orders paid", r["paid"], r["paid"] == r["succeeded"]),
        ("lost payments", lost, lost == 0),
        ("duplicated payments", r["duplicated"], r["duplicated"] == 0),
        ("checkout errors (not 302 or 409)", len(errors), not errors),
        ("webhook-to-paid p99 under 1 s", f"{p99_paid:.3f} s", p99_paid < TARGET_P99_SECONDS),
    ]
    for label, value, ok in checks:
        print(f"  {'ok  ' if ok else 'FAIL'} {label}: {value}")
    return all(ok for _, _, ok in checks)


def main() -> int:
    database_url, redis_url = os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")
    if not database_url.startswith(("postgres://", "postgresql://")) or not redis_url:
        sys.exit("Set DATABASE_URL (PostgreSQL, a database for the benchmark) and REDIS_URL.")
    run = secrets.token_hex(3)
    site_port, standin_port = processes.free_port(), processes.free_port()
    site_url, standin_url = f"http://127.0.0.1:{site_port}", f"http://127.0.0.1:{standin_port}"
    with tempfile.TemporaryDirectory() as tmp:
        configure(tmp, site_url)
        from django.conf import settings

        from orders.models import Order

        env = processes.site_env(STRIPE_API_BASE=standin_url)
        logs = Path(tmp)
        with (
            processes.stripe_standin_process(
                webhook_url=f"{site_url}/payments/stripe/webhook/",
                webhook_secret=settings.STRIPE_WEBHOOK_SECRET,
                port=standin_port,
                log_dir=logs,
            ) as standin,
            processes.gunicorn_server(env, port=site_port, log_dir=logs) as site,
            processes.celery_worker(env, log_dir=logs) as worker,
        ):
            try:
                print(f"setting up {PATIENTS} patients (run {run})...", flush=True)
                session_keys = create_patients(run)
                worker.wait_idle(timeout=300)  # the prescription emails, before measuring
                checkouts, seconds = check_out_all(site.url, standin.url, session_keys)
                pay_urls = [c.pay_url for c in checkouts if c.pay_url]
                clicks = pay_all(pay_urls)
                processes.wait_for(
                    lambda: (
                        Order.objects.filter(
                            stripe_session_id__in=list(clicks), paid_at__isnull=False
                        ).count()
                        == len(clicks)
                    ),
                    timeout=60,
                    interval=0.02,
                    message="every paid order to be confirmed",
                    process=worker,
                )
                worker.wait_idle(timeout=120)  # dispatch and emails: then count
                results = reconcile(run, standin.url, checkouts, clicks)
            except Exception:
                for process in (standin, site, worker):
                    print(process.tail(30), file=sys.stderr)
                raise
    return 0 if report(checkouts, seconds, results) else 1


if __name__ == "__main__":
    sys.exit(main())
