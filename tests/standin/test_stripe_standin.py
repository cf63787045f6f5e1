"""The Stripe stand-in, driven by the real `stripe` client over HTTP.

A webhook receiver in a thread verifies every delivery with
`stripe.Webhook.construct_event`, so signatures are checked the way the site checks
them. No database: these tests never touch Django models.
"""

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import stripe

from devtools.stripe_standin import StandinServer, sign
from devtools.stripe_standin.params import decode
from tests.standin.conftest import API_KEY, SECRET, http, pay, session_params

PROJECT = Path(__file__).resolve().parents[2]


# Sessions ---------------------------------------------------------------------------


def test_created_session_has_stripe_shape_and_can_be_retrieved(client, standin):
    session = client.v1.checkout.sessions.create(session_params())

    assert session.id.startswith("cs_test_")
    assert session.object == "checkout.session"
    assert session.url == f"{standin.url}/pay/{session.id}"
    assert (session.status, session.payment_status) == ("open", "unpaid")
    assert (session.amount_total, session.currency) == (9306, "usd")
    assert session.client_reference_id == "42"
    assert session.metadata.to_dict() == {"order_id": "42"}
    assert session.customer_email == "pat@example.com"
    assert session.success_url.endswith("?session={CHECKOUT_SESSION_ID}")
    assert session.cancel_url == "http://127.0.0.1:8000/orders/42/"
    assert session.expires_at == session.created + 24 * 3600
    assert session.livemode is False
    assert session.payment_intent is None
    retrieved = client.v1.checkout.sessions.retrieve(session.id, {"expand": ["line_items"]})
    assert retrieved.id == session.id
    assert retrieved.line_items.data[0].description == "Baclofen 10 mg, 10 tablets"
    assert retrieved.line_items.data[0].quantity == 2


def test_same_idempotency_key_and_params_return_the_very_same_session(client):
    options = {"idempotency_key": "order-42-attempt-1"}
    first = client.v1.checkout.sessions.create(session_params(), options)
    second = client.v1.checkout.sessions.create(session_params(), options)

    assert second.id == first.id
    assert second.last_response.headers["Idempotent-Replayed"] == "true"
    assert [s.id for s in client.v1.checkout.sessions.list().data] == [first.id]


def test_same_idempotency_key_with_other_params_is_an_idempotency_error(client):
    options = {"idempotency_key": "order-42-attempt-1"}
    client.v1.checkout.sessions.create(session_params(), options)

    with pytest.raises(stripe.IdempotencyError, match="same parameters"):
        client.v1.checkout.sessions.create(session_params(client_reference_id="43"), options)


def test_concurrent_requests_with_one_idempotency_key_create_one_session(client):
    ids: list[str] = []

    def create() -> None:
        session = client.v1.checkout.sessions.create(session_params(), {"idempotency_key": "k"})
        ids.append(session.id)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(ids) == 8
    assert len(set(ids)) == 1


@pytest.mark.parametrize(
    ("params", "param"),
    [
        (session_params(success_url=None), "success_url"),
        (session_params(mode=None), "mode"),
        (
            session_params(
                line_items=[
                    {
                        "price_data": {
                            "currency": "usd",
                            "unit_amount": 100,
                            "product_data": {"name": "x"},
                        }
                    }
                ]
            ),
            "line_items[0][quantity]",
        ),
        (
            session_params(
                line_items=[{"price_data": {"currency": "usd", "product_data": {"name": "x"}}}]
            ),
            "line_items[0][price_data][unit_amount]",
        ),
        (session_params(success_url="not a url"), "success_url"),
        (session_params(colour="blue"), "colour"),
    ],
)
def test_missing_or_bad_param_is_an_invalid_request_naming_it(client, params, param):
    with pytest.raises(stripe.InvalidRequestError) as error:
        client.v1.checkout.sessions.create(params)

    assert error.value.param == param
    assert error.value.http_status == 400
    assert error.value.error.type == "invalid_request_error"


