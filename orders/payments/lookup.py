"""Which order a stored Stripe event is about, from what only the site wrote."""

from typing import Any

from ..models import Order
from .discrepancies import text


def event_object(data: dict[str, Any]) -> dict[str, Any]:
    """The object an event carries (`data.object`), or {} for a malformed one."""
    inner = data.get("data")
    obj = inner.get("object") if isinstance(inner, dict) else None
    return obj if isinstance(obj, dict) else {}


def event_order(data: dict[str, Any], *, lock: bool = False) -> Order | None:
    """The order an event is about, from what only the site wrote: never from names.

    A Checkout Session belongs to the order that stored its id when the site created
    it; a PaymentIntent or Charge to the order that stored its intent when its own
    session paid it. `client_reference_id` and metadata are written by whoever makes
    a session (a Payment Link takes them from the URL), so they never pick an order.
    Locked (`lock`), it comes with its patient, whom the emails of its moves are to.
    """
    obj = event_object(data)
    orders = (
        Order.objects.select_for_update(of=("self",)).select_related("patient")
        if lock
        else Order.objects.all()
    )
    if obj.get("object") == "checkout.session":
        session_id = text(obj.get("id"))
        return orders.filter(stripe_session_id=session_id).first() if session_id else None
    is_intent = obj.get("object") == "payment_intent"
    intent = text(obj.get("id") if is_intent else obj.get("payment_intent"))
    return orders.filter(stripe_payment_intent=intent).first() if intent else None


def named_order(obj: dict[str, Any]) -> Order | None:
    """The order a session or charge *names*: only to say whose payment a stray one claims."""
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    for number in (text(obj.get("client_reference_id")), text(metadata.get("order_number"))):
        if number and (order := Order.objects.filter(number=number).first()):
            return order
    return None
