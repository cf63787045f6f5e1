"""What `bench/scale.py` measures, in-process, on a seeded database (`scale_seed`).

Pages are fetched with Django's test Client, signed in as the pharmacist (with the
second factor recorded in the session, as allauth's sign-in records it) or as the
patient with 500 orders; each is fetched once to warm up, then `runs` times for the
median, then once more inside CaptureQueriesContext for its query count.

Each periodic job is its Celery task, applied as a worker applies it (tasks run
in-process, the embedded set-up), inside a transaction rolled back afterwards, so
every run finds the same work due. The work a task hands on after its transaction
commits (emails, dispatches) is run at the end of the task's own block and counted
with it, as the worker would run it right after.
"""

import os
import statistics
import threading
import time
from collections import deque
from datetime import timedelta

from allauth.account.internal.flows.login import record_authentication
from allauth.mfa.base.internal.flows import post_authentication
from allauth.mfa.models import Authenticator
from django.contrib.auth import get_user_model
from django.db import connection, reset_queries, transaction
from django.test import Client, RequestFactory, TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.mfa import enrol_totp
from bench.scale_seed import Seeded
from bench.scale_table import Figure
from orders.models import AutoRefill, AutoRefillStatus, Order, OrderStatus
from pharmacy.queue import registered_task

# (row name, who, URL name, query string). Admin lists by their admin URL names.
PAGES = [
    ("queue, default", "pharmacist", "admin:prescriptions_prescription_changelist", ""),
    ("queue, ?q=<surname>", "pharmacist", "admin:prescriptions_prescription_changelist", "surname"),
    (
        "queue, ?q=<order number>",
        "pharmacist",
        "admin:prescriptions_prescription_changelist",
        "number",
    ),
    (
        "queue, filter status=submitted",
        "pharmacist",
        "admin:prescriptions_prescription_changelist",
        "status__exact=submitted",
    ),
    ("orders, default", "pharmacist", "admin:orders_order_changelist", ""),
    ("orders, ?q=<surname>", "pharmacist", "admin:orders_order_changelist", "surname"),
    ("orders, ?q=<order number>", "pharmacist", "admin:orders_order_changelist", "number"),
    (
        "orders, filter status=paid",
        "pharmacist",
        "admin:orders_order_changelist",
        "status__exact=paid",
    ),
    ("audit events", "pharmacist", "admin:prescriptions_auditevent_changelist", ""),
    (
        "patients (medical profiles)",
        "pharmacist",
        "admin:prescriptions_medicalprofile_changelist",
        "",
    ),
    ("dispensing queue (to check)", "pharmacist", "admin:dispensing_ordertocheck_changelist", ""),
    ("patient: orders list", "patient", "orders:list", ""),
    ("patient: order page", "patient", "orders:detail", ""),
    ("patient: prescriptions", "patient", "prescriptions:list", ""),
    ("patient: profile export", "patient", "prescriptions:profile_export", ""),
]
# (row name, registered task name, what the seeding made due for it (`scale_seed.SHARES`),
# whether the task returns how many items it processed: then that is the count per item).
JOBS = [
    ("job: refill reminders", "orders.notifications.send_refill_reminders", ("refill_due",), True),
    ("job: reconciliation", "orders.sweeps.reconcile_payments", ("window", "lost"), False),
    (
        "job: retry unprocessed events",
        "orders.sweeps.retry_unprocessed_events",
        ("unprocessed",),
        True,
    ),
    ("job: expire_unpaid_orders", "orders.sweeps.expire_unpaid_orders", ("expired",), True),
    ("job: resume_lost_work", "orders.sweeps.resume_lost_work", ("lost", "unsent"), True),
    ("job: auto-refill run", "orders.autorefill.run_auto_refills", ("auto_refill",), True),
    ("job: lots expiry", "dispensing.stock.expire_lots", ("expired_lots",), True),
]


def sign_in_pharmacist(client: Client, user) -> Client:
    """The pharmacist's session as allauth records a password and TOTP sign-in."""
    enrol_totp(user)
    authenticator = Authenticator.objects.get(user=user, type=Authenticator.Type.TOTP)
    client.force_login(user)
    request = RequestFactory().get("/")
    request.session = client.session
    request.user = user
    record_authentication(request, user, method="password", email=user.email)
    post_authentication(request, authenticator)
    request.session.save()
    return client


def clients(seeded: Seeded) -> dict[str, Client]:
    User = get_user_model()
    patient = Client()
    patient.force_login(User.objects.get(email=seeded.heavy_patient))
    return {
        "pharmacist": sign_in_pharmacist(Client(), User.objects.get(email=seeded.pharmacist)),
        "patient": patient,
    }


def page_url(seeded: Seeded, url_name: str, query: str) -> str:
    kwargs = {"number": seeded.heavy_order_number} if url_name == "orders:detail" else None
    url = reverse(url_name, kwargs=kwargs)
    if query == "surname":
        return f"{url}?q={seeded.surname}"
    if query == "number":
        return f"{url}?q={seeded.order_number}"
    return f"{url}?{query}" if query else url


