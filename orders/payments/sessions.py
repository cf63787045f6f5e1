"""The hosted payment page of an order: Stripe Checkout Sessions, one open at a time."""

import logging
import time
from typing import Any

import stripe
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from ..models import Order, OrderStatus
from .client import stripe_client, to_cents, transient_as_unavailable

logger = logging.getLogger(__name__)

# Stripe refuses a session that expires sooner than 30 minutes after its creation;
# the extra minute covers the clock difference and the request's own travel time.
MIN_SESSION_SECONDS = 30 * 60 + 60
# And sooner than 24 hours, less the same minute.
MAX_SESSION_SECONDS = 24 * 3600 - 60


def _session_params(order: Order, attempt: int) -> dict[str, Any]:
    lines = list(order.lines.all())
    items = [
        {
            "price_data": {
                "currency": order.currency,
                "unit_amount": to_cents(line.package_price),
                "product_data": {"name": line.description},
            },
            "quantity": line.quantity,
        }
        for line in lines
    ]
    shipping = to_cents(order.shipping_price)
    items_cents = sum(to_cents(line.package_price) * line.quantity for line in lines)
    if items_cents + shipping != order.total_cents:
        # Charging anything but the order's total would be worse than not charging.
        raise ValidationError(
            f"Order {order.number}: its lines and delivery do not add up to its total."
        )
    metadata = {"order_number": order.number}
    intent_data: dict[str, Any] = {"metadata": metadata}
    if order.is_manual_capture:
        # Authorise now, charge once the pharmacist verifies (payments.settlement).
        intent_data["capture_method"] = "manual"
    order_url = settings.SITE_URL.rstrip("/") + order.get_absolute_url()
    params: dict[str, Any] = {
        "mode": "payment",
        "line_items": items,
        "client_reference_id": order.number,
        # `checkout_attempt` numbers the sessions of one order for the idempotency key.
        "metadata": {**metadata, "checkout_attempt": str(attempt)},
        "payment_intent_data": intent_data,
        "customer_email": order.patient.email,
        "success_url": order_url + "?paid=1",
        "cancel_url": order_url,
        # Between Stripe's bounds: an auto-refill order is payable longer than a session.
        "expires_at": min(
            max(int(order.payment_due_by.timestamp()), int(time.time()) + MIN_SESSION_SECONDS),
            int(time.time()) + MAX_SESSION_SECONDS,
        ),
    }
    if order.shipping_name:
        params["shipping_options"] = [_shipping_option(order, shipping)]
    elif shipping:
        raise ValidationError(f"Order {order.number}: its delivery has a price but no name.")
    return params


def _shipping_option(order: Order, amount: int) -> dict[str, Any]:
    """The order's own delivery, as the one shipping rate of its session.

    Only the option the patient chose at checkout is sent, so Stripe's page shows it
    and charges it (the session's amount_total is the lines plus it) and offers no
    other; a patient cannot change what an order costs on Stripe's page.
    """
    rate: dict[str, Any] = {
        "type": "fixed_amount",
        "display_name": order.shipping_name,
        "fixed_amount": {"amount": amount, "currency": order.currency},
    }
    if order.shipping_days_min and order.shipping_days_max:
        rate["delivery_estimate"] = {
            "minimum": {"unit": "business_day", "value": order.shipping_days_min},
            "maximum": {"unit": "business_day", "value": order.shipping_days_max},
        }
    return {"shipping_rate_data": rate}


def _create_session(client: stripe.StripeClient, params: dict[str, Any], key: str):
    create = client.v1.checkout.sessions.create
    try:
        return create(params=params, options={"idempotency_key": key})
    except stripe.IdempotencyError:
        # The key was spent by an earlier call whose session was never saved here (a crash
        # between Stripe and the database) and `expires_at` has moved with the clock since.
        # That session's URL was never shown, so nobody can pay it; it just expires.
        logger.warning("idempotency key %s reused with other parameters; new key", key)
        return create(params=params, options={"idempotency_key": f"{key}-{params['expires_at']}"})


def checkout_session_for(order: Order) -> str:
    """The hosted payment page's URL for `order`, reusing its session while that is open.

    A patient whose card was declined, or who comes back later, pays on the same
    session, so one order can never be paid twice through two open sessions. A new
    session is made only when there is none or the stored one expired.

    Idempotency key `order-<number>-checkout-<n>`: n is 1 for the first session and
    the previous session's `metadata.checkout_attempt` + 1 after it expired, so
    nothing new is stored on the order and a retried request cannot make a second
    session. The order row stays locked meanwhile, so a double click waits for the
    first click's session and gets its URL.
    """
    client = stripe_client()
    with transaction.atomic(), transient_as_unavailable():
        # No select_related: on PostgreSQL it would lock the patient's row too.
        order = Order.objects.select_for_update().get(pk=order.pk)
        if not order.is_payable:
            if order.status == OrderStatus.PENDING_PAYMENT:
                raise ValidationError(f"The time to pay order {order.number} has passed.")
            raise ValidationError(
                f"Order {order.number} is {order.get_status_display().lower()}; it cannot be paid."
            )
        attempt = 1
        if order.stripe_session_id:
            try:
                previous = client.v1.checkout.sessions.retrieve(order.stripe_session_id)
            except stripe.InvalidRequestError as exc:
                if exc.code != "resource_missing":
                    raise
                previous = None  # a restarted stand-in forgets its sessions
            if previous is not None:
                if previous.status == "open" and previous.url:
                    return previous.url
                if previous.status == "complete":
                    raise ValidationError(
                        f"Payment for order {order.number} was received and is being "
                        "confirmed; there is nothing more to pay."
                    )
                metadata = previous.to_dict().get("metadata") or {}
                attempt = int(metadata.get("checkout_attempt") or 1) + 1
        params = _session_params(order, attempt)
        session = _create_session(client, params, f"order-{order.number}-checkout-{attempt}")
        Order.objects.filter(pk=order.pk).update(stripe_session_id=session.id)
    return session.url


def checkout_session_expire(*, order_id: int) -> bool:
    """Close the order's hosted page so a cancelled order cannot be paid; False if not open.

    Call it after an order is cancelled (commit first). Stripe then sends
    checkout.session.expired, which finds the order cancelled and does nothing.
    """
    session_id = Order.objects.values_list("stripe_session_id", flat=True).get(pk=order_id)
    if not session_id:
        return False
    with transient_as_unavailable():
        try:
            stripe_client().v1.checkout.sessions.expire(session_id)
        except stripe.InvalidRequestError as exc:
            if exc.code in ("checkout_session_not_open", "resource_missing"):
                return False
            raise
    return True