@pytest.mark.parametrize("minutes", [10, 25 * 60])
def test_expires_at_must_be_30_minutes_to_24_hours_away(client, minutes):
    with pytest.raises(stripe.InvalidRequestError) as error:
        client.v1.checkout.sessions.create(
            session_params(expires_at=int(time.time()) + minutes * 60)
        )

    assert error.value.param == "expires_at"


def test_wrong_api_key_is_an_authentication_error(standin):
    live = stripe.StripeClient(
        "sk_live_not_allowed_here", base_addresses={"api": standin.url}, max_network_retries=0
    )
    with pytest.raises(stripe.AuthenticationError, match="Invalid API Key"):
        live.v1.checkout.sessions.list()


def test_missing_api_key_answers_401_in_stripe_error_format(standin):
    status, _, body = http(f"{standin.url}/v1/checkout/sessions")

    assert status == 401
    error = json.loads(body)["error"]
    assert error["type"] == "invalid_request_error"
    assert "You did not provide an API key" in error["message"]


def test_unknown_session_is_resource_missing(client):
    with pytest.raises(stripe.InvalidRequestError) as error:
        client.v1.checkout.sessions.retrieve("cs_test_nope")

    assert (error.value.http_status, error.value.code) == (404, "resource_missing")
    assert "No such checkout.session: 'cs_test_nope'" in str(error.value)


# The hosted page --------------------------------------------------------------------


def test_page_shows_items_total_and_both_buttons_escaped(client):
    name = '<script>alert("x")</script> & co'
    params = session_params()
    params["line_items"][0]["price_data"]["product_data"]["name"] = name
    session = client.v1.checkout.sessions.create(params)

    status, headers, page = http(session.url)

    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert '<html lang="en">' in page
    assert page.count("<h1>") == 1
    assert "Local test payment page" in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co" in page
    assert "<script>" not in page
    assert ">Pay $93.06</button>" in page
    assert ">Decline</button>" in page
    assert "http://" not in page.split("<body>")[0]  # no external resources in the head


def test_paying_redirects_to_success_url_and_sends_signed_completed_event(
    client, receiver, standin
):
    session = client.v1.checkout.sessions.create(session_params())

    status, headers, _ = pay(session)

    assert status == 303
    assert headers["Location"] == (f"http://127.0.0.1:8000/orders/42/paid/?session={session.id}")
    paid = client.v1.checkout.sessions.retrieve(session.id)
    assert (paid.status, paid.payment_status) == ("complete", "paid")
    assert paid.payment_intent.startswith("pi_")
    assert paid.url is None
    [event] = receiver.wait_for("checkout.session.completed")
    assert event["id"].startswith("evt_")
    assert event["api_version"] == "2024-06-20"
    assert event["livemode"] is False
    assert event["data"]["object"]["id"] == session.id
    assert event["data"]["object"]["payment_status"] == "paid"
    assert event["data"]["object"]["payment_intent"] == paid.payment_intent
    assert event["data"]["object"]["metadata"] == {"order_id": "42"}