def measure_page(client: Client, url: str, runs: int) -> Figure:
    first = client.get(url)
    note = "" if first.status_code == 200 else f"(HTTP {first.status_code})"
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        client.get(url)
        times.append((time.perf_counter() - started) * 1000)
    reset_queries()
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    return Figure(ms=statistics.median(times), queries=len(queries), note=note)


class StandinTime:
    """The time the Stripe stand-in spends answering the site's API calls.

    That is Stripe's share, not the site's: the stand-in builds every list from all it
    holds (a page of 100 sessions costs it all 2,200 of them at 100k), which Stripe
    does not. It is taken out of a job's time and shown beside it.
    """

    def __init__(self) -> None:
        self.ms = 0.0
        self._lock = threading.Lock()

    def install(self) -> None:
        from devtools.stripe_standin import app

        inner = app.dispatch

        def timed(store, request):
            started = time.perf_counter()
            try:
                return inner(store, request)
            finally:
                with self._lock:
                    self.ms += (time.perf_counter() - started) * 1000

        app.dispatch = timed


STANDIN = StandinTime()


def _apply_once(task) -> tuple[float, float, int, object]:
    """One run of the task and the work it hands on, rolled back:
    (ms of the site, ms of the stand-in, queries, result)."""
    reset_queries()
    standin_before = STANDIN.ms
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        started = time.perf_counter()
        with TestCase.captureOnCommitCallbacks(execute=True):
            result = task.apply(throw=True).get()
        elapsed = (time.perf_counter() - started) * 1000
        transaction.set_rollback(True)
    standin = STANDIN.ms - standin_before
    return elapsed - standin, standin, len(queries), result


def measure_job(task_name: str, items: int, runs: int, *, counts: bool) -> Figure:
    """`items`: what the seeding made due; a task that returns how many it processed
    (`counts`) is judged per item it says, e.g. a sweep that takes 200 at a time."""
    try:
        task = registered_task(task_name)
    except KeyError:
        return Figure(ms=0, queries=0, items=items, note="(task not registered)")
    _apply_once(task)  # warm
    results = [_apply_once(task) for _ in range(runs)]
    ms = statistics.median(r[0] for r in results)
    standin = statistics.median(r[1] for r in results)
    returned = results[-1][3]
    returned = len(returned) if isinstance(returned, list) else returned
    parts = []
    if counts and isinstance(returned, int):
        if returned != items:
            parts.append(f"seeded {items} due")
        items = returned
    else:
        parts.append(f"returned {returned}")
    if standin >= 1:
        parts.append(f"+{standin:.0f} ms in the Stripe stand-in, not counted")
    note = f"({'; '.join(parts)})" if parts else ""
    return Figure(ms=ms, queries=results[-1][2], items=items, note=note)


def prepare_standin(store, seeded: Seeded) -> None:
    """What Stripe holds for the seeded data (the stand-in keeps nothing between runs):
    a paid Checkout Session for each order paid in the reconciliation window, and a
    saved card for each auto-refill that runs today."""
    from devtools.stripe_standin.objects import LineItem, Session

    STANDIN.install()
    since = timezone.now() - timedelta(days=4)
    paid = Order.objects.filter(
        paid_at__gte=since,
        status__in=[OrderStatus.PAID, OrderStatus.DISPATCHED, OrderStatus.DELIVERED],
    ).order_by("paid_at", "pk")
    for order in paid.iterator():
        created = int(order.created_at.timestamp())
        store.add_session(
            Session(
                created=created,
                expires_at=created + 1800,
                currency=order.currency,
                line_items=[LineItem(str(order), order.total_cents, 1, order.currency)],
                success_url="http://testserver/",
                cancel_url=None,
                client_reference_id=order.number,
                customer_email=None,
                metadata={"order_number": order.number},
                payment_intent_metadata={},
                id=order.stripe_session_id,
                status="complete",
                payment_status="paid",
                payment_intent=order.stripe_payment_intent,
            )
        )
    for refill in AutoRefill.objects.filter(status=AutoRefillStatus.ACTIVE).select_related(
        "patient"
    ):
        customer = store.add_customer(email=refill.patient.email, name=None, metadata={})
        method = store.attach("pm_card_visa", customer["id"])
        AutoRefill.objects.filter(pk=refill.pk).update(
            stripe_customer_id=customer["id"], stripe_payment_method_id=method.id
        )


def measure_all(seeded: Seeded, items: dict[str, int], runs: int, log) -> dict[str, Figure]:
    # Django keeps the last 9,000 queries; a job may run more, and the count needs them all.
    connection.queries_limit = 10**7
    connection.queries_log = deque(maxlen=connection.queries_limit)
    figures = {}
    signed_in = clients(seeded)
    # SCALE_ONLY="orders|job: lots": only the rows whose name contains one of these.
    only = [part for part in os.environ.get("SCALE_ONLY", "").split("|") if part]
    for name, who, url_name, query in PAGES:
        if only and not any(part in name for part in only):
            continue
        figures[name] = measure_page(signed_in[who], page_url(seeded, url_name, query), runs)
        log(f"  {name}: {figures[name]}")
    for name, task_name, keys, counts in JOBS:
        if only and not any(part in name for part in only):
            continue
        due = sum(items[k] for k in keys)
        figures[name] = measure_job(task_name, due, runs, counts=counts)
        log(f"  {name}: {figures[name]}")
    return figures
