"""Authorise at checkout, charge on verification, against the Stripe stand-in over HTTP.

An order placed against a prescription still with the pharmacist is authorised on the
stand-in's hosted page (nothing captured), then captured when the pharmacist verifies,
or cancelled (the hold released) when the prescription is rejected, does not cover the
order, never comes, or the hold is about to lapse.
"""

import pytest
from django.core import mail

from orders.models import (
    CaptureMethod,
    Discrepancy,
    Order,
    OrderStatus,
)
from orders.services import CheckoutError
from prescriptions.services import (
    prescription_reject,
    prescription_request_info,
    prescription_verify,
)
from tests.factories import make_pharmacist, sign_in_staff
from tests.fixtures.stripe import pay_at_standin, standin_event
from tests.orders.factories import (
    intent_of,
    make_patient,
    moves,
    place_waiting,
    receive,
    stock,
    units_used,
)

pytestmark = pytest.mark.urls("tests.orders.urls_webhook")


# Placing ------------------------------------------------------------------------------


def test_an_order_may_wait_for_a_submitted_prescription_taking_stock_but_no_units(waiting_rx):
    patient, prescription = waiting_rx
    before = stock()

    order = place_waiting(patient, prescription, quantity=2)

    line = order.lines.get()
    assert (order.status, order.capture_method) == (OrderStatus.PENDING_PAYMENT, "manual")
    assert (line.prescription_id, line.units_reserved) == (prescription.pk, False)
    assert stock() == before - 2
    assert units_used(prescription) == 0


def test_an_order_covered_by_a_verified_prescription_is_charged_at_checkout(waiting_rx):
    patient, prescription = waiting_rx
    decide_now = prescription_verify(
        prescription_id=prescription.pk, pharmacist=make_pharmacist(), warnings_acknowledged=True
    )

    order = place_waiting(patient, decide_now)

    assert order.capture_method == CaptureMethod.AUTOMATIC
    assert order.lines.get().units_reserved is True
    assert units_used(prescription) == 10


def test_checkout_refuses_a_waiting_prescription_of_someone_else_or_already_rejected(waiting_rx):
    patient, prescription = waiting_rx
    other = make_patient(email="other@example.com")
    with pytest.raises(CheckoutError) as error:
        place_waiting(other, prescription)
    assert "not_waiting" in [p.kind for p in error.value.problems]

    prescription_reject(prescription_id=prescription.pk, pharmacist=make_pharmacist(), reason="No")
    with pytest.raises(CheckoutError) as error:
        place_waiting(patient, prescription)
    assert "not_waiting" in [p.kind for p in error.value.problems]


# Authorising --------------------------------------------------------------------------


def test_paying_authorises_the_total_and_captures_nothing(authorised, stripe_api):
    order, _ = authorised

    intent = intent_of(stripe_api, order)

    assert order.status == OrderStatus.AUTHORISED
    assert (intent.status, intent.capture_method) == ("requires_capture", "manual")
    assert (intent.amount_capturable, intent.amount_received) == (order.total_cents, 0)
    charge = stripe_api.v1.payment_intents.retrieve(
        intent.id, {"expand": ["latest_charge"]}
    ).latest_charge
    assert int(order.capture_before.timestamp()) == (
        charge.payment_method_details.card.capture_before
    )
    assert order.authorised_at is not None


def test_the_authorised_email_says_nothing_is_charged_yet(waiting_rx, stripe_api, capture):
    patient, prescription = waiting_rx
    order = place_waiting(patient, prescription)
    with capture(execute=True):
        receive(pay_at_standin(stripe_api, order))

    [email] = mail.outbox
    assert email.subject.startswith(
        f"Order {order.number} received: your card is authorised, nothing is charged yet"
    )
    assert "nothing is charged yet" in email.body
    assert f"checks your prescription (#{prescription.pk})" in email.body
    assert "the hold on your card is released" in email.body


def test_the_capturable_event_before_its_session_waits(waiting_rx, stripe_api):
    patient, prescription = waiting_rx
    order = place_waiting(patient, prescription)
    pay_at_standin(stripe_api, order)
    order.refresh_from_db()
    intent = stripe_api.v1.checkout.sessions.retrieve(order.stripe_session_id).payment_intent

    held = standin_event(stripe_api, "payment_intent.amount_capturable_updated", id=intent)

    assert receive(held) == "authorisation of no order yet: waiting for its session"


def test_a_duplicate_session_completed_is_acknowledged_and_ignored(authorised, stripe_api):
    order, _ = authorised
    completed = standin_event(stripe_api, "checkout.session.completed", id=order.stripe_session_id)
    again = dict(completed, id=completed["id"] + "x")

    assert receive(again) == "order already authorised"
    assert moves(order).count(("pending_payment", "authorised")) == 1


def test_an_authorisation_for_another_amount_is_a_discrepancy_and_is_cancelled(
    waiting_rx, stripe_api
):
    patient, prescription = waiting_rx
    order = place_waiting(patient, prescription)
    completed = pay_at_standin(stripe_api, order)
    Order.objects.filter(pk=order.pk).update(total=order.total + 1)

    outcome = receive(completed)

    order.refresh_from_db()
    assert outcome.startswith("authorisation does not match the order")
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert Discrepancy.objects.get(order=order).kind == Discrepancy.Kind.AMOUNT_MISMATCH
    intent = stripe_api.v1.checkout.sessions.retrieve(order.stripe_session_id).payment_intent
    assert stripe_api.v1.payment_intents.retrieve(intent).status == "canceled"


@pytest.mark.parametrize(
    ("decision", "kwargs"),
    [
        (prescription_verify, {"warnings_acknowledged": True}),
        (prescription_reject, {"reason": "Unreadable."}),
        (prescription_request_info, {"message": "Send page two."}),
    ],
)
def test_each_decision_queues_the_orders_task_by_name_after_commit(
    waiting_rx, capture, monkeypatch, decision, kwargs
):
    _, prescription = waiting_rx
    queued = []
    monkeypatch.setattr("pharmacy.queue.enqueue", lambda name, *args: queued.append((name, args)))

    with capture(execute=False) as callbacks:
        decision(prescription_id=prescription.pk, pharmacist=make_pharmacist(), **kwargs)
        assert queued == []
    for callback in callbacks:
        callback()

    assert ("orders.payments.prescription_decided", (prescription.pk,)) in queued


def test_the_admin_lists_authorised_orders_and_shows_the_authorisation(authorised, client):
    order, _ = authorised
    sign_in_staff(client, make_pharmacist())

    listed = client.get("/admin/orders/order/?status__exact=authorised")
    shown = client.get(f"/admin/orders/order/{order.pk}/change/")

    assert listed.status_code == 200
    assert order.number in listed.content.decode()
    assert "Card authorised, waiting for the pharmacist" in listed.content.decode()
    page = shown.content.decode()
    assert shown.status_code == 200
    for label in ("Capture method", "Authorised at", "Capture before"):
        assert label in page
