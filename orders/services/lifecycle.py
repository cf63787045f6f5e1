"""An order's life after it is placed: paid, dispatched, delivered, cancelled, refunded.

Every move goes through `order_transition`, which checks ORDER_TRANSITIONS under a
row lock and writes an OrderStatusChange. Moving to cancelled or refunded gives the
stock and prescription units back; since each of those states can be entered only
once, they are given back exactly once.
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from catalog.stock import return_stock
from pharmacy.queue import enqueue_on_commit
from prescriptions.services import prescription_release_units

from ..models import (
    ORDER_TRANSITIONS,
    RELEASING_STATUSES,
    Notification,
    Order,
    OrderStatus,
    OrderStatusChange,
    Shipment,
)
from ..task_names import DISPATCH_ORDER, EXPIRE_CHECKOUT_SESSION
from .notifications import notify


def _locked(order_id: int) -> Order:
    return Order.objects.select_for_update().get(pk=order_id)


def _release(order: Order) -> None:
    for line in order.lines.all():
        return_stock(line.package_id, line.quantity)
        prescription_release_units(prescription_id=line.prescription_id, units=line.units)


def order_transition(order: Order, to_status: str, *, actor=None, note: str = "") -> bool:
    """Move a locked order; False (and nothing changed) if it is already there.

    A move that is neither allowed nor a repeat raises ValidationError, so an event
    arriving late can never send an order backwards.
    """
    if order.status == to_status:
        return False
    if to_status not in ORDER_TRANSITIONS[order.status]:
        raise ValidationError(
            f"Order {order.number} is {order.get_status_display().lower()} and cannot become "
            f"{OrderStatus(to_status).label.lower()}."
        )
    OrderStatusChange.objects.create(
        order=order, from_status=order.status, to_status=to_status, actor=actor, note=note
    )
    order.status = to_status
    order.save(update_fields=["status", "paid_at", "stripe_payment_intent", "updated_at"])
    if to_status in RELEASING_STATUSES:
        _release(order)
    return True


@transaction.atomic
def order_mark_paid(*, order_id: int, payment_intent: str = "", note: str = "") -> bool:
    """pending_payment -> paid, once. Units stay consumed; dispatch and the receipt follow.

    Returns False when the order was already paid (or beyond): running the payment
    task twice, or concurrently, has the effect of once.
    """
    order = _locked(order_id)
    if order.status != OrderStatus.PENDING_PAYMENT:
        return False
    order.paid_at = timezone.now()
    order.stripe_payment_intent = payment_intent or order.stripe_payment_intent
    order_transition(order, OrderStatus.PAID, note=note or "Payment confirmed by Stripe")
    notify(order, Notification.Kind.CONFIRMED)
    enqueue_on_commit(DISPATCH_ORDER, order.pk)
    return True


@transaction.atomic
def order_cancel(*, order_id: int, actor=None, note: str = "") -> bool:
    """pending_payment -> cancelled, giving back stock and units; False if not pending."""
    order = _locked(order_id)
    if order.status != OrderStatus.PENDING_PAYMENT:
        if order.status == OrderStatus.CANCELLED:
            return False
        raise ValidationError(
            f"Order {order.number} is {order.get_status_display().lower()}; "
            "only an order waiting for payment can be cancelled."
        )
    order_transition(order, OrderStatus.CANCELLED, actor=actor, note=note)
    notify(order, Notification.Kind.CANCELLED)
    if order.stripe_session_id:
        enqueue_on_commit(EXPIRE_CHECKOUT_SESSION, order.pk)
    return True


@transaction.atomic
def order_mark_refunded(*, order_id: int, actor=None, note: str = "") -> bool:
    """paid -> refunded, giving back stock and units once; False if already refunded."""
    order = _locked(order_id)
    if order.status == OrderStatus.REFUNDED:
        return False
    order_transition(order, OrderStatus.REFUNDED, actor=actor, note=note)
    notify(order, Notification.Kind.REFUNDED)
    return True


@transaction.atomic
def order_mark_dispatched(*, order_id: int, carrier: str, tracking_number: str) -> Shipment | None:
    """paid -> dispatched with its shipment; None if the order is not (or no longer) paid."""
    order = _locked(order_id)
    if order.status != OrderStatus.PAID:
        return None
    shipment = Shipment.objects.create(
        order=order, carrier=carrier, tracking_number=tracking_number
    )
    order_transition(order, OrderStatus.DISPATCHED, note=f"{carrier} {tracking_number}")
    notify(order, Notification.Kind.DISPATCHED)
    return shipment


@transaction.atomic
def order_mark_delivered(*, order_id: int) -> bool:
    order = _locked(order_id)
    if order.status != OrderStatus.DISPATCHED:
        return False
    Shipment.objects.filter(order=order).update(
        status=Shipment.Status.DELIVERED, delivered_at=timezone.now()
    )
    order_transition(order, OrderStatus.DELIVERED, note="Delivered by the courier")
    notify(order, Notification.Kind.DELIVERED)
    return True


def expire_unpaid_orders(*, now=None) -> int:
    """Cancel every order still unpaid past its time limit; returns how many."""
    now = now or timezone.now()
    expired = Order.objects.filter(
        status=OrderStatus.PENDING_PAYMENT, payment_due_by__lt=now
    ).values_list("pk", flat=True)
    count = 0
    for order_id in list(expired):
        if order_cancel(order_id=order_id, note="Not paid in time"):
            count += 1
    return count
