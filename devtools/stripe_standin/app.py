"""HTTP: authentication, idempotency, routing to the API, the hosted page and test helpers.

Each request runs in its own thread (`ThreadingHTTPServer`). The events a request
causes are published only after its answer has been written and flushed, so a
webhook never reaches the site before the API call or page post that caused it
has returned, which is Stripe's order too.
"""

import base64
import binascii
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from .api import ApiRequest, dispatch
from .cards import SETUP_ACTIONS
from .errors import StripeError, no_such, param_error, unrecognized_url
from .objects import API_VERSION, Event, event_json, new_id
from .page import render_bad_request, render_not_found, render_session
from .params import decode_body, decode_query, get_str
from .store import IdempotentAnswer, SessionClosed, Store

logger = logging.getLogger("stripe_standin")

MAX_BODY = 1024 * 1024
NO_KEY = (
    "You did not provide an API key. You need to provide your API key in the Authorization "
    "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
    "https://stripe.com/docs/api#authentication for details, or we can help at "
    "https://support.stripe.com/."
)
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def json_response(status: int, body: Any, **headers: str) -> Response:
    data = (json.dumps(body, indent=2) + "\n").encode()
    return Response(status, data, headers={"Cache-Control": "no-cache, no-store", **headers})


def html_response(status: int, html: str) -> Response:
    return Response(status, html.encode(), "text/html; charset=utf-8", dict(PAGE_HEADERS))


def _mask(key: str) -> str:
    if len(key) <= 12:
        return "*" * len(key)
    return key[:8] + "*" * (len(key) - 12) + key[-4:]


class StandinHTTPServer(ThreadingHTTPServer):
    """Carries the shared store and the delivery hook to every request thread."""

    daemon_threads = True
    # socketserver's default backlog of 5 drops bursts (50 patients clicking Pay).
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        *,
        store: Store,
        deliver: Callable[[Event], None] | None,
    ) -> None:
        super().__init__(address, StandinHandler)
        self.store = store
        self.deliver = deliver
        self._busy = 0
        self._quiet = threading.Condition()

    @contextmanager
    def busy(self) -> Iterator[None]:
        with self._quiet:
            self._busy += 1
        try:
            yield
        finally:
            with self._quiet:
                self._busy -= 1
                self._quiet.notify_all()

    def wait_quiet(self, timeout: float) -> bool:
        """True once no request is being answered, so all their events are published."""
        with self._quiet:
            return self._quiet.wait_for(lambda: self._busy == 0, timeout)


