"""Payments confirmed by a real Celery worker, through Redis, on the test's PostgreSQL.

The unit tests run tasks eagerly inside the request; here the webhook view only
enqueues after its commit, and a separate worker process does the rest, as in
production. The rows must be committed for the worker to see them, hence
transactional tests; `serialized_rollback` puts the data migrations' rows back
for the tests that follow.
"""

import threading
from datetime import timedelta

import pytest
from django.db import connections
from django.test import Client
from django.utils import timezone
from kombu import Connection

from devtools import processes
from orders.models import (
    Notification,
    Order,
    OrderStatus,
    OrderStatusChange,
    PaymentEvent,
    Shipment,
)
from orders.payments.events import RETRY_AFTER, record_event
from orders.tasks.sweeps import retry_unprocessed_events
from pharmacy.celery import app as celery_app
from tests.fixtures.stripe import pay_at_standin, signed_event
from tests.orders.factories import make_patient, make_verified_prescription, place_order
from tests.reliability.stack import release_when_paid

SKIP_REASON = processes.missing_services()

pytestmark = [
    pytest.mark.slow,
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(SKIP_REASON is not None, reason=SKIP_REASON or ""),
]

WEBHOOK = "/payments/stripe/webhook/"
STORM = 50
DEADLINE = 20.0


@pytest.fixture(scope="module")
def worker(django_db_setup, tmp_path_factory):
    """One worker for the module, started once the test database exists."""
    assert not celery_app.conf.task_always_eager, "eager tasks would never reach the worker"
    env = processes.site_env()
    with processes.celery_worker(env, log_dir=tmp_path_factory.mktemp("worker")) as running:
        yield running


@pytest.fixture(autouse=True)
def settled_worker(worker, request):
    """Lets the worker finish before the database is flushed; its log goes with a failure."""
    failures = request.session.testsfailed
    yield worker
    try:
        worker.wait_idle(timeout=DEADLINE)
    finally:
        if request.session.testsfailed > failures:
            print(worker.tail(80))


def new_order() -> Order:
    patient = make_patient()
    make_verified_prescription(patient=patient)
    return place_order(patient=patient)


def post_webhook(payload: bytes, signature: str):
    return Client().post(
        WEBHOOK, data=payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
    )


def wait_until_dispatched(order: Order, worker: processes.CeleryWorker) -> Order:
    """Paid by the worker, through the pharmacist's final check (done here), handed to
    the courier and both emails sent by the worker."""
    release_when_paid(order, worker)

    def done() -> bool:
        order.refresh_from_db()
        sent = Notification.objects.filter(order=order, sent_at__isnull=False)
        return order.status == OrderStatus.DISPATCHED and sent.count() == 2

    processes.wait_for(
        done, timeout=DEADLINE, message=f"order {order.number} to be dispatched", process=worker
    )
    return order


def emails_about(order: Order, worker: processes.CeleryWorker, subject: str) -> int:
    """How many emails with this subject the worker wrote to its log (console backend)."""
    return worker.log_text().count(f"Subject: {subject.format(number=order.number)}")


def test_a_paid_checkout_is_confirmed_dispatched_and_emailed_by_the_worker(worker, stripe_api):
    order = new_order()
    completed = pay_at_standin(stripe_api, order)

    response = post_webhook(*signed_event(completed))

    assert response.status_code == 200
    assert response.json() == {"status": "received", "event": completed["id"]}
    wait_until_dispatched(order, worker)
    worker.wait_idle()
    assert order.paid_at is not None
    assert order.stripe_payment_intent == completed["data"]["object"]["payment_intent"]
    shipment = Shipment.objects.get(order=order)
    assert shipment.tracking_number.startswith("LC")
    assert PaymentEvent.objects.get(event_id=completed["id"]).outcome == "paid"
    kinds = Notification.objects.filter(order=order, sent_at__isnull=False)
    assert sorted(kinds.values_list("kind", flat=True)) == ["confirmed", "dispatched"]
    # The worker did it, not an eager task in this process.
    assert "orders.payments.confirm_payment[" in worker.log_text()
    assert emails_about(order, worker, "Receipt for order {number}: payment received") == 1
    assert emails_about(order, worker, "Order {number} is on its way") == 1


