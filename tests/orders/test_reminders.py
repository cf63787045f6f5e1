"""Refill reminders: when a supply runs out, when the patient hears about it, and once."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone
from django.utils.formats import date_format

from catalog.models import Drug
from orders import services
from orders.cart import CartLine
from orders.models import Notification, Order, OrderLine
from orders.services.reminders import send_due_reminders
from orders.supply import run_out_date, stop_warnings
from orders.tasks.notifications import send_refill_reminders
from prescriptions.models import Prescription
from tests.orders.factories import (
    baclofen_package,
    make_address,
    make_verified_prescription,
    pay,
    pay_without_side_effects,
    place_order,
)

REFILL = Notification.Kind.REFILL


@pytest.fixture(autouse=True)
def one_day_before(settings):
    """A one-day window keeps the arithmetic readable: 10 pills at 1 x 3 a day last 3 days."""
    settings.REFILL_REMINDER_DAYS_BEFORE = 1


def paid_on(order: Order):
    return timezone.localdate(order.paid_at)


def remind(capture, *, today) -> int:
    with capture(execute=True):
        return send_due_reminders(today=today)


def the_line(order: Order) -> OrderLine:
    return OrderLine.objects.select_related("order", "prescription").get(order=order)


def test_run_out_date_follows_the_directions_and_the_units_bought(patient, capture, orders_any_day):
    make_verified_prescription(patient=patient)
    ten = pay(place_order(patient=patient), capture)
    twenty = pay(place_order(patient=patient, quantity=2), capture)
    assert run_out_date(the_line(ten)) == paid_on(ten) + timedelta(days=3)  # 10 / 3 a day
    assert run_out_date(the_line(twenty)) == paid_on(twenty) + timedelta(days=6)  # 20 / 3


def test_run_out_date_counts_half_tablets(patient, capture):
    make_verified_prescription(
        patient=patient,
        units_per_dose=Decimal("0.5"),
        doses_per_day=2,
        directions="Take half a tablet twice a day",
    )
    order = pay(place_order(patient=patient), capture)
    assert run_out_date(the_line(order)) == paid_on(order) + timedelta(days=10)


def test_run_out_date_is_unknown_without_directions_or_payment(paid_order, patient):
    line = the_line(paid_order)
    Prescription.objects.filter(pk=line.prescription_id).update(doses_per_day=None)
    assert run_out_date(the_line(paid_order)) is None
    assert run_out_date(the_line(place_order(patient=patient))) is None  # not paid


def test_no_reminder_before_the_window_opens(paid_order, capture):
    assert remind(capture, today=paid_on(paid_order) + timedelta(days=1)) == 0
    assert mail.outbox == []
    assert not Notification.objects.filter(kind=REFILL).exists()


@pytest.mark.parametrize("days_after_payment", [2, 3])
def test_reminder_is_sent_within_the_window(paid_order, capture, days_after_payment):
    assert remind(capture, today=paid_on(paid_order) + timedelta(days=days_after_payment)) == 1
    assert len(mail.outbox) == 1
    assert paid_order.number in mail.outbox[0].subject
    assert mail.outbox[0].to == [paid_order.patient.email]
    assert Notification.objects.get(order=paid_order, kind=REFILL).sent_at is not None


def test_no_reminder_once_the_supply_has_run_out(paid_order, capture):
    assert remind(capture, today=paid_on(paid_order) + timedelta(days=4)) == 0
    assert remind(capture, today=paid_on(paid_order) + timedelta(days=60)) == 0
    assert mail.outbox == []


def test_reminder_is_never_sent_twice_for_the_same_order(paid_order, capture):
    day = paid_on(paid_order) + timedelta(days=2)
    assert remind(capture, today=day) == 1
    assert remind(capture, today=day) == 0
    assert remind(capture, today=day + timedelta(days=1)) == 0
    assert len(mail.outbox) == 1
    assert Notification.objects.filter(order=paid_order, kind=REFILL).count() == 1


def test_a_reminder_a_stopped_run_left_unsent_is_sent_once(paid_order, capture):
    day = paid_on(paid_order) + timedelta(days=2)
    Notification.objects.create(order=paid_order, kind=REFILL)  # the run stopped there
    assert mail.outbox == []
    assert remind(capture, today=day + timedelta(days=1)) == 1
    assert remind(capture, today=day + timedelta(days=1)) == 0
    assert len(mail.outbox) == 1


def test_one_reminder_per_order_with_several_lines(patient, capture):
    make_verified_prescription(patient=patient)
    # 30 + 40 mg/day: within the adult maximum together
    make_verified_prescription(
        patient=patient, strength="20 mg", doses_per_day=2, directions="Take 1 tablet twice a day"
    )
    order = services.order_place(
        patient=patient,
        lines=[CartLine(baclofen_package("10 mg"), 1), CartLine(baclofen_package("20 mg"), 1)],
        address=make_address(patient),
    )
    order = pay(order, capture)
    mail.outbox.clear()
    assert remind(capture, today=paid_on(order) + timedelta(days=2)) == 1
    assert len(mail.outbox) == 1
    body = mail.outbox[0].body
    assert "Baclofen 10 mg tablets" in body
    assert "Baclofen 20 mg tablets" in body


def test_cancelled_and_refunded_orders_get_no_reminder(patient, capture):
    make_verified_prescription(patient=patient)
    refunded = pay_without_side_effects(place_order(patient=patient), capture)
    services.order_mark_refunded(order_id=refunded.pk)
    cancelled = place_order(patient=patient)
    services.order_cancel(order_id=cancelled.pk, actor=patient)
    mail.outbox.clear()
    assert remind(capture, today=paid_on(refunded) + timedelta(days=2)) == 0
    assert mail.outbox == []


def test_reminder_email_gives_the_run_out_date_units_left_and_the_no_sudden_stop_warning(
    paid_order, capture
):
    run_out = paid_on(paid_order) + timedelta(days=3)
    remind(capture, today=run_out)
    body = mail.outbox[0].body
    prescription = Prescription.objects.get(pk=the_line(paid_order).prescription_id)
    warning = Drug.objects.get(slug="baclofen").stop_suddenly_warning
    assert "must never be stopped suddenly" in warning
    assert f"Important: {warning}" in body
    assert body.count(warning) == 1
    assert f"runs out on {date_format(run_out, 'l, F j, Y')}" in body
    assert f"has {prescription.units_remaining} units left" in body
    assert date_format(prescription.expiry_date, "F j, Y") in body
    assert (
        "Order again (the same packages, in your cart for checkout): "
        f"http://127.0.0.1:8000/orders/{paid_order.number}/reorder/"
    ) in body
    assert "Talk to your doctor before you stop or change the dose" in body


def test_reminder_warning_is_the_drugs_own_text_as_staff_edit_it(paid_order, capture):
    drug = Drug.objects.get(slug="baclofen")
    drug.stop_suddenly_warning = "Stopping abruptly can cause seizures; taper with your doctor."
    drug.save()
    remind(capture, today=paid_on(paid_order) + timedelta(days=2))
    assert drug.stop_suddenly_warning in mail.outbox[0].body
    assert stop_warnings([drug]) == [drug.stop_suddenly_warning]


def test_a_drug_not_flagged_gets_no_stop_suddenly_warning(paid_order, capture):
    Drug.objects.filter(slug="baclofen").update(must_not_stop_suddenly=False)
    remind(capture, today=paid_on(paid_order) + timedelta(days=2))
    body = mail.outbox[0].body
    assert "suddenly" not in body
    assert "Talk to your doctor before you stop or change the dose" in body


def test_reminder_asks_for_a_new_prescription_when_it_cannot_cover_another_order(patient, capture):
    make_verified_prescription(patient=patient, quantity=10, refills=0)
    order = pay(place_order(patient=patient), capture)
    mail.outbox.clear()
    remind(capture, today=paid_on(order) + timedelta(days=2))
    body = mail.outbox[0].body
    assert "has 0 units left" in body
    assert "Ask your doctor for a new one and upload it" in body
    assert "/account/prescriptions/new/?drug=baclofen" in body
    assert "Order again" not in body


def test_send_refill_reminders_task_uses_todays_date(paid_order, capture):
    # As if paid two days ago: its supply runs out tomorrow.
    Order.objects.filter(pk=paid_order.pk).update(paid_at=timezone.now() - timedelta(days=2))
    OrderLine.objects.filter(order=paid_order).update(
        refill_due_on=timezone.localdate() + timedelta(days=1)
    )
    with capture(execute=True):
        assert send_refill_reminders.delay().get() == 1
    with capture(execute=True):
        assert send_refill_reminders.delay().get() == 0
    assert len(mail.outbox) == 1
