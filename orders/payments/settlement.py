"""Settling an authorised order: charge it once its prescriptions are verified, or let go.

An order placed against a prescription still with the pharmacist is authorised at
checkout (capture_method manual, see `handlers.session_completed`) and waits. When
every such prescription is verified and covers its line, the units are reserved and
the PaymentIntent captured; when one is rejected or does not cover its line, or no
prescription came in time, or the hold is about to lapse, the intent is cancelled
(which releases the hold on the patient's card) and the order cancelled, stock given
back once. Otherwise it keeps waiting. Verified is not enough when the orders
settled before this one leave the patient's supply on hand: checkout's early-refill
rule runs again (the directions are known now) and, without a pharmacist's
allowance, the order is cancelled, nothing charged.

Stripe is asked first, with the order row locked, and the order moves in the same
transaction: Stripe unreachable raises StripeUnavailable with nothing changed, for
the task to retry. A retried capture or cancel never doubles: the idempotency keys
are the order's (`order-<number>-capture`, `order-<number>-cancel`) and the state
machine moves an order out of authorised once.
"""

from dataclasses import dataclass
from datetime import timedelta

import stripe
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from prescriptions.models import Prescription, Status

from ..models import Order, OrderLine, OrderStatus
from ..services.authorisation import (
    awaited_lines_match,
    awaiting_patients,
    early_refill_reason,
    line_reserve_units,
    waiting_lines,
)
from ..services.lifecycle import order_cancel, order_mark_paid
from .client import stripe_client, transient_as_unavailable

# Cancel this long before Stripe would let the hold lapse, so it never lapses unseen.
LAPSE_MARGIN = timedelta(days=1)


@dataclass(frozen=True)
class Decision:
    action: str  # "capture" | "cancel" | "wait"
    reason: str = ""  # for the patient, in plain words (the order's cancellation note)
    stripe_reason: str = "requested_by_customer"


WAIT = Decision("wait")


def _covers(line: OrderLine) -> bool:
    prescription = line.prescription
    return (
        prescription.patient_id == line.order.patient_id
        and prescription.formulation_id == line.package.formulation_id
        and not prescription.is_expired()
    )


def _decide(order: Order, lines: list[OrderLine], now) -> Decision:
    for line in lines:
        prescription = line.prescription
        if prescription is None:
            continue  # still to arrive from the prescriber
        if prescription.status == Status.REJECTED:
            message = prescription.pharmacist_message.rstrip(".")
            return Decision(
                "cancel",
                f"the pharmacist did not accept prescription #{prescription.pk}"
                + (f": {message}" if message else ""),
            )
        if prescription.status == Status.VERIFIED and not _covers(line):
            return Decision(
                "cancel",
                f"prescription #{prescription.pk}, as the pharmacist verified it, does not "
                f"cover {line.description}",
            )
    if all(line.prescription and line.prescription.status == Status.VERIFIED for line in lines):
        return Decision("capture")
    if order.capture_before and order.capture_before - now < LAPSE_MARGIN:
        return Decision(
            "cancel",
            "the hold on your card was about to run out before a pharmacist could verify "
            "your prescription",
            "abandoned",
        )
    waited_since = order.authorised_at or order.created_at
    hours = settings.ORDER_VERIFICATION_HOURS
    if now - waited_since > timedelta(hours=hours):
        if any(line.awaits_prescription for line in lines):
            reason = (
                "the prescription your prescriber was to send us did not arrive within "
                f"{hours} hours"
            )
        else:
            reason = f"no prescription a pharmacist could verify arrived in time ({hours} hours)"
        return Decision("cancel", reason, "abandoned")
    return WAIT


def _intent_status(exc: stripe.InvalidRequestError) -> str:
    """The PaymentIntent's status a refusal reports (Stripe sends the intent along)."""
    intent = getattr(exc.error, "payment_intent", None) if exc.error else None
    return str(getattr(intent, "status", "") or "")


def cancel_at_stripe(*, payment_intent: str, number: str, reason: str) -> str:
    """Cancel order `number`'s authorisation, releasing the hold; returns the intent's
    status afterwards ("canceled", or what stopped it: "succeeded" if captured)."""
    with transient_as_unavailable():
        try:
            intent = stripe_client().v1.payment_intents.cancel(
                payment_intent,
                params={"cancellation_reason": reason},
                options={"idempotency_key": f"order-{number}-cancel"},
            )
        except stripe.IdempotencyError:
            # The order's key was spent on a cancel with another reason: ask how it ended.
            intent = stripe_client().v1.payment_intents.retrieve(payment_intent)
        except stripe.InvalidRequestError as exc:
            if exc.code == "payment_intent_unexpected_state":
                return _intent_status(exc)
            raise
    return intent.status


