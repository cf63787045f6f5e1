"""Manual capture at the Stripe stand-in, driven by the real `stripe` client over HTTP.

Authorise on the hosted page, then capture, cancel or let the hold lapse; webhook
events are parsed with `stripe.Event.construct_from` and read through the library's
typed attributes, so a shape the library would not understand fails here.
"""

import json
from typing import Any

import pytest
import stripe

from devtools.stripe_standin.errors import StripeError
from tests.standin.conftest import API_KEY, http, pay, session_params

SEVEN_DAYS = 7 * 24 * 3600


def manual_params(**overrides: Any) -> dict[str, Any]:
    return session_params(
        payment_intent_data={"capture_method": "manual", "metadata": {"order_id": "42"}},
        **overrides,
    )


def authorised(client: stripe.StripeClient) -> tuple[stripe.checkout.Session, str]:
    """A manual-capture session paid on the hosted page, and its PaymentIntent id."""
    session = client.v1.checkout.sessions.create(manual_params())
    assert pay(session)[0] == 303
    return session, client.v1.checkout.sessions.retrieve(session.id).payment_intent


def typed(event: dict[str, Any]) -> stripe.Event:
    return stripe.Event.construct_from(event, API_KEY)


def types_oldest_first(client: stripe.StripeClient) -> list[str]:
    return [e.type for e in reversed(client.v1.events.list({"limit": 100}).data)]


# Authorisation ------------------------------------------------------------------------


def test_paying_a_manual_session_authorises_the_total_and_captures_nothing(client, receiver):
    session, intent_id = authorised(client)

    paid = client.v1.checkout.sessions.retrieve(session.id)
    intent = client.v1.payment_intents.retrieve(intent_id, {"expand": ["latest_charge"]})

    assert (paid.status, paid.payment_status) == ("complete", "unpaid")
    assert isinstance(intent, stripe.PaymentIntent)
    assert (intent.status, intent.capture_method) == ("requires_capture", "manual")
    assert (intent.amount, intent.amount_capturable, intent.amount_received) == (9306, 9306, 0)
    assert intent.metadata.to_dict() == {"order_id": "42"}
    assert (intent.canceled_at, intent.cancellation_reason) == (None, None)
    charge = intent.latest_charge
    assert isinstance(charge, stripe.Charge)
    assert (charge.captured, charge.amount_captured, charge.status) == (False, 0, "succeeded")
    assert charge.payment_method_details.card.capture_before == intent.created + SEVEN_DAYS
    assert types_oldest_first(client) == [
        "payment_intent.amount_capturable_updated",
        "checkout.session.completed",
    ]
    [held] = receiver.wait_for("payment_intent.amount_capturable_updated")
    [completed] = receiver.wait_for("checkout.session.completed")
    held_intent = typed(held).data.object
    assert isinstance(held_intent, stripe.PaymentIntent)
    assert (held_intent.id, held_intent.amount_capturable) == (intent_id, 9306)
    completed_session = typed(completed).data.object
    assert isinstance(completed_session, stripe.checkout.Session)
    assert completed_session.payment_status == "unpaid"
    assert completed_session.payment_intent == intent_id


def test_the_page_of_an_authorised_session_says_nothing_is_charged_yet(client):
    session, _ = authorised(client)

    status, _, again = pay(session)
    _, _, page = http(session.url)  # the address as created; Stripe drops it once paid

    assert status == 409
    assert "<h1>Payment authorised</h1>" in page
    assert "Nothing is charged until the shop confirms the order" in page
    assert "<button" not in page
    assert "Payment authorised" in again


@pytest.mark.parametrize("value", ["later", "Manual", "automatic_sync"])
def test_unknown_capture_method_is_refused_naming_the_param(client, value):
    params = session_params(payment_intent_data={"capture_method": value})

    with pytest.raises(stripe.InvalidRequestError) as error:
        client.v1.checkout.sessions.create(params)

    assert error.value.param == "payment_intent_data[capture_method]"
    assert error.value.http_status == 400


@pytest.mark.parametrize("value", ["automatic", "automatic_async"])
def test_automatic_capture_methods_charge_at_once_and_cannot_be_captured(client, value):
    session = client.v1.checkout.sessions.create(
        session_params(payment_intent_data={"capture_method": value})
    )
    pay(session)
    paid = client.v1.checkout.sessions.retrieve(session.id)

    intent = client.v1.payment_intents.retrieve(paid.payment_intent)

    assert paid.payment_status == "paid"
    assert (intent.status, intent.capture_method) == ("succeeded", value)
    assert (intent.amount_received, intent.amount_capturable) == (9306, 0)
    with pytest.raises(stripe.InvalidRequestError) as error:
        client.v1.payment_intents.capture(intent.id)
    assert error.value.code == "payment_intent_unexpected_state"


