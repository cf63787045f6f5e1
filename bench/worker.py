#!/usr/bin/env python
"""Worker CPU per paid order: what a real Celery worker spends on the tasks one paid
order causes.

A Celery worker runs as in production, in its own process (prefork, 2 processes,
`devtools/processes.py`), on PostgreSQL and Redis. This process plays the site and
the pharmacist: it makes ORDERS orders (default 40) through the services, pays each
at a Stripe stand-in (in this process) and, measured from there, does what the
webhook view does with the `checkout.session.completed` event (verify, store, queue
it after commit) and, once the worker has the order paid, the pharmacist's final
check. The worker does the rest: the payment confirmation, the receipt, the
counselling offer of a first fill, the courier booking and the dispatch email.

The worker's CPU is read from /proc (utime + stime of the worker and its pool
processes, and of children it reaped) before the first webhook and after the last
task, less what the worker spends idle over as long (measured first, with nothing
queued), and divided by ORDERS. Each round starts a fresh worker and gives it WARMUP
orders (default 5) before the measured ones. With BASELINE_TREE (another checkout of the
site, e.g. `git archive main | tar -x -C /tmp/main-tree`), a worker of that code runs
rounds alternating with this checkout's, on the same database and Redis, and its median
is the baseline; otherwise the baseline is BASELINE_MS (default 66: issue 18's figure).
It prints ms per paid order for each, the target (half the baseline) and MET or NOT
MET; the exit status is 1 when the target is not met.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pharmacy_bench_worker \\
    REDIS_URL=redis://127.0.0.1:6379/9 CACHE_URL=redis://127.0.0.1:6379/8 \\
    BASELINE_TREE=/tmp/main-tree .venv/bin/python bench/worker.py

It runs `migrate` on DATABASE_URL and purges the Celery queues on REDIS_URL: give it
a database and Redis database numbers of its own.
"""

import os
import secrets
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devtools import processes  # noqa: E402

ORDERS = int(os.environ.get("ORDERS", "40"))
ROUNDS = int(os.environ.get("ROUNDS", "3"))
BASELINE_MS = float(os.environ.get("BASELINE_MS", "66"))
TARGET_MS = BASELINE_MS / 2
IDLE_SECONDS = float(os.environ.get("IDLE_SECONDS", "2"))
WARMUP = int(os.environ.get("WARMUP", "5"))
# Another checkout of the site (e.g. `git archive main | tar -x -C /tmp/main-tree`): its
# worker runs the same orders in rounds alternating with this one's, on the same data,
# and its median is the baseline.
BASELINE_TREE = os.environ.get("BASELINE_TREE", "")
TICK = os.sysconf("SC_CLK_TCK")
ADDRESS = {
    "full_name": "Bench Patient",
    "line1": "12 Elm Street",
    "line2": "",
    "city": "Springfield",
    "state": "NY",
    "zip_code": "10001",
    "phone": "",
}


# CPU from /proc -----------------------------------------------------------------


def _stat(pid: int) -> tuple[int, list[str]] | None:
    """(parent pid, the fields after the command name) of a process, or None if gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), fields


def own_cpu_seconds(pid: int) -> float:
    """User + system CPU of `pid` alone (the worker's main process: it takes the messages
    from Redis, hands them to the pool, acknowledges and logs)."""
    stat = _stat(pid)
    return sum(int(value) for value in stat[1][11:13]) / TICK if stat else 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU of `pid`, of every live descendant, and of the children it reaped."""
    total = 0
    stats = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(int(entry))) is not None:
            stats[int(entry)] = stat
    family = {pid}
    grew = True
    while grew:
        grew = False
        for child, (parent, _) in stats.items():
            if parent in family and child not in family:
                family.add(child)
                grew = True
    for member in family:
        if member not in stats:
            continue
        fields = stats[member][1]
        # utime, stime, cutime, cstime: fields 14-17 of stat(5), 12-15 after the name.
        total += sum(int(value) for value in fields[11:15])
    return total / TICK


