"""Payment services against the Stripe stand-in, through the real `stripe` client over HTTP.

Events are taken from the stand-in's /v1/events, signed here and handed to the
services as the webhook view would; the view itself is in test_webhooks.py.
"""

import time
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from orders.models import (
    Discrepancy,
    Notification,
    Order,
    OrderStatus,
    OrderStatusChange,
    PaymentEvent,
)
from orders.payments import sessions
from orders.payments.client import StripeUnavailable
from orders.payments.events import process_event, record_event
from orders.payments.refunds import refund_order
from orders.payments.sessions import checkout_session_expire, checkout_session_for
from orders.services import order_cancel
from orders.tasks.sweeps import retry_unprocessed_events
from pharmacy import page_versions
from prescriptions.models import Prescription
from tests.dispensing.factories import release
from tests.fixtures.stripe import (
    pay_at_standin,
    pay_on_hosted_page,
    signed_event,
    standin_event,
    variant,
)
from tests.orders.factories import baclofen_package, make_overdue

pytestmark = pytest.mark.urls("tests.orders.urls_webhook")


def store(event: dict) -> PaymentEvent:
    payload, header = signed_event(event)
    stored, _ = record_event(payload=payload, signature=header)
    return stored


def receive(event: dict) -> PaymentEvent:
    """Store and process one event, as the webhook and its task do."""
    stored = store(event)
    process_event(stored.pk)
    stored.refresh_from_db()
    return stored


def stock() -> int:
    return baclofen_package().stock


def units_used(order: Order) -> int:
    return Prescription.objects.get(pk=order.lines.get().prescription_id).units_used


def moves(order: Order) -> list[tuple[str, str]]:
    return [(c.from_status, c.to_status) for c in OrderStatusChange.objects.filter(order=order)]


def sessions_of(client, order: Order) -> list:
    listed = client.v1.checkout.sessions.list({"limit": 100}).data
    return [s for s in listed if s.client_reference_id == order.number]


# Checkout sessions ----------------------------------------------------------------


def test_checkout_session_carries_the_order_lines_in_cents_and_the_order_number(
    order_factory, stripe_api, settings
):
    order = order_factory(quantity=2)
    url = checkout_session_for(order)

    order.refresh_from_db()
    session = stripe_api.v1.checkout.sessions.retrieve(
        order.stripe_session_id, {"expand": ["line_items"]}
    )
    line = order.lines.get()
    assert url == session.url
    assert (session.mode, session.status, session.currency) == ("payment", "open", "usd")
    assert session.amount_total == 2 * 4653 == order.total_cents
    [item] = session.line_items.data
    assert (item.description, item.quantity, item.price.unit_amount) == (
        line.description,
        2,
        4653,
    )
    assert session.client_reference_id == order.number
    assert session.metadata.to_dict() == {"order_number": order.number, "checkout_attempt": "1"}
    assert session.customer_email == order.patient.email
    order_url = f"{settings.SITE_URL}/orders/{order.number}/"
    assert (session.success_url, session.cancel_url) == (order_url + "?paid=1", order_url)
    # 31 minutes to pay by default: Stripe's 30-minute minimum (plus a margin) decides.
    assert session.expires_at >= int(order.payment_due_by.timestamp())
    assert session.created + 30 * 60 < session.expires_at <= int(time.time()) + 31 * 60


def test_checkout_session_expires_with_the_orders_payment_deadline(
    order_factory, stripe_api, settings
):
    settings.ORDER_PAYMENT_MINUTES = 90
    order = order_factory()
    checkout_session_for(order)

    order.refresh_from_db()
    session = stripe_api.v1.checkout.sessions.retrieve(order.stripe_session_id)
    assert session.expires_at == int(order.payment_due_by.timestamp())


def test_an_order_near_its_deadline_still_gets_a_session_stripe_accepts(order, stripe_api):
    Order.objects.filter(pk=order.pk).update(payment_due_by=timezone.now() + timedelta(minutes=5))

    checkout_session_for(order)

    order.refresh_from_db()
    session = stripe_api.v1.checkout.sessions.retrieve(order.stripe_session_id)
    assert session.expires_at >= session.created + 30 * 60


