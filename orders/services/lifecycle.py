"""An order's life after it is placed: paid, dispatched, delivered, cancelled, refunded.

Every move goes through ORDER_MACHINE (orders.models) under a row lock, which refuses
what its table does not allow and writes the OrderStatusChange. Moving to cancelled or
refunded gives the stock and prescription units back; since each of those states can
be entered only once, they are given back exactly once.
"""

import logging
from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from catalog.stock import return_stock
from pharmacy.batches import JOB_BATCH, keyset_batches
from pharmacy.queue import enqueue_on_commit
from pharmacy.state_machine import MoveRefused
from prescriptions.services import (
    prescription_order_waiting_refresh,
    prescription_release_units,
)

from ..extensions import dispatch_hold_reason, stock_returned_elsewhere
from ..models import (
    ORDER_MACHINE,
    Notification,
    Order,
    OrderLine,
    OrderStatus,
    OrderStatusChange,
    Shipment,
)
from ..supply import run_out_day
from ..task_names import (
    DISPATCH_ORDER,
    EXPIRE_CHECKOUT_SESSION,
    RELEASE_AUTHORISATION,
    SETTLE_ORDER,
)
from .notifications import notify

logger = logging.getLogger(__name__)

# Moving into these gives stock and prescription units back.
RELEASING_STATUSES = {OrderStatus.CANCELLED, OrderStatus.REFUNDED}


def _locked(order_id: int, order: Order | None = None) -> Order:
    """The order's row, locked; `order` when the caller already holds that lock in this
    transaction (a payment event's handler), so the row is not read a second time.

    With its patient (not locked), whom the email of each move is to: a worker's task
    sends it from this copy (`emails_sent_here`)."""
    if order is not None and order.pk == order_id:
        return order
    return Order.objects.select_for_update(of=("self",)).select_related("patient").get(pk=order_id)


def _release(order: Order, *, actor=None, note: str = "") -> None:
    # Boxes already dispensed from a lot go back to that lot (the dispensing app, through
    # orders.extensions), which says which lines it put back; the others go back here.
    returned = stock_returned_elsewhere(order=order, actor=actor, note=note)
    for line in order.lines.all():
        if line.pk not in returned:
            return_stock(line.package_id, line.quantity)
        if line.units_reserved:  # a line still waiting for its prescription took none
            prescription_release_units(prescription_id=line.prescription_id, units=line.units)


def _move(order: Order, to_status: str, **fields) -> OrderStatusChange | None:
    """Move a locked order (ORDER_MACHINE.move); None, and nothing changed, if it is
    already there. A move outside the table raises MoveRefused, so an event arriving
    late can never send an order backwards."""
    was = order.status
    change = ORDER_MACHINE.move(order, to_status, **fields)
    if change is not None and to_status in RELEASING_STATUSES:
        _release(order, actor=fields.get("actor"), note=fields.get("note", ""))
    if change is not None and OrderStatus.AUTHORISED in (was, to_status):
        # The pharmacist's queue puts first what a held card waits for.
        prescription_order_waiting_refresh(
            prescription_ids=order.lines.values_list("prescription_id", flat=True)
        )
    return change


def _move_if_allowed(order: Order, to_status: str, **fields) -> OrderStatusChange | None:
    """For the events that may come late or twice (payments, the courier): one the table
    refuses, or a repeat, changes nothing and returns None."""
    try:
        return _move(order, to_status, **fields)
    except MoveRefused:
        return None


def _record_run_out(order: Order) -> list[OrderLine]:
    """Record on each line of a just-paid order the day its supply runs out (empty when
    the directions do not say how much a day): the refill reminders look ahead by it.

    Returns the order's lines, with their package and drug, for the receipt. Of each
    prescription only its directions are read (the row is some forty columns)."""
    lines = list(
        order.lines.select_related("package__formulation__drug")
        .annotate(
            dose_units=F("prescription__units_per_dose"),
            doses_a_day=F("prescription__doses_per_day"),
        )
        .order_by("pk")
    )
    due: dict[date, list[int]] = {}
    for line in lines:
        line.order = order
        if line.dose_units is None or line.doses_a_day is None:
            continue
        daily = line.dose_units * line.doses_a_day  # as Prescription.daily_units
        if day := run_out_day(units=line.units, daily_units=daily, paid_at=order.paid_at):
            line.refill_due_on = day
            due.setdefault(day, []).append(line.pk)
    # One plain UPDATE per day (an order's lines mostly share one), not a CASE per line.
    for day, line_ids in due.items():
        OrderLine.objects.filter(pk__in=line_ids).update_of({order.patient_id}, refill_due_on=day)
    return lines


