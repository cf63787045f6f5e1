"""The one place that queues and sends the emails about an order.

`notify` is how every service asks for an email (a state change, a refill reminder);
the task `send_order_email` runs `notification_send`. A Notification row, unique per
order and kind, makes each email go out at most once.
"""

from django.db import transaction
from django.utils import timezone

from pharmacy.queue import enqueue_on_commit

from ..emails import order_email
from ..models import Notification, Order
from ..task_names import SEND_ORDER_EMAIL

__all__ = ["SEND_ORDER_EMAIL", "notification_send", "notify"]


def notify(order: Order, kind: str) -> bool:
    """Email the patient about `kind` after commit; False if that email was already sent.

    The task sends each kind once, whatever is queued: an email queued again before
    the first went out is still sent a single time.
    """
    notification, _ = Notification.objects.get_or_create(order=order, kind=kind)
    if notification.sent_at is not None:
        return False
    enqueue_on_commit(SEND_ORDER_EMAIL, order.pk, kind)
    return True


def notification_send(*, order_id: int, kind: str) -> bool:
    """Email the patient about `kind` for this order, at most once; True if sent now.

    The Notification row is locked while sending, so two workers given the same task
    cannot both send. A crash after sending and before the commit can repeat the
    email, the lesser harm than never telling the patient.
    """
    locked = (
        Notification.objects.select_for_update(of=("self",))
        .select_related("order__patient")
        .filter(order_id=order_id, kind=kind)
    )
    with transaction.atomic():
        notification = locked.first()
        if notification is None:  # queued by hand, not through `notify`
            Notification.objects.get_or_create(order_id=order_id, kind=kind)
            notification = locked.get()
        if notification.sent_at is not None:
            return False
        order_email(notification.order, kind).send()
        notification.sent_at = timezone.now()
        notification.save(update_fields=["sent_at"])
    return True
