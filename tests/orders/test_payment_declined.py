"""A declined card on the hosted page: Stripe's `payment_intent.payment_failed` reaches the
order, which stays payable, and its page says the card was declined with the Pay button.

The decline is made on the stand-in's page, as the patient's browser does, and the event
it recorded is posted to the site's own webhook view, signed."""

import pytest
from django.core import mail
from django.test import Client

from orders.models import OrderStatus, PaymentEvent
from orders.payments.sessions import checkout_session_for
from tests.fixtures.stripe import pay_on_hosted_page, signed_event, standin_event, variant
from tests.orders.factories import receive

WEBHOOK = "/payments/stripe/webhook/"


def decline_on_hosted_page(stripe_api, order) -> dict:
    """The patient's card is declined on the order's hosted page; the event Stripe sends."""
    url = checkout_session_for(order)
    assert pay_on_hosted_page(url, action="decline") == 200
    order.refresh_from_db()
    session = stripe_api.v1.checkout.sessions.retrieve(order.stripe_session_id)
    return standin_event(stripe_api, "payment_intent.payment_failed", id=session.payment_intent)


def post_webhook(event: dict, capture):
    payload, header = signed_event(event)
    with capture(execute=True):
        return Client(enforce_csrf_checks=True).post(
            WEBHOOK, data=payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
        )


def test_a_declined_card_is_shown_on_the_order_page_with_the_pay_button(
    client, order, stripe_api, capture
):
    event = decline_on_hosted_page(stripe_api, order)

    assert receive(event) == "card declined: recorded, the order stays payable"

    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT
    client.force_login(order.patient)
    page = client.get(order.get_absolute_url()).content.decode()
    assert "Your card was declined. You can pay again." in page
    assert f"Pay now (${order.total})" in page
    assert "pi_" not in page and "ch_" not in page, "no processor ids on a patient's page"
    notes = [c.note for c in order.status_changes.all()]
    assert notes[-1] == "Card declined: Your card was declined."
    assert mail.outbox == [], "the patient saw it on Stripe's page: no email"


def test_the_bank_reason_is_shown_in_the_patients_words(client, order, stripe_api):
    event = decline_on_hosted_page(stripe_api, order)
    event["data"]["object"]["last_payment_error"]["message"] = "Your card has insufficient funds."

    receive(event)

    client.force_login(order.patient)
    page = client.get(order.get_absolute_url()).content.decode()
    assert "Your card was declined: your card has insufficient funds. You can pay again." in page


def test_a_duplicate_failed_event_is_acknowledged_and_ignored(order, stripe_api, capture):
    event = decline_on_hosted_page(stripe_api, order)

    first = post_webhook(event, capture)
    again = post_webhook(event, capture)

    assert (first.status_code, again.status_code) == (200, 200)
    [stored] = PaymentEvent.objects.filter(event_id=event["id"])
    assert stored.outcome == "card declined: recorded, the order stays payable"
    # The same attempt reported by another event (a resend under a new id) is one decline.
    assert receive(variant(event, "payment_intent.payment_failed")) == (
        "card declined: already recorded"
    )
    order.refresh_from_db()
    declines = [c for c in order.status_changes.all() if c.note.startswith("Card declined")]
    assert len(declines) == 1


def test_paying_after_a_decline_pays_the_order_and_hides_the_decline(
    client, order, stripe_api, capture
):
    receive(decline_on_hosted_page(stripe_api, order))
    order.refresh_from_db()
    url = checkout_session_for(order)

    assert pay_on_hosted_page(url) == 303
    completed = standin_event(stripe_api, "checkout.session.completed", id=order.stripe_session_id)
    with capture(execute=True):
        assert receive(completed) == "paid"

    order.refresh_from_db()
    assert order.status in (OrderStatus.PAID, OrderStatus.DISPATCHED)
    client.force_login(order.patient)
    page = client.get(order.get_absolute_url()).content.decode()
    assert "You can pay again" not in page
    assert "Card declined: Your card was declined." in page, "the timeline keeps what happened"


@pytest.mark.parametrize("status", [OrderStatus.CANCELLED])
def test_a_decline_after_the_order_closed_changes_nothing(order, stripe_api, status):
    event = decline_on_hosted_page(stripe_api, order)
    type(order).objects.filter(pk=order.pk).update(status=status)

    assert receive(event) == f"order already {status}: the failed attempt changes nothing"
