"""The records the stand-in keeps, and the JSON shapes Stripe gives them on the wire.

Records hold only what the stand-in decides; every field Stripe always sends but the
stand-in never varies (livemode, automatic_tax, ...) is filled in when rendering, so
the JSON matches API version 2024-06-20 closely enough for code written against it.
"""

import secrets
import string
from dataclasses import dataclass, field
from typing import Any

API_VERSION = "2024-06-20"
# How long a card authorisation holds before Stripe cancels it (docs.stripe.com, "Place a
# hold on a payment method": 7 days for online card payments).
AUTHORISATION_WINDOW = 7 * 24 * 3600

_ALPHABET = string.ascii_letters + string.digits

# Currencies whose amounts are whole units (Stripe's "zero-decimal" list).
ZERO_DECIMAL = frozenset(
    {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga"}
    | {"pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"}
)
_SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£"}


def new_id(prefix: str, length: int = 24) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def format_amount(amount: int, currency: str) -> str:
    """Money for people: `$46.53`, `€5.00`, `1200 JPY`; amounts stay integers until here."""
    whole = currency in ZERO_DECIMAL
    units = f"{amount:,}" if whole else f"{amount // 100:,}.{amount % 100:02d}"
    symbol = _SYMBOLS.get(currency)
    return f"{symbol}{units}" if symbol else f"{units} {currency.upper()}"


@dataclass
class LineItem:
    name: str
    unit_amount: int
    quantity: int
    currency: str
    id: str = field(default_factory=lambda: new_id("li_"))
    price_id: str = field(default_factory=lambda: new_id("price_"))
    product_id: str = field(default_factory=lambda: new_id("prod_", 14))

    @property
    def amount_total(self) -> int:
        return self.unit_amount * self.quantity


@dataclass
class ShippingRate:
    """An inline `shipping_rate_data` of a session (validated in .shipping)."""

    display_name: str
    amount: int
    currency: str
    delivery_estimate: dict[str, dict[str, Any] | None] | None
    metadata: dict[str, str]
    id: str = field(default_factory=lambda: new_id("shr_"))


@dataclass
class Session:
    created: int
    expires_at: int
    currency: str
    line_items: list[LineItem]
    success_url: str
    cancel_url: str | None
    client_reference_id: str | None
    customer_email: str | None
    metadata: dict[str, str]
    payment_intent_metadata: dict[str, str]
    capture_method: str = "automatic"
    # `shipping_options`; the first is the selected one, whose amount is charged.
    shipping_rates: list[ShippingRate] = field(default_factory=list)
    id: str = field(default_factory=lambda: new_id("cs_test_", 58))
    status: str = "open"
    payment_status: str = "unpaid"
    payment_intent: str | None = None
    # `mode=setup` saves a card and charges nothing; `customer` is who the card is saved for.
    mode: str = "payment"
    customer: str | None = None
    setup_intent: str | None = None
    setup_intent_metadata: dict[str, str] = field(default_factory=dict)
    # `payment_intent_data[setup_future_usage]`: the card paid with is saved on `customer`.
    setup_future_usage: str | None = None

    @property
    def amount_subtotal(self) -> int:
        return sum(item.amount_total for item in self.line_items)

    @property
    def amount_shipping(self) -> int:
        return self.shipping_rates[0].amount if self.shipping_rates else 0

    @property
    def amount_total(self) -> int:
        return self.amount_subtotal + self.amount_shipping

    @property
    def return_url(self) -> str:
        """Where the customer goes after paying: Stripe fills in `{CHECKOUT_SESSION_ID}`."""
        return self.success_url.replace("{CHECKOUT_SESSION_ID}", self.id)


@dataclass
class Payment:
    """The PaymentIntent and its one Charge, created when a session is paid.

    With `capture_method` manual the charge is only authorised (`requires_capture`)
    until captured, cancelled or lapsed. Money released from an authorisation (a
    cancellation, a lapse, the rest of a partial capture) is not a refund: since API
    version 2025-03-31.basil Stripe leaves the charge's `amount_refunded` and
    `refunded` alone and creates no Refund for it, so `amount_received -
    amount_refunded` is what is left to refund.
    """

    session_id: str
    amount: int
    currency: str
    created: int
    metadata: dict[str, str]
    receipt_email: str | None
    capture_method: str = "automatic"
    status: str = "succeeded"
    amount_received: int = 0
    amount_refunded: int = 0
    canceled_at: int | None = None
    cancellation_reason: str | None = None
    payment_intent: str = field(default_factory=lambda: new_id("pi_"))
    charge: str = field(default_factory=lambda: new_id("ch_"))
    payment_method: str | None = field(default_factory=lambda: new_id("pm_"))
    # Stripe's `last_payment_error` of the latest failed attempt (None once one succeeds).
    last_payment_error: dict[str, Any] | None = None
    customer: str | None = None
    description: str | None = None
    setup_future_usage: str | None = None

    @property
    def refunded(self) -> bool:
        return self.captured and self.amount_refunded >= self.amount_received

    @property
    def amount_capturable(self) -> int:
        return self.amount if self.status == "requires_capture" else 0

    @property
    def captured(self) -> bool:
        return self.amount_received > 0

    @property
    def capture_before(self) -> int | None:
        return self.created + AUTHORISATION_WINDOW if self.capture_method == "manual" else None


@dataclass
class Refund:
    amount: int
    currency: str
    created: int
    charge: str
    payment_intent: str
    reason: str | None
    metadata: dict[str, str]
    id: str = field(default_factory=lambda: new_id("re_"))


@dataclass
class Event:
    type: str
    created: int
    data: dict[str, Any]
    request: dict[str, str | None]
    id: str = field(default_factory=lambda: new_id("evt_"))
    pending_webhooks: int = 0
    attempts: list[dict[str, Any]] = field(default_factory=list)


def session_json(session: Session, public_url: str) -> dict[str, Any]:
    # A setup session charges nothing: Stripe sends no amounts for it.
    setup = session.mode == "setup"
    paid = session.status == "complete"
    return {
        "id": session.id,
        "object": "checkout.session",
        "amount_subtotal": None if setup else session.amount_subtotal,
        "amount_total": None if setup else session.amount_total,
        "automatic_tax": {"enabled": False, "liability": None, "status": None},
        "cancel_url": session.cancel_url,
        "client_reference_id": session.client_reference_id,
        "created": session.created,
        "currency": session.currency,
        "customer": session.customer,
        "customer_details": (
            {"email": session.customer_email, "name": None, "phone": None, "address": None}
            if paid
            else None
        ),
        "customer_email": session.customer_email,
        "expires_at": session.expires_at,
        "livemode": False,
        "metadata": dict(session.metadata),
        "mode": session.mode,
        "payment_intent": session.payment_intent,
        "payment_link": None,
        "payment_method_types": ["card"],
        "payment_status": session.payment_status,
        "setup_intent": session.setup_intent,
        "status": session.status,
        "success_url": session.success_url,
        **shipping_json(session.shipping_rates),
        "total_details": {
            "amount_discount": 0,
            "amount_shipping": session.amount_shipping,
            "amount_tax": 0,
        },
        "ui_mode": "hosted",
        # Stripe drops the URL once the session can no longer be paid.
        "url": f"{public_url}/pay/{session.id}" if session.status == "open" else None,
    }


def shipping_rate_json(rate: ShippingRate, created: int) -> dict[str, Any]:
    """A ShippingRate as Stripe renders it when expanded (`stripe.ShippingRate`)."""
    return {
        "id": rate.id,
        "object": "shipping_rate",
        "active": True,
        "created": created,
        "delivery_estimate": rate.delivery_estimate,
        "display_name": rate.display_name,
        "fixed_amount": {"amount": rate.amount, "currency": rate.currency},
        "livemode": False,
        "metadata": dict(rate.metadata),
        "tax_behavior": "unspecified",
        "tax_code": None,
        "type": "fixed_amount",
    }


def shipping_json(rates: list[ShippingRate]) -> dict[str, Any]:
    """The session fields about shipping: the selected (first) rate's cost, all options."""
    selected = rates[0] if rates else None
    return {
        "shipping_cost": (
            {
                "amount_subtotal": selected.amount,
                "amount_tax": 0,
                "amount_total": selected.amount,
                "shipping_rate": selected.id,
            }
            if selected
            else None
        ),
        "shipping_options": [
            {"shipping_amount": rate.amount, "shipping_rate": rate.id} for rate in rates
        ],
    }


def line_item_json(item: LineItem, created: int) -> dict[str, Any]:
    return {
        "id": item.id,
        "object": "item",
        "amount_discount": 0,
        "amount_subtotal": item.amount_total,
        "amount_tax": 0,
        "amount_total": item.amount_total,
        "currency": item.currency,
        "description": item.name,
        "price": {
            "id": item.price_id,
            "object": "price",
            "active": False,
            "created": created,
            "currency": item.currency,
            "livemode": False,
            "metadata": {},
            "product": item.product_id,
            "type": "one_time",
            "unit_amount": item.unit_amount,
            "unit_amount_decimal": str(item.unit_amount),
        },
        "quantity": item.quantity,
    }


def charge_json(payment: Payment) -> dict[str, Any]:
    body = {
        "id": payment.charge,
        "object": "charge",
        "amount": payment.amount,
        "amount_captured": payment.amount_received,
        "amount_refunded": payment.amount_refunded,
        "captured": payment.captured,
        "created": payment.created,
        "currency": payment.currency,
        "customer": payment.customer,
        "livemode": False,
        "metadata": dict(payment.metadata),
        "paid": True,
        "payment_intent": payment.payment_intent,
        "payment_method": payment.payment_method,
        "receipt_email": payment.receipt_email,
        "refunded": payment.refunded,
        # An authorised charge has succeeded; `captured` says whether money moved.
        "status": "succeeded",
    }
    if payment.capture_method == "manual":
        body["payment_method_details"] = {
            "type": "card",
            "card": {"capture_before": payment.capture_before},
        }
    return body


def payment_intent_json(payment: Payment) -> dict[str, Any]:
    """The PaymentIntent as `stripe.PaymentIntent` types it (fields the stand-in never varies
    are constants)."""
    return {
        "id": payment.payment_intent,
        "object": "payment_intent",
        "amount": payment.amount,
        "amount_capturable": payment.amount_capturable,
        "amount_details": {"tip": {}},
        "amount_received": payment.amount_received,
        "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": None,
        "canceled_at": payment.canceled_at,
        "cancellation_reason": payment.cancellation_reason,
        "capture_method": payment.capture_method,
        "client_secret": f"{payment.payment_intent}_secret_{payment.charge[3:]}",
        "confirmation_method": "automatic",
        "created": payment.created,
        "currency": payment.currency,
        "customer": payment.customer,
        "description": payment.description,
        "last_payment_error": payment.last_payment_error,
        "latest_charge": payment.charge,
        "livemode": False,
        "metadata": dict(payment.metadata),
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": payment.payment_method,
        "payment_method_types": ["card"],
        "processing": None,
        "receipt_email": payment.receipt_email,
        "review": None,
        "setup_future_usage": payment.setup_future_usage,
        "shipping": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": payment.status,
        "transfer_data": None,
        "transfer_group": None,
    }


def refund_json(refund: Refund) -> dict[str, Any]:
    return {
        "id": refund.id,
        "object": "refund",
        "amount": refund.amount,
        "charge": refund.charge,
        "created": refund.created,
        "currency": refund.currency,
        "metadata": dict(refund.metadata),
        "payment_intent": refund.payment_intent,
        "reason": refund.reason,
        "status": "succeeded",
    }


def event_json(event: Event) -> dict[str, Any]:
    return {
        "id": event.id,
        "object": "event",
        "api_version": API_VERSION,
        "created": event.created,
        "data": event.data,
        "livemode": False,
        "pending_webhooks": event.pending_webhooks,
        "request": dict(event.request),
        "type": event.type,
    }


def list_json(data: list[dict[str, Any]], *, has_more: bool, url: str) -> dict[str, Any]:
    return {"object": "list", "data": data, "has_more": has_more, "url": url}