def test_declining_keeps_the_session_open_and_sends_payment_failed(client, receiver, standin):
    session = client.v1.checkout.sessions.create(session_params())

    status, _, page = pay(session, "decline")

    assert status == 200
    assert 'role="alert"' in page
    assert "Your card was declined" in page
    assert ">Pay $93.06</button>" in page  # try again
    assert 'href="http://127.0.0.1:8000/orders/42/"' in page  # back to the shop
    retrieved = client.v1.checkout.sessions.retrieve(session.id)
    assert (retrieved.status, retrieved.payment_status) == ("open", "unpaid")
    [failed] = receiver.wait_for("payment_intent.payment_failed")
    intent = failed["data"]["object"]
    assert intent["id"] == retrieved.payment_intent
    assert (intent["status"], intent["payment_method"]) == ("requires_payment_method", None)
    error = intent["last_payment_error"]
    assert (error["type"], error["code"], error["decline_code"]) == (
        "card_error",
        "card_declined",
        "generic_decline",
    )
    assert error["message"] == "Your card was declined."
    assert error["charge"].startswith("ch_")
    assert error["payment_method"]["card"]["last4"] == "0002"
    typed = stripe.PaymentIntent.construct_from(intent, "sk_test")
    assert typed.last_payment_error.decline_code == "generic_decline"

    assert pay(session)[0] == 303  # and the customer can still pay, on the same intent
    paid = client.v1.payment_intents.retrieve(intent["id"])
    assert (paid.status, paid.last_payment_error) == ("succeeded", None)
    assert paid.latest_charge != error["charge"]
    assert [e["type"] for e in receiver.wait_for("checkout.session.completed")] == [
        "checkout.session.completed"
    ]


def test_paid_or_expired_session_page_has_no_buttons(client, receiver):
    paid = client.v1.checkout.sessions.create(session_params())
    pay(paid)
    expired = client.v1.checkout.sessions.create(session_params())
    client.v1.checkout.sessions.expire(expired.id)

    status, _, again = pay(paid)
    _, _, paid_page = http(paid.url)
    _, _, expired_page = http(expired.url)

    assert status == 409
    assert "Payment complete" in again
    assert "<button" not in paid_page
    assert "This payment page has expired" in expired_page
    assert "<button" not in expired_page
    assert len(receiver.wait_for("checkout.session.completed")) == 1


