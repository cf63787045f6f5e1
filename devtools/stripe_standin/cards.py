"""Saved cards: Customers, PaymentMethods, SetupIntents, and charging a saved card off-session.

A mixin of `Store` (its lock, clock and `_emit`), like `payments.PaymentsMixin`. What
was checked against the `stripe` library (the version FACTS.md names), and where:

- Field names and types of the objects: `_customer.py`, `_payment_method.py` (`card`
  with `brand`, `last4`, `exp_month`, `exp_year`), `_setup_intent.py` (`usage`,
  `payment_method`, `status`), `_payment_intent.py` (`last_payment_error` with `code`,
  `decline_code`, `message`, `charge`, `payment_method`, `type`).
- Create parameters: `params/_customer_create_params.py`,
  `params/_payment_method_attach_params.py`, `params/_payment_intent_create_params.py`
  (`customer`, `payment_method`, `off_session` (bool, `one_off` or `recurring`),
  `confirm`, `error_on_requires_action`, `receipt_email`, `description`, `metadata`).
- Failures: a declined card answers HTTP 402, `type` card_error, with the PaymentIntent
  (now `requires_payment_method`, its `payment_method` cleared) in `error.payment_intent`
  (`_error_object.py` types it), and `payment_intent.payment_failed` is sent. A card
  that needs its holder, charged off-session, fails the same way with code and
  decline code `authentication_required` ("Your card was declined. This transaction
  requires authentication."); charged on-session it is `requires_action` instead
  (200, `next_action` use_stripe_sdk). Stripe stores 402 answers under the
  idempotency key, so a retry gets the same failure, not a second attempt.
- Test cards are Stripe's own test PaymentMethod ids: `pm_card_visa` (charges
  succeed), `pm_card_chargeCustomerFail` (attaches, every charge is declined) and
  `pm_card_authenticationRequired` (every charge needs the cardholder). Attaching
  one copies it into a new `pm_...` of the customer, as Stripe does.
- Not sent, as on the other paths: `payment_intent.created`, `charge.succeeded`,
  `charge.failed`, `customer.created`, `setup_intent.created`.
"""

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import StripeError, no_such, param_error
from .objects import Event, Payment, Session, new_id, payment_intent_json

# Stripe's test PaymentMethods: (brand, last4, what a charge does).
TEST_CARDS = {
    "pm_card_visa": ("visa", "4242", "succeeds"),
    "pm_card_chargeCustomerFail": ("visa", "0341", "declines"),
    "pm_card_authenticationRequired": ("visa", "3184", "authenticates"),
}
# The hosted setup page's buttons: action -> the test card it saves.
SETUP_ACTIONS = {
    "save": "pm_card_visa",
    "save_declining": "pm_card_chargeCustomerFail",
    "save_authenticating": "pm_card_authenticationRequired",
}
DECLINED = {
    "code": "card_declined",
    "decline_code": "generic_decline",
    "message": "Your card was declined.",
}
NEEDS_AUTHENTICATION = {
    "code": "authentication_required",
    "decline_code": "authentication_required",
    "message": "Your card was declined. This transaction requires authentication.",
}


@dataclass
class Customer:
    created: int
    email: str | None
    name: str | None
    metadata: dict[str, str]
    id: str = field(default_factory=lambda: new_id("cus_", 14))


@dataclass
class PaymentMethod:
    created: int
    brand: str
    last4: str
    behaviour: str  # "succeeds", "declines", "authenticates"
    customer: str | None = None
    exp_month: int = 12
    exp_year: int = 2034
    id: str = field(default_factory=lambda: new_id("pm_"))


@dataclass
class SetupIntent:
    created: int
    customer: str | None
    payment_method: str
    metadata: dict[str, str]
    usage: str = "off_session"
    status: str = "succeeded"
    id: str = field(default_factory=lambda: new_id("seti_"))


def customer_json(customer: Customer) -> dict[str, Any]:
    return {
        "id": customer.id,
        "object": "customer",
        "created": customer.created,
        "description": None,
        "email": customer.email,
        "livemode": False,
        "metadata": dict(customer.metadata),
        "name": customer.name,
    }


