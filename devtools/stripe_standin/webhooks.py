"""Signing and delivering webhook events the way Stripe does.

Delivery is asynchronous and at-least-once: a pool of worker threads POSTs each
event, and a non-2xx answer (redirects included) or a connection error schedules a
retry after the next delay in `retry_delays`, until the delays run out. One slow or
failing endpoint call never holds up the others beyond its own worker.
"""

import hashlib
import heapq
import hmac
import itertools
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger("stripe_standin.webhooks")

DEFAULT_RETRY_DELAYS: tuple[float, ...] = (0.5, 1, 2, 4, 8, 16, 32)
USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """The `Stripe-Signature` header: HMAC-SHA256 of `"{t}.{payload}"` keyed by the secret.

    The timestamp is the real wall-clock time, even when the stand-in's clock has been
    advanced, because the receiver checks it against its own clock (5 minutes).
    """
    timestamp = int(time.time()) if timestamp is None else timestamp
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Stripe counts a 3xx answer as a failed delivery; it does not follow it."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@dataclass(order=True)
class _Delivery:
    due: float
    seq: int
    event_id: str = field(compare=False)
    event_type: str = field(compare=False)
    payload: bytes = field(compare=False)
    attempt: int = field(compare=False, default=1)


AttemptRecorder = Callable[[str, dict[str, Any], bool], None]


class WebhookDeliverer:
    """Posts signed events to one endpoint with retries; `on_attempt` records each try."""

    def __init__(
        self,
        *,
        url: str,
        secret: str,
        retry_delays: Sequence[float] = DEFAULT_RETRY_DELAYS,
        timeout: float = 10.0,
        workers: int = 4,
        on_attempt: AttemptRecorder | None = None,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"webhook URL must be http(s): {url!r}")
        self.url = url
        self.secret = secret
        self.retry_delays = tuple(retry_delays)
        self.timeout = timeout
        self.on_attempt = on_attempt
        self._workers = workers
        self._queue: list[_Delivery] = []
        self._seq = itertools.count()
        self._in_flight = 0
        self._condition = threading.Condition()
        self._stopping = False
        self._threads: list[threading.Thread] = []
        # No proxies: the endpoint is the local site, whatever HTTP_PROXY says.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects)

    def start(self) -> None:
        for number in range(self._workers):
            thread = threading.Thread(
                target=self._work, name=f"stripe-standin-webhook-{number}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
        for thread in self._threads:
            thread.join(timeout=self.timeout + 1)
        self._threads.clear()

    def schedule(self, event_id: str, event_type: str, payload: bytes) -> None:
        self._push(_Delivery(time.monotonic(), 0, event_id, event_type, payload))

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """True once nothing is queued or in flight, e.g. before asserting nothing arrived."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while self._queue or self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._condition.wait(remaining)
        return True

    def _push(self, delivery: _Delivery) -> None:
        with self._condition:
            delivery.seq = next(self._seq)
            heapq.heappush(self._queue, delivery)
            self._condition.notify_all()

    def _next_due(self) -> _Delivery | None:
        with self._condition:
            while not self._stopping:
                if self._queue and self._queue[0].due <= time.monotonic():
                    self._in_flight += 1
                    return heapq.heappop(self._queue)
                wait = self._queue[0].due - time.monotonic() if self._queue else None
                self._condition.wait(wait)
            return None

    def _work(self) -> None:
        while (delivery := self._next_due()) is not None:
            try:
                self._attempt(delivery)
            except Exception:
                logger.exception("webhook %s: delivery crashed", delivery.event_id)
            finally:
                with self._condition:
                    self._in_flight -= 1
                    self._condition.notify_all()

    def _attempt(self, delivery: _Delivery) -> None:
        request = urllib.request.Request(  # noqa: S310 (scheme checked in __init__)
            self.url,
            data=delivery.payload,
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": USER_AGENT,
                "Stripe-Signature": sign(delivery.payload, self.secret),
            },
        )
        started = time.monotonic()
        status: int | None = None
        error: str | None = None
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
            exc.close()
        except OSError as exc:
            error = str(getattr(exc, "reason", exc))
        delivered = status is not None and 200 <= status < 300
        retry_in = None
        if not delivered and delivery.attempt <= len(self.retry_delays):
            retry_in = self.retry_delays[delivery.attempt - 1]
        record = {
            "attempt": delivery.attempt,
            "at": int(time.time()),
            "url": self.url,
            "status": status,
            "error": error,
            "duration_ms": round((time.monotonic() - started) * 1000, 1),
            "delivered": delivered,
            "retry_in": retry_in,
        }
        logger.info(
            "webhook %s %s attempt %d -> %s%s",
            delivery.event_id,
            delivery.event_type,
            delivery.attempt,
            status if status is not None else f"error ({error})",
            "" if delivered else (f", retry in {retry_in}s" if retry_in else ", giving up"),
        )
        if self.on_attempt:
            self.on_attempt(delivery.event_id, record, delivered)
        if retry_in is not None:
            delivery.due = time.monotonic() + retry_in
            delivery.attempt += 1
            self._push(delivery)
