"""PaymentIntents and their charge: paying, capturing, cancelling, lapsing and refunding.

A mixin of `Store` (it uses the store's lock, clock and `_emit`), kept apart so each
module stays about one thing. What was checked against Stripe, and where:

- Statuses, `amount_capturable`, `amount_received`, `canceled_at`, `cancellation_reason`
  and its values are typed in the `stripe` library's `_payment_intent.py`;
  `capture_before` in `_charge.py`.
- What a cancellation, a lapse and a partial capture do to the charge, for the API
  version the library pins (`stripe.api_version`, later than 2025-03-31.basil): the
  changelog entry "Partially capturing or cancelling payments no longer creates a
  Refund" (docs.stripe.com/changelog/basil/2025-03-31/remove-refund-from-partial-
  capture-and-payment-cancellation-flow). No Refund is created, the charge's
  `amount_refunded` is not updated and `refunded` stays false, `charge.refunded` is
  not sent (`charge.expired`, `charge.captured` and `payment_intent.canceled` still
  are), and a lapsed hold's `cancellation_reason` is `expired`, which replaced
  `automatic`.
- Capture needs `requires_capture`, defaults to the whole `amount_capturable`, and a
  partial capture releases the rest (docs.stripe.com "Place a hold on a payment
  method" and the API reference for capture). Cancelling a `requires_capture` intent
  refunds what was capturable, and a Checkout Session's intent can be cancelled only
  in that status (API reference for cancel). Any other status answers
  `payment_intent_unexpected_state` with the intent in `error.payment_intent`
  (`_error_object.py` types that field).
- Events: `payment_intent.amount_capturable_updated` when the hold is placed, then
  `checkout.session.completed` with `payment_status` unpaid; on capture
  `charge.captured` then `payment_intent.succeeded`; on cancel
  `payment_intent.canceled` (never `charge.refunded`); on a lapse `charge.expired`
  ("an uncaptured charge expires") then `payment_intent.canceled`. Stripe does not
  promise delivery order.
  Not sent, as on the automatic path: `payment_intent.created`, `charge.succeeded`.
- A declined attempt on the hosted page (`decline_attempt`): the session's intent is
  made at its first attempt (since API version 2022-08-01 a Checkout Session has no
  intent before), is `requires_payment_method` with `last_payment_error` (see
  `cards`), and `payment_intent.payment_failed` is sent; paying afterwards reuses the
  same intent with a new charge, and clears `last_payment_error`.
- Refunding an uncaptured intent is refused: Stripe's guidance is to cancel it. The
  library's list of error codes has no `charge_not_captured`, so the stand-in answers
  `payment_intent_unexpected_state`, the code for an operation the intent's status
  does not allow. Still unconfirmed: neither Stripe's documentation nor the issue
  threads searched name the code Stripe answers here; the site never refunds an
  order that is not paid, so nothing it does depends on it.
"""

import threading
from collections.abc import Callable
from typing import Any

from .cards import DECLINED, PaymentMethod
from .errors import StripeError
from .objects import (
    Event,
    Payment,
    Refund,
    Session,
    charge_json,
    format_amount,
    new_id,
    payment_intent_json,
)

UNEXPECTED_STATE = "payment_intent_unexpected_state"
# Stripe's `cancellation_reason` for a hold that lapsed (`automatic` before 2025-03-31.basil).
LAPSE_REASON = "expired"
CANCELABLE = ("requires_payment_method", "requires_capture", "requires_confirmation")
CANCELABLE_TEXT = (
    "requires_payment_method, requires_capture, requires_confirmation, requires_action, processing"
)


def _unexpected_state(payment: Payment, message: str) -> StripeError:
    return StripeError(
        400,
        message,
        code=UNEXPECTED_STATE,
        extra={"payment_intent": payment_intent_json(payment)},
    )