def payment_method_json(method: PaymentMethod) -> dict[str, Any]:
    return {
        "id": method.id,
        "object": "payment_method",
        "billing_details": {
            "address": None,
            "email": None,
            "name": None,
            "phone": None,
        },
        "card": {
            "brand": method.brand,
            "country": "US",
            "exp_month": method.exp_month,
            "exp_year": method.exp_year,
            "funding": "credit",
            "last4": method.last4,
        },
        "created": method.created,
        "customer": method.customer,
        "livemode": False,
        "metadata": {},
        "type": "card",
    }


def setup_intent_json(intent: SetupIntent, method: PaymentMethod | None = None) -> dict[str, Any]:
    """`method` given: `payment_method` expanded, as `expand[]=payment_method` asks."""
    return {
        "id": intent.id,
        "object": "setup_intent",
        "cancellation_reason": None,
        "client_secret": f"{intent.id}_secret_{intent.id[5:]}",
        "created": intent.created,
        "customer": intent.customer,
        "description": None,
        "last_setup_error": None,
        "livemode": False,
        "metadata": dict(intent.metadata),
        "next_action": None,
        "payment_method": payment_method_json(method) if method else intent.payment_method,
        "payment_method_types": ["card"],
        "status": intent.status,
        "usage": intent.usage,
    }


def card_error(failure: dict[str, str], payment: Payment, method: PaymentMethod) -> StripeError:
    """HTTP 402 as Stripe answers a declined confirmation, the intent inside."""
    return StripeError(
        402,
        failure["message"],
        type="card_error",
        code=failure["code"],
        extra={
            "decline_code": failure["decline_code"],
            "charge": payment.charge,
            "payment_intent": payment_intent_json(payment),
            "payment_method": payment_method_json(method),
        },
    )