def test_concurrent_pay_posts_complete_the_session_once(client, receiver, standin):
    session = client.v1.checkout.sessions.create(session_params())
    statuses: list[int] = []
    threads = [threading.Thread(target=lambda: statuses.append(pay(session)[0])) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [303] + [409] * 7
    assert standin.wait_for_webhooks()
    assert len(receiver.accepted("checkout.session.completed")) == 1


# Expiry -----------------------------------------------------------------------------


def test_expire_sends_expired_event_and_refuses_a_second_time(client, receiver):
    session = client.v1.checkout.sessions.create(session_params())

    expired = client.v1.checkout.sessions.expire(session.id)

    assert (expired.status, expired.url) == ("expired", None)
    [event] = receiver.wait_for("checkout.session.expired")
    assert event["data"]["object"]["id"] == session.id
    with pytest.raises(stripe.InvalidRequestError, match='status of "expired"'):
        client.v1.checkout.sessions.expire(session.id)


def test_sweeper_expires_a_session_once_expires_at_passes(client, receiver, standin):
    session = client.v1.checkout.sessions.create(
        session_params(expires_at=int(time.time()) + 31 * 60)
    )

    standin.advance_clock(32 * 60)

    [event] = receiver.wait_for("checkout.session.expired")  # no API call needed
    assert event["data"]["object"]["id"] == session.id
    assert client.v1.checkout.sessions.retrieve(session.id).status == "expired"


def test_a_passed_expires_at_expires_the_session_on_access_too():
    with StandinServer(sweep_interval=3600) as standin:
        client = stripe.StripeClient(
            API_KEY, base_addresses={"api": standin.url}, max_network_retries=0
        )
        session = client.v1.checkout.sessions.create(session_params())
        standin.advance_clock(24 * 3600)

        assert client.v1.checkout.sessions.retrieve(session.id).status == "expired"
        assert [e.type for e in client.v1.events.list().data] == ["checkout.session.expired"]


# Refunds ----------------------------------------------------------------------------


def test_refunds_send_charge_refunded_and_refuse_more_than_remains(client, receiver):
    session = client.v1.checkout.sessions.create(session_params())
    pay(session)
    payment_intent = client.v1.checkout.sessions.retrieve(session.id).payment_intent

    partial = client.v1.refunds.create({"payment_intent": payment_intent, "amount": 1000})
    with pytest.raises(stripe.InvalidRequestError) as too_much:
        client.v1.refunds.create({"payment_intent": payment_intent, "amount": 9000})
    rest = client.v1.refunds.create({"payment_intent": payment_intent})
    with pytest.raises(stripe.InvalidRequestError) as again:
        client.v1.refunds.create({"payment_intent": payment_intent})

    assert partial.id.startswith("re_")
    assert (partial.status, partial.amount, partial.payment_intent) == (
        "succeeded",
        1000,
        payment_intent,
    )
    assert partial.charge.startswith("ch_")
    assert (too_much.value.param, too_much.value.code) == ("amount", "amount_too_large")
    assert rest.amount == 8306
    assert again.value.code == "charge_already_refunded"
    first, second = receiver.wait_for("charge.refunded", count=2)
    charges = sorted((first, second), key=lambda e: e["data"]["object"]["amount_refunded"])
    assert [c["data"]["object"]["amount_refunded"] for c in charges] == [1000, 9306]
    assert [c["data"]["object"]["refunded"] for c in charges] == [False, True]
    charge = charges[1]["data"]["object"]
    assert (charge["id"], charge["amount"]) == (partial.charge, 9306)
    assert charge["payment_intent"] == payment_intent
    assert charge["metadata"] == {"order_id": "42"}


def test_refund_of_unknown_payment_intent_is_resource_missing(client):
    with pytest.raises(stripe.InvalidRequestError) as error:
        client.v1.refunds.create({"payment_intent": "pi_unknown"})

    assert (error.value.http_status, error.value.code) == (400, "resource_missing")
    assert error.value.param == "payment_intent"


# Webhook delivery -------------------------------------------------------------------


def test_signature_is_the_one_stripe_computes():
    payload = '{"id": "evt_1"}'

    assert sign(payload.encode(), SECRET, 1700000000) == (
        stripe.WebhookSignature.generate_signature_header(payload, SECRET, 1700000000)
    )


def test_failed_deliveries_are_retried_until_the_endpoint_answers_2xx(client, receiver, standin):
    receiver.script = [500, 500]
    session = client.v1.checkout.sessions.create(session_params())

    pay(session)

    [event] = receiver.wait_for("checkout.session.completed")
    assert [d["status"] for d in receiver.deliveries] == [500, 500, 200]
    assert {d["event"]["id"] for d in receiver.deliveries} == {event["id"]}
    assert standin.wait_for_webhooks()
    _, _, body = http(f"{standin.url}/_standin/events/{event['id']}")
    attempts = json.loads(body)["delivery_attempts"]
    assert [(a["attempt"], a["status"]) for a in attempts] == [(1, 500), (2, 500), (3, 200)]
    assert client.v1.events.retrieve(event["id"]).pending_webhooks == 0


def test_deliveries_give_up_after_the_last_retry(client, receiver, standin):
    receiver.script = [503] * 10
    session = client.v1.checkout.sessions.create(session_params())

    pay(session)

    assert standin.wait_for_webhooks()
    assert [d["status"] for d in receiver.deliveries] == [503] * 4  # 1 try + 3 retries
    [event] = client.v1.events.list().data
    assert event.pending_webhooks == 1


def test_resend_delivers_the_same_event_again(client, receiver, standin):
    session = client.v1.checkout.sessions.create(session_params())
    client.v1.checkout.sessions.expire(session.id)
    [event] = receiver.wait_for("checkout.session.expired")

    status, _, _ = http(f"{standin.url}/_standin/events/{event['id']}/resend", {})

    assert status == 202
    first, second = receiver.wait_for("checkout.session.expired", count=2)
    assert first["id"] == second["id"] == event["id"]


# Lists ------------------------------------------------------------------------------


def test_sessions_list_newest_first_with_pagination_and_filters(client):
    ids = [client.v1.checkout.sessions.create(session_params()).id for _ in range(3)]
    paid = client.v1.checkout.sessions.retrieve(ids[0])
    pay(paid)
    payment_intent = client.v1.checkout.sessions.retrieve(ids[0]).payment_intent

    page = client.v1.checkout.sessions.list({"limit": 2})
    rest = client.v1.checkout.sessions.list({"limit": 2, "starting_after": page.data[-1].id})

    assert [s.id for s in page.data] == [ids[2], ids[1]]
    assert page.has_more is True
    assert page.url == "/v1/checkout/sessions"
    assert [s.id for s in rest.data] == [ids[0]]
    assert rest.has_more is False
    everything = client.v1.checkout.sessions.list({"limit": 1}).auto_paging_iter()
    assert [s.id for s in everything] == ids[::-1]
    assert [s.id for s in client.v1.checkout.sessions.list({"status": "open"}).data] == [
        ids[2],
        ids[1],
    ]
    by_intent = client.v1.checkout.sessions.list({"payment_intent": payment_intent})
    assert [s.id for s in by_intent.data] == [ids[0]]


def test_events_list_newest_first_with_pagination_type_filter_and_retrieve(client, receiver):
    sessions = [client.v1.checkout.sessions.create(session_params()) for _ in range(3)]
    client.v1.checkout.sessions.expire(sessions[0].id)
    pay(sessions[1])
    client.v1.checkout.sessions.expire(sessions[2].id)

    first = client.v1.events.list({"limit": 2})
    second = client.v1.events.list({"limit": 2, "starting_after": first.data[-1].id})
    expired = client.v1.events.list({"type": "checkout.session.expired"})
    wildcard = client.v1.events.list({"type": "checkout.session.*"})

    assert [e.type for e in first.data] == [
        "checkout.session.expired",
        "checkout.session.completed",
    ]
    assert first.has_more is True
    assert [e.type for e in second.data] == ["checkout.session.expired"]
    assert second.has_more is False
    assert [e.data.object.id for e in expired.data] == [sessions[2].id, sessions[0].id]
    assert len(wildcard.data) == 3
    one = client.v1.events.retrieve(first.data[0].id)
    assert (one.object, one.type) == ("event", "checkout.session.expired")
    with pytest.raises(stripe.InvalidRequestError) as error:
        client.v1.events.retrieve("evt_unknown")
    assert error.value.code == "resource_missing"


# Plumbing ---------------------------------------------------------------------------


def test_form_decoding_rebuilds_nested_dicts_and_lists():
    params = decode(
        [
            ("line_items[0][price_data][unit_amount]", "100"),
            ("line_items[0][quantity]", "1"),
            ("line_items[1][quantity]", "2"),
            ("metadata[order_id]", "42"),
            ("expand[]", "line_items"),
        ]
    )

    assert params == {
        "line_items": [{"price_data": {"unit_amount": "100"}, "quantity": "1"}, {"quantity": "2"}],
        "metadata": {"order_id": "42"},
        "expand": ["line_items"],
    }


def test_cli_serves_the_api_without_importing_django():
    process = subprocess.Popen(
        [sys.executable, "-m", "devtools.stripe_standin", "--port", "0"],
        cwd=PROJECT,
        stderr=subprocess.PIPE,
        text=True,
        env={"PATH": "/usr/bin:/bin", "STRIPE_WEBHOOK_SECRET": SECRET},
    )
    try:
        line = ""
        while "ready" not in line:
            line = process.stderr.readline()
            assert line, "the stand-in exited before it was ready"
        url = line.rsplit(" ", 1)[1].strip()
        client = stripe.StripeClient(API_KEY, base_addresses={"api": url}, max_network_retries=0)
        assert client.v1.checkout.sessions.create(session_params()).status == "open"
    finally:
        process.terminate()
        process.wait(timeout=5)
    check = "import sys, devtools.stripe_standin.__main__; print('django' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", check], cwd=PROJECT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
