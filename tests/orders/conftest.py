"""Shared fixtures for payments: one Stripe stand-in for the whole run, and real orders.

The stand-in is session-scoped and keeps everything it is told, so tests find
their own objects by id (order numbers are random) and never advance its clock,
which would shift every later test's session expiry.
"""

import json
import os
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlencode

import pytest
import stripe
from django.conf import settings as django_settings

from devtools.stripe_standin import StandinServer, sign
from orders.models import Order
from orders.payments.client import stripe_client
from tests.orders.factories import make_patient, make_verified_prescription, place_order


@pytest.fixture(scope="session")
def stripe_standin():
    """A local Stripe that records events but delivers none: tests post them themselves."""
    secret = django_settings.STRIPE_WEBHOOK_SECRET or os.environ.get(
        "STRIPE_WEBHOOK_SECRET", "whsec_tests_only"
    )
    server = StandinServer(
        webhook_url=None, webhook_secret=secret, port=0, retry_delays=(0.05, 0.1)
    ).start()
    yield server
    server.stop()


@pytest.fixture
def stripe_api(settings, stripe_standin) -> stripe.StripeClient:
    """Points the site's Stripe client at the stand-in; returns a client for assertions."""
    settings.STRIPE_API_BASE = stripe_standin.url
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    return stripe_client()


def signed_event(event: dict[str, Any], secret: str | None = None, timestamp: int | None = None):
    """(payload bytes, Stripe-Signature header) for an event dict, signed as Stripe signs."""
    payload = json.dumps(event, indent=2).encode()
    return payload, sign(payload, secret or django_settings.STRIPE_WEBHOOK_SECRET, timestamp)


def standin_event(client: stripe.StripeClient, type: str, **match: str) -> dict[str, Any]:
    """The newest event of `type` whose object has every `match` field, as a plain dict.

    Events are published just after the request that caused them is answered, so a
    short wait covers the gap.
    """
    deadline = time.monotonic() + 5
    while True:
        for event in client.v1.events.list({"type": type, "limit": 100}).data:
            data = event.to_dict()
            obj = data["data"]["object"]
            if all(obj.get(key) == value for key, value in match.items()):
                return data
        assert time.monotonic() < deadline, f"no {type} event with {match} at the stand-in"
        time.sleep(0.02)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects)


def pay_on_hosted_page(url: str, action: str = "pay") -> int:
    """What the patient's browser does on the hosted page; returns the HTTP status."""
    request = urllib.request.Request(url, data=urlencode({"action": action}).encode())  # noqa: S310
    try:
        with _opener.open(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code


@pytest.fixture
def orders_any_day(settings):
    """For tests that place several orders of one drug on one day as scaffolding: the
    early-refill refusal (tests/prescriptions/test_review.py) is turned off."""
    settings.REFILL_TOO_EARLY_SHARE = "0"


@pytest.fixture
def order_factory(db, baclofen):
    """Orders placed through the real checkout: a verified prescription, stock taken."""

    def make(*, quantity: int = 1, **patient_fields) -> Order:
        patient = make_patient(**patient_fields)
        make_verified_prescription(patient=patient)
        return place_order(patient=patient, quantity=quantity)

    return make


@pytest.fixture
def order(order_factory) -> Order:
    """One baclofen 10 mg package waiting for payment."""
    return order_factory()


def pay_at_standin(client: stripe.StripeClient, order: Order) -> dict[str, Any]:
    """Open the order's checkout session and pay it on the hosted page, as the patient does.

    Returns the `checkout.session.completed` event the stand-in recorded, not yet
    posted to the site.
    """
    from orders.payments.sessions import checkout_session_for

    url = checkout_session_for(order)
    assert pay_on_hosted_page(url) == 303
    order.refresh_from_db()
    return standin_event(client, "checkout.session.completed", id=order.stripe_session_id)


def variant(event: dict[str, Any], type: str, **object_fields: Any) -> dict[str, Any]:
    """Another event about the same object, e.g. an `expired` Stripe sends after `completed`."""
    other = json.loads(json.dumps(event))
    other.update(id="evt_" + os.urandom(12).hex(), type=type)
    other["data"]["object"].update(object_fields)
    return other