# Setup, in this process, through the services ------------------------------------


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_http = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects)


def pay_on_hosted_page(url: str) -> None:
    """Pay as the patient's browser does; the stand-in answers 303 and records the event."""
    request = urllib.request.Request(url, data=urlencode({"action": "pay"}).encode())  # noqa: S310
    try:
        _http.open(request, timeout=10).close()
    except urllib.error.HTTPError as exc:
        with exc:
            if exc.code != 303:
                raise RuntimeError(f"the hosted page answered {exc.code} to Pay ({url})") from exc


def configure(tmp: str, standin_url: str) -> None:
    """Production settings for this process too, with Stripe at the stand-in."""
    for name in ("DEBUG", "TEST_ONLY_DEVTOOLS"):
        os.environ.pop(name, None)
    os.environ.update(
        DJANGO_SETTINGS_MODULE="pharmacy.settings",
        SECRET_KEY=secrets.token_urlsafe(40),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        HTTPS="off",
        STATIC_ROOT=os.path.join(tmp, "static"),
        PRIVATE_MEDIA_ROOT=os.path.join(tmp, "private"),
        STRIPE_SECRET_KEY="sk_test_bench_" + secrets.token_hex(8),
        STRIPE_WEBHOOK_SECRET="whsec_bench_" + secrets.token_hex(16),
        STRIPE_API_BASE=standin_url,
        TEST_ONLY_ALLOW_STRIPE_STANDIN="1",
        STRIPE_MAX_NETWORK_RETRIES="0",
        SITE_URL="http://127.0.0.1:8000",
        CELERY_TASK_ALWAYS_EAGER="0",
        LOG_LEVEL="WARNING",
    )
    # Its own keys in the cache, should CACHE_URL be a database that tests also use.
    os.environ.setdefault("CACHE_KEY_PREFIX", "bench-worker")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)


def pharmacy_staff(run: str, *, orders: int):
    from bench.data import (
        bench_package,
        delivery_option,
        licence_state,
        make_partner,
        make_pharmacist,
    )
    from dispensing.services.stock import lot_receive

    licence_state(ADDRESS["state"])
    delivery_option()
    pharmacist = make_pharmacist(email=f"bench-{run}-pharmacist@example.com")
    partner = make_partner(name=f"Bench telehealth {run}", slug=f"bench-{run}")
    package = bench_package()
    # Enough boxes in one lot for every order of every round, so the final check of each
    # takes them from it (first expiry first).
    lot_receive(
        package_id=package.pk,
        lot_number=f"BENCH{run.upper()}",
        expiry_date=time_in_days(700),
        quantity=orders + 10,
        supplier="McKesson",
        invoice_reference=f"INV-{run}",
        received_by=pharmacist,
    )
    return pharmacist, partner


def time_in_days(days: int):
    from datetime import timedelta

    from django.utils import timezone

    return timezone.localdate() + timedelta(days=days)


