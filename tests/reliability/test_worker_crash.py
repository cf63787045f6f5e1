"""A Celery worker killed with SIGKILL in the middle of a task: the next worker does it, once.

With `acks_late` a message stays in Redis's `unacked` hash until its task returns,
so a worker that dies mid-task (OOM killer, a lost machine) leaves it there, and a
worker that starts later puts it back on its queue once it is older than the
visibility timeout. The tasks are idempotent, so the redelivery must finish the work
and do nothing twice.

The kill is deterministic: the test holds a lock the task needs, from its own
database connection, so the task waits inside the service with its transaction open;
once the worker's log shows the task and PostgreSQL shows it waiting on the test, the
whole worker (main process and pool) gets SIGKILL, and only then is the lock released.
"""

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.db import connection, transaction

from devtools import processes
from orders.models import Order, OrderStatus, PaymentEvent, Shipment
from tests.fixtures.stripe import pay_at_standin, signed_event
from tests.reliability import stack
from tests.reliability.stack import (
    SHORT_TIMEOUTS,
    VISIBILITY_TIMEOUT,
    deliver_webhook,
    task_ids,
    unacked,
)

pytestmark = stack.MARKS


@dataclass(frozen=True)
class KillPoint:
    """Where the worker dies: the task it is running, and the lock that holds it there."""

    task: str
    hold: Callable[[Order], None]
    # Tasks that must have finished before the kill, so that only `task` is cut short.
    finished_first: tuple[str, ...] = ()
    # The task is queued by the pharmacist's final check, which runs before it.
    after_the_final_check: bool = False


def _final_check_once_paid(order: Order, worker) -> None:
    try:
        stack.release_when_paid(order, worker)
    finally:
        connection.close()


def _hold_order_row(order: Order) -> None:
    # FOR NO KEY UPDATE, what an UPDATE of the order takes: it stops the task's
    # FOR UPDATE, but not the webhook's insert of an event that references the order.
    Order.objects.select_for_update(no_key=True).get(pk=order.pk)


def _hold_shipments(order: Order) -> None:
    # Reads go on; the shipment's INSERT waits, with the order row locked by the task.
    with connection.cursor() as cursor:
        cursor.execute(f'LOCK TABLE "{Shipment._meta.db_table}" IN SHARE MODE')


KILL_POINTS = {
    "confirm_payment": KillPoint("orders.payments.confirm_payment", _hold_order_row),
    "dispatch_order": KillPoint(
        "orders.shipping.dispatch_order",
        _hold_shipments,
        # The receipt is sent by confirm_payment itself, after its commit.
        finished_first=("orders.payments.confirm_payment",),
        after_the_final_check=True,
    ),
}


def time_limits(env: dict[str, str]) -> tuple[float, float, float]:
    """(soft, hard, visibility timeout) as a worker started with `env` reads them."""
    code = (
        "import json; from pharmacy.celery import app; c = app.conf; print(json.dumps("
        "[c.task_soft_time_limit, c.task_time_limit, "
        "c.broker_transport_options['visibility_timeout']]))"
    )
    result = subprocess.run(
        [processes.PYTHON, "-c", code],
        cwd=processes.ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    soft, hard, visibility = json.loads(result.stdout.strip().splitlines()[-1])
    return soft, hard, visibility


@pytest.mark.parametrize("where", list(KILL_POINTS))
def test_a_worker_killed_mid_task_leaves_it_to_the_next_worker_which_does_it_once(
    where, stripe_api, tmp_path
):
    point = KILL_POINTS[where]
    # The killed worker runs with production's timeouts; the next one is told to take
    # over a message left unacknowledged for a few seconds instead of an hour.
    env = processes.site_env(PRIVATE_MEDIA_ROOT=str(tmp_path / "private"))
    takeover_env = {**env, **SHORT_TIMEOUTS}
    soft, hard, visibility = time_limits(takeover_env)
    assert 0 < soft < hard < visibility, (soft, hard, visibility)
    order = stack.new_order()
    payload, signature = signed_event(pay_at_standin(stripe_api, order))
    broker_url = env["REDIS_URL"]

    with processes.celery_worker(env, log_dir=tmp_path) as first, transaction.atomic():
        point.hold(order)
        assert deliver_webhook(payload, signature) == 200
        if point.after_the_final_check:
            # The pharmacist's final check queues the dispatch; it commits on a connection
            # of its own, as the admin's request would, beside the lock held here.
            checker = threading.Thread(target=_final_check_once_paid, args=(order, first))
            checker.start()
            checker.join(timeout=stack.DEADLINE)
            assert not checker.is_alive()

        def task_blocked() -> bool:
            done = all(task_ids(first, name, "succeeded") for name in point.finished_first)
            return bool(
                done
                and task_ids(first, point.task, "received")
                and stack.waiting_on_this_connection()
            )

        processes.wait_for(
            task_blocked, timeout=stack.DEADLINE, message=f"{where} to wait", process=first
        )
        [killed_task] = task_ids(first, point.task, "received")
        os.killpg(first.pid, signal.SIGKILL)  # the main process and its pool
        first.popen.wait(timeout=10)
        # Leaving the block releases the lock; the killed task's backend then finds its
        # client gone and rolls back.

    assert not task_ids(first, point.task, "succeeded")
    # The killed task's message, and any the worker had prefetched beside it (since the
    # dispatch task sends the counselling offer, the final check queues nothing else).
    handed = unacked(broker_url)
    assert 1 <= len(handed) <= 1 + point.after_the_final_check, handed
    handed_out = max(handed)
    order.refresh_from_db()
    assert not Shipment.objects.filter(order=order).exists()
    if where == "confirm_payment":
        assert order.status == OrderStatus.PENDING_PAYMENT
        assert PaymentEvent.objects.get(order=order).processed_at is None
    else:
        assert order.status == OrderStatus.PAID

    # Redis hands the message to another worker only once it is older than the timeout.
    time.sleep(max(0.0, handed_out + VISIBILITY_TIMEOUT + 0.5 - time.time()))
    with processes.celery_worker(takeover_env, log_dir=tmp_path, purge=False) as second:
        stack.wait_until_dispatched(order, second)
        second.wait_idle(timeout=stack.DEADLINE)
        assert killed_task in task_ids(second, point.task, "succeeded"), second.tail()

    assert unacked(broker_url) == []
    order.refresh_from_db()
    assert PaymentEvent.objects.get(order=order).outcome == "paid"
    assert Shipment.objects.filter(order=order).count() == 1
    assert stack.moves(order) == [
        ("", OrderStatus.PENDING_PAYMENT),
        (OrderStatus.PENDING_PAYMENT, OrderStatus.PAID),
        (OrderStatus.PAID, OrderStatus.DISPATCHED),
    ]
    assert stack.sent(order) == ["confirmed", "dispatched"]
    for subject in (stack.RECEIPT, stack.DISPATCHED):
        assert stack.emails_about(order, first, second, subject=subject) == 1, subject