class PaymentsMixin:
    _lock: threading.RLock
    _payments: dict[str, Payment]
    _charges: dict[str, Payment]
    _refunds: dict[str, Refund]
    now: Callable[[], int]
    _emit: Callable[..., Event]
    fail_attempt: Callable[..., dict[str, Any]]

    def _session_payment(self, session: Session) -> Payment:
        """The session's one PaymentIntent: made at its first attempt, reused after a decline
        (at Stripe a Checkout Session keeps one intent; each attempt is a new charge)."""
        payment = self._payments.get(session.payment_intent or "")
        if payment is not None:
            payment.charge = new_id("ch_")
            self._charges[payment.charge] = payment
            return payment
        payment = Payment(
            session_id=session.id,
            amount=session.amount_total,
            currency=session.currency,
            created=self.now(),
            metadata={**session.metadata, **session.payment_intent_metadata},
            receipt_email=session.customer_email,
            capture_method=session.capture_method,
            status="requires_payment_method",
        )
        self._payments[payment.payment_intent] = payment
        self._charges[payment.charge] = payment
        session.payment_intent = payment.payment_intent
        return payment

    def _new_payment(self, session: Session) -> Payment:
        """Authorise (manual capture) or charge (automatic ones) the session's total."""
        manual = session.capture_method == "manual"
        payment = self._session_payment(session)
        payment.status = "requires_capture" if manual else "succeeded"
        payment.amount_received = 0 if manual else session.amount_total
        payment.last_payment_error = None
        payment.payment_method = new_id("pm_")
        if manual:
            self._emit("payment_intent.amount_capturable_updated", payment_intent_json(payment))
        return payment

    def decline_attempt(self, session: Session) -> dict[str, Any]:
        """The hosted page's declining card (Stripe's test card 4000 0000 0000 0002): the
        attempt's charge fails, the intent waits for another card and
        `payment_intent.payment_failed` is sent; the session stays open to pay again.
        The caller holds the lock and checked the session is open."""
        payment = self._session_payment(session)
        declining = PaymentMethod(
            created=self.now(), brand="visa", last4="0002", behaviour="declines"
        )
        return self.fail_attempt(payment, DECLINED, declining)

    def payment(self, *, payment_intent: str | None = None, charge: str | None = None):
        with self._lock:
            if payment_intent is not None:
                return self._payments.get(payment_intent)
            return self._charges.get(charge or "")

    def payment_data(self, payment_intent: str) -> dict[str, Any] | None:
        with self._lock:
            self._lapse_due()
            payment = self._payments.get(payment_intent)
            return payment_intent_json(payment) if payment else None

    # Capture, cancel, lapse ---------------------------------------------------------

    def capture(self, payment: Payment, *, amount: int | None) -> dict[str, Any]:
        with self._lock:
            self._lapse_due()
            if payment.status != "requires_capture":
                raise _unexpected_state(
                    payment,
                    "This PaymentIntent could not be captured because it has a status of "
                    f"{payment.status}. Only a PaymentIntent with one of the following "
                    "statuses may be captured: requires_capture.",
                )
            amount = payment.amount_capturable if amount is None else amount
            if amount > payment.amount_capturable:
                raise StripeError(
                    400,
                    "The amount to capture "
                    f"({format_amount(amount, payment.currency)}) must be less than or equal "
                    "to the amount capturable "
                    f"({format_amount(payment.amount_capturable, payment.currency)}).",
                    code="amount_too_large",
                    param="amount_to_capture",
                )
            payment.status = "succeeded"
            payment.amount_received = amount  # the rest is released, not refunded
            self._emit("charge.captured", charge_json(payment))
            body = payment_intent_json(payment)
            self._emit("payment_intent.succeeded", body)
            return body

    def cancel(self, payment: Payment, *, reason: str | None) -> dict[str, Any]:
        with self._lock:
            self._lapse_due()
            if payment.status not in CANCELABLE:
                raise _unexpected_state(
                    payment,
                    "You cannot cancel this PaymentIntent because it has a status of "
                    f"{payment.status}. Only a PaymentIntent with one of the following "
                    f"statuses may be canceled: {CANCELABLE_TEXT}.",
                )
            return self._cancel(payment, reason=reason)

    def _cancel(self, payment: Payment, *, reason: str | None) -> dict[str, Any]:
        payment.status = "canceled"
        payment.canceled_at = self.now()
        payment.cancellation_reason = reason  # the hold is released; no refund, no charge.refunded
        body = payment_intent_json(payment)
        self._emit("payment_intent.canceled", body, automatic=reason == LAPSE_REASON)
        return body

    def _lapse(self, payment: Payment) -> dict[str, Any]:
        self._emit("charge.expired", charge_json(payment), automatic=True)
        return self._cancel(payment, reason=LAPSE_REASON)

    def lapse(self, payment_intent: str) -> dict[str, Any] | None:
        """What Stripe does when a hold is not captured in time, without waiting 7 days."""
        with self._lock:
            payment = self._payments.get(payment_intent)
            if payment is None:
                return None
            if payment.status != "requires_capture":
                raise _unexpected_state(
                    payment,
                    f"Only an authorised PaymentIntent can lapse; this one is {payment.status}.",
                )
            return self._lapse(payment)

    def _lapse_due(self) -> list[Payment]:
        now = self.now()
        due = [
            p
            for p in self._payments.values()
            if p.status == "requires_capture"
            and p.capture_before is not None
            and p.capture_before <= now
        ]
        for payment in due:
            self._lapse(payment)
        return due

    # Refunds ------------------------------------------------------------------------

    def refund(
        self,
        payment: Payment,
        *,
        amount: int | None,
        reason: str | None,
        metadata: dict[str, str],
    ) -> Refund:
        with self._lock:
            self._lapse_due()
            if payment.status == "requires_capture":
                raise _unexpected_state(
                    payment,
                    f"This PaymentIntent ({payment.payment_intent}) has not been captured: "
                    "cancel it to release the authorisation instead of refunding it.",
                )
            remaining = payment.amount_received - payment.amount_refunded
            if remaining <= 0:
                raise StripeError(
                    400,
                    f"Charge {payment.charge} has already been refunded.",
                    code="charge_already_refunded",
                )
            amount = remaining if amount is None else amount
            if amount > remaining:
                asked = format_amount(amount, payment.currency)
                left = format_amount(remaining, payment.currency)
                raise StripeError(
                    400,
                    f"Refund amount ({asked}) is greater than unrefunded amount on charge ({left})",
                    code="amount_too_large",
                    param="amount",
                )
            previous = {"amount_refunded": payment.amount_refunded, "refunded": payment.refunded}
            payment.amount_refunded += amount
            refund = Refund(
                amount=amount,
                currency=payment.currency,
                created=self.now(),
                charge=payment.charge,
                payment_intent=payment.payment_intent,
                reason=reason,
                metadata=metadata,
            )
            self._refunds[refund.id] = refund
            if previous["refunded"] == payment.refunded:
                del previous["refunded"]
            self._emit("charge.refunded", charge_json(payment), previous)
            return refund

    def refund_by_id(self, refund_id: str) -> Refund | None:
        with self._lock:
            return self._refunds.get(refund_id)