def test_a_session_created_but_never_saved_is_not_created_twice(order, stripe_api):
    """A crash between Stripe's answer and the database: the retry's key replays it."""
    Order.objects.filter(pk=order.pk).update(payment_due_by=timezone.now() + timedelta(hours=2))
    url = checkout_session_for(order)
    Order.objects.filter(pk=order.pk).update(stripe_session_id="")

    assert checkout_session_for(order) == url
    assert len(sessions_of(stripe_api, order)) == 1


def test_a_key_spent_with_another_expiry_falls_back_to_a_new_session(
    order, stripe_api, monkeypatch
):
    """Near the deadline `expires_at` follows the clock, so a late retry differs in it."""
    Order.objects.filter(pk=order.pk).update(payment_due_by=timezone.now() + timedelta(minutes=5))
    first = checkout_session_for(order)
    Order.objects.filter(pk=order.pk).update(stripe_session_id="")
    monkeypatch.setattr(sessions, "MIN_SESSION_SECONDS", sessions.MIN_SESSION_SECONDS + 5)

    second = checkout_session_for(order)

    order.refresh_from_db()
    assert second != first
    assert second.endswith(order.stripe_session_id)
    assert len(sessions_of(stripe_api, order)) == 2


def test_asking_twice_returns_the_same_open_session(order, stripe_api):
    first = checkout_session_for(order)
    second = checkout_session_for(order)

    assert second == first
    assert len(sessions_of(stripe_api, order)) == 1


def test_a_declined_card_pays_again_on_the_same_session(order, stripe_api):
    url = checkout_session_for(order)
    assert pay_on_hosted_page(url, action="decline") == 200

    assert checkout_session_for(order) == url


def test_an_expired_session_is_replaced_while_the_order_can_still_be_paid(order, stripe_api):
    first = checkout_session_for(order)
    order.refresh_from_db()
    stripe_api.v1.checkout.sessions.expire(order.stripe_session_id)

    second = checkout_session_for(order)

    order.refresh_from_db()
    assert second != first
    session = stripe_api.v1.checkout.sessions.retrieve(order.stripe_session_id)
    assert session.status == "open"
    assert session.metadata["checkout_attempt"] == "2"
    assert len(sessions_of(stripe_api, order)) == 2


def test_a_paid_session_waiting_for_its_webhook_is_not_paid_twice(order, stripe_api):
    pay_at_standin(stripe_api, order)

    with pytest.raises(ValidationError, match="being confirmed"):
        checkout_session_for(order)
    assert len(sessions_of(stripe_api, order)) == 1


def test_cancelled_and_overdue_orders_get_no_session(order_factory, stripe_api):
    cancelled = order_factory()
    order_cancel(order_id=cancelled.pk)
    overdue = make_overdue(order_factory())

    with pytest.raises(ValidationError, match="cancelled"):
        checkout_session_for(cancelled)
    with pytest.raises(ValidationError, match="time to pay"):
        checkout_session_for(overdue)
    assert (
        Order.objects.filter(pk__in=[cancelled.pk, overdue.pk], stripe_session_id="").count() == 2
    )


def test_a_cancelled_orders_hosted_page_is_closed(order, stripe_api):
    url = checkout_session_for(order)
    order_cancel(order_id=order.pk)

    assert checkout_session_expire(order_id=order.pk) is True
    assert checkout_session_expire(order_id=order.pk) is False
    assert pay_on_hosted_page(url) == 409
    order.refresh_from_db()
    expired = standin_event(stripe_api, "checkout.session.expired", id=order.stripe_session_id)
    assert receive(expired).outcome == "order already cancelled"


def test_stripe_unreachable_is_a_clear_error_and_changes_nothing(order, stripe_api, settings):
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # the discard port: nothing listens

    with pytest.raises(StripeUnavailable, match="could not be reached"):
        checkout_session_for(order)
    order.refresh_from_db()
    assert order.stripe_session_id == ""


# Events ---------------------------------------------------------------------------


