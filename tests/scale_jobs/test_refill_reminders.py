"""Refill reminders at scale: the day a supply runs out is known from payment, and the
daily run reads only the orders whose day is near, a batch at a time, sending each
reminder once however the run ends."""

import importlib
import re
import smtplib
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.db import connection
from django.utils import timezone

from orders.models import Notification, Order, OrderLine, OrderStatus
from orders.services import reminders
from orders.services.reminders import send_due_reminders
from orders.supply import run_out_date
from tests.orders.factories import make_verified_prescription, pay, place_order
from tests.scale_jobs.bulk import order_copies, queries

REFILL = Notification.Kind.REFILL
backfill = importlib.import_module("orders.migrations.0014_refill_due_on_and_job_indexes")


@pytest.fixture(autouse=True)
def one_day_before(settings):
    """A one-day window: 10 pills at 1 x 3 a day run out on the fourth day, reminded on
    the third and the fourth."""
    settings.REFILL_REMINDER_DAYS_BEFORE = 1


@pytest.fixture
def paid(patient, django_capture_on_commit_callbacks) -> Order:
    """10 pills of baclofen 10 mg at 1 tablet three times a day, paid today."""
    make_verified_prescription(patient=patient)
    order = pay(place_order(patient=patient), django_capture_on_commit_callbacks)
    mail.outbox.clear()
    return order


def reminder_day(order: Order):
    return timezone.localdate(order.paid_at) + timedelta(days=2)


def not_due(template: Order, count: int) -> None:
    """Orders the run must not even read: their supply runs out long after or long
    before the window, or they have no directions; and orders whose day is in the
    window but that were cancelled or already reminded."""
    day = reminder_day(template)
    for due_on in (day + timedelta(days=30), day - timedelta(days=30), None):
        order_copies(template, count, line_fields={"refill_due_on": due_on})
    order_copies(template, count, status=OrderStatus.REFUNDED, line_fields={"refill_due_on": day})
    for order in order_copies(template, count, line_fields={"refill_due_on": day}):
        Notification.objects.create(order=order, kind=REFILL, sent_at=timezone.now())


def test_the_run_out_day_is_recorded_when_the_order_is_paid(paid):
    line = paid.lines.get()
    assert line.refill_due_on == timezone.localdate(paid.paid_at) + timedelta(days=3)
    assert line.refill_due_on == run_out_date(line)


def test_an_order_not_paid_has_no_run_out_day(patient):
    make_verified_prescription(patient=patient)
    assert place_order(patient=patient).lines.get().refill_due_on is None


def test_the_migration_fills_in_the_day_for_lines_paid_before_it_in_batches(paid, monkeypatch):
    others = order_copies(paid, 4, line_fields={"refill_due_on": None})
    unpaid = order_copies(paid, 1, paid_at=None, line_fields={"refill_due_on": None})
    OrderLine.objects.filter(order=paid).update(refill_due_on=None)
    monkeypatch.setattr(backfill, "BATCH", 2)

    backfill.backfill_refill_due_on(apps, SimpleNamespace(connection=connection))

    expected = timezone.localdate(paid.paid_at) + timedelta(days=3)
    for order in [paid, *others]:
        assert order.lines.get().refill_due_on == expected
    assert unpaid[0].lines.get().refill_due_on is None


def test_a_reminder_is_sent_once_however_often_the_run_is_repeated(paid):
    day = reminder_day(paid)
    assert send_due_reminders(today=day) == 1
    assert send_due_reminders(today=day) == 0
    assert send_due_reminders(today=day + timedelta(days=1)) == 0
    assert [m.to for m in mail.outbox] == [[paid.patient.email]]
    assert Notification.objects.get(order=paid, kind=REFILL).sent_at is not None


def test_orders_not_due_cost_the_run_nothing(paid):
    day = reminder_day(paid) + timedelta(days=10)  # the real order is not due either
    not_due(paid, 2)
    few = queries(lambda: send_due_reminders(today=day))
    not_due(paid, 20)
    many = queries(lambda: send_due_reminders(today=day))
    assert mail.outbox == []
    assert few == many


def test_due_orders_cost_the_same_queries_per_batch(paid):
    day = reminder_day(paid)
    # The real order is due; every copy is due on the same day.
    order_copies(paid, 3, line_fields={"refill_due_on": day + timedelta(days=1)})
    one_batch_of_4 = queries(lambda: send_due_reminders(today=day, batch=500))
    order_copies(paid, 40, line_fields={"refill_due_on": day})
    one_batch_of_40 = queries(lambda: send_due_reminders(today=day, batch=500))
    assert len(mail.outbox) == 44
    assert one_batch_of_4 == one_batch_of_40

    mail.outbox.clear()
    nothing = queries(lambda: send_due_reminders(today=day, batch=2))
    order_copies(paid, 4, line_fields={"refill_due_on": day})
    two_batches = queries(lambda: send_due_reminders(today=day, batch=2))
    order_copies(paid, 8, line_fields={"refill_due_on": day})
    four_batches = queries(lambda: send_due_reminders(today=day, batch=2))
    assert len(mail.outbox) == 12
    assert four_batches - two_batches == two_batches - nothing


def test_a_run_stopped_by_the_mail_server_sends_the_rest_next_time_and_none_twice(
    paid, monkeypatch
):
    day = reminder_day(paid)
    order_copies(paid, 5, line_fields={"refill_due_on": day})
    send = EmailBackend.send_messages
    calls = iter(range(100))

    def fails_on_the_third(self, messages):
        if next(calls) == 2:
            raise smtplib.SMTPServerDisconnected("gone")
        return send(self, messages)

    monkeypatch.setattr(EmailBackend, "send_messages", fails_on_the_third)
    with pytest.raises(smtplib.SMTPServerDisconnected):
        send_due_reminders(today=day)
    assert len(mail.outbox) == 2
    assert Notification.objects.filter(kind=REFILL, sent_at__isnull=False).count() == 2

    assert send_due_reminders(today=day) == 4
    sent_to_orders = [re.search(r"from order (\w+)", m.subject).group(1) for m in mail.outbox]
    assert len(sent_to_orders) == 6 == len(set(sent_to_orders))
    assert not Notification.objects.filter(kind=REFILL, sent_at__isnull=True).exists()


def test_an_email_that_cannot_be_written_holds_back_no_other_reminder(paid, monkeypatch):
    day = reminder_day(paid)
    order_copies(paid, 3, line_fields={"refill_due_on": day})
    write = reminders.order_email

    def broken_for_the_first(order, kind, **kwargs):
        if order.pk == paid.pk:
            raise ValueError("a template error")
        return write(order, kind, **kwargs)

    monkeypatch.setattr(reminders, "order_email", broken_for_the_first)
    assert send_due_reminders(today=day) == 3
    assert paid.number not in " ".join(m.subject for m in mail.outbox)
    assert Notification.objects.get(order=paid, kind=REFILL).sent_at is None
