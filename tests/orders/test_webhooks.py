"""The Stripe webhook view: signed events in, orders moved by the task after commit.

Events come from the Stripe stand-in (paid on its hosted page, fetched with the real
client) and are signed here, so the bytes posted are the bytes Stripe would send.
"""

import time

import pytest
from django.conf import settings
from django.test import Client

from devtools.stripe_standin import sign
from orders import task_names
from orders.models import Notification, OrderStatus, PaymentEvent
from orders.payments.events import task_name_for
from orders.payments.handlers import EVENTS, EventType, session_completed
from orders.tasks import payments as payment_tasks
from orders.tasks import shipping
from prescriptions.models import Prescription
from tests.fixtures.stripe import pay_at_standin, signed_event, variant
from tests.orders.factories import baclofen_package

pytestmark = pytest.mark.urls("tests.orders.urls_webhook")

URL = "/payments/stripe/webhook/"


@pytest.fixture
def client():
    """Stripe sends no CSRF token; the view must not need one."""
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def dispatched(monkeypatch) -> list[int]:
    """Order ids handed to the dispatch task (recorded, not run: the courier is not tested here)."""
    calls: list[int] = []
    monkeypatch.setattr(shipping.dispatch_order, "delay", calls.append)
    return calls


def sign_as(payload: bytes, *, secret: str | None = None, timestamp: int | None = None) -> str:
    return sign(payload, secret or settings.STRIPE_WEBHOOK_SECRET, timestamp)


def post(client, payload: bytes, signature: str | None = None):
    headers = {"HTTP_STRIPE_SIGNATURE": signature} if signature is not None else {}
    return client.post(URL, data=payload, content_type="application/json", **headers)


def post_event(client, capture, event: dict, *, execute: bool = True):
    """Post a signed event and run what the view queued after commit (the task, eagerly)."""
    with capture(execute=execute):
        return post(client, *signed_event(event))


def test_a_paid_checkout_pays_the_order_through_the_webhook(
    client, order, stripe_api, dispatched, django_capture_on_commit_callbacks
):
    taken_stock = baclofen_package().stock
    completed = pay_at_standin(stripe_api, order)

    response = post_event(client, django_capture_on_commit_callbacks, completed)

    assert response.status_code == 200
    assert response.json() == {"status": "received", "event": completed["id"]}
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert order.stripe_payment_intent == completed["data"]["object"]["payment_intent"]
    event = PaymentEvent.objects.get(event_id=completed["id"])
    assert (event.type, event.order, event.outcome) == ("checkout.session.completed", order, "paid")
    assert event.payload == completed
    # Units stay consumed and the stock stays taken: the order is going out.
    assert baclofen_package().stock == taken_stock
    assert Prescription.objects.get(pk=order.lines.get().prescription_id).units_used == 10
    # Not dispatched: the order waits for the pharmacist's final check.
    assert dispatched == []
    assert order.awaits_final_check
    assert Notification.objects.filter(order=order, kind=Notification.Kind.CONFIRMED).exists()


def test_the_same_event_delivered_twice_moves_the_order_once(
    client, order, stripe_api, dispatched, django_capture_on_commit_callbacks
):
    completed = pay_at_standin(stripe_api, order)

    first = post_event(client, django_capture_on_commit_callbacks, completed)
    second = post_event(client, django_capture_on_commit_callbacks, completed)

    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json()["status"] == "duplicate"
    assert PaymentEvent.objects.filter(event_id=completed["id"]).count() == 1
    assert order.status_changes.filter(to_status=OrderStatus.PAID).count() == 1
    assert dispatched == []


