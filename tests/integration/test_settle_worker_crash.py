"""A Celery worker killed after Stripe captured an authorised order: the next one pays it,
and Stripe is not asked to capture twice.

The pharmacist verifies; the worker's settling task captures at the stand-in and is
then held, before its commit, by a lock this test takes on the order history table
(the move to paid writes a row there). Once the stand-in has sent `charge.captured`
and PostgreSQL shows the task waiting on this test, the whole worker gets SIGKILL:
everything it did on the site rolls back, the card is charged. The message stays
unacknowledged (acks_late), and a worker started later redelivers it: the capture
with the same idempotency key is Stripe's replay, and the order is paid and
dispatched once. Nothing here stops PostgreSQL or Redis.
"""

import os
import signal
import time

import pytest
from django.db import connection, transaction

from devtools import processes
from orders.models import Order, OrderStatus, OrderStatusChange
from orders.task_names import PRESCRIPTION_DECIDED
from prescriptions.services import prescription_verify
from prescriptions.services.prescriptions import SEND_PRESCRIPTION_UPDATE
from tests.factories import make_pharmacist
from tests.orders.factories import captures_of
from tests.reliability import stack

SKIP_REASON = processes.missing_services()

pytestmark = [
    pytest.mark.slow,
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(SKIP_REASON is not None, reason=SKIP_REASON or ""),
]


def _hold_history() -> None:
    # Reads go on; the INSERT of the order's move to paid waits, after the capture.
    with connection.cursor() as cursor:
        cursor.execute(f'LOCK TABLE "{OrderStatusChange._meta.db_table}" IN SHARE MODE')


def test_a_settle_killed_after_stripe_captured_is_paid_by_the_next_worker_capturing_once(
    stripe_api, stripe_standin, baclofen, tmp_path
):
    env = processes.site_env(
        PRIVATE_MEDIA_ROOT=str(tmp_path / "private"), STRIPE_API_BASE=stripe_standin.url
    )
    order, prescription = stack.authorised_order(stripe_api)
    intent = order.stripe_payment_intent
    pharmacist = make_pharmacist()

    with processes.celery_worker(env, log_dir=tmp_path) as first:
        first.wait_idle(timeout=stack.DEADLINE)  # the "card authorised" email
        with transaction.atomic():
            _hold_history()
            stack.in_own_connection(
                lambda: prescription_verify(
                    prescription_id=prescription.pk,
                    pharmacist=pharmacist,
                    warnings_acknowledged=True,
                )
            )

            def captured_and_blocked() -> bool:
                return bool(
                    stack.task_ids(first, PRESCRIPTION_DECIDED, "received")
                    and captures_of(stripe_api, intent) == 1
                    and stack.waiting_on_this_connection()
                    # The "verified" email, queued with it, is done: only the settle is
                    # left unacknowledged when the worker dies.
                    and stack.task_ids(first, SEND_PRESCRIPTION_UPDATE, "succeeded")
                )

            processes.wait_for(
                captured_and_blocked,
                timeout=stack.DEADLINE,
                message="the settle to capture and wait",
                process=first,
            )
            [killed_task] = stack.task_ids(first, PRESCRIPTION_DECIDED, "received")
            os.killpg(first.pid, signal.SIGKILL)  # the main process and its pool
            first.popen.wait(timeout=10)
        # Leaving the block released the lock; the killed task's transaction rolls back.

    order.refresh_from_db()
    assert order.status == OrderStatus.AUTHORISED
    assert order.lines.get().units_reserved is False
    assert stripe_api.v1.payment_intents.retrieve(intent).status == "succeeded"
    [handed_out] = stack.unacked(env["REDIS_URL"])

    time.sleep(max(0.0, handed_out + stack.VISIBILITY_TIMEOUT + 0.5 - time.time()))
    takeover_env = {**env, **stack.SHORT_TIMEOUTS}
    with processes.celery_worker(takeover_env, log_dir=tmp_path, purge=False) as second:
        stack.release_when_paid(order, second)

        def dispatched() -> bool:
            order.refresh_from_db()
            return order.status == OrderStatus.DISPATCHED

        processes.wait_for(
            dispatched, timeout=stack.DEADLINE, message="the order to be dispatched", process=second
        )
        second.wait_idle(timeout=stack.DEADLINE)
        assert killed_task in stack.task_ids(second, PRESCRIPTION_DECIDED, "succeeded")

    assert stack.unacked(env["REDIS_URL"]) == []
    assert captures_of(stripe_api, intent) == 1
    assert stack.moves(order) == [
        ("", OrderStatus.PENDING_PAYMENT),
        (OrderStatus.PENDING_PAYMENT, OrderStatus.AUTHORISED),
        (OrderStatus.AUTHORISED, OrderStatus.PAID),
        (OrderStatus.PAID, OrderStatus.DISPATCHED),
    ]
    assert Order.objects.get(pk=order.pk).paid_at is not None
    assert stack.units_used(order) == 10
    assert stack.emails_about(order, first, second, subject=stack.RECEIPT) == 1
