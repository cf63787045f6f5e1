"""The stand-in's `shipping_options`: inline shipping rates, refused as Stripe refuses
them, charged as part of the session's total and echoed on the session."""

from typing import Any

import pytest
import stripe

from tests.standin.conftest import http, pay, session_params


def rate(*, without: str = "", **overrides: Any) -> dict[str, Any]:
    data = {
        "type": "fixed_amount",
        "display_name": "Express",
        "fixed_amount": {"amount": 1495, "currency": "usd"},
        "delivery_estimate": {
            "minimum": {"unit": "business_day", "value": 1},
            "maximum": {"unit": "business_day", "value": 2},
        },
    }
    data.update(overrides)
    data.pop(without, None)
    return {"shipping_rate_data": data}


def test_the_shipping_rate_is_charged_with_the_items_and_echoed_on_the_session(client):
    session = client.v1.checkout.sessions.create(session_params(shipping_options=[rate()]))

    assert (session.amount_subtotal, session.amount_total) == (9306, 9306 + 1495)
    assert session.total_details.amount_shipping == 1495
    assert session.shipping_cost.amount_total == 1495
    assert session.shipping_cost.shipping_rate.startswith("shr_")
    assert [o.shipping_amount for o in session.shipping_options] == [1495]
    assert pay(session)[0] == 303
    paid = client.v1.checkout.sessions.retrieve(session.id)
    intent = client.v1.payment_intents.retrieve(paid.payment_intent)
    assert intent.amount == intent.amount_received == 9306 + 1495


def test_free_shipping_and_no_shipping_leave_the_total_the_items(client):
    free = rate(fixed_amount={"amount": 0, "currency": "usd"}, display_name="Standard")
    with_free = client.v1.checkout.sessions.create(session_params(shipping_options=[free]))
    without = client.v1.checkout.sessions.create(session_params())

    assert with_free.amount_total == without.amount_total == 9306
    assert with_free.total_details.amount_shipping == 0
    assert without.shipping_cost is None and without.shipping_options == []


def test_the_hosted_page_shows_the_shipping_line(client):
    session = client.v1.checkout.sessions.create(session_params(shipping_options=[rate()]))

    status, _, html = http(session.url)
    assert status == 200
    assert "Shipping: Express" in html and "$14.95" in html and "$108.01" in html


@pytest.mark.parametrize(
    "options, param",
    [
        ([rate(fixed_amount={"amount": 100, "currency": "eur"})], "fixed_amount][currency]"),
        ([rate(fixed_amount={"amount": -1, "currency": "usd"})], "fixed_amount][amount]"),
        ([rate(without="fixed_amount")], "shipping_rate_data][fixed_amount]"),
        ([rate(without="display_name")], "shipping_rate_data][display_name]"),
        ([rate(type="per_item")], "shipping_rate_data][type]"),
        ([rate(carrier="UPS")], "shipping_rate_data][carrier]"),
        ([rate(delivery_estimate={"minimum": {"unit": "fortnight", "value": 1}})], "[unit]"),
        ([rate(delivery_estimate={"minimum": {"unit": "day", "value": 0}})], "[value]"),
        (
            [
                rate(
                    delivery_estimate={
                        "minimum": {"unit": "business_day", "value": 5},
                        "maximum": {"unit": "business_day", "value": 2},
                    }
                )
            ],
            "delivery_estimate",
        ),
        ([{"shipping_rate": "shr_unknown"}], "shipping_rate"),
        ([rate()] * 6, "shipping_options"),
    ],
)
def test_shipping_options_stripe_would_refuse_are_refused_with_the_parameter(
    client, options, param
):
    with pytest.raises(stripe.InvalidRequestError) as error:
        client.v1.checkout.sessions.create(session_params(shipping_options=options))
    assert param in (error.value.param or "")
    assert error.value.http_status == 400
