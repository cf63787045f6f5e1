"""Delivery tasks: dispatch, tracking, expiry, refill reminders and the order emails.

Thin on purpose: each loads by id and calls a service, which refuses anything but
the expected move under a row lock, so running a task twice (a redelivery after a
worker died, with acks_late) changes nothing the second time.
"""

import logging
from datetime import timedelta

from celery import shared_task
from django.db import OperationalError, transaction
from django.utils import timezone

from .. import services
from ..couriers import CourierUnavailable, get_courier
from ..emails import order_email
from ..models import Notification, Order, OrderStatus, Shipment
from ..reminders import send_due_reminders

logger = logging.getLogger(__name__)

# Worth trying again later: the courier or the mail server was unreachable (SMTP
# errors are OSErrors), or the database was briefly unavailable or locked.
TRANSIENT = (CourierUnavailable, OSError, OperationalError)
RETRY = {
    "autoretry_for": TRANSIENT,
    "retry_backoff": True,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 8,
    "acks_late": True,
}


@shared_task(**RETRY, name="orders.tasks.delivery.dispatch_order")
def dispatch_order(order_id: int) -> str | None:
    """Hand a paid order to the courier; returns the tracking number, or None if not due.

    The courier gives the same tracking number for the same order, and the service
    creates the shipment only while the order is paid, so a second run (or two runs
    at once) ends with one shipment.
    """
    order = Order.objects.filter(pk=order_id).first()
    if order is None or order.status != OrderStatus.PAID:
        return None
    if Shipment.objects.filter(order_id=order_id).exists():
        return None
    courier = get_courier()
    tracking_number = courier.create_shipment(order)
    shipment = services.order_mark_dispatched(
        order_id=order_id, carrier=courier.name, tracking_number=tracking_number
    )
    return shipment.tracking_number if shipment else None


@shared_task(acks_late=True)
def refresh_shipments() -> int:
    """Ask the courier about each parcel on its way; returns how many were delivered.

    Only parcels of the configured courier are asked about: another carrier's
    tracking number means nothing to it. A courier that cannot answer about one
    parcel does not hold up the others; the next run asks again.
    """
    courier = get_courier()
    shipments = Shipment.objects.filter(
        order__status=OrderStatus.DISPATCHED,
        status=Shipment.Status.IN_TRANSIT,
        carrier=courier.name,
    ).order_by("created_at", "pk")
    delivered = 0
    for shipment in shipments:
        try:
            info = courier.track(shipment)
        except TRANSIENT as error:
            logger.warning("Could not track %s: %s", shipment, error)
            continue
        if info.is_delivered and services.order_mark_delivered(order_id=shipment.order_id):
            delivered += 1
    return delivered


@shared_task(acks_late=True)
def expire_unpaid_orders() -> int:
    """Cancel orders not paid in time, giving their stock and units back; returns how many."""
    return services.expire_unpaid_orders()


@shared_task(acks_late=True)
def send_refill_reminders() -> int:
    """Queue the refill reminders due today; returns how many."""
    return send_due_reminders(today=timezone.localdate())


@shared_task(**RETRY, name="orders.tasks.delivery.send_order_email")
def send_order_email(order_id: int, kind: str) -> bool:
    """Email the patient about `kind` for this order, at most once; True if sent now.

    The Notification row is locked while sending, so two workers given the same task
    cannot both send. A crash after sending and before the commit can repeat the
    email, the lesser harm than never telling the patient.
    """
    with transaction.atomic():
        Notification.objects.get_or_create(order_id=order_id, kind=kind)
        notification = (
            Notification.objects.select_for_update(of=("self",))
            .select_related("order__patient")
            .get(order_id=order_id, kind=kind)
        )
        if notification.sent_at is not None:
            return False
        order_email(notification.order, kind).send()
        notification.sent_at = timezone.now()
        notification.save(update_fields=["sent_at"])
    return True


# How long a follow-up may take before the sweeper assumes its task was lost.
LOST_TASK_AFTER = timedelta(minutes=2)


@shared_task(acks_late=True)
def resume_lost_work() -> int:
    """Re-enqueue follow-ups whose task never ran; returns how many.

    A dispatch or an email is enqueued after its transaction commits; if the broker
    was down at that moment, the task is lost while the database says it is due. This
    sweep finds paid orders without a shipment and unsent notifications, and enqueues
    them again (both tasks are safe to run twice).
    """
    before = timezone.now() - LOST_TASK_AFTER
    orders = Order.objects.filter(
        status=OrderStatus.PAID, paid_at__lt=before, shipment__isnull=True
    ).values_list("pk", flat=True)
    notifications = Notification.objects.filter(
        sent_at__isnull=True, created_at__lt=before
    ).values_list("order_id", "kind")
    count = 0
    for order_id in orders:
        dispatch_order.delay(order_id)
        count += 1
    for order_id, kind in notifications:
        send_order_email.delay(order_id, kind)
        count += 1
    return count