def test_an_unprocessed_duplicate_is_enqueued_again(
    client, order, stripe_api, dispatched, django_capture_on_commit_callbacks
):
    completed = pay_at_standin(stripe_api, order)
    # The first delivery was stored but its task never ran (the broker was down).
    post_event(client, django_capture_on_commit_callbacks, completed, execute=False)
    assert PaymentEvent.objects.get(event_id=completed["id"]).processed_at is None

    response = post_event(client, django_capture_on_commit_callbacks, completed)

    assert response.json()["status"] == "duplicate"
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert PaymentEvent.objects.get(event_id=completed["id"]).processed_at is not None


def test_a_broker_outage_still_acknowledges_and_keeps_the_event(
    client, order, stripe_api, monkeypatch, django_capture_on_commit_callbacks
):
    def broker_down(*args):
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(payment_tasks.confirm_payment, "delay", broker_down)
    completed = pay_at_standin(stripe_api, order)

    response = post_event(client, django_capture_on_commit_callbacks, completed)

    assert response.status_code == 200
    event = PaymentEvent.objects.get(event_id=completed["id"])
    assert event.processed_at is None  # retry_unprocessed_events picks it up


def test_payment_events_go_to_confirm_payment_and_others_to_process_payment_event(
    client, order, stripe_api, monkeypatch, django_capture_on_commit_callbacks
):
    queued: list[tuple[str, int]] = []
    for task in (payment_tasks.confirm_payment, payment_tasks.process_payment_event):
        monkeypatch.setattr(task, "delay", lambda pk, name=task.name: queued.append((name, pk)))
    completed = pay_at_standin(stripe_api, order)
    expired = variant(completed, "checkout.session.expired", status="expired")

    post_event(client, django_capture_on_commit_callbacks, completed)
    post_event(client, django_capture_on_commit_callbacks, expired)

    ids = {e.event_id: e.pk for e in PaymentEvent.objects.all()}
    assert queued == [
        ("orders.payments.confirm_payment", ids[completed["id"]]),
        ("orders.payments.process_payment_event", ids[expired["id"]]),
    ]


def test_which_task_takes_an_event_follows_from_its_row_in_events_alone(monkeypatch):
    monkeypatch.setitem(
        EVENTS, "checkout.session.new_kind", EventType(session_completed, confirms=True)
    )
    assert task_name_for("checkout.session.new_kind") == task_names.CONFIRM_PAYMENT
    for event_type, row in EVENTS.items():
        expected = task_names.CONFIRM_PAYMENT if row.confirms else task_names.PROCESS_PAYMENT_EVENT
        assert task_name_for(event_type) == expected
    assert task_name_for("customer.created") == task_names.PROCESS_PAYMENT_EVENT


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda payload: sign_as(payload, secret="whsec_not_ours"), id="forged"),
        pytest.param(lambda payload: None, id="missing"),
        pytest.param(
            lambda payload: sign_as(payload, timestamp=int(time.time()) - 600), id="stale"
        ),
        pytest.param(lambda payload: "t=1,v1=", id="malformed"),
    ],
)
def test_unverifiable_requests_are_refused_and_nothing_is_stored(
    client, order, stripe_api, forge, django_capture_on_commit_callbacks
):
    completed = pay_at_standin(stripe_api, order)
    payload, _ = signed_event(completed)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = post(client, payload, forge(payload))

    assert response.status_code == 400
    assert "error" in response.json()
    assert not PaymentEvent.objects.exists()
    assert callbacks == []
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT


def test_a_body_changed_after_signing_is_refused(client, order, stripe_api):
    completed = pay_at_standin(stripe_api, order)
    payload, header = signed_event(completed)

    response = post(client, payload.replace(b'"paid"', b'"unpaid"', 1), header)

    assert response.status_code == 400
    assert not PaymentEvent.objects.exists()


def test_a_signed_body_that_is_not_an_event_is_refused(client, db):
    for payload in (b"not json", b"[1, 2]", b'{"object": "event"}'):
        response = post(client, payload, sign_as(payload))
        assert response.status_code == 400, payload
    assert not PaymentEvent.objects.exists()


def test_the_webhook_answers_only_post(client, db):
    assert client.get(URL).status_code == 405
