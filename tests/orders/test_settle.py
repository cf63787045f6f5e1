"""Settling an authorised order at the Stripe stand-in: captured once when the
pharmacist verifies, cancelled (the hold released, stock back once, the patient told
why) when the prescription is rejected, does not cover the order, never comes, or the
hold lapses or is about to; a capture never doubles.
"""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from orders.models import Notification, Order, OrderStatus
from orders.payments.client import StripeUnavailable
from orders.payments.settlement import authorised_orders_settle, cancel_at_stripe, order_settle
from orders.services import order_cancel
from prescriptions.services import (
    prescription_reject,
    prescription_request_info,
    prescription_verify,
)
from tests.factories import make_e_prescription, make_pharmacist
from tests.fixtures.stripe import pay_at_standin, standin_event
from tests.orders.factories import (
    captures_of,
    decide,
    intent_of,
    make_patient,
    moves,
    place_waiting,
    receive,
    stock,
    units_used,
)

pytestmark = pytest.mark.urls("tests.orders.urls_webhook")


def test_verifying_captures_once_pays_and_waits_for_the_final_check(
    authorised, stripe_api, capture
):
    order, prescription = authorised

    decide(capture, prescription_verify, prescription, warnings_acknowledged=True)
    with capture(execute=True):
        again = order_settle(order_id=order.pk)

    order.refresh_from_db()
    assert again == "order already paid"
    assert order.awaits_final_check
    assert moves(order)[1:3] == [("pending_payment", "authorised"), ("authorised", "paid")]
    intent = intent_of(stripe_api, order)
    assert (intent.status, intent.amount_received) == ("succeeded", order.total_cents)
    assert units_used(prescription) == 10
    assert order.lines.get().units_reserved is True
    subjects = [m.subject for m in mail.outbox]
    assert any(s.startswith(f"Receipt for order {order.number}") for s in subjects)
    captures = [
        e
        for e in stripe_api.v1.events.list({"type": "charge.captured", "limit": 100}).data
        if e.data.object.payment_intent == order.stripe_payment_intent
    ]
    assert len(captures) == 1


def test_the_payment_intent_succeeded_after_our_capture_changes_nothing(
    authorised, stripe_api, capture
):
    order, prescription = authorised
    decide(capture, prescription_verify, prescription, warnings_acknowledged=True)
    succeeded = standin_event(
        stripe_api, "payment_intent.succeeded", id=intent_of(stripe_api, order).id
    )

    assert receive(succeeded) == "order already paid"


def test_rejecting_cancels_the_intent_gives_stock_back_once_and_says_why(
    authorised, stripe_api, capture
):
    order, prescription = authorised
    before = stock()

    decide(capture, prescription_reject, prescription, reason="The prescriber's licence expired.")
    with capture(execute=True):
        again = order_settle(order_id=order.pk)

    order.refresh_from_db()
    assert again == "order already cancelled"
    assert order.status == OrderStatus.CANCELLED
    assert intent_of(stripe_api, order).status == "canceled"
    assert stock() == before + 1
    assert units_used(prescription) == 0
    [email] = [m for m in mail.outbox if "cancelled" in m.subject]
    assert "did not accept prescription" in email.body
    assert "The prescriber's licence expired" in email.body
    assert "Nothing was charged; the hold on your card is released" in email.body
    assert "units on prescription" not in email.body
    canceled = standin_event(stripe_api, "payment_intent.canceled", id=order.stripe_payment_intent)
    assert receive(canceled) == "order already cancelled"


def test_a_verified_prescription_of_another_strength_cancels(stripe_api, capture, baclofen):
    patient = make_patient()
    prescription = make_e_prescription(patient=patient, strength="20 mg")
    order = place_waiting(patient, prescription)  # 10 mg: the same drug, another strength
    with capture(execute=True):
        receive(pay_at_standin(stripe_api, order))

    decide(capture, prescription_verify, prescription, warnings_acknowledged=True)

    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert intent_of(stripe_api, order).status == "canceled"
    assert units_used(prescription) == 0
    [email] = [m for m in mail.outbox if "cancelled" in m.subject]
    assert "does not cover" in email.body


def test_a_request_for_more_information_keeps_the_order_waiting(authorised, stripe_api, capture):
    order, prescription = authorised

    decide(capture, prescription_request_info, prescription, message="Send page two.")

    order.refresh_from_db()
    assert order.status == OrderStatus.AUTHORISED
    assert intent_of(stripe_api, order).status == "requires_capture"
    assert order_settle(order_id=order.pk) == "waiting for the pharmacist"


def test_a_lapsed_authorisation_cancels_the_order_once(
    authorised, stripe_api, stripe_standin, capture
):
    order, _ = authorised
    before = stock()
    stripe_standin.lapse_authorization(order.stripe_payment_intent)
    canceled = standin_event(stripe_api, "payment_intent.canceled", id=order.stripe_payment_intent)

    with capture(execute=True):
        first = receive(canceled)
        second = receive(dict(canceled, id=canceled["id"] + "x"))

    order.refresh_from_db()
    assert first == "authorisation expired at Stripe: cancelled"
    assert second == "order already cancelled"
    assert order.status == OrderStatus.CANCELLED
    assert stock() == before + 1
    assert moves(order).count(("authorised", "cancelled")) == 1
    [email] = mail.outbox
    assert "the hold on your card ran out" in email.body
    assert "Nothing was charged" in email.body


def test_the_sweep_cancels_a_day_before_the_hold_lapses(authorised, stripe_api, capture):
    order, _ = authorised
    Order.objects.filter(pk=order.pk).update(capture_before=timezone.now() + timedelta(hours=23))

    with capture(execute=True):
        assert authorised_orders_settle() == 1

    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert intent_of(stripe_api, order).status == "canceled"
    [email] = mail.outbox
    assert "about to run out" in email.body


