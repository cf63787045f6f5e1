"""The events of an authorised card: a manual-capture order's session, and its PaymentIntent.

A manual order's Checkout Session completes with `payment_status` "unpaid": the card
is authorised, nothing charged. The session's word is not enough: the PaymentIntent
is read back from Stripe and the order becomes authorised only if Stripe holds
exactly its total, in its currency, ready to capture. Then the order waits for the
pharmacist (`settlement.order_settle`). The intent's own events follow: a capture
made elsewhere pays it, a cancellation (Stripe's lapse, or staff at Stripe) cancels
it once.

Handlers as in `handlers`: (locked order or None, event object) -> outcome.
"""

import logging
from datetime import UTC, datetime
from typing import Any

import stripe
from django.utils import timezone

from ..models import AUTHORISATION_LIFETIME, Discrepancy, Order, OrderStatus
from ..services.lifecycle import order_cancel, order_mark_authorised, order_mark_paid
from .client import stripe_client, transient_as_unavailable
from .discrepancies import money, session_amount, text
from .discrepancies import record as record_discrepancy
from .settlement import cancel_at_stripe, order_settle

logger = logging.getLogger(__name__)


def _capture_before(intent: dict[str, Any]):
    """Stripe's deadline for capturing, from the charge; else 7 days from now."""
    charge = intent.get("latest_charge")
    card = {}
    if isinstance(charge, dict):
        details = charge.get("payment_method_details") or {}
        card = details.get("card") or {} if isinstance(details, dict) else {}
    seconds = card.get("capture_before") if isinstance(card, dict) else None
    if type(seconds) is int and seconds > 0:
        return datetime.fromtimestamp(seconds, tz=UTC)
    return timezone.now() + AUTHORISATION_LIFETIME


def _retrieve(intent_id: str) -> dict[str, Any]:
    with transient_as_unavailable():
        return (
            stripe_client()
            .v1.payment_intents.retrieve(intent_id, params={"expand": ["latest_charge"]})
            .to_dict()
        )


def _holds_exactly(order: Order, session: dict[str, Any], intent: dict[str, Any]) -> bool:
    """Stripe holds the order's total, in its currency, ready to capture; or (a session
    that charged at once after all) took exactly that, which then waits all the same."""
    held = {"requires_capture": "amount_capturable", "succeeded": "amount_received"}
    amount = intent.get(held.get(text(intent.get("status")), ""))
    return (
        session.get("id") == order.stripe_session_id
        and type(amount) is int
        and amount == order.total_cents
        and text(intent.get("currency")).lower() == order.currency.lower()
    )


def session_authorised(order: Order, session: dict[str, Any]) -> str:
    """`checkout.session.completed` of a manual-capture order's own session: authorised,
    never paid here, so nothing is dispatched before a pharmacist verifies."""
    if session.get("payment_status") not in ("unpaid", "paid"):
        return f"checkout completed, payment {session.get('payment_status')}: waiting"
    intent_id = text(session.get("payment_intent"))
    if not intent_id:
        return "checkout completed, unpaid, with no payment intent: waiting"
    if order.status == OrderStatus.AUTHORISED and order.stripe_payment_intent == intent_id:
        return "order already authorised"
    if order.status != OrderStatus.PENDING_PAYMENT:
        if order.status == OrderStatus.CANCELLED:
            _release(order, intent_id)
            return "authorised after the order was cancelled: the authorisation was cancelled"
        return f"order already {order.status}"
    intent = _retrieve(intent_id)
    if not _holds_exactly(order, session, intent):
        amount, currency = session_amount(session)
        held = intent.get("amount_capturable")
        record_discrepancy(
            kind=Discrepancy.Kind.AMOUNT_MISMATCH,
            order=order,
            session=session,
            detail=(
                f"authorisation {intent_id} ({intent.get('status')}, {held} capturable of "
                f"{money(amount, currency)}) does not hold order {order.number}'s "
                f"{order.total:.2f} {order.currency.upper()}"
            ),
        )
        _release(order, intent_id)
        return "authorisation does not match the order: recorded, authorisation cancelled"
    order_mark_authorised(
        order_id=order.pk, payment_intent=intent_id, capture_before=_capture_before(intent)
    )
    return "authorised: waiting for the pharmacist"


def _release(order: Order, intent_id: str) -> None:
    """Cancel an authorisation that must not pay this order (one order, one key)."""
    try:
        cancel_at_stripe(payment_intent=intent_id, number=order.number, reason="abandoned")
    except stripe.InvalidRequestError:
        logger.exception("could not cancel authorisation %s of order %s", intent_id, order.number)


def intent_capturable(order: Order | None, intent: dict[str, Any]) -> str:
    """`payment_intent.amount_capturable_updated`: the session's completion acts on it."""
    if order is None:
        return "authorisation of no order yet: waiting for its session"
    return f"{intent.get('amount_capturable')} capturable; order {order.status}"


def intent_succeeded(order: Order | None, intent: dict[str, Any]) -> str:
    """`payment_intent.succeeded`: for an authorised order, a capture, ours or made at Stripe."""
    if order is None:
        return "payment of no order yet: its session confirms it"
    if (
        order.status == OrderStatus.PENDING_PAYMENT
        and not order.is_manual_capture
        and order.stripe_payment_intent == intent.get("id")
        and intent.get("amount_received") == order.total_cents
    ):
        # The site's own off-session charge (auto-refill) that was still processing.
        order_mark_paid(order_id=order.pk, payment_intent=order.stripe_payment_intent)
        return "paid"
    if order.status != OrderStatus.AUTHORISED:
        return f"order already {order.status}"
    # A capture made at Stripe: settling finds it captured and pays the order, if its
    # prescriptions are verified; an unverified order is never paid (and so never
    # dispatched) by a capture alone, and stays for the pharmacist, then staff.
    outcome = order_settle(order_id=order.pk)
    if outcome == "waiting for the pharmacist":
        logger.warning("order %s captured at Stripe before verification", order.number)
        return "captured at Stripe before verification: waits for the pharmacist, check it"
    return outcome


_LAPSED = "the hold on your card ran out at the bank before a pharmacist verified your prescription"
# A lapsed hold: `expired` since API version 2025-03-31.basil, `automatic` before it.
STRIPE_REASONS = {"expired": _LAPSED, "automatic": _LAPSED}


def intent_canceled(order: Order | None, intent: dict[str, Any]) -> str:
    """`payment_intent.canceled`: the hold lapsed, or was cancelled at Stripe; cancel once."""
    if order is None:
        return "cancelled authorisation of no order: nothing changes"
    if order.status != OrderStatus.AUTHORISED:
        return f"order already {order.status}"
    reason = text(intent.get("cancellation_reason"))
    note = STRIPE_REASONS.get(reason, "the payment was cancelled at the bank")
    order_cancel(order_id=order.pk, note=note, hold_released=True)
    return f"authorisation {reason or 'cancelled'} at Stripe: cancelled"
