"""Refill reminders: tell the patient before their supply runs out.

Some medicines must never be stopped suddenly (the drug's own flag and sentence say
which), so running out is a clinical risk and not only an inconvenience. When a
supply runs out is `orders.supply`'s to say; this finds the orders due and queues
one reminder each, through `notifications.notify`.
"""

from datetime import date, datetime, time, timedelta

from django.db.models import Exists, OuterRef, Prefetch, QuerySet
from django.utils import timezone

from ..models import (
    AutoRefill,
    AutoRefillStatus,
    Notification,
    Order,
    OrderLine,
    OrderStatus,
)
from ..supply import is_due, run_out_date
from .notifications import notify

# Orders whose medicine may still be in the patient's hands.
SUPPLIED_STATUSES = (OrderStatus.PAID, OrderStatus.DISPATCHED, OrderStatus.DELIVERED)
# Bounds the daily scan: no order supplies more than this, and prescriptions last a
# year, so an order paid longer ago than this has certainly run out.
MAX_SUPPLY_DAYS = 400


def _candidates(*, today: date) -> QuerySet[Order]:
    """Orders that could be due: supplied, with directions, not reminded yet."""
    oldest = datetime.combine(today - timedelta(days=MAX_SUPPLY_DAYS), time.min)
    with_directions = OrderLine.objects.filter(
        order=OuterRef("pk"),
        prescription__units_per_dose__isnull=False,
        prescription__doses_per_day__isnull=False,
    )
    reminded = Notification.objects.filter(
        order=OuterRef("pk"), kind=Notification.Kind.REFILL, sent_at__isnull=False
    )
    return (
        Order.objects.filter(
            status__in=SUPPLIED_STATUSES,
            paid_at__gte=timezone.make_aware(oldest),
        )
        .filter(Exists(with_directions))
        .exclude(Exists(reminded))
        .prefetch_related(
            Prefetch(
                "lines",
                queryset=OrderLine.objects.select_related(
                    "prescription", "package__formulation__drug"
                ),
            )
        )
        .order_by("paid_at", "pk")
    )


def due_orders(*, today: date) -> list[Order]:
    """Orders with at least one line whose supply runs out within the window; a line
    whose prescription has auto-refill on is left to it (it emails its own notice)."""
    refilled = set(
        AutoRefill.objects.filter(status=AutoRefillStatus.ACTIVE).values_list(
            "prescription_id", flat=True
        )
    )
    due = []
    for order in _candidates(today=today):
        lines = [line for line in order.lines.all() if line.prescription_id not in refilled]
        dates = (run_out_date(line) for line in lines)
        if any(d is not None and is_due(d, today=today) for d in dates):
            due.append(order)
    return due


def send_due_reminders(*, today: date) -> int:
    """Queue one reminder per due order, at most once ever; returns how many were queued.

    The Notification row (unique per order and kind) is what makes it once: the email
    task locks it and sends only while `sent_at` is empty, so a reminder queued again
    before the first one went out is still sent a single time.
    """
    return sum(notify(order, Notification.Kind.REFILL) for order in due_orders(today=today))
