"""What the reliability tests share: their marks, the site's processes, orders and checks.

Every test here runs real processes (gunicorn, a Celery worker, the Stripe stand-in)
on the test's PostgreSQL database and the test's Redis, and stops or kills one of
them, or the services themselves, on purpose. They are transactional
(`serialized_rollback`): the other processes must see what a test creates.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, connections
from django.db.models import Count, Sum
from django.test import Client
from kombu import Connection

from catalog.models import Package
from devtools import processes
from dispensing.models import Lot
from orders.emails import SUBJECTS
from orders.models import Notification, Order, OrderLine, OrderStatus, OrderStatusChange
from prescriptions.models import Prescription
from tests.dispensing.factories import receive_lot, release
from tests.factories import make_e_prescription
from tests.fixtures.stripe import pay_at_standin
from tests.orders.factories import (
    baclofen_package,
    make_patient,
    make_verified_prescription,
    place_waiting,
    receive,
)
from tests.orders.factories import place_order as _place_order
from tests.reliability import faults

SKIP_REASON = processes.missing_services() or faults.cannot_stop_services()

MARKS = [
    pytest.mark.slow,
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(SKIP_REASON is not None, reason=SKIP_REASON or ""),
]

# Long enough for a task chain after a retry or two with backoff; a healthy chain takes
# well under a second.
DEADLINE = 30.0
RECEIPT = SUBJECTS[Notification.Kind.CONFIRMED]
DISPATCHED = SUBJECTS[Notification.Kind.DISPATCHED]
REFUNDED = SUBJECTS[Notification.Kind.REFUNDED]

# A worker that takes over a killed one's message: it redelivers a message left
# unacknowledged this long. The hard time limit stays below the visibility timeout, or
# a task still running would be handed to a second worker while the first is at it.
VISIBILITY_TIMEOUT = 3
SHORT_TIMEOUTS = {
    "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
    "CELERY_TASK_TIME_LIMIT": "2",
}


@dataclass
class Stack:
    url: str
    site: processes.ServiceProcess
    worker: processes.CeleryWorker
    env: dict[str, str]
    folder: Path
    exit_stack: ExitStack
    standin: processes.ServiceProcess | None = None
    retired: list[processes.CeleryWorker] = field(default_factory=list)

    @property
    def workers(self) -> list[processes.CeleryWorker]:
        """Every worker this stack ran, the current one last."""
        return [*self.retired, self.worker]

    def replace_worker(self) -> processes.CeleryWorker:
        """Start another worker, as a supervisor does after one exited."""
        self.retired.append(self.worker)
        self.worker = self.exit_stack.enter_context(
            processes.celery_worker(self.env, log_dir=self.folder, purge=False)
        )
        return self.worker

    def logs(self, lines: int = 80) -> str:
        running = (self.site, *self.workers, self.standin)
        return "\n".join(p.tail(lines) for p in running if p is not None)


@contextmanager
def running_stack(
    folder: Path, *, port: int | None = None, **env_overrides: str | None
) -> Iterator[Stack]:
    """A worker and gunicorn on the test database, ready when this yields."""
    env = processes.site_env(PRIVATE_MEDIA_ROOT=str(folder / "private"), **env_overrides)
    with ExitStack() as running:
        worker = running.enter_context(processes.celery_worker(env, log_dir=folder))
        site = running.enter_context(processes.gunicorn_server(env, port=port, log_dir=folder))
        assert site.url is not None
        yield Stack(
            url=site.url, site=site, worker=worker, env=env, folder=folder, exit_stack=running
        )


# Orders ------------------------------------------------------------------------------


def new_patient():
    patient = make_patient()
    make_verified_prescription(patient=patient)
    return patient


def new_order() -> Order:
    return _place_order(patient=new_patient())


def authorised_order(stripe_api):
    """An order waiting on a submitted prescription, its card authorised at the stand-in."""
    patient = make_patient()
    prescription = make_e_prescription(patient=patient)
    order = place_waiting(patient, prescription)
    assert receive(pay_at_standin(stripe_api, order)) == "authorised: waiting for the pharmacist"
    order.refresh_from_db()
    return order, prescription


def stock() -> int:
    return baclofen_package().stock


def lot_on_hand(quantity: int = 20) -> None:
    """Boxes received as a lot before a test counts the stock, so that the final check
    picks from them instead of receiving a lot (and adding its boxes) mid-test."""
    receive_lot(package=baclofen_package(), quantity=quantity)


def units_used(order: Order) -> int:
    return Prescription.objects.get(pk=order.lines.get().prescription_id).units_used


def moves(order: Order) -> list[tuple[str, str]]:
    return list(
        OrderStatusChange.objects.filter(order=order)
        .order_by("pk")
        .values_list("from_status", "to_status")
    )


def sent(order: Order) -> list[str]:
    """The kinds of email sent about `order`, one entry per Notification row."""
    rows = Notification.objects.filter(order=order, sent_at__isnull=False)
    return sorted(rows.values_list("kind", flat=True))


def emails_about(order: Order, *workers: processes.CeleryWorker, subject: str) -> int:
    """How many emails with this subject the workers wrote to their logs (console backend)."""
    text = f"Subject: {subject.format(number=order.number)}"
    return sum(worker.log_text().count(text) for worker in workers)


def release_when_paid(order: Order, worker: processes.CeleryWorker) -> Order:
    """Wait until the worker has the order paid, then pass the pharmacist's final check
    here (as a pharmacist does in the admin), which queues the dispatch for the worker."""

    def paid() -> bool:
        order.refresh_from_db()
        return order.status in (OrderStatus.PAID, OrderStatus.DISPATCHED)

    processes.wait_for(
        paid, timeout=DEADLINE, message=f"order {order.number} to be paid", process=worker
    )
    if order.awaits_final_check:
        release(order, capture=None)
    return order


def wait_until_dispatched(order: Order, worker: processes.CeleryWorker) -> Order:
    """Paid by the worker, through the final check, handed to the courier and both emails
    sent by the worker."""
    release_when_paid(order, worker)

    def done() -> bool:
        order.refresh_from_db()
        return order.status == OrderStatus.DISPATCHED and len(sent(order)) == 2

    processes.wait_for(
        done, timeout=DEADLINE, message=f"order {order.number} to be dispatched", process=worker
    )
    return order


def assert_paid_and_dispatched_once(order: Order, *workers: processes.CeleryWorker) -> None:
    """One payment, one shipment, one receipt and one dispatch email: nothing twice."""
    order.refresh_from_db()
    assert moves(order) == [
        ("", OrderStatus.PENDING_PAYMENT),
        (OrderStatus.PENDING_PAYMENT, OrderStatus.PAID),
        (OrderStatus.PAID, OrderStatus.DISPATCHED),
    ]
    assert order.paid_at is not None
    assert hasattr(order, "shipment")
    assert sent(order) == [Notification.Kind.CONFIRMED, Notification.Kind.DISPATCHED]
    assert emails_about(order, *workers, subject=RECEIPT) == 1
    assert emails_about(order, *workers, subject=DISPATCHED) == 1


def assert_no_half_written_orders(*, initial_stock: int) -> None:
    """Every order has its lines, and the stock and units taken match the live orders.

    Stock and units are given back when an order is cancelled or refunded, so what is
    missing from the package is exactly what the other orders hold, and each
    prescription's units used are exactly its live lines' units.
    """
    package = baclofen_package()
    assert not Order.objects.annotate(n=Count("lines")).filter(n=0).exists()
    live = OrderLine.objects.exclude(
        order__status__in=[OrderStatus.CANCELLED, OrderStatus.REFUNDED]
    )
    held = live.filter(package=package).aggregate(n=Sum("quantity"))["n"] or 0
    # Lots received for the final check put their boxes on sale too.
    received = Lot.objects.filter(package=package).aggregate(n=Sum("quantity_received"))["n"]
    assert Package.objects.get(pk=package.pk).stock == initial_stock + (received or 0) - held
    for prescription in Prescription.objects.all():  # units reserved without an order too
        lines = live.filter(prescription=prescription)
        units = sum(line.quantity * line.pills_per_package for line in lines)
        assert prescription.units_used == units, prescription


def waiting_on_this_connection() -> int:
    """Backends waiting for a lock this test's connection holds.

    pg_locks is read live, unlike pg_stat_activity, which is a snapshot per transaction.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks "
            "WHERE NOT granted AND pg_backend_pid() = ANY(pg_blocking_pids(pid))"
        )
        return cursor.fetchone()[0]


