"""What each Stripe event does to its order, and `EVENTS`: the one table of event types.

A handler gets the order the event is about, locked (None when the event is no
order's own, see `lookup.event_order`), and the event's object; it returns the
outcome recorded on the event. A move the order cannot make raises ValidationError,
which `events.process_event` records as refused.

To handle a new event type, write its handler here and add one row to `EVENTS`;
`confirms=True` sends it to the task that confirms payments (its own name, so
workers and monitoring can tell confirmations apart), everything else to the task
for other events.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..models import AutoRefillCycle, Discrepancy, Order, OrderStatus, PaymentEvent
from ..services.lifecycle import order_cancel, order_mark_paid, order_mark_refunded
from .cards import setup_session_completed
from .discrepancies import (
    fully_refunded,
    money,
    note_refunded_amount,
    pays_exactly,
    refunds_of,
    session_amount,
    text,
    usd,
)
from .discrepancies import record as record_discrepancy
from .failures import intent_payment_failed
from .intents import intent_canceled, intent_capturable, intent_succeeded, session_authorised
from .lookup import named_order
from .refunds import refund_stray_payment

logger = logging.getLogger(__name__)

Handler = Callable[[Order | None, dict[str, Any]], str]


def _foreign_session_completed(session: dict[str, Any]) -> str:
    named = named_order(session)
    if named is None:
        amount, currency = session_amount(session)
        record_discrepancy(
            kind=Discrepancy.Kind.PAID_NO_ORDER,
            order=None,
            session=session,
            detail=f"A paid Checkout Session of no order ({money(amount, currency)}).",
        )
        return "paid session of no order: recorded as a discrepancy, not refunded"
    named = Order.objects.select_for_update().get(pk=named.pk)  # one stray refund at a time
    why = f"a session that is not its own names order {named.number}"
    return refund_stray_payment(
        kind=Discrepancy.Kind.FOREIGN_SESSION, order=named, session=session, why=why
    )[1]


def session_completed(order: Order | None, session: dict[str, Any]) -> str:
    if session.get("mode") == "setup":
        # A card saved for auto-refill (payments.cards): it pays no order.
        return setup_session_completed(session)
    if order is not None and order.is_manual_capture:
        # Never paid by the session alone: it waits for the pharmacist (payments.intents).
        return session_authorised(order, session)
    if session.get("payment_status") != "paid":
        return f"checkout completed, payment {session.get('payment_status')}: waiting"
    if order is None:
        return _foreign_session_completed(session)
    intent = text(session.get("payment_intent"))
    if not pays_exactly(order, session):
        amount, currency = session_amount(session)
        why = (
            f"amount or currency mismatch: {money(amount, currency)} paid for "
            f"order {order.number} of {order.total:.2f} {order.currency.upper()}"
        )
        return refund_stray_payment(
            kind=Discrepancy.Kind.AMOUNT_MISMATCH, order=order, session=session, why=why
        )[1]
    if order.status == OrderStatus.CANCELLED:
        return refund_stray_payment(
            kind=Discrepancy.Kind.LATE_PAYMENT,
            order=order,
            session=session,
            why="paid after cancellation",
        )[1]
    if order.status != OrderStatus.PENDING_PAYMENT:
        if intent and order.stripe_payment_intent and intent != order.stripe_payment_intent:
            return refund_stray_payment(
                kind=Discrepancy.Kind.LATE_PAYMENT,
                order=order,
                session=session,
                why="second payment for a paid order",
            )[1]
        return f"order already {order.status}"
    order_mark_paid(
        order_id=order.pk,
        payment_intent=intent,
        note=f"Paid with Stripe ({intent})",
        locked=order,
    )
    return _refunds_before_payment(order, intent)


def _refunds_before_payment(order: Order, intent: str) -> str:
    """Apply charge.refunded events of this order's own intent that overtook its payment."""
    charges = refunds_of(intent)
    if not charges:
        return "paid"
    PaymentEvent.objects.filter(
        type="charge.refunded", payload__data__object__payment_intent=intent, order=None
    ).update(order=order)
    order.refresh_from_db()
    for charge in charges:
        note_refunded_amount(order, charge)
    if any(fully_refunded(order, charge) for charge in charges):
        order_mark_refunded(
            order_id=order.pk, note="Refunded in Stripe before payment was confirmed"
        )
        return "paid, then refunded (refund recorded before payment)"
    return f"paid; a partial refund of {usd(order.amount_refunded)} was recorded before payment"


def session_expired(order: Order | None, session: dict[str, Any]) -> str:
    if order is None:
        return (
            "a session that is not an order's current one expired (an earlier checkout "
            "session, or not the site's): nothing changes"
        )
    if order.status != OrderStatus.PENDING_PAYMENT:
        return f"order already {order.status}"
    if order.is_payable and AutoRefillCycle.objects.filter(order=order).exists():
        # An auto-refill order whose card was refused stays payable for longer than a
        # session lasts; "Pay now" opens a new one.
        return "session expired; the auto-refill order stays payable until its time to pay"
    order_cancel(order_id=order.pk, note="The payment page closed before payment")
    return "cancelled"


def charge_refunded(order: Order | None, charge: dict[str, Any]) -> str:
    intent = text(charge.get("payment_intent"))
    if order is None:
        stray = Discrepancy.objects.filter(stripe_payment_intent=intent).first() if intent else None
        if stray is not None:
            return f"refund of a stray payment (discrepancy {stray.pk}): nothing changes"
        named = named_order(charge)
        if named is not None and named.status == OrderStatus.PENDING_PAYMENT:
            # It counts only if the order's own session turns out to be paid by this intent.
            return "refund recorded before payment"
        if named is not None:
            return f"refund of {intent or 'a payment'}, not order {named.number}'s: nothing changes"
        return "refund of a payment of no order: nothing changes"
    refunded = note_refunded_amount(order, charge)
    if not fully_refunded(order, charge):
        return (
            f"partial refund of {usd(refunded)} of {usd(order.total)}: order stays {order.status}"
        )
    if order.status == OrderStatus.PAID:
        order_mark_refunded(order_id=order.pk, note=f"Refunded in Stripe ({usd(refunded)})")
        return "refunded"
    if order.status in (OrderStatus.DISPATCHED, OrderStatus.DELIVERED):
        logger.warning("order %s refunded in Stripe after dispatch", order.number)
        return f"order already {order.status}: refunded in Stripe, needs staff attention"
    return f"order already {order.status}"


@dataclass(frozen=True)
class EventType:
    handler: Handler
    confirms: bool = False  # may move an order to paid: queued as a payment confirmation


EVENTS: dict[str, EventType] = {
    "checkout.session.completed": EventType(session_completed, confirms=True),
    "checkout.session.async_payment_succeeded": EventType(session_completed, confirms=True),
    "checkout.session.expired": EventType(session_expired),
    "charge.refunded": EventType(charge_refunded),
    # Manual capture (payments.intents): authorised at checkout, charged after verification.
    "payment_intent.amount_capturable_updated": EventType(intent_capturable),
    "payment_intent.succeeded": EventType(intent_succeeded, confirms=True),
    "payment_intent.canceled": EventType(intent_canceled),
    # A refused card (payments.failures): the order stays payable and its page says why.
    "payment_intent.payment_failed": EventType(intent_payment_failed),
}
