"""Refill reminders: tell the patient before their supply runs out.

Some medicines must never be stopped suddenly (the drug's own flag and sentence say
which), so running out is a clinical risk and not only an inconvenience. The day a supply runs out follows from
the prescription's directions (units per dose x doses per day) and the units bought.
"""

from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Exists, OuterRef, Prefetch, QuerySet
from django.utils import timezone

from catalog.models import Drug
from pharmacy.queue import enqueue_on_commit

from .models import Notification, Order, OrderLine, OrderStatus
from .services.lifecycle import SEND_ORDER_EMAIL

# Orders whose medicine may still be in the patient's hands.
SUPPLIED_STATUSES = (OrderStatus.PAID, OrderStatus.DISPATCHED, OrderStatus.DELIVERED)
# Bounds the daily scan: no order supplies more than this, and prescriptions last a
# year, so an order paid longer ago than this has certainly run out.
MAX_SUPPLY_DAYS = 400


def run_out_date(line: OrderLine) -> date | None:
    """The first day without medicine; None when the directions do not say how much a day.

    Counted from the day of payment in the pharmacy's time zone, in whole days: 10
    pills at 1 x 3 a day last 3 days, and the patient is out on the fourth morning.
    """
    daily = line.prescription.daily_units
    paid_at = line.order.paid_at
    if not daily or paid_at is None:
        return None
    days = int(Decimal(line.units) // daily)
    return timezone.localdate(paid_at) + timedelta(days=days)


def is_due(run_out: date, *, today: date) -> bool:
    """Within the reminder window; a supply that already ran out is not reminded about."""
    window_opens = run_out - timedelta(days=settings.REFILL_REMINDER_DAYS_BEFORE)
    return window_opens <= today <= run_out


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
    """Orders with at least one line whose supply runs out within the window."""
    due = []
    for order in _candidates(today=today):
        dates = (run_out_date(line) for line in order.lines.all())
        if any(d is not None and is_due(d, today=today) for d in dates):
            due.append(order)
    return due


def send_due_reminders(*, today: date) -> int:
    """Queue one reminder per due order, at most once ever; returns how many were queued.

    The Notification row (unique per order and kind) is what makes it once: the email
    task locks it and sends only while `sent_at` is empty, so a reminder queued again
    before the first one went out is still sent a single time.
    """
    queued = 0
    for order in due_orders(today=today):
        notification, _ = Notification.objects.get_or_create(
            order=order, kind=Notification.Kind.REFILL
        )
        if notification.sent_at is not None:
            continue
        enqueue_on_commit(SEND_ORDER_EMAIL, order.pk, Notification.Kind.REFILL)
        queued += 1
    return queued


def stop_warnings(drugs: list[Drug]) -> list[str]:
    """The drugs' own warnings against stopping suddenly, as staff edited them."""
    return [drug.stop_warning for drug in sorted(drugs, key=lambda d: d.name) if drug.stop_warning]