def broker_idle(broker_url: str) -> bool:
    """Nothing queued on the site's queues and nothing handed out unacknowledged."""
    with Connection(broker_url) as conn:
        channel = conn.default_channel
        queued = any(channel._size(queue) for queue in processes.QUEUES)
        return not queued and not channel.client.hlen(channel.unacked_key)


# Killing a worker mid-task ------------------------------------------------------------


def in_own_connection(work: Callable[[], Any]) -> Any:
    """`work()` from another thread, on its own database connection, while the test's
    connection holds a lock; returns what it returned."""
    results: list[Any] = []

    def run() -> None:
        try:
            results.append(work())
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)
    assert results, "the work in the other thread did not finish"
    return results[0]


def deliver_webhook(payload: bytes, signature: str) -> int:
    """The webhook, from another thread (its own connection), while the test holds a lock."""
    response = in_own_connection(
        lambda: Client().post(
            "/payments/stripe/webhook/",
            data=payload,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=signature,
        )
    )
    return response.status_code


def task_ids(worker: processes.CeleryWorker, task: str, state: str) -> list[str]:
    """Ids of `task` in the worker's log with `state` ("received", "succeeded")."""
    pattern = rf"Task {re.escape(task)}\[([0-9a-f-]+)\] {state}"
    return re.findall(pattern, worker.log_text())


def unacked(broker_url: str) -> list[float]:
    """When each unacknowledged message was handed to a worker (epoch seconds)."""
    with Connection(broker_url) as conn:
        channel = conn.default_channel
        index = channel.client.zrange(channel.unacked_index_key, 0, -1, withscores=True)
        assert channel.client.hlen(channel.unacked_key) == len(index)
        return [score for _, score in index]
