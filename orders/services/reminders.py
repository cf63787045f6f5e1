"""Refill reminders: tell the patient before their supply runs out.

Some medicines must never be stopped suddenly (the drug's own flag and sentence say
which), so running out is a clinical risk and not only an inconvenience. When a
supply runs out is `orders.supply`'s to say; it is recorded on each line when the
order is paid (`refill_due_on`, indexed), so the daily run reads only the lines whose
day falls in the reminder window, however many orders the pharmacy has.

The run works in batches of REMINDER_BATCH orders: it creates their Notification rows
in one statement, locks those not sent yet, builds every email from one read of the
lines and sends them over one connection. The Notification row (unique per order and
kind) is what makes a reminder go out once: a row is marked sent in the transaction
that sent it, and a row another run holds is skipped. A run that stopped half way
leaves its rows unsent; the next run, or the lost-work sweep before it, sends them.
"""

import logging
import smtplib
from datetime import date, timedelta

from django.conf import settings
from django.core.mail import get_connection
from django.db import transaction
from django.db.models import Exists, OuterRef, Prefetch, QuerySet
from django.utils import timezone

from ..emails import order_email
from ..models import (
    AutoRefill,
    AutoRefillStatus,
    Notification,
    Order,
    OrderLine,
    OrderStatus,
)

# Orders whose medicine may still be in the patient's hands.
SUPPLIED_STATUSES = (OrderStatus.PAID, OrderStatus.DISPATCHED, OrderStatus.DELIVERED)
# Orders handled per transaction: one read of their lines, one connection to send.
REMINDER_BATCH = 500
REFILL = Notification.Kind.REFILL

logger = logging.getLogger(__name__)


def due_orders(*, today: date) -> QuerySet[Order]:
    """Orders with a line whose supply runs out within the window and no reminder sent,
    by id; a line whose prescription has auto-refill on is left to it (it emails its own
    notice), and a supply that already ran out is not reminded about."""
    window = (today, today + timedelta(days=settings.REFILL_REMINDER_DAYS_BEFORE))
    refilled = AutoRefill.objects.filter(
        prescription=OuterRef("prescription"), status=AutoRefillStatus.ACTIVE
    )
    lines = OrderLine.objects.filter(
        refill_due_on__range=window, order__status__in=SUPPLIED_STATUSES
    ).exclude(Exists(refilled))
    reminded = Notification.objects.filter(order=OuterRef("pk"), kind=REFILL, sent_at__isnull=False)
    return (
        Order.objects.filter(pk__in=lines.values("order_id"))
        .exclude(Exists(reminded))
        .order_by("pk")
    )


def _send_batch(order_ids: list[int]) -> int:
    """Send the reminders of these orders not sent yet; returns how many went out.

    Mail that fails part way keeps what was sent marked as sent, and raises; an email
    that cannot be written is logged and left unsent (the lost-work sweep retries it).
    """
    Notification.objects.bulk_create(
        [Notification(order_id=order_id, kind=REFILL) for order_id in order_ids],
        ignore_conflicts=True,
    )
    sent: list[int] = []
    failure = None
    with transaction.atomic():
        notifications = list(
            Notification.objects.select_for_update(of=("self",), skip_locked=True)
            .filter(order_id__in=order_ids, kind=REFILL, sent_at__isnull=True)
            .select_related("order__patient")
            .prefetch_related(
                Prefetch(
                    "order__lines",
                    queryset=OrderLine.objects.select_related(
                        "prescription", "package__formulation__drug"
                    ).order_by("pk"),
                )
            )
            .order_by("order_id")
        )
        with get_connection() as connection:
            for notification in notifications:
                order = notification.order
                try:
                    message = order_email(order, REFILL, lines=list(order.lines.all()))
                except Exception:  # one order's email must not hold back the others'
                    logger.exception("The refill reminder for %s could not be written", order)
                    continue
                try:
                    connection.send_messages([message])
                except (smtplib.SMTPException, OSError) as exc:
                    failure = exc
                    break
                sent.append(notification.pk)
        Notification.objects.filter(pk__in=sent).update(sent_at=timezone.now())
    if failure is not None:
        raise failure
    return len(sent)


def send_due_reminders(*, today: date, batch: int = REMINDER_BATCH) -> int:
    """Send each due order's reminder, at most once ever; returns how many were sent."""
    count = 0
    last = 0
    while order_ids := list(
        due_orders(today=today).filter(pk__gt=last).values_list("pk", flat=True)[:batch]
    ):
        count += _send_batch(order_ids)
        last = order_ids[-1]
    return count
