"""The worker's payment and dispatch tasks send their order's email themselves, after
their commit, instead of queueing one more task for it, and the dispatch task sends
a first fill's counselling offer too (issue 18: worker CPU)."""

import smtplib
from datetime import timedelta

import pytest
from django.core import mail
from django.core.mail import EmailMessage
from django.test import Client
from django.utils import timezone

from dispensing.models import CounsellingOffer
from dispensing.task_names import SEND_COUNSELLING_OFFER
from orders import services
from orders.models import Notification, OrderStatus
from orders.services.sweeps import lost_work_resume
from orders.task_names import CONFIRM_PAYMENT, DISPATCH_ORDER, SEND_ORDER_EMAIL
from pharmacy import queue
from tests.dispensing.factories import release
from tests.fixtures.stripe import pay_at_standin, signed_event
from tests.orders.factories import pay, pay_and_release, place_order

Kind = Notification.Kind
WEBHOOK = "/payments/stripe/webhook/"


@pytest.fixture
def queued(monkeypatch):
    """Every task queued, as (name, *args); each still runs (eagerly) unless its name is
    in `queued.dropped`, as a task lost with the broker."""
    calls: list[tuple] = []
    real = queue.enqueue

    def spy(task_name, *args):
        calls.append((task_name, *args))
        if task_name not in spy.dropped:
            real(task_name, *args)

    spy.dropped = set()
    spy.calls = calls
    monkeypatch.setattr(queue, "enqueue", spy)
    return spy


def webhook(event: dict, capture) -> None:
    payload, header = signed_event(event)
    with capture(execute=True):
        response = Client().post(
            WEBHOOK, data=payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
        )
    assert response.status_code == 200, response.content


def receipts(order) -> list[str]:
    return [m.subject for m in mail.outbox if "Receipt" in m.subject and order.number in m.subject]


def test_a_paid_orders_receipt_is_sent_by_the_payment_task_with_no_email_task(
    prescribed_patient, stripe_api, capture, queued
):
    order = place_order(patient=prescribed_patient)
    webhook(pay_at_standin(stripe_api, order), capture)

    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert len(receipts(order)) == 1
    assert order.notifications.get(kind=Kind.CONFIRMED).sent_at is not None
    names = [call[0] for call in queued.calls]
    assert CONFIRM_PAYMENT in names
    assert SEND_ORDER_EMAIL not in names


def test_the_dispatch_email_is_sent_by_the_dispatch_task_with_no_email_task(
    prescribed_patient, capture, queued
):
    order = pay_and_release(place_order(patient=prescribed_patient), capture)

    assert order.status == OrderStatus.DISPATCHED
    dispatched = [m for m in mail.outbox if f"Order {order.number} is on its way" in m.subject]
    assert len(dispatched) == 1
    assert order.notifications.get(kind=Kind.DISPATCHED).sent_at is not None
    assert (DISPATCH_ORDER, order.pk) in queued.calls
    assert (SEND_ORDER_EMAIL, order.pk, Kind.DISPATCHED) not in queued.calls


def test_a_web_request_still_queues_the_email_as_a_task(prescribed_patient, capture, queued):
    order = place_order(patient=prescribed_patient)
    queued.dropped.add(SEND_ORDER_EMAIL)
    with capture(execute=True):
        services.order_mark_paid(order_id=order.pk, payment_intent="pi_test")
    assert queued.calls == [(SEND_ORDER_EMAIL, order.pk, Kind.CONFIRMED)]
    assert receipts(order) == []


def test_a_receipt_that_fails_to_send_stays_unsent_and_the_sweep_sends_it_once(
    prescribed_patient, stripe_api, capture, queued, monkeypatch
):
    order = place_order(patient=prescribed_patient)
    real_send = EmailMessage.send

    def down(message, *args, **kwargs):
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")

    monkeypatch.setattr(EmailMessage, "send", down)
    queued.dropped.add(SEND_ORDER_EMAIL)  # and its fallback task is lost too
    webhook(pay_at_standin(stripe_api, order), capture)

    order.refresh_from_db()
    assert order.status == OrderStatus.PAID  # the payment is kept, whatever the mail server
    notification = order.notifications.get(kind=Kind.CONFIRMED)
    assert notification.sent_at is None
    assert (SEND_ORDER_EMAIL, order.pk, Kind.CONFIRMED) in queued.calls

    monkeypatch.setattr(EmailMessage, "send", real_send)
    queued.dropped.clear()
    Notification.objects.filter(pk=notification.pk).update(
        created_at=timezone.now() - timedelta(minutes=5)
    )
    assert lost_work_resume() == 1
    assert lost_work_resume() == 0
    assert len(receipts(order)) == 1
    notification.refresh_from_db()
    assert notification.sent_at is not None


def counselling_offers(order) -> list[str]:
    return [m.subject for m in mail.outbox if f"Order {order.number}: a pharmacist" in m.subject]


def test_a_first_fills_counselling_offer_is_sent_by_the_dispatch_task_with_no_task_of_its_own(
    prescribed_patient, capture, queued
):
    order = pay_and_release(place_order(patient=prescribed_patient), capture)

    assert order.status == OrderStatus.DISPATCHED
    assert len(counselling_offers(order)) == 1
    offer = CounsellingOffer.objects.get(order=order)
    assert offer.emailed_at is not None
    assert SEND_COUNSELLING_OFFER not in [call[0] for call in queued.calls]


def test_a_counselling_offer_that_fails_to_send_is_queued_the_parcel_goes_and_the_sweep_sends_it(
    prescribed_patient, capture, queued, monkeypatch
):
    order = pay(place_order(patient=prescribed_patient), capture)
    real_send = EmailMessage.send

    def down_for_offers(message, *args, **kwargs):
        if "talk you through" in message.subject:
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        return real_send(message, *args, **kwargs)

    monkeypatch.setattr(EmailMessage, "send", down_for_offers)
    queued.dropped.add(SEND_COUNSELLING_OFFER)  # and its fallback task is lost too
    release(order, capture=capture)

    order.refresh_from_db()
    assert order.status == OrderStatus.DISPATCHED  # the mail server holds up no parcel
    assert len([m for m in mail.outbox if "is on its way" in m.subject]) == 1
    offer = CounsellingOffer.objects.get(order=order)
    assert offer.emailed_at is None
    assert (SEND_COUNSELLING_OFFER, offer.pk) in queued.calls

    monkeypatch.setattr(EmailMessage, "send", real_send)
    queued.dropped.clear()
    assert lost_work_resume() == 0  # not yet: its task may only be slow
    CounsellingOffer.objects.filter(pk=offer.pk).update(
        offered_at=timezone.now() - timedelta(minutes=5)
    )
    assert lost_work_resume() == 1
    assert lost_work_resume() == 0
    assert len(counselling_offers(order)) == 1
    offer.refresh_from_db()
    assert offer.emailed_at is not None


def test_a_counselling_offer_left_unsent_for_days_is_not_emailed_late(
    prescribed_patient, capture, queued, monkeypatch
):
    order = pay(place_order(patient=prescribed_patient), capture)
    monkeypatch.setattr(EmailMessage, "send", lambda *a, **k: (_ for _ in ()).throw(OSError()))
    queued.dropped.add(SEND_COUNSELLING_OFFER)  # its task gave up long ago
    release(order, capture=capture)
    monkeypatch.undo()
    queued.dropped.clear()
    CounsellingOffer.objects.filter(order=order).update(
        offered_at=timezone.now() - timedelta(days=3)
    )
    assert lost_work_resume() == 0
    assert counselling_offers(order) == []
