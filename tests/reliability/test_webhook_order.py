"""Stripe's webhooks repeated and out of order, end to end: gunicorn, Redis, the worker.

Stripe delivers at least once and in no particular order. tests/orders/test_webhooks.py
pins the rules with the test client and eager tasks; here each event is an HTTP request
to gunicorn, stored by one of its processes, and applied by the worker, so the unique
event id, the row locks and the idempotent tasks are what keep the effect single.
"""

import threading

import pytest
from django.conf import settings

from devtools import processes
from orders.models import Notification, OrderStatus, PaymentEvent, Shipment
from tests.fixtures.stripe import pay_at_standin, signed_event, standin_event, variant
from tests.reliability import stack
from tests.reliability.site_client import SiteClient

pytestmark = stack.MARKS

STORM = 50


@pytest.fixture(scope="module")
def site(django_db_setup, stripe_standin, tmp_path_factory):
    """gunicorn and a worker for the module; the stand-in records events and sends none."""
    folder = tmp_path_factory.mktemp("webhook-order")
    with stack.running_stack(folder, STRIPE_API_BASE=stripe_standin.url) as running:
        yield running


@pytest.fixture(autouse=True)
def settled(site, request):
    """The worker finishes before the tables are emptied; its log goes with a failure."""
    failures = request.session.testsfailed
    yield site
    try:
        site.worker.wait_idle(timeout=stack.DEADLINE)
    finally:
        if request.session.testsfailed > failures:
            print(site.logs())


def deliver(site: stack.Stack, event: dict) -> tuple[int, str]:
    payload, signature = signed_event(event)
    answer = SiteClient(site.url).post_webhook(payload, signature)
    return answer.status, answer.text


def processed(event: dict, site: stack.Stack) -> PaymentEvent:
    def done() -> PaymentEvent | None:
        return PaymentEvent.objects.filter(event_id=event["id"], processed_at__isnull=False).first()

    return processes.wait_for(
        done, timeout=stack.DEADLINE, message=f"{event['type']} processed", process=site.worker
    )


def test_the_same_event_delivered_twice_in_a_row_pays_once(site, stripe_api):
    order = stack.new_order()
    completed = pay_at_standin(stripe_api, order)

    first = deliver(site, completed)
    second = deliver(site, completed)

    assert first[0] == second[0] == 200
    assert '"received"' in first[1]
    assert '"duplicate"' in second[1]
    stack.wait_until_dispatched(order, site.worker)
    site.worker.wait_idle()
    assert PaymentEvent.objects.filter(event_id=completed["id"]).count() == 1
    stack.assert_paid_and_dispatched_once(order, site.worker)


def test_fifty_concurrent_deliveries_through_gunicorn_pay_ship_and_email_once(site, stripe_api):
    order = stack.new_order()
    payload, signature = signed_event(pay_at_standin(stripe_api, order))
    start = threading.Barrier(STORM)
    answers: list[tuple[int, str]] = []
    lock = threading.Lock()

    def post() -> None:
        client = SiteClient(site.url, timeout=30)
        start.wait(timeout=30)
        answer = client.post_webhook(payload, signature)
        with lock:
            answers.append((answer.status, answer.text))

    threads = [threading.Thread(target=post) for _ in range(STORM)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert [status for status, _ in answers] == [200] * STORM
    received = [text for _, text in answers if '"received"' in text]
    assert len(received) == 1, answers
    stack.wait_until_dispatched(order, site.worker)
    site.worker.wait_idle()
    assert PaymentEvent.objects.filter(order=order).count() == 1
    stack.assert_paid_and_dispatched_once(order, site.worker)
    assert Shipment.objects.filter(order=order).count() == 1


def test_a_refund_that_overtakes_the_payment_ends_refunded_with_stock_back_once(site, stripe_api):
    before = stack.stock()
    order = stack.new_order()
    completed = pay_at_standin(stripe_api, order)
    intent = completed["data"]["object"]["payment_intent"]
    stripe_api.v1.refunds.create({"payment_intent": intent})
    refunded = standin_event(stripe_api, "charge.refunded", payment_intent=intent)

    assert deliver(site, refunded)[0] == 200
    assert processed(refunded, site).outcome == "refund recorded before payment"
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert deliver(site, completed)[0] == 200
    late = processed(completed, site)
    site.worker.wait_idle()

    order.refresh_from_db()
    assert late.outcome == "paid, then refunded (refund recorded before payment)"
    assert order.status == OrderStatus.REFUNDED
    assert stack.moves(order)[1:] == [
        (OrderStatus.PENDING_PAYMENT, OrderStatus.PAID),
        (OrderStatus.PAID, OrderStatus.REFUNDED),
    ]
    assert (stack.stock(), stack.units_used(order)) == (before, 0)
    assert not Shipment.objects.filter(order=order).exists()
    assert stack.sent(order) == [Notification.Kind.CONFIRMED, Notification.Kind.REFUNDED]
    assert stack.emails_about(order, site.worker, subject=stack.RECEIPT) == 1
    assert stack.emails_about(order, site.worker, subject=stack.REFUNDED) == 1
    # Stripe's redelivery of either event changes nothing more.
    assert '"duplicate"' in deliver(site, refunded)[1]
    assert '"duplicate"' in deliver(site, completed)[1]
    site.worker.wait_idle()
    assert (stack.stock(), stack.units_used(order)) == (before, 0)
    assert len(stack.moves(order)) == 3


def test_an_expiry_after_the_payment_leaves_the_order_paid_and_shipped(site, stripe_api):
    stack.lot_on_hand()
    before = stack.stock()
    order = stack.new_order()
    completed = pay_at_standin(stripe_api, order)
    expired = variant(completed, "checkout.session.expired", status="expired")

    assert deliver(site, completed)[0] == 200
    assert processed(completed, site).outcome == "paid"
    assert deliver(site, expired)[0] == 200
    late = processed(expired, site)
    stack.wait_until_dispatched(order, site.worker)
    site.worker.wait_idle()

    assert late.outcome in ("order already paid", "order already dispatched")
    stack.assert_paid_and_dispatched_once(order, site.worker)
    assert stack.stock() == before - 1
    assert stack.units_used(order) == order.lines.get().units
    assert settings.STRIPE_API_BASE  # the stand-in, never Stripe