def test_unknown_payment_intent_is_resource_missing(client):
    with pytest.raises(stripe.InvalidRequestError) as error:
        client.v1.payment_intents.retrieve("pi_unknown")

    assert (error.value.http_status, error.value.code) == (404, "resource_missing")
    assert "No such payment_intent: 'pi_unknown'" in str(error.value)


# Capture ------------------------------------------------------------------------------


def test_capture_charges_the_hold_and_a_second_capture_is_unexpected_state(client, receiver):
    _, intent_id = authorised(client)

    captured = client.v1.payment_intents.capture(intent_id)
    with pytest.raises(stripe.InvalidRequestError) as again:
        client.v1.payment_intents.capture(intent_id)
    with pytest.raises(stripe.InvalidRequestError) as cancel:
        client.v1.payment_intents.cancel(intent_id)

    assert (captured.status, captured.amount_received, captured.amount_capturable) == (
        "succeeded",
        9306,
        0,
    )
    assert (again.value.http_status, again.value.code) == (400, "payment_intent_unexpected_state")
    assert "status of succeeded" in again.value.user_message
    assert isinstance(again.value.error.payment_intent, stripe.PaymentIntent)
    assert again.value.error.payment_intent.id == intent_id
    assert again.value.error.payment_intent.status == "succeeded"
    assert cancel.value.code == "payment_intent_unexpected_state"
    [succeeded] = receiver.wait_for("payment_intent.succeeded")
    [charge_captured] = receiver.wait_for("charge.captured")
    assert typed(succeeded).data.object.amount_received == 9306
    charge = typed(charge_captured).data.object
    assert isinstance(charge, stripe.Charge)
    assert (charge.captured, charge.amount_captured, charge.refunded) == (True, 9306, False)
    assert typed(succeeded).request.id is not None  # caused by the API call, not Stripe


def test_partial_capture_releases_the_rest_and_only_the_capture_can_be_refunded(client):
    _, intent_id = authorised(client)

    with pytest.raises(stripe.InvalidRequestError) as too_much:
        client.v1.payment_intents.capture(intent_id, {"amount_to_capture": 9307})
    captured = client.v1.payment_intents.capture(
        intent_id, {"amount_to_capture": 5000, "expand": ["latest_charge"]}
    )
    refund = client.v1.refunds.create({"payment_intent": intent_id})

    assert (too_much.value.code, too_much.value.param) == ("amount_too_large", "amount_to_capture")
    assert captured.amount_received == 5000
    # The released rest is not a refund (API 2025-03-31.basil on): nothing refunded yet.
    assert (captured.latest_charge.amount_captured, captured.latest_charge.amount_refunded) == (
        5000,
        0,
    )
    assert captured.latest_charge.refunded is False
    assert refund.amount == 5000


def test_capture_with_the_same_idempotency_key_answers_the_first_result(client, standin):
    _, intent_id = authorised(client)
    options = {"idempotency_key": f"capture-{intent_id}"}

    first = client.v1.payment_intents.capture(intent_id, {}, options)
    second = client.v1.payment_intents.capture(intent_id, {}, options)

    assert second.last_response.headers["Idempotent-Replayed"] == "true"
    assert second.to_dict() == first.to_dict()
    assert second.status == "succeeded"
    assert standin.wait_for_webhooks()
    assert types_oldest_first(client).count("payment_intent.succeeded") == 1


def test_a_refused_capture_is_replayed_under_its_key_too(client):
    _, intent_id = authorised(client)
    client.v1.payment_intents.cancel(intent_id)
    options = {"idempotency_key": f"capture-{intent_id}"}

    with pytest.raises(stripe.InvalidRequestError) as first:
        client.v1.payment_intents.capture(intent_id, {}, options)
    with pytest.raises(stripe.InvalidRequestError) as second:
        client.v1.payment_intents.capture(intent_id, {}, options)

    assert first.value.code == second.value.code == "payment_intent_unexpected_state"
    assert second.value.headers["Idempotent-Replayed"] == "true"


# Cancel and lapse ---------------------------------------------------------------------


def test_cancel_releases_the_hold_and_refuses_capture_or_refund_after(client, receiver):
    _, intent_id = authorised(client)

    canceled = client.v1.payment_intents.cancel(
        intent_id, {"cancellation_reason": "requested_by_customer"}
    )
    with pytest.raises(stripe.InvalidRequestError) as capture:
        client.v1.payment_intents.capture(intent_id)
    with pytest.raises(stripe.InvalidRequestError) as again:
        client.v1.payment_intents.cancel(intent_id)

    assert (canceled.status, canceled.cancellation_reason) == ("canceled", "requested_by_customer")
    assert canceled.canceled_at is not None
    assert (canceled.amount_capturable, canceled.amount_received) == (0, 0)
    assert capture.value.code == "payment_intent_unexpected_state"
    assert capture.value.error.payment_intent.status == "canceled"
    assert again.value.code == "payment_intent_unexpected_state"
    [event] = receiver.wait_for("payment_intent.canceled")
    intent = typed(event).data.object
    assert (intent.id, intent.status, intent.cancellation_reason) == (
        intent_id,
        "canceled",
        "requested_by_customer",
    )
    charge = client.v1.payment_intents.retrieve(intent_id, {"expand": ["latest_charge"]})
    # A released hold is no refund (API 2025-03-31.basil on): the charge says none.
    assert (charge.latest_charge.captured, charge.latest_charge.refunded) == (False, False)
    assert (charge.latest_charge.amount_captured, charge.latest_charge.amount_refunded) == (0, 0)