def test_the_sweep_cancels_an_order_whose_prescription_never_came(
    authorised, stripe_api, capture, settings
):
    order, _ = authorised
    settings.ORDER_VERIFICATION_HOURS = 72
    Order.objects.filter(pk=order.pk).update(authorised_at=timezone.now() - timedelta(hours=73))

    with capture(execute=True):
        assert authorised_orders_settle() == 1

    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert "no prescription a pharmacist could verify arrived in time" in mail.outbox[0].body


def test_the_sweep_leaves_a_waiting_order_and_settles_a_decided_one(
    authorised, stripe_api, capture
):
    order, prescription = authorised
    assert authorised_orders_settle() == 0
    # The decision's task was lost: the prescription is verified, nothing queued.
    prescription_verify(
        prescription_id=prescription.pk, pharmacist=make_pharmacist(), warnings_acknowledged=True
    )

    with capture(execute=True):
        assert authorised_orders_settle() == 1

    order.refresh_from_db()
    assert order.status in (OrderStatus.PAID, OrderStatus.DISPATCHED)
    assert intent_of(stripe_api, order).status == "succeeded"


def test_a_capture_refused_because_the_intent_was_canceled_cancels(
    authorised, stripe_api, stripe_standin, capture
):
    order, prescription = authorised
    stripe_standin.lapse_authorization(order.stripe_payment_intent)  # its webhook not yet in
    prescription_verify(
        prescription_id=prescription.pk, pharmacist=make_pharmacist(), warnings_acknowledged=True
    )

    with capture(execute=True):
        outcome = order_settle(order_id=order.pk)

    order.refresh_from_db()
    assert outcome == "capture refused, the authorisation was canceled: cancelled"
    assert order.status == OrderStatus.CANCELLED
    assert units_used(prescription) == 0
    assert not Notification.objects.filter(order=order, kind=Notification.Kind.CONFIRMED).exists()


def test_stripe_unreachable_changes_nothing_and_the_retry_captures(
    authorised, stripe_api, settings, capture
):
    order, prescription = authorised
    prescription_verify(
        prescription_id=prescription.pk, pharmacist=make_pharmacist(), warnings_acknowledged=True
    )
    working = settings.STRIPE_API_BASE
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens there

    with pytest.raises(StripeUnavailable):
        order_settle(order_id=order.pk)

    order.refresh_from_db()
    assert order.status == OrderStatus.AUTHORISED
    assert units_used(prescription) == 0
    assert order.lines.get().units_reserved is False
    settings.STRIPE_API_BASE = working
    with capture(execute=True):
        assert order_settle(order_id=order.pk) == "captured: paid"
    assert units_used(prescription) == 10


def test_staff_cancelling_an_authorised_order_releases_the_hold(authorised, stripe_api, capture):
    order, _ = authorised

    with capture(execute=True):
        assert order_cancel(order_id=order.pk, actor=make_pharmacist(), note="Out of stock")

    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert intent_of(stripe_api, order).status == "canceled"
    canceled = standin_event(stripe_api, "payment_intent.canceled", id=order.stripe_payment_intent)
    assert receive(canceled) == "order already cancelled"


def test_a_settle_that_died_after_stripe_captured_runs_again_without_a_second_capture(
    authorised, stripe_api, capture, monkeypatch
):
    """The worker is lost between Stripe's answer and the commit: everything on the site
    rolls back, and the retry's capture (same idempotency key) is Stripe's replay."""
    order, prescription = authorised
    prescription_verify(
        prescription_id=prescription.pk, pharmacist=make_pharmacist(), warnings_acknowledged=True
    )

    def crash(**kwargs):
        raise SystemExit("worker lost")

    monkeypatch.setattr("orders.payments.settlement.order_mark_paid", crash)
    with pytest.raises(SystemExit):
        order_settle(order_id=order.pk)
    order.refresh_from_db()
    assert order.status == OrderStatus.AUTHORISED
    assert units_used(prescription) == 0
    assert intent_of(stripe_api, order).status == "succeeded"
    monkeypatch.undo()

    with capture(execute=True):
        assert order_settle(order_id=order.pk) == "captured: paid"

    order.refresh_from_db()
    assert order.awaits_final_check
    assert units_used(prescription) == 10
    assert captures_of(stripe_api, order.stripe_payment_intent) == 1


def test_a_capture_made_at_stripe_before_verification_pays_only_once_verified(
    authorised, stripe_api, capture
):
    order, prescription = authorised
    stripe_api.v1.payment_intents.capture(order.stripe_payment_intent)
    succeeded = standin_event(
        stripe_api, "payment_intent.succeeded", id=order.stripe_payment_intent
    )

    outcome = receive(succeeded)

    order.refresh_from_db()
    assert outcome.startswith("captured at Stripe before verification")
    assert order.status == OrderStatus.AUTHORISED  # never dispatched unverified
    decide(capture, prescription_verify, prescription, warnings_acknowledged=True)
    order.refresh_from_db()
    assert order.awaits_final_check
    assert captures_of(stripe_api, order.stripe_payment_intent) == 1


def test_a_second_cancel_with_another_reason_reads_how_the_first_ended(authorised, stripe_api):
    order, _ = authorised
    first = cancel_at_stripe(
        payment_intent=order.stripe_payment_intent, number=order.number, reason="abandoned"
    )

    again = cancel_at_stripe(
        payment_intent=order.stripe_payment_intent,
        number=order.number,
        reason="requested_by_customer",
    )

    assert (first, again) == ("canceled", "canceled")
