"""The one Stripe client, for Stripe itself and the stand-in, and its retryable failures."""

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import stripe
from django.conf import settings


class StripeUnavailable(stripe.StripeError):
    """Stripe could not answer now (network, rate limit, its own 5xx); retrying may work.

    Nothing was changed on the site when this is raised. A `stripe.StripeError`, so
    code that already catches Stripe's errors (the checkout view) catches it too.
    """


def stripe_client() -> stripe.StripeClient:
    """The one client for production and the stand-in: only the base address differs."""
    options: dict[str, Any] = {"max_network_retries": settings.STRIPE_MAX_NETWORK_RETRIES}
    if settings.STRIPE_API_BASE:
        options["base_addresses"] = {"api": settings.STRIPE_API_BASE}
    return stripe.StripeClient(settings.STRIPE_SECRET_KEY, **options)


@contextmanager
def transient_as_unavailable() -> Iterator[None]:
    """Turn Stripe's retryable failures into one exception callers can show or retry."""
    try:
        yield
    except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
        raise StripeUnavailable(f"Stripe could not be reached: {exc.user_message or exc}") from exc
    except stripe.APIError as exc:
        raise StripeUnavailable(f"Stripe failed to answer: {exc.user_message or exc}") from exc


def to_cents(amount: Decimal) -> int:
    """Stripe's integer minor units from a Decimal price, without ever passing through float."""
    return int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