def test_cancel_and_lapse_send_no_charge_refunded(client, receiver, standin):
    _, canceled_id = authorised(client)
    _, lapsed_id = authorised(client)

    client.v1.payment_intents.cancel(canceled_id)
    standin.lapse_authorization(lapsed_id)

    assert len(receiver.wait_for("payment_intent.canceled", count=2)) == 2
    receiver.wait_for("charge.expired")
    assert standin.wait_for_webhooks()
    refunded = client.v1.events.list({"type": "charge.refunded", "limit": 100}).data
    ours = {canceled_id, lapsed_id}
    assert [e for e in refunded if e.data.object.payment_intent in ours] == []
    assert receiver.accepted("charge.refunded") == []


def test_cancellation_reason_must_be_one_of_stripes(client):
    _, intent_id = authorised(client)

    with pytest.raises(stripe.InvalidRequestError) as error:
        client.v1.payment_intents.cancel(intent_id, {"cancellation_reason": "automatic"})

    assert error.value.param == "cancellation_reason"
    assert client.v1.payment_intents.retrieve(intent_id).status == "requires_capture"


def test_lapse_helper_cancels_the_hold_automatically_and_sends_canceled(client, receiver, standin):
    _, intent_id = authorised(client)

    lapsed = standin.lapse_authorization(intent_id)
    with pytest.raises(stripe.InvalidRequestError) as capture:
        client.v1.payment_intents.capture(intent_id)

    assert (lapsed["status"], lapsed["cancellation_reason"]) == ("canceled", "expired")
    assert capture.value.code == "payment_intent_unexpected_state"
    [event] = receiver.wait_for("payment_intent.canceled")
    canceled = typed(event)
    assert canceled.data.object.cancellation_reason == "expired"
    assert canceled.request.id is None  # Stripe's own doing, not a request's
    [expired] = receiver.wait_for("charge.expired")
    assert typed(expired).data.object.captured is False
    with pytest.raises(StripeError, match="this one is canceled") as twice:
        standin.lapse_authorization(intent_id)
    assert twice.value.code == "payment_intent_unexpected_state"


def test_lapse_over_http_helper_and_unknown_intent(client, receiver, standin):
    _, intent_id = authorised(client)

    status, _, body = http(f"{standin.url}/_standin/payment_intents/{intent_id}/lapse", {})
    missing, _, _ = http(f"{standin.url}/_standin/payment_intents/pi_nope/lapse", {})

    assert status == 200
    assert json.loads(body)["cancellation_reason"] == "expired"
    assert missing == 404
    assert client.v1.payment_intents.retrieve(intent_id).status == "canceled"
    receiver.wait_for("payment_intent.canceled")


def test_a_hold_lapses_by_itself_seven_days_after_authorisation(client, receiver, standin):
    _, intent_id = authorised(client)
    standin.advance_clock(SEVEN_DAYS - 60)
    assert client.v1.payment_intents.retrieve(intent_id).status == "requires_capture"

    standin.advance_clock(61)

    [event] = receiver.wait_for("payment_intent.canceled")  # the sweeper, no API call
    assert typed(event).data.object.cancellation_reason == "expired"
    assert client.v1.payment_intents.retrieve(intent_id).status == "canceled"


# Refunds ------------------------------------------------------------------------------


def test_refund_of_an_uncaptured_hold_is_refused_and_after_capture_works(client, receiver):
    _, intent_id = authorised(client)

    with pytest.raises(stripe.InvalidRequestError) as uncaptured:
        client.v1.refunds.create({"payment_intent": intent_id})
    client.v1.payment_intents.capture(intent_id)
    refund = client.v1.refunds.create({"payment_intent": intent_id})

    assert (uncaptured.value.http_status, uncaptured.value.code) == (
        400,
        "payment_intent_unexpected_state",
    )
    assert uncaptured.value.error.payment_intent.status == "requires_capture"
    assert (refund.status, refund.amount) == ("succeeded", 9306)
    [event] = receiver.wait_for("charge.refunded")
    charge = typed(event).data.object
    assert (charge.amount_refunded, charge.refunded, charge.captured) == (9306, True, True)