def paid_at_standin(
    run: str, batch: int, pharmacist, partner, *, count: int
) -> list[tuple[int, bytes, str]]:
    """`count` orders, each of a new patient, paid on the stand-in's hosted page; returns
    (order id, payload, signature) of each `checkout.session.completed` event."""
    import json

    from django.conf import settings

    from bench.data import bench_package, make_patient, receive_e_prescription
    from devtools.stripe_standin import sign
    from orders.cart import CartLine
    from orders.payments.client import stripe_client
    from orders.payments.sessions import checkout_session_for
    from orders.services import address_save, order_place
    from prescriptions.services import prescription_verify

    package = bench_package()
    placed = []
    for n in range(count):
        tag = f"{run}-{batch}-{n}"
        patient = make_patient(
            email=f"bench-{tag}@example.com", first_name="Bench", last_name=f"Patient {tag}"
        )
        prescription = receive_e_prescription(
            patient=patient, partner=partner, reference=f"BENCH-{tag}"
        )
        prescription_verify(
            prescription_id=prescription.pk, pharmacist=pharmacist, warnings_acknowledged=True
        )
        address = address_save(patient=patient, data=ADDRESS)
        order = order_place(patient=patient, lines=[CartLine(package, 1)], address=address)
        url = checkout_session_for(order)
        pay_on_hosted_page(url)
        order.refresh_from_db()
        placed.append(order)
    client = stripe_client()
    wanted = {order.stripe_session_id: order.pk for order in placed}
    events = {}
    deadline = time.monotonic() + 30
    while len(events) < len(wanted):
        for event in client.v1.events.list(
            {"type": "checkout.session.completed", "limit": 100}
        ).auto_paging_iter():
            session_id = event.data.object.id
            if session_id in wanted:
                events[session_id] = event.to_dict()
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(wanted) - len(events)} payments have no event")
    secret = settings.STRIPE_WEBHOOK_SECRET
    out = []
    for session_id, event in events.items():
        payload = json.dumps(event).encode()
        out.append((wanted[session_id], payload, sign(payload, secret)))
    return out


def final_check(order_id: int, pharmacist) -> None:
    """The pharmacist's final check with the boxes the site planned: it queues the dispatch."""
    from dispensing.services.final_check import (
        LotConfirmation,
        final_check_plan,
        order_final_check,
    )
    from orders.models import Order

    plans = final_check_plan(order=Order.objects.get(pk=order_id))
    order_final_check(
        order_id=order_id,
        pharmacist=pharmacist,
        drug_confirmed_lines={plan.line.pk for plan in plans},
        lots=[
            LotConfirmation(plan.line.pk, a.lot_number, a.expiry_date, a.quantity)
            for plan in plans
            for a in plan.allocations
        ],
    )


# One measured round ----------------------------------------------------------------


def run_round(worker, events, pharmacist) -> dict:
    """Webhooks in, final checks as orders are paid, until every order is dispatched and
    emailed and the worker is idle; the worker's CPU over that time."""
    from django.db import transaction

    from orders.models import Notification, Order, OrderStatus
    from orders.payments.events import event_enqueue_on_commit, record_event

    ids = [order_id for order_id, _, _ in events]
    began_main = own_cpu_seconds(worker.pid)
    began_cpu, began = cpu_seconds(worker.pid), time.monotonic()
    for _, payload, signature in events:
        with transaction.atomic():  # what the webhook view does
            event, created = record_event(payload=payload, signature=signature)
            if created:
                event_enqueue_on_commit(event)
    waiting = set(ids)
    deadline = time.monotonic() + 120
    while waiting:
        paid = Order.objects.filter(pk__in=waiting, status=OrderStatus.PAID)
        for order_id in paid.values_list("pk", flat=True):
            final_check(order_id, pharmacist)
            waiting.discard(order_id)
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(waiting)} orders never paid.\n{worker.tail()}")
        time.sleep(0.01)

    def done() -> bool:
        dispatched = Order.objects.filter(pk__in=ids, status=OrderStatus.DISPATCHED).count()
        sent = Notification.objects.filter(order_id__in=ids, sent_at__isnull=False).count()
        return dispatched == len(ids) and sent == 2 * len(ids)

    processes.wait_for(done, timeout=120, message="every order dispatched", process=worker)
    worker.wait_idle(timeout=120)
    ended, ended_cpu = time.monotonic(), cpu_seconds(worker.pid)
    main = own_cpu_seconds(worker.pid) - began_main
    return {"seconds": ended - began, "cpu": ended_cpu - began_cpu, "main": main}


def idle_rate(worker) -> float:
    """CPU seconds per second the worker spends with nothing to do (polling, timers)."""
    began_cpu, began = cpu_seconds(worker.pid), time.monotonic()
    time.sleep(IDLE_SECONDS)
    return (cpu_seconds(worker.pid) - began_cpu) / (time.monotonic() - began)


