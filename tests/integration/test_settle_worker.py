"""Authorised orders settled by a real Celery worker, through Redis, on the test's PostgreSQL,
against the Stripe stand-in: a duplicated cancellation webhook cancels once, and a
capture after a cancellation is refused (the order stays cancelled, never paid).

Transactional tests, as in test_worker_payments: the worker must see the rows.
"""

import pytest
from django.test import Client

from devtools import processes
from orders.emails import SUBJECTS
from orders.models import Notification, OrderStatus, PaymentEvent
from orders.services import order_cancel
from prescriptions.services import prescription_verify
from tests.factories import make_pharmacist
from tests.fixtures.stripe import signed_event, standin_event
from tests.orders.factories import captures_of, stock
from tests.reliability import stack

SKIP_REASON = processes.missing_services()

pytestmark = [
    pytest.mark.slow,
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(SKIP_REASON is not None, reason=SKIP_REASON or ""),
]

WEBHOOK = "/payments/stripe/webhook/"
CANCELLED = Notification.Kind.CANCELLED
CANCELLED_SUBJECT = SUBJECTS[CANCELLED]


@pytest.fixture(scope="module")
def worker(django_db_setup, stripe_standin, tmp_path_factory):
    """One worker for the module, talking to the stand-in."""
    env = processes.site_env(STRIPE_API_BASE=stripe_standin.url)
    with processes.celery_worker(env, log_dir=tmp_path_factory.mktemp("worker")) as running:
        yield running


@pytest.fixture(autouse=True)
def settled_worker(worker, request):
    """Lets the worker finish before the database is flushed; its log goes with a failure."""
    failures = request.session.testsfailed
    yield worker
    try:
        worker.wait_idle(timeout=stack.DEADLINE)
    finally:
        if request.session.testsfailed > failures:
            print(worker.tail(80))


def post_webhook(event: dict):
    payload, signature = signed_event(event)
    return Client().post(
        WEBHOOK, data=payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
    )


def wait_for_status(order, status: str, worker) -> None:
    def reached() -> bool:
        order.refresh_from_db()
        return order.status == status

    processes.wait_for(
        reached, timeout=stack.DEADLINE, message=f"order {order.number} {status}", process=worker
    )


def test_a_duplicated_canceled_webhook_cancels_the_order_once(
    worker, stripe_api, stripe_standin, baclofen
):
    order, _ = stack.authorised_order(stripe_api)
    worker.wait_idle(timeout=stack.DEADLINE)
    before = stock()
    stripe_standin.lapse_authorization(order.stripe_payment_intent)
    canceled = standin_event(stripe_api, "payment_intent.canceled", id=order.stripe_payment_intent)

    answers = [post_webhook(canceled).status_code for _ in range(3)]

    assert answers == [200, 200, 200]
    wait_for_status(order, OrderStatus.CANCELLED, worker)
    worker.wait_idle(timeout=stack.DEADLINE)
    assert PaymentEvent.objects.filter(event_id=canceled["id"]).count() == 1
    assert stack.moves(order)[-1] == (OrderStatus.AUTHORISED, OrderStatus.CANCELLED)
    assert [m for m in stack.moves(order) if m[1] == OrderStatus.CANCELLED] == [
        (OrderStatus.AUTHORISED, OrderStatus.CANCELLED)
    ]
    assert stock() == before + 1
    assert Notification.objects.filter(order=order, kind=CANCELLED).count() == 1
    assert stack.emails_about(order, worker, subject=CANCELLED_SUBJECT) == 1


def test_a_capture_after_the_hold_was_cancelled_at_stripe_is_refused(
    worker, stripe_api, stripe_standin, baclofen
):
    """The hold lapsed and its webhook is not in yet when the pharmacist verifies."""
    order, prescription = stack.authorised_order(stripe_api)
    worker.wait_idle(timeout=stack.DEADLINE)
    intent = order.stripe_payment_intent
    stripe_standin.lapse_authorization(intent)

    prescription_verify(
        prescription_id=prescription.pk, pharmacist=make_pharmacist(), warnings_acknowledged=True
    )

    wait_for_status(order, OrderStatus.CANCELLED, worker)
    worker.wait_idle(timeout=stack.DEADLINE)
    assert captures_of(stripe_api, intent) == 0
    assert stripe_api.v1.payment_intents.retrieve(intent).status == "canceled"
    assert OrderStatus.PAID not in [to for _, to in stack.moves(order)]
    assert stack.units_used(order) == 0
    # The late webhook changes nothing.
    canceled = standin_event(stripe_api, "payment_intent.canceled", id=intent)
    assert post_webhook(canceled).status_code == 200
    worker.wait_idle(timeout=stack.DEADLINE)
    assert PaymentEvent.objects.get(event_id=canceled["id"]).outcome == "order already cancelled"
    assert Notification.objects.filter(order=order, kind=CANCELLED).count() == 1


def test_verifying_an_order_cancelled_on_the_site_charges_nothing(worker, stripe_api, baclofen):
    """Cancelled by staff while it waited: the worker releases the hold, and the
    pharmacist's later verification captures nothing."""
    order, prescription = stack.authorised_order(stripe_api)
    worker.wait_idle(timeout=stack.DEADLINE)
    intent = order.stripe_payment_intent

    order_cancel(order_id=order.pk, note="the patient asked")
    worker.wait_idle(timeout=stack.DEADLINE)
    prescription_verify(
        prescription_id=prescription.pk, pharmacist=make_pharmacist(), warnings_acknowledged=True
    )
    worker.wait_idle(timeout=stack.DEADLINE)

    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert stripe_api.v1.payment_intents.retrieve(intent).status == "canceled"
    assert captures_of(stripe_api, intent) == 0
    assert OrderStatus.PAID not in [to for _, to in stack.moves(order)]
