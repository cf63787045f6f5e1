"""Charging an auto-refill's order to the patient's saved card, off-session, once.

`refill_cycle_run` places the cycle's order (`services.autorefill_runs.cycle_place_order`,
once per cycle) and charges it with the Stripe idempotency key of the cycle, so the
task run twice, or again after a worker died between Stripe and the database, gets
Stripe's first answer again and never a second charge. Charged: the order is paid
(receipt, dispatch). Refused (a declined card, or one that needs the patient:
`authentication_required`, or `requires_action`): the order stays waiting for payment
for AUTO_REFILL_PAYMENT_HOURS with its *Pay now* button, and the patient is emailed.
"""

import logging

import stripe

from ..models import AutoRefillCycle, Order, OrderStatus
from ..services.autorefill_runs import cycle_place_order
from ..services.lifecycle import order_mark_paid, order_note_payment_failed
from .client import stripe_client, transient_as_unavailable

logger = logging.getLogger(__name__)

NEEDS_PATIENT = "Your bank asks you to confirm this payment yourself."
NOT_CHARGED = "We could not charge your saved card."


def refill_cycle_run(*, cycle_id: int) -> str:
    order = cycle_place_order(cycle_id=cycle_id)
    if order is None:
        return "not placed"
    return saved_card_charge(cycle_id=cycle_id, order_id=order.pk)


def _refused(order: Order, *, message: str, attempt: str, payment_intent: str) -> None:
    order_note_payment_failed(
        order_id=order.pk,
        message=message,
        attempt=attempt,
        email=True,
        payment_intent=payment_intent,
    )


def saved_card_charge(*, cycle_id: int, order_id: int) -> str:
    """Charge the order's total to the cycle's saved card, off-session; the outcome."""
    cycle = AutoRefillCycle.objects.select_related("auto_refill", "order__patient").get(pk=cycle_id)
    order = Order.objects.select_related("patient").get(pk=order_id)
    if order.status != OrderStatus.PENDING_PAYMENT:
        return f"order already {order.status}"
    if order.payment_error_attempt:
        return "the card was refused already: the order waits for the patient"
    auto_refill = cycle.auto_refill
    if not auto_refill.has_card:
        _refused(order, message=NOT_CHARGED, attempt=cycle.idempotency_key, payment_intent="")
        return "no saved card: the order stays payable"
    params = {
        "amount": order.total_cents,
        "currency": order.currency,
        "customer": auto_refill.stripe_customer_id,
        "payment_method": auto_refill.stripe_payment_method_id,
        "off_session": True,
        "confirm": True,
        "description": f"Order {order.number} (auto-refill)",
        "receipt_email": order.patient.email,
        "metadata": {"order_number": order.number, "auto_refill_cycle": str(cycle.pk)},
    }
    try:
        with transient_as_unavailable():
            intent = stripe_client().v1.payment_intents.create(
                params=params, options={"idempotency_key": cycle.idempotency_key}
            )
    except stripe.CardError as exc:
        failed = exc.error.payment_intent if exc.error else None
        intent_id = failed.id if failed is not None else ""
        charge = (exc.error.charge if exc.error else None) or intent_id or cycle.idempotency_key
        message = exc.user_message or "Your card was declined."
        _refused(order, message=message, attempt=charge, payment_intent=intent_id)
        return f"card refused ({exc.code}): the order stays payable"
    except stripe.InvalidRequestError:
        # The saved card or customer is gone at Stripe: the patient pays by hand.
        logger.exception("auto-refill charge of order %s refused by Stripe", order.number)
        _refused(order, message=NOT_CHARGED, attempt=cycle.idempotency_key, payment_intent="")
        return "saved card unusable: the order stays payable"
    if intent.status == "succeeded" and intent.amount_received == order.total_cents:
        order_mark_paid(
            order_id=order.pk,
            payment_intent=intent.id,
            note=f"Paid with the saved card ({auto_refill.card_label}) by auto-refill",
        )
        return "paid with the saved card"
    if intent.status in ("requires_action", "requires_payment_method"):
        _refused(order, message=NEEDS_PATIENT, attempt=intent.id, payment_intent=intent.id)
        return f"needs the patient ({intent.status}): the order stays payable"
    # `processing`: Stripe's payment_intent.succeeded pays it (payments.intents).
    Order.objects.filter(pk=order.pk, stripe_payment_intent="").update(
        stripe_payment_intent=intent.id
    )
    return f"payment {intent.status}: waiting for Stripe"