# No savepoint of its own: nothing in it catches an error and goes on, and every caller
# inside a transaction either lets an error roll the whole of it back or takes its own
# savepoint first (a payment event's handler, a capture), so one here only cost the
# payment task a SAVEPOINT and a RELEASE.
@transaction.atomic(savepoint=False)
def order_mark_paid(
    *, order_id: int, payment_intent: str = "", note: str = "", locked: Order | None = None
) -> bool:
    """pending_payment -> paid, once. Units stay consumed; the receipt follows, and the
    order waits for the pharmacist's final check (`order_release_for_dispatch`).

    Returns False when the order was already paid, or can no longer be (beyond paid,
    or cancelled): running the payment task twice, or concurrently, has the effect of
    once. `locked`: the order as the caller locked it in this transaction.
    """
    order = _locked(order_id, locked)
    order.paid_at = timezone.now()
    order.stripe_payment_intent = payment_intent or order.stripe_payment_intent
    paid = _move_if_allowed(
        order,
        OrderStatus.PAID,
        note=note or "Payment confirmed by Stripe",
        also_save=["paid_at", "stripe_payment_intent"],
    )
    if paid is None:
        return False
    notify(order, Notification.Kind.CONFIRMED, lines=_record_run_out(order))
    return True


@transaction.atomic
def order_release_for_dispatch(*, order_id: int, pharmacist) -> Order:
    """A paid order passed the pharmacist's final check: record who and when, and queue
    its dispatch. The one place a dispatch is queued for a new order.

    Called by the dispensing app's final check, in its transaction, after it recorded
    the lots dispensed; refuses an order that is not paid or was already released.
    """
    order = _locked(order_id)
    if order.status != OrderStatus.PAID:
        raise ValidationError(
            f"Order {order.number} is {order.get_status_display().lower()}: only a paid "
            "order waiting at the pharmacy can be released to the courier."
        )
    if order.checked_at is not None:
        raise ValidationError(f"Order {order.number} was already checked and released.")
    order.checked_at = timezone.now()
    order.checked_by = pharmacist
    order.save(update_fields=["checked_at", "checked_by", "updated_at"])
    enqueue_on_commit(DISPATCH_ORDER, order.pk)
    return order


@transaction.atomic
def order_return_to_check(*, order_id: int, actor, note: str) -> Order:
    """A checked order whose parcel is unpacked before the courier took it (a recall of a
    lot in it): back to the pharmacist's "to check" queue, with the reason in its history.

    Refuses an order that is not paid and checked, or whose parcel is already booked.
    """
    order = _locked(order_id)
    if order.status != OrderStatus.PAID or order.checked_at is None:
        raise ValidationError(
            f"Order {order.number} is not a checked parcel waiting for the courier."
        )
    if Shipment.objects.filter(order=order).exists():
        raise ValidationError(f"Order {order.number} is already booked with the courier.")
    order.checked_at = None
    order.checked_by = None
    order.save(update_fields=["checked_at", "checked_by", "updated_at"])
    ORDER_MACHINE.note(order, actor=actor, note=note[:300])
    return order


@transaction.atomic
def order_mark_authorised(
    *, order_id: int, payment_intent: str, capture_before: datetime, note: str = ""
) -> bool:
    """pending_payment -> authorised, once: the card holds the total, nothing is charged.

    False when the order is already authorised, or can no longer be (paid, cancelled).
    """
    order = _locked(order_id)
    order.authorised_at = timezone.now()
    order.capture_before = capture_before
    order.stripe_payment_intent = payment_intent
    moved = _move_if_allowed(
        order,
        OrderStatus.AUTHORISED,
        note=note or f"Card authorised at Stripe ({payment_intent})",
        also_save=["authorised_at", "capture_before", "stripe_payment_intent"],
    )
    if moved is None:
        return False
    notify(order, Notification.Kind.AUTHORISED)
    # The pharmacist may have decided while the patient was on Stripe's page.
    enqueue_on_commit(SETTLE_ORDER, order.pk)
    return True