def _capture_at_stripe(order: Order) -> str:
    """Capture the whole authorisation; returns the intent's status afterwards."""
    with transient_as_unavailable():
        try:
            intent = stripe_client().v1.payment_intents.capture(
                order.stripe_payment_intent,
                options={"idempotency_key": f"order-{order.number}-capture"},
            )
        except stripe.InvalidRequestError as exc:
            if exc.code == "payment_intent_unexpected_state":
                return _intent_status(exc)
            raise
    return intent.status


def _capture(order: Order, lines: list[OrderLine], now) -> str:
    # A savepoint: the units and an early-refill allowance go back if nothing is captured.
    with transaction.atomic():
        early = early_refill_reason(order=order, lines=lines, today=timezone.localdate(now))
        reserved = not early and all(line_reserve_units(line=line) for line in lines)
        status = _capture_at_stripe(order) if reserved else ""
        if status == "succeeded":
            order_mark_paid(
                order_id=order.pk,
                payment_intent=order.stripe_payment_intent,
                note="Charged after the pharmacist verified the prescription",
            )
            return "captured: paid"
        transaction.set_rollback(True)
    if early:
        # Several orders placed against prescriptions still with the pharmacist would
        # otherwise each be charged: a double supply. Nothing is charged.
        return _cancel(order, Decision("cancel", early))
    if status == "canceled":
        order_cancel(
            order_id=order.pk,
            note="the hold on your card ended at the bank before the order could be charged",
            hold_released=True,
        )
        return "capture refused, the authorisation was canceled: cancelled"
    if status:
        return f"capture refused, intent {status}: order stays authorised"
    # Verified, but its units cannot be taken now (used up, expired, held for review).
    numbers = ", ".join(f"#{line.prescription_id}" for line in lines)
    return _cancel(
        order,
        Decision(
            "cancel",
            f"your prescription ({numbers}) no longer has the units this order needs, or "
            "needs a pharmacist to review it again",
        ),
    )


def _cancel(order: Order, decision: Decision) -> str:
    status = cancel_at_stripe(
        payment_intent=order.stripe_payment_intent,
        number=order.number,
        reason=decision.stripe_reason,
    )
    if status == "succeeded":
        # Charged at Stripe meanwhile (a capture made there): not ours to cancel silently.
        return "cancel refused, the intent was captured at Stripe: order stays authorised"
    order_cancel(order_id=order.pk, note=decision.reason, hold_released=True)
    return f"authorisation cancelled: {decision.reason}"


def order_settle(*, order_id: int, now=None) -> str:
    """Charge, cancel or keep waiting, for an authorised order; returns what happened.

    Anything but an authorised order is left alone ("order already paid"), so a task
    run twice, or a decision task and the sweep at once, settle it once.
    """
    now = now or timezone.now()
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if order.status != OrderStatus.AUTHORISED:
            return f"order already {order.status}"
        lines = waiting_lines(order)
        decision = _decide(order, lines, now)
        if decision.action == "wait":
            return "waiting for the pharmacist"
        if decision.action == "capture":
            return _capture(order, lines, now)
        return _cancel(order, decision)


def orders_waiting_on(*, prescription_id: int) -> list[int]:
    """The authorised orders with a line on this prescription, oldest first: settled in
    that order, the first placed is the one charged when a later one is an early refill."""
    return list(
        Order.objects.filter(status=OrderStatus.AUTHORISED, lines__prescription_id=prescription_id)
        .order_by("pk")
        .distinct()
        .values_list("pk", flat=True)
    )


def prescription_arrival_settle(*, prescription_id: int) -> list[str]:
    """A prescription reached the patient's account: match it to an order of theirs
    waiting for one to arrive, then settle those orders (charged at once if it came
    verified, otherwise they wait for the pharmacist as any other)."""
    patient_id = (
        Prescription.objects.filter(pk=prescription_id).values_list("patient_id", flat=True).first()
    )
    if patient_id is None:
        return []
    return [order_settle(order_id=pk) for pk in awaited_lines_match(patient_id=patient_id)]


def authorised_orders_settle(*, now=None) -> int:
    """The sweep: settle every authorised order (a decision whose task was lost, a hold
    about to lapse, a prescription that never came); returns how many moved. Orders
    waiting for a prescription to arrive are matched first, should an arrival's task
    have been lost."""
    for patient_id in awaiting_patients():
        awaited_lines_match(patient_id=patient_id)
    count = 0
    for order_id in (
        Order.objects.filter(status=OrderStatus.AUTHORISED)
        .order_by("pk")
        .values_list("pk", flat=True)
    ):
        if not order_settle(order_id=order_id, now=now).startswith(("waiting", "order already")):
            count += 1
    return count


def authorisation_release(*, order_id: int) -> str:
    """Cancel at Stripe the hold of an order cancelled on the site (by staff, by the
    patient) while it waited for verification; returns the intent's status."""
    order = Order.objects.get(pk=order_id)
    if order.status != OrderStatus.CANCELLED or not order.stripe_payment_intent:
        return f"order {order.status}: nothing to release"
    return cancel_at_stripe(
        payment_intent=order.stripe_payment_intent,
        number=order.number,
        reason="requested_by_customer",
    )
