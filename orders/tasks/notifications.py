"""Email tasks: the order emails, and the daily refill reminders."""

from celery import shared_task
from django.utils import timezone

from ..services.notifications import notification_send
from ..services.reminders import send_due_reminders
from ..task_names import SEND_ORDER_EMAIL, SEND_REFILL_REMINDERS
from .shipping import RETRY


@shared_task(**RETRY, name=SEND_ORDER_EMAIL)
def send_order_email(order_id: int, kind: str) -> bool:
    """Email the patient about `kind` for this order, at most once; True if sent now."""
    return notification_send(order_id=order_id, kind=kind)


@shared_task(acks_late=True, name=SEND_REFILL_REMINDERS)
def send_refill_reminders() -> int:
    """Send the refill reminders due today, in batches; returns how many were sent."""
    return send_due_reminders(today=timezone.localdate())
