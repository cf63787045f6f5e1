"""Verifying a Stripe webhook request before anything of it is stored.

A request is an event only when its `Stripe-Signature` is the HMAC of the exact body
under the endpoint's secret, signed within the tolerance of our clock (in either
direction), and its body is a JSON object with an id and a type, of sane depth.
Anything else raises a `WebhookError`, which the view answers with 400.
"""

import json
import time
from typing import Any

import stripe
from django.conf import settings


class WebhookError(ValueError):
    """A webhook request that cannot be trusted or read; answered 400, nothing stored."""


class WebhookSignatureError(WebhookError):
    """Missing, forged or stale `Stripe-Signature`, or no webhook secret configured."""


class WebhookPayloadError(WebhookError):
    """Correctly signed, but not a Stripe event."""


# Stripe's own default: a signature more than five minutes from our clock, either way,
# is refused, so a captured request cannot be replayed later, nor one signed ahead.
WEBHOOK_TOLERANCE = stripe.Webhook.DEFAULT_TOLERANCE
# Stripe's events nest about ten levels deep; far deeper is an attack on the parser.
MAX_EVENT_DEPTH = 64


def _signed_at(signature: str) -> int:
    """The `t=` of a header Stripe's own parser has read (the first one, as it does)."""
    for item in signature.split(","):
        parts = item.split("=", 2)
        if parts[0] == "t":
            return int(parts[1])
    raise ValueError("no timestamp")


def _too_deep(value: Any, limit: int = MAX_EVENT_DEPTH) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
    return False


def verified_event(payload: bytes, signature: str | None) -> dict[str, Any]:
    """The event, once its signature and time are checked and its body is a sane event.

    `verify_header` checks the HMAC and refuses an old timestamp but not one from the
    future, so that is checked here. The JSON is parsed once, here (not also by
    `construct_event`), with RecursionError caught: a deeply nested body is a 400.
    """
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        raise WebhookSignatureError("STRIPE_WEBHOOK_SECRET is not configured.")
    if not signature:
        raise WebhookSignatureError("Missing Stripe-Signature header.")
    try:
        stripe.WebhookSignature.verify_header(payload, signature, secret, WEBHOOK_TOLERANCE)
        signed_at = _signed_at(signature)
    except stripe.SignatureVerificationError as exc:
        raise WebhookSignatureError(f"Invalid signature: {exc.user_message or exc}") from exc
    except ValueError as exc:  # a body that is not UTF-8
        raise WebhookPayloadError("The payload is not a JSON Stripe event.") from exc
    if signed_at > time.time() + WEBHOOK_TOLERANCE:
        raise WebhookSignatureError("Invalid signature: timestamp too far in the future.")
    try:
        data = json.loads(payload)
    except RecursionError as exc:
        raise WebhookPayloadError("The payload is nested too deeply.") from exc
    except (ValueError, TypeError) as exc:
        raise WebhookPayloadError("The payload is not a JSON Stripe event.") from exc
    if _too_deep(data):
        raise WebhookPayloadError("The payload is nested too deeply.")
    if not isinstance(data, dict) or not data.get("id") or not data.get("type"):
        raise WebhookPayloadError("The payload is not a Stripe event (no id or type).")
    if not isinstance(data["id"], str) or not isinstance(data["type"], str):
        raise WebhookPayloadError("The payload is not a Stripe event (no id or type).")
    return data
