"""The nightly reconciliation finds every payment without an order and every order
without a payment, against the real stripe client and the stand-in."""

from datetime import timedelta

from django.core import mail
from django.utils import timezone

from orders.models import Discrepancy, Order, OrderStatus
from orders.payments.events import process_event, record_event
from orders.payments.reconciliation import reconcile
from tests.fixtures.stripe import pay_at_standin, signed_event

LATER = timedelta(minutes=30)  # past the grace period for webhooks still on their way


def confirm(event):
    payload, header = signed_event(event)
    stored, _ = record_event(payload=payload, signature=header)
    process_event(stored.pk)


def test_a_consistent_day_reports_nothing(stripe_api, order, settings):
    settings.ADMINS = [("Owner", "owner@example.com")]
    confirm(pay_at_standin(stripe_api, order))
    assert Order.objects.get(pk=order.pk).status in (OrderStatus.PAID, OrderStatus.DISPATCHED)
    mail.outbox.clear()
    findings = reconcile(now=timezone.now() + LATER)
    assert [f for f in findings if f.order_id == order.pk] == []


def test_a_payment_whose_webhook_never_arrived_is_reported_once(stripe_api, order, settings):
    settings.ADMINS = [("Owner", "owner@example.com")]
    pay_at_standin(stripe_api, order)  # paid at Stripe, but the site was never told
    mail.outbox.clear()
    findings = [f for f in reconcile(now=timezone.now() + LATER) if f.order_id == order.pk]
    assert [f.kind for f in findings] == [Discrepancy.Kind.PAID_NO_ORDER]
    assert "waiting for payment" in findings[0].detail
    assert any("Payment reconciliation" in m.subject for m in mail.outbox)
    assert [f for f in reconcile(now=timezone.now() + LATER) if f.order_id == order.pk] == []
    assert Discrepancy.objects.filter(order=order).count() == 1


def test_an_order_marked_paid_without_a_payment_is_reported(stripe_api, order_factory):
    order = order_factory()
    Order.objects.filter(pk=order.pk).update(
        status=OrderStatus.PAID, paid_at=timezone.now(), stripe_session_id="cs_test_never_paid"
    )
    findings = [f for f in reconcile(now=timezone.now() + LATER) if f.order_id == order.pk]
    assert [f.kind for f in findings] == [Discrepancy.Kind.ORDER_NO_PAYMENT]


def test_recent_orders_get_time_for_their_webhook(stripe_api, order):
    pay_at_standin(stripe_api, order)
    assert [f for f in reconcile() if f.order_id == order.pk] == []
