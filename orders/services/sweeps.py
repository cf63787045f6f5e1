"""Finding follow-up work whose task was lost, and queueing it again.

A dispatch or an email is queued after its transaction commits; if the broker was
down at that moment, the task is lost while the database says it is due. Both
tasks are safe to run twice, so queueing one again that was only slow is harmless.
"""

from datetime import timedelta

from django.utils import timezone

from pharmacy.batches import JOB_BATCH, keyset_batches
from pharmacy.queue import enqueue

from ..extensions import dispatch_hold_reasons, lost_work_elsewhere
from ..models import Notification, Order, OrderStatus
from ..task_names import DISPATCH_ORDER, SEND_ORDER_EMAIL

# How long a follow-up may take before the sweep assumes its task was lost.
LOST_TASK_AFTER = timedelta(minutes=2)


def lost_work_resume(*, now=None, batch: int = JOB_BATCH) -> int:
    """Queue again the dispatches and emails whose task never ran; returns how many.

    Orders released by the final check without a shipment (and not held by a recall),
    and notifications not sent, that are older than LOST_TASK_AFTER. Both are read a
    batch at a time from partial indexes that hold only such rows
    (`order_checked_not_shipped`, `notification_unsent`), so the orders shipped and the
    emails sent, however many, cost nothing.
    """
    before = (now or timezone.now()) - LOST_TASK_AFTER
    orders = Order.objects.filter(
        status=OrderStatus.PAID, checked_at__lt=before, shipment__isnull=True
    )
    count = 0
    for order_ids in keyset_batches(orders, order="checked_at", size=batch):
        # Held by a recall: waiting for a pharmacist, not for a lost task.
        held = dispatch_hold_reasons(list(order_ids))
        for order_id in order_ids:
            if order_id not in held:
                enqueue(DISPATCH_ORDER, order_id)
                count += 1
    notifications = Notification.objects.filter(sent_at__isnull=True, created_at__lt=before)
    for pairs in keyset_batches(
        notifications, order="created_at", size=batch, fields=("order_id", "kind")
    ):
        for order_id, kind in pairs:
            enqueue(SEND_ORDER_EMAIL, order_id, kind)
        count += len(pairs)
    # Another app's emails, sent by the dispatch task (the counselling offer of a first fill).
    return count + lost_work_elsewhere(before=before, batch=batch)
