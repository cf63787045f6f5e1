"""Giving money back: a paid order refunded by staff, or a payment that pays no order."""

import logging
from typing import Any

import stripe
from django.core.exceptions import ValidationError
from django.db import transaction

from ..models import Discrepancy, Order, OrderStatus
from ..services.lifecycle import order_mark_refunded
from .client import StripeUnavailable, stripe_client, transient_as_unavailable
from .discrepancies import money, refunded_stray, refunds_of, session_amount, text
from .discrepancies import record as record_discrepancy

logger = logging.getLogger(__name__)


def refund_at_stripe(*, payment_intent: str, idempotency_key: str) -> str:
    """Refund a whole payment; returns the refund id, or "" if it was already refunded."""
    with transient_as_unavailable():
        try:
            refund = stripe_client().v1.refunds.create(
                params={"payment_intent": payment_intent},
                options={"idempotency_key": idempotency_key},
            )
        except stripe.InvalidRequestError as exc:
            if exc.code == "charge_already_refunded":
                return ""
            raise
    return refund.id


def refund_stray_payment(
    *, kind: str, order: Order | None, session: dict[str, Any], why: str, notify: bool = True
) -> tuple[Discrepancy, str]:
    """Record a payment that pays no order as a discrepancy and give the money back.

    One refund per PaymentIntent, whoever asks (the webhook, a redelivery, the nightly
    run): the idempotency key is the intent's, and a recorded refund is not retried.
    Stripe unreachable or a bad key raises, so the caller's task retries with nothing
    recorded; any other refusal is recorded as failed, for staff to refund by hand.
    """
    intent = text(session.get("payment_intent"))
    status, refund_id, told = Discrepancy.RefundStatus.NOT_REFUNDED, "", ""
    if done := refunded_stray(text(session.get("id"))):
        return done, f"{why}: already recorded and refunded ({done.stripe_refund_id or '-'})"
    if not intent:
        logger.error("stray payment %s (%s) names no payment intent", session.get("id"), why)
        status, told = Discrepancy.RefundStatus.NO_PAYMENT_INTENT, "no payment intent to refund"
    elif any(charge.get("refunded") is True for charge in refunds_of(intent)):
        status, told = Discrepancy.RefundStatus.ALREADY_REFUNDED, "already refunded in Stripe"
    else:
        try:
            refund_id = refund_at_stripe(
                payment_intent=intent, idempotency_key=f"refund-stray-payment-{intent}"
            )
        except (StripeUnavailable, stripe.AuthenticationError):
            raise  # the task retries; a bad key is a configuration error to fail loudly on
        except stripe.StripeError as exc:
            logger.error("refund of stray payment %s failed: %s", intent, exc)
            status = Discrepancy.RefundStatus.FAILED
            told = f"refund FAILED ({exc.user_message or exc}), refund it in Stripe"
        else:
            status = (
                Discrepancy.RefundStatus.REFUNDED
                if refund_id
                else Discrepancy.RefundStatus.ALREADY_REFUNDED
            )
            told = f"refunded in Stripe ({refund_id or 'already refunded'})"
    amount, currency = session_amount(session)
    detail = f"{why}; {money(amount, currency)} taken"
    discrepancy, _ = record_discrepancy(
        kind=kind,
        order=order,
        session=session,
        detail=detail,
        refund_status=status,
        refund_id=refund_id,
        notify=notify,
    )
    return discrepancy, f"{why}: refund needed; {told}"


def refund_order(*, order_id: int, actor) -> None:
    """Refund a paid order that has not left the pharmacy, in Stripe and then here.

    The order stays locked from the check to the status change, so dispatch cannot
    slip in between. Stock and units come back once (order_mark_refunded); the
    charge.refunded webhook that follows finds the order refunded and does nothing.
    Raises StripeUnavailable, with nothing changed, when Stripe cannot answer now.
    """
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if order.status == OrderStatus.REFUNDED:
            return
        if order.status in (OrderStatus.DISPATCHED, OrderStatus.DELIVERED):
            raise ValidationError(
                f"Order {order.number} has been {order.status}; it cannot be refunded "
                "until it is returned."
            )
        if order.status != OrderStatus.PAID:
            raise ValidationError(
                f"Order {order.number} is {order.get_status_display().lower()}; "
                "only a paid order can be refunded."
            )
        if not order.stripe_payment_intent:
            raise ValidationError(f"Order {order.number} has no Stripe payment to refund.")
        refund_id = refund_at_stripe(
            payment_intent=order.stripe_payment_intent,
            idempotency_key=f"order-{order.number}-refund",
        )
        note = f"Refunded in Stripe ({refund_id})" if refund_id else "Already refunded in Stripe"
        order_mark_refunded(order_id=order.pk, actor=actor, note=note)
