"""Validation of `POST /v1/checkout/sessions`: Stripe's rules and messages for the subset used.

Everything here runs before the session exists, so its errors are never saved
under an idempotency key (a corrected retry with the same key goes through).
"""

import re
from typing import Any
from urllib.parse import urlsplit

from .errors import no_such, param_error
from .objects import LineItem, Session, format_amount
from .params import (
    Params,
    get_dict,
    get_int,
    get_list,
    get_metadata,
    get_str,
    name,
    reject_unknown,
)
from .shipping import shipping_rates

MIN_EXPIRY = 30 * 60
MAX_EXPIRY = 24 * 3600
MAX_AMOUNT = 99_999_999
# Stripe's smallest chargeable amount per currency (in minor units), for the common ones.
MINIMUM_AMOUNT = {"usd": 50, "eur": 50, "cad": 50, "aud": 50, "chf": 50, "gbp": 30, "jpy": 50}

CREATE_PARAMS = {
    "mode",
    "line_items",
    "success_url",
    "cancel_url",
    "client_reference_id",
    "customer_email",
    "metadata",
    "expires_at",
    "payment_intent_data",
    "shipping_options",
    "expand",
    "customer",
    "currency",
    "setup_intent_data",
}
# Accepted because real Stripe accepts them and sites commonly send them; no effect here.
IGNORED_PARAMS = {
    "locale",
    "payment_method_types",
    "submit_type",
    "billing_address_collection",
    "customer_creation",
    "phone_number_collection",
}
# `SessionCreateParamsPaymentIntentData.capture_method` in the `stripe` library; with
# card payments `automatic_async` charges at once like `automatic`.
CAPTURE_METHODS = ("automatic", "automatic_async", "manual")
_CURRENCY = re.compile(r"^[a-z]{3}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def build_session(params: Params, *, now: int, customers: set[str] | None = None) -> Session:
    """A new open session from create params, or the `StripeError` Stripe would answer.

    `customers`: the ids the stand-in knows, for `customer`.
    """
    reject_unknown(params, CREATE_PARAMS | IGNORED_PARAMS)
    mode = get_str(params, "mode", required=True)
    if mode == "subscription":
        raise param_error("mode", "The local Stripe stand-in implements only payment and setup.")
    if mode not in ("payment", "setup"):
        raise param_error("mode", "Invalid mode: must be one of payment, setup, or subscription")
    customer = get_str(params, "customer")
    if customer is not None and customer not in (customers or set()):
        raise no_such("customer", customer, param="customer", status=400)
    if customer is not None and "customer_email" in params:
        raise param_error(
            "customer_email",
            "You may only specify one of these parameters: customer, customer_email.",
        )
    if mode == "setup":
        return _setup_session(params, now=now, customer=customer)
    raw_items = get_list(params, "line_items", required=True) or []
    if len(raw_items) > 100:
        raise param_error("line_items", "Invalid array: line_items can have at most 100 items")
    items = [_line_item(raw, index) for index, raw in enumerate(raw_items)]
    currencies = {item.currency for item in items}
    if len(currencies) > 1:
        raise param_error("line_items", "All line items must use the same currency.")
    currency = currencies.pop()
    rates = shipping_rates(params, currency=currency)
    shipping = rates[0].amount if rates else 0  # the first option is the one selected
    _check_total(sum(item.amount_total for item in items) + shipping, currency)

    intent_data = get_dict(params, "payment_intent_data") or {}
    reject_unknown(
        intent_data,
        {"metadata", "description", "capture_method", "setup_future_usage"},
        "payment_intent_data",
    )
    future = get_str(intent_data, "setup_future_usage", prefix="payment_intent_data")
    if future is not None and future not in ("on_session", "off_session"):
        raise param_error(
            "payment_intent_data[setup_future_usage]",
            "Invalid payment_intent_data[setup_future_usage]: must be one of on_session or "
            "off_session",
        )
    return Session(
        created=now,
        expires_at=_expires_at(params, now),
        currency=currency,
        line_items=items,
        success_url=_url(params, "success_url", required=True) or "",
        cancel_url=_url(params, "cancel_url"),
        client_reference_id=get_str(params, "client_reference_id", max_length=200),
        customer_email=_email(params),
        metadata=get_metadata(params),
        payment_intent_metadata=get_metadata(intent_data, prefix="payment_intent_data"),
        capture_method=_capture_method(intent_data),
        shipping_rates=rates,
        customer=customer,
        setup_future_usage=future,
    )


def _setup_session(params: Params, *, now: int, customer: str | None) -> Session:
    """`mode=setup`: saves a card for later (off-session) payments; charges nothing."""
    for refused in ("line_items", "payment_intent_data"):
        if refused in params:
            raise param_error(refused, f"You cannot pass `{refused}` in `setup` mode.")
    setup_data = get_dict(params, "setup_intent_data") or {}
    reject_unknown(setup_data, {"metadata", "description"}, "setup_intent_data")
    currency = get_str(params, "currency")
    if currency is not None and not _CURRENCY.match(currency.lower()):
        raise param_error("currency", f"Invalid currency: {currency}")
    return Session(
        created=now,
        expires_at=_expires_at(params, now),
        currency=currency.lower() if currency else None,
        line_items=[],
        success_url=_url(params, "success_url", required=True) or "",
        cancel_url=_url(params, "cancel_url"),
        client_reference_id=get_str(params, "client_reference_id", max_length=200),
        customer_email=_email(params),
        metadata=get_metadata(params),
        payment_intent_metadata={},
        mode="setup",
        customer=customer,
        payment_status="no_payment_required",
        setup_intent_metadata=get_metadata(setup_data, prefix="setup_intent_data"),
    )


def _line_item(raw: Any, index: int) -> LineItem:
    prefix = f"line_items[{index}]"
    if not isinstance(raw, dict):
        raise param_error(prefix, f"Invalid hash: {prefix} must be a hash")
    reject_unknown(raw, {"price_data", "quantity", "price"}, prefix)
    if "price" in raw:
        # The stand-in keeps no Price objects, so every price id is one Stripe would not know.
        raise no_such("price", str(raw["price"]), param=name(prefix, "price"), status=400)
    price_prefix = name(prefix, "price_data")
    price_data = get_dict(raw, "price_data", prefix=prefix, required=True) or {}
    reject_unknown(price_data, {"currency", "unit_amount", "product_data"}, price_prefix)
    currency = (get_str(price_data, "currency", prefix=price_prefix, required=True) or "").lower()
    if not _CURRENCY.match(currency):
        raise param_error(name(price_prefix, "currency"), f"Invalid currency: {currency}")
    unit_amount = get_int(price_data, "unit_amount", prefix=price_prefix, required=True, minimum=0)
    product_prefix = name(price_prefix, "product_data")
    product = get_dict(price_data, "product_data", prefix=price_prefix, required=True) or {}
    reject_unknown(product, {"name", "description", "images", "metadata"}, product_prefix)
    product_name = get_str(product, "name", prefix=product_prefix, required=True)
    quantity = get_int(raw, "quantity", prefix=prefix, required=True, minimum=1)
    return LineItem(
        name=product_name or "",
        unit_amount=unit_amount or 0,
        quantity=quantity or 0,
        currency=currency,
    )


def _check_total(total: int, currency: str) -> None:
    minimum = MINIMUM_AMOUNT.get(currency, 0)
    if total < minimum:
        raise param_error(
            "line_items",
            "The Checkout Session's total amount due must add up to at least "
            f"{format_amount(minimum, currency)} {currency}",
        )
    if total > MAX_AMOUNT:
        raise param_error(
            "line_items",
            f"Amount must be no more than {format_amount(MAX_AMOUNT, currency)}",
        )


def _expires_at(params: Params, now: int) -> int:
    expires_at = get_int(params, "expires_at")
    if expires_at is None:
        return now + MAX_EXPIRY
    if expires_at < now + MIN_EXPIRY:
        raise param_error(
            "expires_at",
            "The `expires_at` timestamp must be at least 30 minutes from Checkout Session "
            "creation.",
        )
    if expires_at > now + MAX_EXPIRY:
        raise param_error(
            "expires_at",
            "The `expires_at` timestamp must be less than 24 hours from Checkout Session creation.",
        )
    return expires_at


def _url(params: Params, key: str, *, required: bool = False) -> str | None:
    value = get_str(params, key, required=required, max_length=5000)
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise param_error(key, "Not a valid URL")
    return value


def _email(params: Params) -> str | None:
    value = get_str(params, "customer_email", max_length=800)
    if value is not None and not _EMAIL.match(value):
        raise param_error("customer_email", f"Invalid email address: {value}")
    return value


def _capture_method(intent_data: Params) -> str:
    value = get_str(intent_data, "capture_method", prefix="payment_intent_data")
    if value is None:
        return "automatic"
    if value not in CAPTURE_METHODS:
        raise param_error(
            "payment_intent_data[capture_method]",
            "Invalid payment_intent_data[capture_method]: must be one of automatic, "
            "automatic_async, or manual",
        )
    return value