class CardsMixin:
    _lock: threading.RLock
    _payments: dict[str, Payment]
    _charges: dict[str, Payment]
    _customers: dict[str, Customer]
    _payment_methods: dict[str, PaymentMethod]
    _setup_intents: dict[str, SetupIntent]
    now: Callable[[], int]
    _emit: Callable[..., Event]

    # Customers and their cards ------------------------------------------------------

    def add_customer(self, *, email: str | None, name: str | None, metadata: dict[str, str]):
        with self._lock:
            customer = Customer(created=self.now(), email=email, name=name, metadata=metadata)
            self._customers[customer.id] = customer
            return customer_json(customer)

    def customer_ids(self) -> set[str]:
        with self._lock:
            return set(self._customers)

    def customer(self, customer_id: str) -> Customer | None:
        with self._lock:
            return self._customers.get(customer_id)

    def payment_method(self, method_id: str) -> PaymentMethod | None:
        with self._lock:
            return self._payment_methods.get(method_id)

    def payment_methods_of(self, customer_id: str) -> list[dict[str, Any]]:
        with self._lock:
            methods = [m for m in self._payment_methods.values() if m.customer == customer_id]
            return [payment_method_json(m) for m in reversed(methods)]

    def setup_intent(self, intent_id: str) -> SetupIntent | None:
        with self._lock:
            return self._setup_intents.get(intent_id)

    def attach(self, method_id: str, customer_id: str) -> PaymentMethod:
        """A test card copied into a new method of the customer, or a method attached."""
        with self._lock:
            if customer_id not in self._customers:
                raise no_such("customer", customer_id, param="customer", status=400)
            if method_id in TEST_CARDS:
                brand, last4, behaviour = TEST_CARDS[method_id]
                method = PaymentMethod(
                    created=self.now(), brand=brand, last4=last4, behaviour=behaviour
                )
                self._payment_methods[method.id] = method
            else:
                method = self._payment_methods.get(method_id)
                if method is None:
                    raise no_such("PaymentMethod", method_id, param="payment_method")
                if method.customer not in (None, customer_id):
                    raise param_error(
                        "payment_method",
                        "The payment method you provided has already been attached to a customer.",
                    )
            method.customer = customer_id
            self._emit("payment_method.attached", payment_method_json(method))
            return method

    def detach(self, method_id: str) -> dict[str, Any]:
        with self._lock:
            method = self._payment_methods.get(method_id)
            if method is None:
                raise no_such("PaymentMethod", method_id, param="payment_method")
            if method.customer is None:
                raise param_error(
                    "payment_method",
                    "The payment method you provided is not attached to a customer.",
                )
            method.customer = None
            body = payment_method_json(method)
            self._emit("payment_method.detached", body)
            return body

    # Checkout in setup mode ---------------------------------------------------------

    def complete_setup(self, session: Session, action: str) -> None:
        """The customer saved a card on a setup session's page (the caller holds the lock
        and checked the session is open): a SetupIntent, the card on the customer."""
        test_card = SETUP_ACTIONS[action]
        if session.customer:
            method = self.attach(test_card, session.customer)
        else:
            brand, last4, behaviour = TEST_CARDS[test_card]
            method = PaymentMethod(
                created=self.now(), brand=brand, last4=last4, behaviour=behaviour
            )
            self._payment_methods[method.id] = method
        intent = SetupIntent(
            created=self.now(),
            customer=session.customer,
            payment_method=method.id,
            metadata=dict(session.setup_intent_metadata),
        )
        self._setup_intents[intent.id] = intent
        session.setup_intent = intent.id
        session.status = "complete"
        session.payment_status = "no_payment_required"
        self._emit("setup_intent.succeeded", setup_intent_json(intent))

    def save_paying_card(self, session: Session, payment: Payment) -> None:
        """`setup_future_usage` on a payment session: the card paid with stays on the customer."""
        if not (session.setup_future_usage and session.customer):
            return
        method = self.attach("pm_card_visa", session.customer)
        payment.payment_method = method.id
        payment.customer = session.customer
        payment.setup_future_usage = session.setup_future_usage

    # Charging a saved card ----------------------------------------------------------

    def charge_saved_card(
        self,
        *,
        amount: int,
        currency: str,
        customer: str | None,
        method_id: str,
        off_session: bool,
        metadata: dict[str, str],
        description: str | None,
        receipt_email: str | None,
    ) -> dict[str, Any]:
        """`POST /v1/payment_intents` with `confirm=true`: charged, or Stripe's failure."""
        with self._lock:
            method = self._payment_methods.get(method_id)
            if method is None and method_id in TEST_CARDS:
                brand, last4, behaviour = TEST_CARDS[method_id]
                method = PaymentMethod(
                    created=self.now(), brand=brand, last4=last4, behaviour=behaviour
                )
                self._payment_methods[method.id] = method
            if method is None:
                raise no_such("PaymentMethod", method_id, param="payment_method", status=400)
            if customer is not None and customer not in self._customers:
                raise no_such("customer", customer, param="customer", status=400)
            if method.customer is not None and method.customer != customer:
                raise param_error(
                    "payment_method",
                    "The provided PaymentMethod is attached to another Customer or to none "
                    "given: pass the Customer it belongs to as `customer`.",
                )
            payment = Payment(
                session_id="",
                amount=amount,
                currency=currency,
                created=self.now(),
                metadata=metadata,
                receipt_email=receipt_email,
                customer=customer,
                description=description,
                payment_method=method.id,
            )
            self._payments[payment.payment_intent] = payment
            self._charges[payment.charge] = payment
            if method.behaviour == "succeeds":
                payment.status = "succeeded"
                payment.amount_received = amount
                body = payment_intent_json(payment)
                self._emit("payment_intent.succeeded", body)
                return body
            if method.behaviour == "authenticates" and not off_session:
                payment.status = "requires_action"
                body = payment_intent_json(payment)
                body["next_action"] = {"type": "use_stripe_sdk", "use_stripe_sdk": {}}
                self._emit("payment_intent.requires_action", body)
                return body
            failure = DECLINED if method.behaviour == "declines" else NEEDS_AUTHENTICATION
            self.fail_attempt(payment, failure, method)
            raise card_error(failure, payment, method)

    def fail_attempt(
        self, payment: Payment, failure: dict[str, str], method: PaymentMethod | None
    ) -> dict[str, Any]:
        """One failed attempt: its charge failed, the intent waits for another card."""
        payment.status = "requires_payment_method"
        payment.amount_received = 0
        payment.last_payment_error = {
            "charge": payment.charge,
            "code": failure["code"],
            "decline_code": failure["decline_code"],
            "doc_url": "https://stripe.com/docs/error-codes/" + failure["code"].replace("_", "-"),
            "message": failure["message"],
            "payment_method": payment_method_json(method) if method else None,
            "type": "card_error",
        }
        payment.payment_method = None  # Stripe detaches the failed method from the intent
        body = payment_intent_json(payment)
        self._emit("payment_intent.payment_failed", body)
        return body
