"""An order's steps as the patient names them, for the order page.

The status names in `OrderStatus` are the pharmacy's; a patient follows an order as
"placed, paid, being prepared, on its way, delivered", and wants to see each step that
is done (with its time), the one under way, and those still to come. A cancelled or
refunded order has no steps ahead: its page says what happened instead.
"""

import re
from dataclasses import dataclass
from datetime import datetime

from .extensions import dispatch_hold_reason
from .models import Order, OrderStatus

# Stripe's object ids (PaymentIntent, Checkout Session, Charge, Refund, ...): staff need
# them in the admin; a patient can do nothing with them, so their pages never show one.
PROCESSOR_ID = re.compile(r"\b(?:pi|cs|ch|re|py|pm|evt|in|seti|cus)_[A-Za-z0-9_]+")
_BRACKETED_ID = re.compile(r"\s*\((?:pi|cs|ch|re|py|pm|evt|in|seti|cus)_[A-Za-z0-9_]+\)")

DONE = "done"
CURRENT = "current"
TODO = "todo"


@dataclass(frozen=True)
class Step:
    label: str
    state: str  # DONE, CURRENT or TODO
    at: datetime | None = None

    @property
    def is_done(self) -> bool:
        return self.state == DONE

    @property
    def is_current(self) -> bool:
        return self.state == CURRENT


def patient_status(order: Order, *, confirming: bool) -> str:
    """The status line of the order page: while Stripe's confirmation is on its way
    (the patient has paid on the hosted page), "Waiting for payment" would be untrue."""
    if confirming and order.status == OrderStatus.PENDING_PAYMENT:
        return "Confirming your payment"
    return order.get_status_display()


def order_steps(order: Order, *, confirming: bool) -> list[Step]:
    """Each step of the order, done, under way or to come; none for a closed order."""
    if order.status in (OrderStatus.CANCELLED, OrderStatus.REFUNDED):
        return []
    reached = {}
    for change in order.status_changes.all():
        reached.setdefault(change.to_status, change.at)
    status = order.status
    paid_label = "Paid"
    if order.is_manual_capture:
        paid_label = "Prescription verified, card charged"
    labels = [("Order placed", OrderStatus.PENDING_PAYMENT)]
    if order.is_manual_capture:
        labels.append(("Card authorised", OrderStatus.AUTHORISED))
    labels += [
        (paid_label, OrderStatus.PAID),
        ("On its way", OrderStatus.DISPATCHED),
        ("Delivered", OrderStatus.DELIVERED),
    ]
    order_of = [s for _, s in labels]
    position = order_of.index(status) if status in order_of else 0
    steps = []
    for index, (label, step_status) in enumerate(labels):
        if index == 0 or index <= position:
            state = DONE
        elif index == position + 1 and (
            confirming or status in (OrderStatus.AUTHORISED, OrderStatus.PAID)
        ):
            state = CURRENT
        else:
            state = TODO
        if state == CURRENT and step_status == OrderStatus.PAID and not order.is_manual_capture:
            label = "Confirming payment"
        if state == CURRENT and step_status == OrderStatus.DISPATCHED:
            label = "Preparing your parcel" if order.checked_at else "A pharmacist is checking it"
            if order.checked_at and dispatch_hold_reason(order.pk):
                label = "Held: a pharmacist is replacing a recalled batch"
        steps.append(Step(label=label, state=state, at=reached.get(step_status)))
    return steps


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    label: str
    note: str


def patient_note(note: str) -> str:
    """A status change's note without the processor ids staff wrote into it."""
    return PROCESSOR_ID.sub("", _BRACKETED_ID.sub("", note)).strip()


def order_timeline(order: Order) -> list[TimelineEntry]:
    """The order's status changes for its patient: each with its time, name and note."""
    return [
        TimelineEntry(at=c.at, label=c.get_to_status_display(), note=patient_note(c.note))
        for c in order.status_changes.all()
    ]


_DECLINED = "Your card was declined."


def declined_notice(order: Order) -> str:
    """What the order page says after a refused card while the order can still be paid:
    "Your card was declined: <the bank's reason>. You can pay again." Empty otherwise."""
    if not (order.payment_error and order.is_payable):
        return ""
    reason = patient_note(order.payment_error).strip()
    if reason.startswith(_DECLINED):
        reason = reason[len(_DECLINED) :].strip()
    reason = reason.rstrip(".")
    if not reason:
        return f"{_DECLINED} You can pay again."
    return f"Your card was declined: {reason[0].lower()}{reason[1:]}. You can pay again."
