"""The Stripe stand-in's own tests: a fresh stand-in per test, with a webhook receiver in
a thread that verifies every delivery with `stripe.Webhook.construct_event`, and the
real `stripe` client pointed at it. No database: these tests never touch Django models.

The `client` fixture here is the Stripe client (it replaces pytest-django's test
client in this folder only, where no Django page is requested).
"""

import json
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlencode

import pytest
import stripe

from devtools.stripe_standin import StandinServer

SECRET = "whsec_test_standin_secret"
API_KEY = "sk_test_standin"


class WebhookReceiver:
    """A stand-in for the site's webhook view: verifies, records, answers as scripted."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.deliveries: list[dict[str, Any]] = []
        self.script: list[int] = []  # statuses to answer before falling back to 200
        self._condition = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                payload = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.receive(payload, self.headers.get("Stripe-Signature"), self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/payments/stripe/webhook/"

    def receive(self, payload: bytes, header: str | None, handler: BaseHTTPRequestHandler):
        try:
            event = stripe.Webhook.construct_event(payload, header, self.secret)
        except stripe.SignatureVerificationError:
            status, event = 400, None
        else:
            with self._condition:
                status = self.script.pop(0) if self.script else 200
        # Recorded before answering, so the stand-in never sees an answer not yet recorded.
        with self._condition:
            self.deliveries.append(
                {"status": status, "verified": event is not None, "event": json.loads(payload)}
            )
            self._condition.notify_all()
        handler.send_response(status)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    def accepted(self, type: str | None = None) -> list[dict[str, Any]]:
        with self._condition:
            return [
                d["event"]
                for d in self.deliveries
                if d["status"] == 200 and (type is None or d["event"]["type"] == type)
            ]

    def wait_for(self, type: str, count: int = 1, timeout: float = 5.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        with self._condition:
            while len(events := self.accepted(type)) < count:
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"no {count} x {type} within {timeout}s: {self.deliveries}"
                self._condition.wait(remaining)
            return events


@pytest.fixture
def receiver():
    receiver = WebhookReceiver(SECRET)
    thread = threading.Thread(
        target=receiver.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
    )
    thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()
    assert all(d["verified"] for d in receiver.deliveries), "a delivery failed verification"


@pytest.fixture
def standin(receiver):
    server = StandinServer(
        webhook_url=receiver.url,
        webhook_secret=SECRET,
        retry_delays=(0.01, 0.02, 0.04),
        sweep_interval=0.05,
    ).start()
    yield server
    server.stop()


@pytest.fixture
def client(standin) -> stripe.StripeClient:
    return stripe.StripeClient(API_KEY, base_addresses={"api": standin.url}, max_network_retries=0)


def session_params(**overrides: Any) -> dict[str, Any]:
    params = {
        "mode": "payment",
        "line_items": [
            {
                "price_data": {
                    "currency": "usd",
                    "unit_amount": 4653,
                    "product_data": {"name": "Baclofen 10 mg, 10 tablets"},
                },
                "quantity": 2,
            }
        ],
        "success_url": "http://127.0.0.1:8000/orders/42/paid/?session={CHECKOUT_SESSION_ID}",
        "cancel_url": "http://127.0.0.1:8000/orders/42/",
        "client_reference_id": "42",
        "metadata": {"order_id": "42"},
        "customer_email": "pat@example.com",
    }
    params.update(overrides)
    return params


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects)


def http(url: str, data: dict[str, str] | None = None, headers: dict[str, str] | None = None):
    """(status, headers, body text) without following redirects, as a browser test would see."""
    body = urlencode(data).encode() if data is not None else None
    request = urllib.request.Request(url, data=body, headers=headers or {})  # noqa: S310
    try:
        with _opener.open(request, timeout=5) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.headers, exc.read().decode()


def pay(session: Any, action: str = "pay"):
    return http(session.url, {"action": action})
