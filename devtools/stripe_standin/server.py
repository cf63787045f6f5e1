"""`StandinServer`: the HTTP server, webhook workers and expiry sweeper, started together."""

import json
import logging
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Self

from .app import StandinHTTPServer
from .errors import no_such
from .objects import Event, event_json
from .store import Store
from .webhooks import DEFAULT_RETRY_DELAYS, WebhookDeliverer

logger = logging.getLogger("stripe_standin")


class StandinServer:
    """A local Stripe for the Checkout subset the site uses, served from daemon threads.

    `port=0` picks a free port; read `url` after `start()`. `public_url` is the base
    of the hosted page links in sessions, for when browsers reach the stand-in by
    another name than the site does (containers); it defaults to `url`. Without
    `webhook_url` events are only recorded (and listed by the API). `retry_delays`
    are the seconds between delivery attempts; tests pass tiny ones.
    `sweep_interval` is how often open sessions are checked for `expires_at`.
    """

    def __init__(
        self,
        *,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        public_url: str | None = None,
        retry_delays: Sequence[float] = DEFAULT_RETRY_DELAYS,
        webhook_timeout: float = 10.0,
        sweep_interval: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret or "whsec_" + secrets.token_hex(24)
        self.host = host
        self.sweep_interval = sweep_interval
        self._public_url = public_url
        self.deliverer: WebhookDeliverer | None = None
        if webhook_url:
            self.deliverer = WebhookDeliverer(
                url=webhook_url,
                secret=self.webhook_secret,
                retry_delays=retry_delays,
                timeout=webhook_timeout,
                on_attempt=self._record_attempt,
            )
        self.store = Store(
            clock=clock,
            on_event=self._deliver if self.deliverer else None,
            webhook_endpoints=1 if self.deliverer else 0,
        )
        self._http = StandinHTTPServer(
            (host, port), store=self.store, deliver=self._deliver if self.deliverer else None
        )
        self.port: int = self._http.server_address[1]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        """The API base URL, to pass as `base_addresses={"api": url}` to `stripe.StripeClient`."""
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host  # noqa: S104
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    def start(self) -> Self:
        self.store.public_url = (self._public_url or self.url).rstrip("/")
        if self.deliverer:
            self.deliverer.start()
        for name, target in (("http", self._serve), ("sweeper", self._sweep)):
            thread = threading.Thread(target=target, name=f"stripe-standin-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        logger.info(
            "Stripe stand-in on %s, webhooks to %s", self.url, self.webhook_url or "nowhere"
        )
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._threads:
            self._http.shutdown()
        self._http.server_close()
        if self.deliverer:
            self.deliverer.stop()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def advance_clock(self, seconds: float) -> int:
        """Move the stand-in's clock (not the signature timestamps) forward; returns its now."""
        return self.store.advance_clock(seconds)

    def lapse_authorization(self, payment_intent: str) -> dict:
        """Let an uncaptured hold lapse now, as Stripe does after 7 days: the intent is
        canceled with `cancellation_reason` automatic, and `charge.expired` and
        `payment_intent.canceled` are sent. Over HTTP: `POST /_standin/payment_intents/<id>/lapse`.
        Raises `StripeError` for an unknown intent or one not `requires_capture`.
        """
        with self.store.deferring_events() as events:
            body = self.store.lapse(payment_intent)
        if body is None:
            raise no_such("payment_intent", payment_intent, param="intent")
        self.store.publish(events)
        return body

    def wait_for_webhooks(self, timeout: float = 5.0) -> bool:
        """True once every event so far has been delivered or given up on, retries included.

        Waits for requests still being answered first: their events are published
        only after the answer, so a caller holding that answer may be ahead of them.
        """
        deadline = time.monotonic() + timeout
        if not self._http.wait_quiet(timeout):
            return False
        if self.deliverer is None:
            return True
        return self.deliverer.wait_idle(max(0.0, deadline - time.monotonic()))

    def _deliver(self, event: Event) -> None:
        # Serialised once per delivery: retries resend these exact bytes, re-signed.
        payload = json.dumps(event_json(event), indent=2).encode()
        if self.deliverer:
            self.deliverer.schedule(event.id, event.type, payload)

    def _record_attempt(self, event_id: str, attempt: dict, delivered: bool) -> None:
        self.store.record_attempt(event_id, attempt, delivered=delivered)

    def _serve(self) -> None:
        # A short poll so that `stop()` returns within a few hundredths of a second.
        self._http.serve_forever(poll_interval=0.05)

    def _sweep(self) -> None:
        while not self._stop.wait(self.sweep_interval):
            try:
                self.store.expire_due()
            except Exception:
                logger.exception("expiry sweep failed")