def test_completed_checkout_pays_the_order_and_queues_the_receipt_not_the_dispatch(
    order, stripe_api, django_capture_on_commit_callbacks
):
    taken_stock, taken_units = stock(), units_used(order)
    completed = pay_at_standin(stripe_api, order)

    with django_capture_on_commit_callbacks() as callbacks:
        event = receive(completed)

    order.refresh_from_db()
    assert (event.outcome, event.order) == ("paid", order)
    assert event.processed_at is not None
    assert order.status == OrderStatus.PAID
    assert order.stripe_payment_intent == completed["data"]["object"]["payment_intent"]
    assert (stock(), units_used(order)) == (taken_stock, taken_units)
    # The receipt email only: the order waits for the pharmacist's final check. (Beside
    # it, the move of the patient's pages token, pharmacy/page_versions.py.)
    assert len([c for c in callbacks if c.__module__ != page_versions.__name__]) == 1
    assert order.awaits_final_check
    assert Notification.objects.filter(order=order, kind=Notification.Kind.CONFIRMED).exists()


def test_processing_an_event_twice_changes_the_order_once(order, stripe_api):
    event = receive(pay_at_standin(stripe_api, order))

    assert process_event(event.pk) == "already processed"
    assert moves(order) == [("", "pending_payment"), ("pending_payment", "paid")]


def test_expired_checkout_cancels_the_order_and_gives_stock_and_units_back(order, stripe_api):
    taken_stock = stock()
    checkout_session_for(order)
    order.refresh_from_db()
    stripe_api.v1.checkout.sessions.expire(order.stripe_session_id)

    event = receive(
        standin_event(stripe_api, "checkout.session.expired", id=order.stripe_session_id)
    )

    order.refresh_from_db()
    assert (event.outcome, order.status) == ("cancelled", OrderStatus.CANCELLED)
    assert (stock(), units_used(order)) == (taken_stock + 1, 0)


def test_expired_event_after_payment_leaves_the_order_paid(order, stripe_api):
    completed = pay_at_standin(stripe_api, order)
    receive(completed)

    event = receive(variant(completed, "checkout.session.expired", status="expired"))

    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert event.outcome == "order already paid"


def test_expiry_of_an_earlier_session_does_not_cancel_the_order(order, stripe_api):
    checkout_session_for(order)
    order.refresh_from_db()
    earlier = order.stripe_session_id
    stripe_api.v1.checkout.sessions.expire(earlier)
    checkout_session_for(order)  # the patient came back: a second session

    event = receive(standin_event(stripe_api, "checkout.session.expired", id=earlier))

    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert "earlier checkout session" in event.outcome


def test_a_refund_that_overtakes_the_payment_ends_refunded_with_stock_back_once(order, stripe_api):
    taken_stock = stock()
    completed = pay_at_standin(stripe_api, order)
    intent = completed["data"]["object"]["payment_intent"]
    stripe_api.v1.refunds.create({"payment_intent": intent})
    refunded = standin_event(stripe_api, "charge.refunded", payment_intent=intent)

    early = receive(refunded)
    order.refresh_from_db()
    # Nothing the site wrote links the refund to the order yet: the payment will.
    assert (early.outcome, early.order, order.status) == (
        "refund recorded before payment",
        None,
        OrderStatus.PENDING_PAYMENT,
    )

    late = receive(completed)
    order.refresh_from_db()
    early.refresh_from_db()
    assert late.outcome == "paid, then refunded (refund recorded before payment)"
    assert early.order == order
    assert order.status == OrderStatus.REFUNDED
    assert moves(order)[1:] == [("pending_payment", "paid"), ("paid", "refunded")]
    assert (stock(), units_used(order)) == (taken_stock + 1, 0)


def test_payment_after_cancellation_is_refunded_at_stripe_and_the_order_stays_cancelled(
    order, stripe_api
):
    url = checkout_session_for(order)
    order_cancel(order_id=order.pk, actor=order.patient, note="Changed my mind")
    released_stock = stock()
    assert pay_on_hosted_page(url) == 303  # the hosted page was still open in a tab
    order.refresh_from_db()
    completed = standin_event(stripe_api, "checkout.session.completed", id=order.stripe_session_id)
    intent = completed["data"]["object"]["payment_intent"]

    event = receive(completed)

    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert event.outcome.startswith("paid after cancellation: refund needed; refunded in Stripe")
    refund = standin_event(stripe_api, "charge.refunded", payment_intent=intent)
    assert refund["data"]["object"]["refunded"] is True
    assert (stock(), units_used(order)) == (released_stock, 0)
    [late] = Discrepancy.objects.filter(order=order)
    assert (late.kind, late.refund_status) == ("late_payment", "refunded")
    # Stripe's charge.refunded that follows changes nothing.
    assert (
        receive(refund).outcome
        == f"refund of a stray payment (discrepancy {late.pk}): nothing changes"
    )
    assert moves(order)[-1] == ("pending_payment", "cancelled")


