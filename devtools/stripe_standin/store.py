"""The in-memory state: sessions, payments, refunds, events and idempotency records.

PaymentIntents, captures and refunds are `PaymentsMixin` (payments.py).

One re-entrant lock guards everything, and each public method holds it for its whole
check-then-change, so two requests racing on one session (pay and expire, two
refunds) see each other's result exactly as they would at Stripe. State transitions
emit events; see `deferring_events` for when those leave the building.
"""

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from .cards import SETUP_ACTIONS, CardsMixin, Customer, PaymentMethod, SetupIntent
from .errors import StripeError
from .objects import Event, Payment, Refund, Session, session_json
from .payments import PaymentsMixin

IDEMPOTENCY_TTL = 24 * 3600


class SessionClosed(Exception):
    """The hosted page was asked to pay a session that is no longer open."""

    def __init__(self, session: Session) -> None:
        super().__init__(f"Checkout session {session.id} is {session.status}")
        self.session = session


@dataclass
class IdempotentAnswer:
    endpoint: str
    params: dict[str, Any]
    status: int
    body: dict[str, Any]
    created: int


class Store(PaymentsMixin, CardsMixin):
    """Everything the stand-in knows; thread-safe.

    `clock` returns unix seconds; `advance_clock` shifts it so tests can pass a
    session's `expires_at` (which Stripe keeps at least 30 minutes away) at once.
    `on_event` receives each event that is ready to deliver.
    """

    def __init__(
        self,
        *,
        public_url: str = "",
        clock: Callable[[], float] = time.time,
        on_event: Callable[[Event], None] | None = None,
        webhook_endpoints: int = 0,
    ) -> None:
        self.public_url = public_url
        self.on_event = on_event
        self.webhook_endpoints = webhook_endpoints
        self._clock = clock
        self._offset = 0.0
        self._lock = threading.RLock()
        self._local = threading.local()
        self._sessions: dict[str, Session] = {}
        self._payments: dict[str, Payment] = {}
        self._charges: dict[str, Payment] = {}
        self._refunds: dict[str, Refund] = {}
        self._events: dict[str, Event] = {}
        self._customers: dict[str, Customer] = {}
        self._payment_methods: dict[str, PaymentMethod] = {}
        self._setup_intents: dict[str, SetupIntent] = {}
        self._idempotency: dict[tuple[str, str], IdempotentAnswer] = {}

    def now(self) -> int:
        return int(self._clock() + self._offset)

    def advance_clock(self, seconds: float) -> int:
        with self._lock:
            self._offset += seconds
            return self.now()

    # Events ---------------------------------------------------------------------

    @contextmanager
    def deferring_events(
        self, *, request_id: str | None = None, idempotency_key: str | None = None
    ) -> Iterator[list[Event]]:
        """Hold back the events a request causes until it has answered, as Stripe does.

        Thread-local, because each request runs in its own server thread and the
        sweeper, which has no request to wait for, must publish at once.
        """
        self._local.pending = []
        self._local.request = {"id": request_id, "idempotency_key": idempotency_key}
        try:
            yield self._local.pending
        finally:
            del self._local.pending, self._local.request

    def publish(self, events: list[Event]) -> None:
        if self.on_event:
            for event in events:
                self.on_event(event)

    def _emit(
        self,
        type: str,
        obj: dict[str, Any],
        previous: dict[str, Any] | None = None,
        *,
        automatic: bool = False,
    ) -> Event:
        """Record an event; `automatic` ones (expiry) name no request, as at Stripe."""
        data: dict[str, Any] = {"object": obj}
        if previous is not None:
            data["previous_attributes"] = previous
        request = {"id": None, "idempotency_key": None}
        if not automatic:
            request = getattr(self._local, "request", request)
        event = Event(
            type=type,
            created=self.now(),
            data=data,
            request=dict(request),
            pending_webhooks=self.webhook_endpoints,
        )
        self._events[event.id] = event
        pending = getattr(self._local, "pending", None)
        if pending is not None:
            pending.append(event)
        else:
            self.publish([event])
        return event

    def event(self, event_id: str) -> Event | None:
        with self._lock:
            return self._events.get(event_id)

    def events(self) -> list[Event]:
        """Newest first, as Stripe lists."""
        with self._lock:
            return list(reversed(self._events.values()))

    def record_attempt(self, event_id: str, attempt: dict[str, Any], *, delivered: bool) -> None:
        with self._lock:
            event = self._events[event_id]
            event.attempts.append(attempt)
            if delivered:
                event.pending_webhooks = 0

    # Sessions -------------------------------------------------------------------

    def _session_json(self, session: Session) -> dict[str, Any]:
        return session_json(session, self.public_url)

    def _expire_due(self) -> list[Session]:
        self._lapse_due()
        now = self.now()
        due = [s for s in self._sessions.values() if s.status == "open" and s.expires_at <= now]
        for session in due:
            session.status = "expired"
            self._emit("checkout.session.expired", self._session_json(session), automatic=True)
        return due

    def expire_due(self) -> list[Session]:
        """The sweeper's entry point (sessions and lapsed holds); accessors also do it lazily."""
        with self._lock:
            return self._expire_due()

    def add_session(self, session: Session) -> dict[str, Any]:
        with self._lock:
            self._sessions[session.id] = session
            return self._session_json(session)

    def session(self, session_id: str) -> Session | None:
        with self._lock:
            self._expire_due()
            return self._sessions.get(session_id)

    def session_data(self, session_id: str) -> dict[str, Any] | None:
        with self._lock:
            session = self.session(session_id)
            return self._session_json(session) if session else None

    def sessions_data(self) -> list[dict[str, Any]]:
        """Newest first, as Stripe lists."""
        with self._lock:
            self._expire_due()
            return [self._session_json(s) for s in reversed(self._sessions.values())]

    def expire(self, session_id: str) -> dict[str, Any] | None:
        with self._lock:
            session = self.session(session_id)
            if session is None:
                return None
            if session.status != "open":
                raise StripeError(
                    400,
                    'Only Checkout Sessions with a status in ["open"] can be expired. '
                    f'This Checkout Session has a status of "{session.status}".',
                    code="checkout_session_not_open",
                )
            session.status = "expired"
            body = self._session_json(session)
            self._emit("checkout.session.expired", body)
            return body

    def pay(self, session_id: str, action: str = "pay") -> Session | None:
        """The customer paid on the hosted page: one PaymentIntent, one Charge, its events.

        With manual capture the card is only authorised: the session completes with
        `payment_status` unpaid, after `payment_intent.amount_capturable_updated`. A
        setup session saves the card `action` names (`cards.SETUP_ACTIONS`) instead.
        """
        with self._lock:
            session = self.session(session_id)
            if session is None:
                return None
            if session.status != "open":
                raise SessionClosed(session)
            if session.mode == "setup":
                self.complete_setup(session, action if action in SETUP_ACTIONS else "save")
                self._emit("checkout.session.completed", self._session_json(session))
                return session
            payment = self._new_payment(session)
            self.save_paying_card(session, payment)
            session.status = "complete"
            session.payment_status = "unpaid" if payment.status == "requires_capture" else "paid"
            session.payment_intent = payment.payment_intent
            self._emit("checkout.session.completed", self._session_json(session))
            return session

    def decline(self, session_id: str) -> Session | None:
        """The hosted page's declining card: the session stays open (see `decline_attempt`)."""
        with self._lock:
            session = self.session(session_id)
            if session is None:
                return None
            if session.status != "open" or session.mode != "payment":
                raise SessionClosed(session)
            self.decline_attempt(session)
            return session

    # Idempotency ----------------------------------------------------------------

    @contextmanager
    def idempotency(self) -> Iterator[None]:
        """Hold the lock across look-up, execution and saving of one idempotent request.

        Stripe answers a concurrent duplicate with 409; serialising them instead
        gives the second caller the first one's answer, which is what it retries for.
        """
        with self._lock:
            yield

    def idempotent_answer(self, api_key: str, key: str) -> IdempotentAnswer | None:
        with self._lock:
            horizon = self.now() - IDEMPOTENCY_TTL
            for stale in [k for k, a in self._idempotency.items() if a.created < horizon]:
                del self._idempotency[stale]
            return self._idempotency.get((api_key, key))

    def forget_idempotent_answers(self) -> None:
        """Forget every idempotency key (for tests: a test's database may give its rows
        the primary keys an earlier test's had, and keys are often made from them)."""
        with self._lock:
            self._idempotency.clear()

    def remember_answer(self, api_key: str, key: str, answer: IdempotentAnswer) -> None:
        with self._lock:
            self._idempotency[(api_key, key)] = answer
