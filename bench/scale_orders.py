"""The orders of `bench/scale.py`, in bulk: lines, status history, shipments, emails
sent, payment events, and what the jobs find due (see `scale_seed.SHARES`).

Each order is one line of 3 boxes (30 tablets, 10 days at 1 three times a day) on one
of its patient's verified prescriptions, whose used units count it as checkout would.
"""

import random
from datetime import timedelta
from decimal import Decimal

from django.db import connection
from django.utils import timezone

from orders.models import (
    CaptureMethod,
    Notification,
    Order,
    OrderLine,
    OrderStatus,
    OrderStatusChange,
    PaymentEvent,
    Shipment,
)
from orders.supply import run_out_date
from prescriptions.models import Prescription

BATCH = 5000
BOXES = 3
SHIPPING = Decimal("5.00")
PAID_KINDS = {"window", "refill_due", "lost", "old"}
PATHS = {
    OrderStatus.PENDING_PAYMENT: [OrderStatus.PENDING_PAYMENT],
    OrderStatus.PAID: [OrderStatus.PENDING_PAYMENT, OrderStatus.PAID],
    OrderStatus.DISPATCHED: [OrderStatus.PENDING_PAYMENT, OrderStatus.PAID, OrderStatus.DISPATCHED],
    OrderStatus.DELIVERED: [
        OrderStatus.PENDING_PAYMENT,
        OrderStatus.PAID,
        OrderStatus.DISPATCHED,
        OrderStatus.DELIVERED,
    ],
    OrderStatus.CANCELLED: [OrderStatus.PENDING_PAYMENT, OrderStatus.CANCELLED],
}


def _when(kind: str, i: int, now, rng: random.Random) -> tuple[str, dict]:
    """The order's status and times for its kind."""
    if kind == "window":
        paid = now - timedelta(minutes=rng.randint(60, 46 * 60))
        if i % 2:
            return OrderStatus.PAID, {"paid_at": paid}
        return OrderStatus.DISPATCHED, {"paid_at": paid, "checked_at": paid + timedelta(minutes=20)}
    if kind == "refill_due":
        return OrderStatus.DELIVERED, {"paid_at": now - timedelta(days=5, minutes=i % 600)}
    if kind == "expired":
        return OrderStatus.PENDING_PAYMENT, {
            "created_at": now - timedelta(hours=2),
            "payment_due_by": now - timedelta(minutes=90),
        }
    if kind == "payable":
        return OrderStatus.PENDING_PAYMENT, {
            "created_at": now - timedelta(minutes=5),
            "payment_due_by": now + timedelta(minutes=26),
        }
    if kind == "lost":
        paid = now - timedelta(hours=2)
        return OrderStatus.PAID, {"paid_at": paid, "checked_at": now - timedelta(hours=1)}
    if kind == "cancelled":
        created = now - timedelta(days=rng.randint(1, 365))
        return OrderStatus.CANCELLED, {"created_at": created, "payment_due_by": created}
    paid = now - timedelta(days=rng.randint(15, 365), minutes=rng.randint(0, 1440))
    return OrderStatus.DELIVERED, {"paid_at": paid, "checked_at": paid + timedelta(hours=3)}


def make_orders(*, kinds, owners, verified, packages, pharmacist, rng, n, unsent, unprocessed):
    """The orders, in `kinds` order, each for `owners[i]` on one of their prescriptions."""
    now = timezone.now()
    used: dict[int, int] = {}
    turn: dict[int, int] = {}
    rows, lines = [], []
    for i, (kind, patient_id) in enumerate(zip(kinds, owners, strict=True)):
        own = verified[patient_id]
        prescription = own[turn.get(patient_id, 0) % len(own)]
        turn[patient_id] = turn.get(patient_id, 0) + 1
        package = packages[prescription.formulation_id]
        status, times = _when(kind, i, now, rng)
        paid = times.get("paid_at")
        created = times.get("created_at") or paid - timedelta(minutes=4)
        if status != OrderStatus.CANCELLED:
            used[prescription.pk] = used.get(prescription.pk, 0) + BOXES * package.pill_count
        rows.append(
            Order(
                patient_id=patient_id,
                status=status,
                total=package.price * BOXES + SHIPPING,
                ship_name="Scale Patient",
                ship_line1=f"{i % 900 + 1} Elm Street",
                ship_city="Springfield",
                ship_state="NY",
                ship_zip="10001",
                shipping_name="Standard",
                shipping_price=SHIPPING,
                shipping_days_min=3,
                shipping_days_max=5,
                created_at=created,
                payment_due_by=times.get("payment_due_by") or created + timedelta(minutes=31),
                paid_at=paid,
                checked_at=times.get("checked_at"),
                checked_by=pharmacist if times.get("checked_at") else None,
                capture_method=CaptureMethod.AUTOMATIC,
                stripe_session_id=f"cs_test_scale{n}_{i}",
                stripe_payment_intent=f"pi_scale{n}_{i}" if paid else "",
            )
        )
        lines.append((prescription, package))
    orders = Order.objects.bulk_create(rows, batch_size=BATCH)
    order_lines = [
        OrderLine(
            order=order,
            package=package,
            prescription=prescription,
            description=f"{package.formulation.drug.name} 10 mg, {package.pill_count} tablets",
            package_price=package.price,
            quantity=BOXES,
            pills_per_package=package.pill_count,
            monograph_version=1,
        )
        for order, (prescription, package) in zip(orders, lines, strict=True)
    ]
    for line in order_lines:  # as order_mark_paid records it: the reminders' indexed day
        line.refill_due_on = run_out_date(line)
    OrderLine.objects.bulk_create(order_lines, batch_size=BATCH)
    _count_units(used)
    _history(orders, pharmacist)
    _shipments(orders, n)
    _notifications(orders, kinds, rng, unsent, now)
    _payment_events(orders, kinds, unprocessed, now)
    return orders


