"""The stand-in's saved cards, driven by the real `stripe` client: Customers, Checkout in
setup mode, SetupIntents, PaymentMethods, and off-session PaymentIntents with Stripe's
failures (a declined card: HTTP 402 card_error; a card that needs its holder:
authentication_required). Shapes are read through the library's own classes."""

import pytest
import stripe

from tests.standin.conftest import http, pay, session_params


def setup_params(customer: str, **overrides):
    params = {
        "mode": "setup",
        "customer": customer,
        "currency": "usd",
        "success_url": "http://127.0.0.1:8000/auto-refills/7/?saved=1",
        "cancel_url": "http://127.0.0.1:8000/auto-refills/7/",
        "metadata": {"auto_refill": "7"},
        "setup_intent_data": {"metadata": {"auto_refill": "7"}},
    }
    params.update(overrides)
    return params


def saved_card(client, action: str = "save"):
    """A customer and the card they saved on a setup session's hosted page."""
    customer = client.v1.customers.create({"email": "pat@example.com", "name": "Pat Jordan"})
    session = client.v1.checkout.sessions.create(setup_params(customer.id))
    status, headers, _ = http(session.url, {"action": action})
    assert status == 303
    assert headers["Location"] == "http://127.0.0.1:8000/auto-refills/7/?saved=1"
    session = client.v1.checkout.sessions.retrieve(session.id)
    intent = client.v1.setup_intents.retrieve(session.setup_intent, {"expand": ["payment_method"]})
    return customer, session, intent


def charge(client, customer: str, method: str, *, key: str, **extra):
    params = {
        "amount": 4653,
        "currency": "usd",
        "customer": customer,
        "payment_method": method,
        "off_session": True,
        "confirm": True,
        "metadata": {"order_number": "ABC"},
        **extra,
    }
    return client.v1.payment_intents.create(params, {"idempotency_key": key})


def test_a_setup_session_saves_a_card_on_the_customer(client, receiver):
    customer, session, intent = saved_card(client)

    assert (session.mode, session.status, session.payment_status) == (
        "setup",
        "complete",
        "no_payment_required",
    )
    assert session.customer == customer.id
    assert session.amount_total is None and session.payment_intent is None
    assert isinstance(intent, stripe.SetupIntent)
    assert (intent.status, intent.usage, intent.customer) == (
        "succeeded",
        "off_session",
        customer.id,
    )
    assert intent.metadata.to_dict() == {"auto_refill": "7"}
    method = intent.payment_method
    assert isinstance(method, stripe.PaymentMethod)
    assert (method.card.brand, method.card.last4, method.customer) == (
        "visa",
        "4242",
        customer.id,
    )
    listed = client.v1.customers.payment_methods.list(customer.id)
    assert [m.id for m in listed.data] == [method.id]
    [completed] = receiver.wait_for("checkout.session.completed")
    assert completed["data"]["object"]["setup_intent"] == intent.id
    assert receiver.wait_for("setup_intent.succeeded")


def test_a_setup_session_refuses_line_items_and_an_unknown_customer(client):
    customer = client.v1.customers.create({"email": "pat@example.com"})
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.checkout.sessions.create(
            setup_params(customer.id, line_items=session_params()["line_items"])
        )
    assert refused.value.param == "line_items"
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        client.v1.checkout.sessions.create(setup_params("cus_nobody"))
    assert (unknown.value.code, unknown.value.param) == ("resource_missing", "customer")


def test_a_saved_card_is_charged_off_session_once_per_idempotency_key(client, receiver):
    customer, _, intent = saved_card(client)

    first = charge(client, customer.id, intent.payment_method.id, key="refill-1")
    again = charge(client, customer.id, intent.payment_method.id, key="refill-1")

    assert (first.status, first.amount_received, first.customer) == (
        "succeeded",
        4653,
        customer.id,
    )
    assert again.id == first.id
    assert again.last_response.headers["Idempotent-Replayed"] == "true"
    assert [e["data"]["object"]["id"] for e in receiver.wait_for("payment_intent.succeeded")] == [
        first.id
    ]


def test_a_declining_saved_card_answers_402_with_the_failed_intent(client, receiver):
    customer, _, intent = saved_card(client, "save_declining")

    with pytest.raises(stripe.CardError) as declined:
        charge(client, customer.id, intent.payment_method.id, key="refill-2")

    error = declined.value
    assert error.http_status == 402
    assert (error.code, error.error.decline_code) == ("card_declined", "generic_decline")
    assert error.user_message == "Your card was declined."
    failed = error.error.payment_intent
    assert (failed.status, failed.payment_method) == ("requires_payment_method", None)
    assert failed.last_payment_error.code == "card_declined"
    # A retry with the same key gets the same answer: no second attempt at the bank.
    with pytest.raises(stripe.CardError) as replayed:
        charge(client, customer.id, intent.payment_method.id, key="refill-2")
    assert replayed.value.error.payment_intent.id == failed.id
    [event] = receiver.wait_for("payment_intent.payment_failed")
    assert event["data"]["object"]["id"] == failed.id


def test_a_card_that_needs_its_holder_fails_off_session_and_asks_on_session(client):
    customer, _, intent = saved_card(client, "save_authenticating")
    method = intent.payment_method.id

    with pytest.raises(stripe.CardError) as needs:
        charge(client, customer.id, method, key="refill-3")
    assert needs.value.code == "authentication_required"
    assert needs.value.error.decline_code == "authentication_required"
    assert needs.value.error.payment_intent.status == "requires_payment_method"
    assert "requires authentication" in needs.value.user_message

    on_session = charge(client, customer.id, method, key="refill-4", off_session=False)
    assert on_session.status == "requires_action"
    assert on_session.next_action.type == "use_stripe_sdk"


def test_a_card_of_another_customer_is_refused(client):
    _, _, intent = saved_card(client)
    stranger = client.v1.customers.create({"email": "sam@example.com"})

    with pytest.raises(stripe.InvalidRequestError) as refused:
        charge(client, stranger.id, intent.payment_method.id, key="refill-5")
    assert refused.value.param == "payment_method"


def test_a_payment_session_with_setup_future_usage_saves_the_card(client):
    customer = client.v1.customers.create({"email": "pat@example.com"})
    params = session_params(customer=customer.id)
    del params["customer_email"]
    params["payment_intent_data"] = {"setup_future_usage": "off_session"}
    session = client.v1.checkout.sessions.create(params)

    assert pay(session)[0] == 303

    session = client.v1.checkout.sessions.retrieve(session.id)
    paid = client.v1.payment_intents.retrieve(session.payment_intent)
    assert (paid.setup_future_usage, paid.customer) == ("off_session", customer.id)
    [method] = client.v1.customers.payment_methods.list(customer.id).data
    assert method.id == paid.payment_method