def test_a_stripe_outage_while_refunding_a_late_payment_leaves_the_event_for_a_retry(
    order, stripe_api, settings
):
    url = checkout_session_for(order)
    order_cancel(order_id=order.pk)
    pay_on_hosted_page(url)
    order.refresh_from_db()
    completed = standin_event(stripe_api, "checkout.session.completed", id=order.stripe_session_id)
    event = store(completed)
    api_base, settings.STRIPE_API_BASE = settings.STRIPE_API_BASE, "http://127.0.0.1:9"

    with pytest.raises(StripeUnavailable):
        process_event(event.pk)
    event.refresh_from_db()
    assert (event.processed_at, event.outcome) == (None, "")

    settings.STRIPE_API_BASE = api_base
    assert "refunded in Stripe" in process_event(event.pk)


def test_events_of_other_types_are_stored_and_ignored(order, stripe_api):
    completed = pay_at_standin(stripe_api, order)

    event = receive(variant(completed, "checkout.session.async_payment_failed"))

    order.refresh_from_db()
    assert (event.outcome, order.status) == ("ignored", OrderStatus.PENDING_PAYMENT)


# Refunds --------------------------------------------------------------------------


def test_refund_order_refunds_at_stripe_and_gives_stock_and_units_back_once(
    order, stripe_api, catalog_staff
):
    taken_stock = stock()
    receive(pay_at_standin(stripe_api, order))
    order.refresh_from_db()

    refund_order(order_id=order.pk, actor=catalog_staff)

    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED
    assert order.status_changes.last().actor == catalog_staff
    assert (stock(), units_used(order)) == (taken_stock + 1, 0)
    webhook = receive(
        standin_event(stripe_api, "charge.refunded", payment_intent=order.stripe_payment_intent)
    )
    assert webhook.outcome == "order already refunded"
    refund_order(order_id=order.pk, actor=catalog_staff)  # a double click
    assert (stock(), units_used(order)) == (taken_stock + 1, 0)
    assert [m for m in moves(order) if m[1] == "refunded"] == [("paid", "refunded")]


def test_refunding_a_dispatched_order_is_refused_and_nothing_is_refunded(
    order, stripe_api, django_capture_on_commit_callbacks
):
    receive(pay_at_standin(stripe_api, order))
    order.refresh_from_db()
    release(order, capture=django_capture_on_commit_callbacks)
    order.refresh_from_db()
    assert order.status == OrderStatus.DISPATCHED

    with pytest.raises(ValidationError, match="dispatched"):
        refund_order(order_id=order.pk, actor=None)

    refunds = stripe_api.v1.events.list({"type": "charge.refunded", "limit": 100}).data
    assert order.stripe_payment_intent not in [e.data.object.payment_intent for e in refunds]


def test_refunding_an_unpaid_order_is_refused(order, stripe_api):
    with pytest.raises(ValidationError, match="only a paid order"):
        refund_order(order_id=order.pk, actor=None)


# The beat task --------------------------------------------------------------------


def test_retry_enqueues_only_events_left_unprocessed_for_a_while(order, stripe_api):
    completed = pay_at_standin(stripe_api, order)
    lost = store(completed)
    fresh = store(variant(completed, "customer.created"))
    done = receive(variant(completed, "customer.updated"))
    minute_ago = timezone.now() - timedelta(minutes=1)
    PaymentEvent.objects.filter(pk__in=[lost.pk, done.pk]).update(received_at=minute_ago)

    assert retry_unprocessed_events() == 1

    lost.refresh_from_db()
    fresh.refresh_from_db()
    order.refresh_from_db()
    assert (lost.outcome, order.status) == ("paid", OrderStatus.PAID)
    assert fresh.processed_at is None  # its own task may still be on its way