def _count_units(used: dict[int, int]) -> None:
    """Each prescription's used units, in one statement (one UPDATE each took minutes)."""
    if not used:
        return
    table = Prescription._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET units_used = u.units FROM unnest(%s::int[], %s::int[])"  # noqa: S608
            f" AS u(id, units) WHERE {table}.id = u.id",
            [list(used), list(used.values())],
        )


def _history(orders, pharmacist):
    rows = []
    for order in orders:
        path = PATHS[order.status]
        at = order.created_at
        for before, after in zip(["", *path[:-1]], path, strict=True):
            if after == OrderStatus.PAID:
                at = order.paid_at
            elif after in (OrderStatus.DISPATCHED, OrderStatus.CANCELLED):
                at = order.checked_at or order.payment_due_by
            elif after == OrderStatus.DELIVERED:
                at = at + timedelta(days=3)
            rows.append(
                OrderStatusChange(
                    order=order,
                    from_status=before,
                    to_status=after,
                    actor=pharmacist if after == OrderStatus.DISPATCHED else None,
                    at=at,
                )
            )
    OrderStatusChange.objects.bulk_create(rows, batch_size=BATCH)


def _shipments(orders, n):
    rows = [
        Shipment(
            order=order,
            carrier="local",
            tracking_number=f"SC{n}-{order.pk}",
            status=(
                Shipment.Status.DELIVERED
                if order.status == OrderStatus.DELIVERED
                else Shipment.Status.IN_TRANSIT
            ),
            created_at=order.checked_at or order.paid_at,
            delivered_at=(
                order.paid_at + timedelta(days=3) if order.status == OrderStatus.DELIVERED else None
            ),
        )
        for order in orders
        if order.status in (OrderStatus.DISPATCHED, OrderStatus.DELIVERED)
    ]
    Shipment.objects.bulk_create(rows, batch_size=BATCH)


def _notifications(orders, kinds, rng, unsent, now):
    """The emails sent, a refill reminder for nine in ten old orders, and `unsent`
    emails whose task was lost (delivery notices of old orders)."""
    Kind = Notification.Kind
    rows = []
    lost = 0
    for order, kind in zip(orders, kinds, strict=True):
        sent = order.paid_at or order.created_at
        if order.paid_at:
            rows.append(Notification(order=order, kind=Kind.CONFIRMED, sent_at=sent))
        if order.status in (OrderStatus.DISPATCHED, OrderStatus.DELIVERED):
            rows.append(Notification(order=order, kind=Kind.DISPATCHED, sent_at=sent))
        if order.status == OrderStatus.CANCELLED:
            rows.append(Notification(order=order, kind=Kind.CANCELLED, sent_at=sent))
        if kind == "old" and rng.random() < 0.9:
            rows.append(Notification(order=order, kind=Kind.REFILL, sent_at=sent))
        elif kind == "old" and lost < unsent:
            rows.append(Notification(order=order, kind=Kind.DELIVERED, sent_at=None))
            lost += 1
    Notification.objects.bulk_create(rows, batch_size=BATCH)
    # `created_at` is set on insert; the lost ones are older than the sweep's patience.
    Notification.objects.filter(sent_at__isnull=True).update(created_at=now - timedelta(minutes=10))


def _payment_events(orders, kinds, unprocessed, now):
    """A processed `checkout.session.completed` for every payment, and `unprocessed`
    expiries of cancelled orders' sessions whose task was lost."""
    rows = []
    stale = 0
    for order, kind in zip(orders, kinds, strict=True):
        session = {"object": "checkout.session", "id": order.stripe_session_id}
        if kind in PAID_KINDS:
            rows.append(_event(order, "checkout.session.completed", session, order.paid_at))
        elif kind == "cancelled" and stale < unprocessed:
            rows.append(_event(order, "checkout.session.expired", session, None))
            stale += 1
    PaymentEvent.objects.bulk_create(rows, batch_size=BATCH)
    PaymentEvent.objects.filter(processed_at__isnull=True).update(
        received_at=now - timedelta(minutes=10)
    )


def _event(order: Order, type_: str, session: dict, processed_at) -> PaymentEvent:
    event_id = f"evt_{order.stripe_session_id}_{type_.rsplit('.', 1)[-1]}"
    return PaymentEvent(
        event_id=event_id,
        type=type_,
        payload={"id": event_id, "type": type_, "data": {"object": session}},
        order=order,
        processed_at=processed_at,
        outcome="paid" if processed_at else "",
    )