def test_fifty_concurrent_deliveries_of_one_event_pay_ship_and_email_once(worker, stripe_api):
    order = new_order()
    payload, signature = signed_event(pay_at_standin(stripe_api, order))
    start = threading.Barrier(STORM)
    answers: list[tuple[int, str]] = []
    lock = threading.Lock()

    def deliver() -> None:
        try:
            client = Client()
            start.wait(timeout=30)
            response = client.post(
                WEBHOOK,
                data=payload,
                content_type="application/json",
                HTTP_STRIPE_SIGNATURE=signature,
            )
            with lock:
                answers.append((response.status_code, response.json().get("status", "")))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=deliver) for _ in range(STORM)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(answers) == [(200, "duplicate")] * (STORM - 1) + [(200, "received")]
    wait_until_dispatched(order, worker)
    worker.wait_idle()
    assert PaymentEvent.objects.filter(order=order).count() == 1
    paid = OrderStatusChange.objects.filter(order=order, to_status=OrderStatus.PAID)
    assert paid.count() == 1
    assert Shipment.objects.filter(order=order).count() == 1
    notifications = Notification.objects.filter(order=order)
    assert sorted(notifications.values_list("kind", flat=True)) == ["confirmed", "dispatched"]
    assert emails_about(order, worker, "Receipt for order {number}: payment received") == 1
    assert emails_about(order, worker, "Order {number} is on its way") == 1


def stored_results() -> set[bytes]:
    """The task results in the result backend (the broker's Redis database)."""
    with Connection(celery_app.conf.result_backend) as connection:
        return set(connection.default_channel.client.scan_iter(match="celery-task-meta-*"))


def test_the_tasks_of_a_paid_order_store_no_result_that_nobody_reads(worker, stripe_api):
    before = stored_results()
    order = new_order()

    post_webhook(*signed_event(pay_at_standin(stripe_api, order)))
    wait_until_dispatched(order, worker)
    worker.wait_idle()

    # Confirmation (with the receipt), courier booking (with the counselling offer of the
    # first fill and the dispatch email): both ran on the worker, and neither left its
    # return value in Redis.
    log = worker.log_text()
    for task in ("confirm_payment", "dispatch_order"):
        assert f"{task}[" in log
    # The emails were sent by those tasks, not queued as tasks of their own.
    assert "send_order_email[" not in log
    assert "send_counselling_offer[" not in log
    assert emails_about(order, worker, "Receipt for order {number}: payment received") == 1
    assert emails_about(order, worker, "Order {number}: a pharmacist can talk you") == 1
    assert emails_about(order, worker, "Order {number} is on its way") == 1
    assert stored_results() - before == set()


def test_an_event_whose_task_was_lost_is_paid_by_the_retry_task_on_the_worker(worker, stripe_api):
    order = new_order()
    payload, signature = signed_event(pay_at_standin(stripe_api, order))
    # Stored as the webhook stores it, but its task never reaches the broker.
    event, created = record_event(payload=payload, signature=signature)
    assert created
    PaymentEvent.objects.filter(pk=event.pk).update(
        received_at=timezone.now() - RETRY_AFTER - timedelta(seconds=5)
    )
    worker.wait_idle()
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT

    # Results are not stored unless the caller asks (CELERY_TASK_IGNORE_RESULT): this one reads it.
    assert retry_unprocessed_events.apply_async(ignore_result=False).get(timeout=DEADLINE) == 1

    wait_until_dispatched(order, worker)
    event.refresh_from_db()
    assert (event.processed_at is not None, event.outcome) == (True, "paid")
    assert order.paid_at is not None