@transaction.atomic
def order_note_payment_failed(
    *, order_id: int, message: str, attempt: str, email: bool, payment_intent: str = ""
) -> bool:
    """A refused card for an order still waiting for payment: kept on the order (its page
    says so, with the Pay button) and in its history, once per attempt; True if new.

    `attempt` is the failed charge (or intent): the webhook and the off-session charge
    report the same attempt, and a redelivered event repeats it. `email`: the patient
    was not there to see it (an auto-refill's saved card), so they are told, once per
    order, whichever report comes first. `payment_intent`: the site's own intent
    (off-session), kept on the order so that Stripe's later events about it find it.
    """
    order = _locked(order_id)
    if order.status != OrderStatus.PENDING_PAYMENT:
        return False
    new = not (attempt and order.payment_error_attempt == attempt)
    if new:
        order.payment_error = message[:300]
        order.payment_error_at = timezone.now()
        order.payment_error_attempt = attempt
        order.stripe_payment_intent = order.stripe_payment_intent or payment_intent
        order.save(
            update_fields=[
                "payment_error",
                "payment_error_at",
                "payment_error_attempt",
                "stripe_payment_intent",
                "updated_at",
            ]
        )
        ORDER_MACHINE.note(order, note=f"Card declined: {message}"[:300])
    if email:
        notify(order, Notification.Kind.PAYMENT_FAILED)
    return new


@transaction.atomic
def order_cancel(*, order_id: int, actor=None, note: str = "", hold_released: bool = False) -> bool:
    """pending_payment or authorised -> cancelled, giving back stock and the units taken;
    False if already cancelled.

    An authorised order's hold on the card is released at Stripe after commit (the
    task RELEASE_AUTHORISATION), unless the caller already cancelled it there
    (`hold_released`: `payments.settlement`, or Stripe's own cancellation event).
    """
    order = _locked(order_id)
    was_authorised = order.status == OrderStatus.AUTHORISED
    try:
        cancelled = _move(order, OrderStatus.CANCELLED, actor=actor, note=note)
    except MoveRefused as exc:
        raise ValidationError(
            f"Order {order.number} is {order.get_status_display().lower()}; "
            "only an order waiting for payment or verification can be cancelled."
        ) from exc
    if cancelled is None:
        return False
    notify(order, Notification.Kind.CANCELLED)
    if was_authorised and not hold_released:
        enqueue_on_commit(RELEASE_AUTHORISATION, order.pk)
    elif order.stripe_session_id and not was_authorised:
        enqueue_on_commit(EXPIRE_CHECKOUT_SESSION, order.pk)
    return True


@transaction.atomic
def order_mark_refunded(*, order_id: int, actor=None, note: str = "") -> bool:
    """paid -> refunded, giving back stock and units once; False if already refunded."""
    order = _locked(order_id)
    if _move(order, OrderStatus.REFUNDED, actor=actor, note=note) is None:
        return False
    notify(order, Notification.Kind.REFUNDED)
    return True


@transaction.atomic
def order_mark_dispatched(
    *, order_id: int, carrier: str, tracking_number: str, tracking_url: str = ""
) -> Shipment | None:
    """paid and checked -> dispatched with its shipment; None if the order is not (or no
    longer) paid, has not passed the pharmacist's final check, or is held (a recall).

    `tracking_url` is the carrier's page for the parcel; it is stored as the carrier gave
    it, and shown only when it is an http(s) address (`Shipment.tracking_link`).
    """
    order = _locked(order_id)
    if order.checked_at is None:
        return None
    if reason := dispatch_hold_reason(order.pk):
        # Held after the courier was asked (a recall entered in between): the booking
        # is not used, and the order stays paid and checked, held.
        logger.warning("Order %s was booked but is held, not dispatched: %s", order.number, reason)
        return None
    if _move_if_allowed(order, OrderStatus.DISPATCHED, note=f"{carrier} {tracking_number}") is None:
        return None
    shipment = Shipment.objects.create(
        order=order, carrier=carrier, tracking_number=tracking_number, tracking_url=tracking_url
    )
    notify(order, Notification.Kind.DISPATCHED)
    return shipment


@transaction.atomic
def order_mark_delivered(*, order_id: int) -> bool:
    """dispatched -> delivered; False if the order is not (or no longer) on its way."""
    order = _locked(order_id)
    if _move_if_allowed(order, OrderStatus.DELIVERED, note="Delivered by the courier") is None:
        return False
    Shipment.objects.filter(order=order).update(
        status=Shipment.Status.DELIVERED, delivered_at=timezone.now()
    )
    notify(order, Notification.Kind.DELIVERED)
    return True


def expire_unpaid_orders(*, now=None, batch: int = JOB_BATCH) -> int:
    """Cancel every order still unpaid past its time limit; returns how many.

    Read `batch` at a time from the partial index of unpaid orders (`order_unpaid_due_by`),
    so the orders paid long ago cost nothing and a backlog is never held in memory.
    """
    now = now or timezone.now()
    expired = Order.objects.filter(status=OrderStatus.PENDING_PAYMENT, payment_due_by__lt=now)
    count = 0
    for order_ids in keyset_batches(expired, order="payment_due_by", size=batch):
        for order_id in order_ids:
            if order_cancel(order_id=order_id, note="Not paid in time"):
                count += 1
    return count
