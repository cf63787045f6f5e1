"""A refused card: `payment_intent.payment_failed`, for the order the intent was meant to pay.

On the hosted page a declined card leaves the session open, and the order waiting
for payment; the order page then says the card was declined and offers to pay again.
An intent made by a Checkout Session is not stored on the order before it pays, so
the order is found through the session Stripe says the intent belongs to, whose id
only the site wrote (`lookup.event_order`'s rule: never from names). An intent the
site made itself (an off-session charge of a saved card) is stored on its order.

Handlers as in `handlers`: (locked order or None, event object) -> outcome.
"""

from typing import Any

from ..models import Order, OrderStatus
from ..services.lifecycle import order_note_payment_failed
from .client import stripe_client, transient_as_unavailable
from .discrepancies import text

DEFAULT_MESSAGE = "Your card was declined."


def _order_of_session_intent(intent_id: str) -> Order | None:
    """The order whose own Checkout Session made this intent, locked; None if none."""
    with transient_as_unavailable():
        sessions = stripe_client().v1.checkout.sessions.list(
            params={"payment_intent": intent_id, "limit": 1}
        )
    for session in sessions.data:
        order = Order.objects.select_for_update().filter(stripe_session_id=session.id).first()
        if order is not None:
            return order
    return None


def decline_message(intent: dict[str, Any]) -> tuple[str, str]:
    """(the bank's message as Stripe words it for the cardholder, the attempt's charge)."""
    error = intent.get("last_payment_error")
    error = error if isinstance(error, dict) else {}
    message = text(error.get("message"))[:250] or DEFAULT_MESSAGE
    return message, text(error.get("charge")) or text(intent.get("id"))


def intent_payment_failed(order: Order | None, intent: dict[str, Any]) -> str:
    """`payment_intent.payment_failed`: recorded on the order still waiting for payment."""
    intent_id = text(intent.get("id"))
    if order is None and intent_id:
        order = _order_of_session_intent(intent_id)
    if order is None:
        return "failed payment of no order: nothing changes"
    if order.status != OrderStatus.PENDING_PAYMENT:
        return f"order already {order.status}: the failed attempt changes nothing"
    message, attempt = decline_message(intent)
    # Off-session (the site's own intent, no session page): the patient was not there.
    email = bool(intent_id) and order.stripe_payment_intent == intent_id
    if not order_note_payment_failed(
        order_id=order.pk, message=message, attempt=attempt, email=email
    ):
        return "card declined: already recorded"
    return "card declined: recorded, the order stays payable"
