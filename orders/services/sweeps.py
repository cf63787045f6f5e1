"""Finding follow-up work whose task was lost, and queueing it again.

A dispatch or an email is queued after its transaction commits; if the broker was
down at that moment, the task is lost while the database says it is due. Both
tasks are safe to run twice, so queueing one again that was only slow is harmless.
"""

from datetime import timedelta

from django.utils import timezone

from pharmacy.queue import enqueue

from ..extensions import dispatch_hold_reason
from ..models import Notification, Order, OrderStatus
from ..task_names import DISPATCH_ORDER, SEND_ORDER_EMAIL

# How long a follow-up may take before the sweep assumes its task was lost.
LOST_TASK_AFTER = timedelta(minutes=2)


def lost_work_resume(*, now=None) -> int:
    """Queue again the dispatches and emails whose task never ran; returns how many.

    Orders released by the final check without a shipment (and not held by a recall),
    and notifications not sent, that are older than LOST_TASK_AFTER.
    """
    before = (now or timezone.now()) - LOST_TASK_AFTER
    orders = Order.objects.filter(
        status=OrderStatus.PAID, checked_at__lt=before, shipment__isnull=True
    ).values_list("pk", flat=True)
    notifications = Notification.objects.filter(
        sent_at__isnull=True, created_at__lt=before
    ).values_list("order_id", "kind")
    count = 0
    for order_id in orders:
        if dispatch_hold_reason(order_id):
            continue  # held by a recall: waiting for a pharmacist, not for a lost task
        enqueue(DISPATCH_ORDER, order_id)
        count += 1
    for order_id, kind in notifications:
        enqueue(SEND_ORDER_EMAIL, order_id, kind)
        count += 1
    return count