def main() -> int:
    database_url, redis_url = os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")
    if not database_url.startswith(("postgres://", "postgresql://")) or not redis_url:
        sys.exit("Set DATABASE_URL (PostgreSQL, a database for the benchmark) and REDIS_URL.")
    if BASELINE_TREE and not (Path(BASELINE_TREE) / "pharmacy" / "celery.py").exists():
        sys.exit(f"BASELINE_TREE={BASELINE_TREE} holds no checkout of the site.")
    from devtools.stripe_standin import StandinServer

    run = secrets.token_hex(3)
    standin = StandinServer(webhook_url=None, port=0).start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            configure(tmp, standin.url)
            # The worker logs at INFO, as in production; only this process is quiet.
            env = processes.site_env(STRIPE_API_BASE=standin.url, LOG_LEVEL=None)
            return measure(run, env, Path(tmp))
    finally:
        standin.stop()


def measure(run: str, env: dict[str, str], logs: Path) -> int:
    from django.db import connection

    trees = {"this checkout": ROOT}
    if BASELINE_TREE:
        trees = {"baseline": Path(BASELINE_TREE), **trees}
    pharmacist, partner = pharmacy_staff(run, orders=(ORDERS + WARMUP) * ROUNDS * len(trees))
    print(
        f"{ORDERS} paid orders a round (after {WARMUP} unmeasured), {ROUNDS} rounds each of "
        f"{', '.join(f'{label} ({tree})' for label, tree in trees.items())}; 1 Celery worker "
        "(prefork, 2) started afresh for each round, PostgreSQL, Redis; tasks: payment "
        "confirmation, receipt, counselling offer, courier booking, dispatch email",
        flush=True,
    )
    per_order: dict[str, list[float]] = {label: [] for label in trees}
    batch = 0
    for round_no in range(ROUNDS):
        # Alternate which goes first, so a machine that gets busier favours neither.
        order = list(trees.items()) if round_no % 2 == 0 else list(trees.items())[::-1]
        for label, tree in order:
            with processes.celery_worker(env, log_dir=logs, code=tree) as worker:
                if WARMUP:
                    batch += 1
                    warm = paid_at_standin(run, batch, pharmacist, partner, count=WARMUP)
                    run_round(worker, warm, pharmacist)
                batch += 1
                events = paid_at_standin(run, batch, pharmacist, partner, count=ORDERS)
                worker.wait_idle(timeout=300)  # the prescription emails of the setup
                idle = idle_rate(worker)
                result = run_round(worker, events, pharmacist)
            net = result["cpu"] - idle * result["seconds"]
            ms = net / ORDERS * 1000
            per_order[label].append(ms)
            print(
                f"round {round_no + 1}, {label}: {result['seconds']:.2f} s, worker CPU "
                f"{result['cpu']:.2f} s (main process {result['main']:.2f} s, idle "
                f"{idle * 1000:.1f} ms/s), {ms:.1f} ms per paid order",
                flush=True,
            )
            connection.close()
    medians = {label: statistics.median(values) for label, values in per_order.items()}
    baseline = medians.get("baseline", BASELINE_MS)
    source = "measured in this run" if "baseline" in medians else "issue 18, not measured here"
    target = baseline / 2
    ours = medians["this checkout"]
    met = ours <= target
    print(f"\nworker CPU per paid order, median of {ROUNDS} rounds:")
    for label, value in medians.items():
        print(f"  {label}: {value:.1f} ms")
    print(
        f"baseline {baseline:.1f} ms ({source}), target <= {target:.1f} ms (halved); "
        f"this checkout {ours:.1f} ms = {ours / baseline:.2f} x baseline: "
        f"{'MET' if met else 'NOT MET'}"
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
