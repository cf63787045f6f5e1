"""Paying orders through Stripe Checkout: sessions, webhook events, refunds.

The same code talks to Stripe and to the local stand-in (`devtools/stripe_standin`);
only `STRIPE_API_BASE` differs. Card data never reaches the site: the patient pays
on the hosted page, and the order moves only when a signed webhook event says so.

Events are stored once (`record_event`, called by the webhook view) and handled
later by a task (`process_event`), so a slow or failing handler never makes Stripe
resend, and a lost task is found again by the beat task that retries unprocessed
events.
"""

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import stripe
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from .discrepancies import (
    fully_refunded,
    money,
    note_refunded_amount,
    pays_exactly,
    refunded_stray,
    refunds_of,
    session_amount,
    usd,
)
from .discrepancies import record as record_discrepancy
from .discrepancies import text as _text
from .models import Discrepancy, Order, OrderStatus, PaymentEvent
from .services import order_cancel, order_mark_paid, order_mark_refunded
from .webhook_verification import WebhookError, verified_event

__all__ = ["StripeUnavailable", "WebhookError", "process_event", "record_event", "refund_order"]

logger = logging.getLogger(__name__)

# Stripe refuses a session that expires sooner than 30 minutes after its creation;
# the extra minute covers the clock difference and the request's own travel time.
MIN_SESSION_SECONDS = 30 * 60 + 60


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
def _transient_as_unavailable() -> Iterator[None]:
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


# Checkout sessions ----------------------------------------------------------------


def _session_params(order: Order, attempt: int) -> dict[str, Any]:
    lines = list(order.lines.all())
    items = [
        {
            "price_data": {
                "currency": order.currency,
                "unit_amount": to_cents(line.unit_price),
                "product_data": {"name": line.description},
            },
            "quantity": line.quantity,
        }
        for line in lines
    ]
    if sum(to_cents(line.unit_price) * line.quantity for line in lines) != order.total_cents:
        # Charging anything but the order's total would be worse than not charging.
        raise ValidationError(f"Order {order.number}: its lines do not add up to its total.")
    metadata = {"order_number": order.number}
    order_url = settings.SITE_URL.rstrip("/") + order.get_absolute_url()
    return {
        "mode": "payment",
        "line_items": items,
        "client_reference_id": order.number,
        # `checkout_attempt` numbers the sessions of one order for the idempotency key.
        "metadata": {**metadata, "checkout_attempt": str(attempt)},
        "payment_intent_data": {"metadata": metadata},
        "customer_email": order.patient.email,
        "success_url": order_url + "?paid=1",
        "cancel_url": order_url,
        "expires_at": max(
            int(order.payment_due_by.timestamp()), int(time.time()) + MIN_SESSION_SECONDS
        ),
    }


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
    with transaction.atomic(), _transient_as_unavailable():
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
    with _transient_as_unavailable():
        try:
            stripe_client().v1.checkout.sessions.expire(session_id)
        except stripe.InvalidRequestError as exc:
            if exc.code in ("checkout_session_not_open", "resource_missing"):
                return False
            raise
    return True


# Webhook events -------------------------------------------------------------------


def _event_object(data: dict[str, Any]) -> dict[str, Any]:
    inner = data.get("data")
    obj = inner.get("object") if isinstance(inner, dict) else None
    return obj if isinstance(obj, dict) else {}


def _order_for(data: dict[str, Any]) -> Order | None:
    """The order an event is about, from what only the site wrote: never from names.

    A Checkout Session belongs to the order that stored its id when the site created
    it; a PaymentIntent or Charge to the order that stored its intent when its own
    session paid it. `client_reference_id` and metadata are written by whoever makes
    a session (a Payment Link takes them from the URL), so they never pick an order.
    """
    obj = _event_object(data)
    if obj.get("object") == "checkout.session":
        session_id = _text(obj.get("id"))
        return Order.objects.filter(stripe_session_id=session_id).first() if session_id else None
    is_intent = obj.get("object") == "payment_intent"
    intent = _text(obj.get("id") if is_intent else obj.get("payment_intent"))
    return Order.objects.filter(stripe_payment_intent=intent).first() if intent else None


def named_order(obj: dict[str, Any]) -> Order | None:
    """The order a session or charge *names*: only to say whose payment a stray one claims."""
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    for number in (_text(obj.get("client_reference_id")), _text(metadata.get("order_number"))):
        if number and (order := Order.objects.filter(number=number).first()):
            return order
    return None