class StandinHandler(BaseHTTPRequestHandler):
    server: StandinHTTPServer
    protocol_version = "HTTP/1.1"
    server_version = "stripe-standin/1.0"
    timeout = 30

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without this, Nagle's algorithm and the
        # client's delayed ACK add 40 ms to every answer on a kept-alive connection.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def version_string(self) -> str:
        return self.server_version

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Silenced: `_answer` logs one richer line per request itself."""

    def log_error(self, format: str, *args: Any) -> None:
        logger.warning("%s %s", self.client_address[0], format % args)

    # One request ------------------------------------------------------------------

    def _handle(self) -> None:
        with self.server.busy():
            self._answer()

    def _answer(self) -> None:
        started = time.monotonic()
        self.request_id = new_id("req_", 14)
        self.idempotency_key = (
            self.headers.get("Idempotency-Key") if self.command == "POST" else None
        )
        store = self.server.store
        events: list[Event] = []
        try:
            with store.deferring_events(
                request_id=self.request_id if self.path.startswith("/v1/") else None,
                idempotency_key=self.idempotency_key,
            ) as events:
                response = self._route()
        except Exception:
            logger.exception("stand-in bug answering %s %s", self.command, self.path)
            error = {"type": "api_error", "message": "The Stripe stand-in failed; see its log."}
            response = json_response(500, {"error": error})
        try:
            self._send(response)
        except (BrokenPipeError, ConnectionResetError):
            logger.info("client went away before the answer to %s %s", self.command, self.path)
        logger.info(
            '%s "%s %s" %d %.1fms %s',
            self.client_address[0],
            self.command,
            urlsplit(self.path).path,
            response.status,
            (time.monotonic() - started) * 1000,
            self.request_id,
        )
        store.publish(events)

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.send_header("Request-Id", self.request_id)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(response.body)
        self.wfile.flush()

    def _body(self) -> bytes:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError as exc:
            self.close_connection = True
            raise StripeError(400, "Invalid Content-Length header.", saved=False) from exc
        if length > MAX_BODY:
            self.close_connection = True
            raise StripeError(413, "Request body too large.", saved=False)
        return self.rfile.read(length) if length > 0 else b""

    def _route(self) -> Response:
        path = urlsplit(self.path).path
        try:
            body = self._body()
            if path.startswith("/v1/"):
                return self._api(path, body)
            if path.startswith("/pay/"):
                return self._page(unquote(path.removeprefix("/pay/")), body)
            if path.startswith("/_standin/"):
                return self._helper(path, body)
            if path == "/" and self.command == "GET":
                text = "Local Stripe stand-in: API under /v1, hosted pages under /pay/<id>.\n"
                return Response(200, text.encode(), "text/plain; charset=utf-8")
            raise unrecognized_url(self.command, path)
        except StripeError as exc:
            return json_response(exc.status, exc.body(self.request_id))

    # The API ----------------------------------------------------------------------

    def _api_key(self) -> str:
        scheme, _, credentials = self.headers.get("Authorization", "").partition(" ")
        key = ""
        if scheme.lower() == "bearer":
            key = credentials.strip()
        elif scheme.lower() == "basic":
            try:
                key = base64.b64decode(credentials.strip()).decode().partition(":")[0]
            except (binascii.Error, UnicodeDecodeError):
                key = ""
        if not key:
            raise StripeError(401, NO_KEY, saved=False)
        if not key.startswith("sk_test_") or key == "sk_test_":
            raise StripeError(401, f"Invalid API Key provided: {_mask(key)}", saved=False)
        return key

    def _api(self, path: str, body: bytes) -> Response:
        api_key = self._api_key()
        params = decode_query(self.path) if self.command == "GET" else decode_body(body)
        request = ApiRequest(method=self.command, path=path, params=params)
        store = self.server.store
        headers = {"Stripe-Version": API_VERSION}
        key = self.idempotency_key
        if not key:
            return json_response(200, dispatch(store, request), **headers)
        if len(key) > 255:
            raise param_error("Idempotency-Key", "Idempotency keys can be at most 255 characters.")
        headers["Idempotency-Key"] = key
        endpoint = f"{self.command} {path}"
        with store.idempotency():
            answer = store.idempotent_answer(api_key, key)
            if answer is not None:
                self._check_same_request(answer, endpoint, params, key)
                return json_response(
                    answer.status, answer.body, **headers, **{"Idempotent-Replayed": "true"}
                )
            try:
                status, result = 200, dispatch(store, request)
            except StripeError as exc:
                if not exc.saved:
                    raise
                status, result = exc.status, exc.body(self.request_id)
            store.remember_answer(
                api_key, key, IdempotentAnswer(endpoint, params, status, result, store.now())
            )
            return json_response(status, result, **headers)

    @staticmethod
    def _check_same_request(
        answer: IdempotentAnswer, endpoint: str, params: dict[str, Any], key: str
    ) -> None:
        retry = f"Try using a key other than '{key}' if you meant to execute a different request."
        if answer.endpoint != endpoint:
            raise StripeError(
                400,
                "Keys for idempotent requests can only be used for the same endpoint they were "
                f"first used for ('{answer.endpoint}' vs '{endpoint}'). {retry}",
                type="idempotency_error",
                saved=False,
            )
        if answer.params != params:
            raise StripeError(
                400,
                "Keys for idempotent requests can only be used with the same parameters they "
                f"were first used with. {retry}",
                type="idempotency_error",
                saved=False,
            )

    # The hosted page --------------------------------------------------------------

    def _page(self, session_id: str, body: bytes) -> Response:
        store = self.server.store
        session = store.session(session_id)
        if session is None or "/" in session_id:
            return html_response(404, render_not_found())
        if self.command == "GET":
            return html_response(200, render_session(session))
        if self.command != "POST":
            raise unrecognized_url(self.command, self.path)
        action = get_str(decode_body(body), "action")
        if action == "pay" or (session.mode == "setup" and action in SETUP_ACTIONS):
            try:
                store.pay(session_id, action or "pay")
            except SessionClosed as closed:
                return html_response(409, render_session(closed.session))
            return Response(303, b"", "text/plain", {"Location": session.return_url})
        if action == "decline" and session.mode == "payment":
            try:
                store.decline(session_id)
            except SessionClosed as closed:
                return html_response(409, render_session(closed.session))
            return html_response(200, render_session(session, declined=True))
        return html_response(400, render_bad_request(session))

    # Test helpers (no authentication) ---------------------------------------------

    def _helper(self, path: str, body: bytes) -> Response:
        store = self.server.store
        parts = path.strip("/").split("/")
        if self.command == "POST" and parts == ["_standin", "clock", "advance"]:
            seconds = get_str(decode_body(body), "seconds", required=True) or ""
            try:
                now = store.advance_clock(float(seconds))
            except ValueError as exc:
                raise param_error("seconds", f"Invalid number: {seconds}") from exc
            store.expire_due()
            return json_response(200, {"now": now})
        if (
            self.command == "POST"
            and len(parts) == 4
            and parts[:2] == ["_standin", "payment_intents"]
            and parts[3] == "lapse"
        ):
            # Stripe cancels a hold uncaptured after 7 days; advancing the clock does it too.
            body = store.lapse(unquote(parts[2]))
            if body is None:
                raise no_such("payment_intent", unquote(parts[2]), param="intent")
            return json_response(200, body)
        if len(parts) >= 3 and parts[:2] == ["_standin", "events"]:
            event = store.event(unquote(parts[2]))
            if event is None:
                raise no_such("event", unquote(parts[2]), param="id")
            if self.command == "GET" and len(parts) == 3:
                return json_response(
                    200, {"event": event_json(event), "delivery_attempts": event.attempts}
                )
            if self.command == "POST" and parts[3:] == ["resend"]:
                if self.server.deliver is None:
                    raise StripeError(409, "No webhook endpoint is configured.", saved=False)
                self.server.deliver(event)
                return json_response(202, {"resent": True, "event": event_json(event)})
        raise unrecognized_url(self.command, path)