def record_event(*, payload: bytes, signature: str | None) -> tuple[PaymentEvent, bool]:
    """Verify a webhook and store its event once; (event, False) for a redelivery.

    `get_or_create` catches the IntegrityError of two deliveries racing on the
    unique `event_id` and returns the row that won.
    """
    data = verified_event(payload, signature)
    with transaction.atomic():
        return PaymentEvent.objects.get_or_create(
            event_id=data["id"],
            defaults={"type": data["type"], "payload": data, "order": _order_for(data)},
        )


def _refund_at_stripe(*, payment_intent: str, idempotency_key: str) -> str:
    """Refund a whole payment; returns the refund id, or "" if it was already refunded."""
    with _transient_as_unavailable():
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
    intent = _text(session.get("payment_intent"))
    status, refund_id, told = Discrepancy.RefundStatus.NOT_REFUNDED, "", ""
    if done := refunded_stray(_text(session.get("id"))):
        return done, f"{why}: already recorded and refunded ({done.stripe_refund_id or '-'})"
    if not intent:
        logger.error("stray payment %s (%s) names no payment intent", session.get("id"), why)
        status, told = Discrepancy.RefundStatus.NO_PAYMENT_INTENT, "no payment intent to refund"
    elif any(charge.get("refunded") is True for charge in refunds_of(intent)):
        status, told = Discrepancy.RefundStatus.ALREADY_REFUNDED, "already refunded in Stripe"
    else:
        try:
            refund_id = _refund_at_stripe(
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


def _session_completed(order: Order | None, session: dict[str, Any]) -> str:
    if session.get("payment_status") != "paid":
        return f"checkout completed, payment {session.get('payment_status')}: waiting"
    if order is None:
        return _foreign_session_completed(session)
    intent = _text(session.get("payment_intent"))
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
    order_mark_paid(order_id=order.pk, payment_intent=intent, note=f"Paid with Stripe ({intent})")
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


def _session_expired(order: Order | None, session: dict[str, Any]) -> str:
    if order is None:
        return (
            "a session that is not an order's current one expired (an earlier checkout "
            "session, or not the site's): nothing changes"
        )
    if order.status != OrderStatus.PENDING_PAYMENT:
        return f"order already {order.status}"
    order_cancel(order_id=order.pk, note="Stripe checkout session expired")
    return "cancelled"


def _charge_refunded(order: Order | None, charge: dict[str, Any]) -> str:
    intent = _text(charge.get("payment_intent"))
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


HANDLERS: dict[str, Callable[[Order | None, dict[str, Any]], str]] = {
    "checkout.session.completed": _session_completed,
    "checkout.session.async_payment_succeeded": _session_completed,
    "checkout.session.expired": _session_expired,
    "charge.refunded": _charge_refunded,
}


def process_event(event_id: int) -> str:
    """Apply a stored event to its order, once; returns the outcome it records.

    The event row is locked and `processed_at` set in the same transaction as the
    order change, so two workers given the same event do it once. Late, duplicate
    and out-of-order events are outcomes, never errors: an illegal transition's
    ValidationError is recorded. Only transient failures (database, Stripe) raise,
    rolling everything back so the task can retry. The order is found again from the
    payload each time (see `_order_for`); a handler gets None for an event that is no
    order's own.
    """
    with transaction.atomic():
        event = PaymentEvent.objects.select_for_update().get(pk=event_id)
        if event.processed_at is not None:
            return "already processed"
        handler = HANDLERS.get(event.type)
        if handler is None:
            outcome = "ignored"
        else:
            event.order = _order_for(event.payload)
            try:
                with transaction.atomic():
                    order = None
                    if event.order is not None:
                        order = Order.objects.select_for_update().get(pk=event.order.pk)
                    outcome = handler(order, _event_object(event.payload))
            except ValidationError as exc:
                outcome = "refused: " + " ".join(exc.messages)
        event.outcome = outcome[:300]
        event.processed_at = timezone.now()
        event.save(update_fields=["order", "outcome", "processed_at"])
    return outcome


# Refunds --------------------------------------------------------------------------


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
        refund_id = _refund_at_stripe(
            payment_intent=order.stripe_payment_intent,
            idempotency_key=f"order-{order.number}-refund",
        )
        note = f"Refunded in Stripe ({refund_id})" if refund_id else "Already refunded in Stripe"
        order_mark_refunded(order_id=order.pk, actor=actor, note=note)
