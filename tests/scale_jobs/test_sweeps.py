"""The other periodic jobs at scale: each reads what is due through an index, a batch
at a time, so the rows not due (orders paid long ago, emails sent, events processed,
lots sold out or still good) cost it nothing, and each due row costs the same."""

import uuid
from datetime import timedelta
from itertools import count as numbers

import pytest
from django.utils import timezone

from dispensing.models import Lot
from dispensing.services.stock import lots_expire
from orders.models import (
    AutoRefill,
    AutoRefillCycle,
    AutoRefillStatus,
    Notification,
    Order,
    OrderStatus,
    PaymentEvent,
)
from orders.payments import events
from orders.payments.reconciliation import reconcile
from orders.services import expire_unpaid_orders, sweeps
from orders.services.autorefill_runs import cycles_due
from prescriptions.models import PartnerRequest
from prescriptions.services.partner_requests import due_partner_requests
from tests.dispensing.factories import receive_lot
from tests.factories import make_partner
from tests.orders.factories import baclofen_package, make_verified_prescription, place_order
from tests.scale_jobs.bulk import copies, order_copies, queries

LONG_AGO = timedelta(days=30)
# Unique values for the columns that must be (event ids, partner references).
_unique = numbers()


@pytest.fixture
def placed(patient) -> Order:
    """An order waiting for payment, placed through checkout."""
    make_verified_prescription(patient=patient)
    return place_order(patient=patient)


@pytest.fixture
def queued(monkeypatch) -> list[tuple]:
    """The tasks the sweeps queue, kept instead of run: a sweep's own queries are
    counted, not those of the tasks a worker runs later."""
    sent: list[tuple] = []
    monkeypatch.setattr(sweeps, "enqueue", lambda *args: sent.append(args))
    monkeypatch.setattr(events, "enqueue", lambda *args: sent.append(args))
    return sent


# Expiring unpaid orders ------------------------------------------------------------


def not_overdue(template: Order, count: int) -> None:
    now = timezone.now()
    order_copies(template, count, payment_due_by=now + timedelta(minutes=20))
    for status in (OrderStatus.PAID, OrderStatus.DELIVERED, OrderStatus.CANCELLED):
        order_copies(template, count, status=status, payment_due_by=now - LONG_AGO)


def test_orders_paid_or_still_in_time_cost_the_expiry_sweep_nothing(placed):
    not_overdue(placed, 2)
    few = queries(expire_unpaid_orders)
    not_overdue(placed, 20)
    many = queries(expire_unpaid_orders)
    assert few == many
    assert Order.objects.filter(status=OrderStatus.CANCELLED).count() == 22  # as made


def test_each_overdue_order_costs_the_expiry_sweep_the_same(placed):
    overdue = {"payment_due_by": timezone.now() - timedelta(minutes=5)}
    none = queries(lambda: expire_unpaid_orders(batch=2))
    order_copies(placed, 2, **overdue)
    two = queries(lambda: expire_unpaid_orders(batch=2))
    order_copies(placed, 6, **overdue)
    six = queries(lambda: expire_unpaid_orders(batch=2))
    assert six - two == 2 * (two - none)
    assert Order.objects.filter(status=OrderStatus.CANCELLED).count() == 8
    assert Order.objects.get(pk=placed.pk).status == OrderStatus.PENDING_PAYMENT


# Lost work ---------------------------------------------------------------------------


def test_shipped_orders_and_sent_emails_cost_the_lost_work_sweep_nothing(placed, queued):
    def done(count: int) -> None:
        old = timezone.now() - LONG_AGO
        for status in (OrderStatus.DISPATCHED, OrderStatus.DELIVERED):
            order_copies(placed, count, status=status, paid_at=old, checked_at=old)
        waiting_check = order_copies(placed, count, status=OrderStatus.PAID, paid_at=old)
        copies(
            Notification(order=waiting_check[0], kind="confirmed", sent_at=old),
            count,
            order=lambda i: waiting_check[i],
        )

    done(2)
    few = queries(sweeps.lost_work_resume)
    done(20)
    many = queries(sweeps.lost_work_resume)
    assert few == many
    assert queued == []


def test_lost_dispatches_and_emails_are_queued_again_at_the_same_cost_per_batch(placed, queued):
    old = timezone.now() - timedelta(hours=1)

    def lost(count: int) -> None:
        orders = order_copies(placed, count, status=OrderStatus.PAID, paid_at=old, checked_at=old)
        for order in orders:
            Notification.objects.create(order=order, kind="confirmed")
        Notification.objects.filter(order__in=orders).update(created_at=old)

    lost(3)
    three = queries(lambda: sweeps.lost_work_resume(batch=500))
    assert len(queued) == 6
    lost(30)
    thirty_three = queries(lambda: sweeps.lost_work_resume(batch=500))
    assert three == thirty_three
    assert len(queued) == 6 + 66
    queued.clear()
    sweeps.lost_work_resume(batch=4)
    assert len(queued) == 66, "every row, over several batches, each once"
    assert len(set(queued)) == 66


# Payment events ------------------------------------------------------------------------


def test_processed_events_cost_the_retry_sweep_nothing(db, queued):
    old = timezone.now() - timedelta(hours=1)
    template = PaymentEvent(event_id="x", type="checkout.session.completed", payload={})

    def processed(count: int) -> None:
        made = copies(template, count, event_id=lambda i: f"evt_{next(_unique)}")
        PaymentEvent.objects.filter(pk__in=[e.pk for e in made]).update(
            received_at=old, processed_at=old
        )

    processed(2)
    few = queries(events.unprocessed_events_requeue)
    processed(40)
    many = queries(events.unprocessed_events_requeue)
    assert few == many
    assert queued == []
    stale = copies(template, 3, event_id=lambda i: f"evt_stale_{i}")
    PaymentEvent.objects.filter(pk__in=[e.pk for e in stale]).update(received_at=old)
    assert queries(events.unprocessed_events_requeue) == many
    assert sorted(pk for _, pk in queued) == sorted(e.pk for e in stale)


# Lot expiry ------------------------------------------------------------------------------


def test_lots_on_sale_or_already_off_it_cost_the_expiry_sweep_nothing(db, baclofen):
    lot = receive_lot(package=baclofen_package(), quantity=5)
    past = timezone.localdate() - timedelta(days=3)

    def not_due(count: int) -> None:
        copies(lot, count, lot_number=lambda i: f"GOOD{i}")
        copies(lot, count, expiry_date=past, removed_from_sale_at=timezone.now())
        copies(lot, count, expiry_date=past, held_at=timezone.now(), hold_reason="recall")

    not_due(2)
    few = queries(lots_expire)
    not_due(20)
    many = queries(lots_expire)
    assert few == many


def test_each_expired_lot_costs_the_expiry_sweep_the_same(db, baclofen):
    lot = receive_lot(package=baclofen_package(), quantity=5)
    expired = {"expiry_date": timezone.localdate() - timedelta(days=1), "quantity_on_hand": 0}
    none = queries(lambda: lots_expire(batch=2))
    copies(lot, 2, **expired)
    two = queries(lambda: lots_expire(batch=2))
    copies(lot, 6, **expired)
    six = queries(lambda: lots_expire(batch=2))
    assert six - two == 2 * (two - none)
    assert Lot.objects.filter(removed_from_sale_at__isnull=False).count() == 8
    assert Lot.objects.get(pk=lot.pk).removed_from_sale_at is None


# Auto-refill ------------------------------------------------------------------------------


def test_auto_refills_off_or_not_due_cost_the_hourly_run_nothing(patient):
    prescription = make_verified_prescription(patient=patient)
    package = baclofen_package()
    far = timezone.localdate() + timedelta(days=60)

    def not_due(count: int) -> None:
        for status, next_run_on in (
            (AutoRefillStatus.ACTIVE, far),
            (AutoRefillStatus.STOPPED, None),
        ):
            held = copies(
                prescription,
                count,
                partner_reference=lambda i: f"copy-{next(_unique)}",
            )
            copies(
                AutoRefill(patient=patient, prescription=held[0], package=package),
                count,
                prescription_id=[p.pk for p in held].__getitem__,
                status=status,
                next_run_on=next_run_on,
            )

    today = timezone.localdate()
    not_due(2)
    few = queries(lambda: cycles_due(today=today))
    not_due(20)
    many = queries(lambda: cycles_due(today=today))
    assert few == many
    assert not AutoRefillCycle.objects.exists()


# Reconciliation ---------------------------------------------------------------------------


def test_orders_paid_before_the_window_cost_the_reconciliation_nothing(placed, stripe_api):
    def paid_long_ago(count: int) -> None:
        order_copies(placed, count, status=OrderStatus.DELIVERED, paid_at=timezone.now() - LONG_AGO)

    reconcile()  # records what the shared stand-in holds from other tests, once
    paid_long_ago(2)
    few = queries(reconcile)
    paid_long_ago(30)
    many = queries(reconcile)
    assert few == many


# Requests to telemedicine partners ----------------------------------------------------------


def test_requests_delivered_cost_the_partner_sweep_nothing_and_a_backlog_goes_a_batch_a_minute(
    db,
):
    partner = make_partner()
    past = timezone.now() - timedelta(hours=1)
    template = PartnerRequest(partner=partner, kind=PartnerRequest.Kind.RENEWAL, payload={})

    def delivered(count: int) -> None:
        copies(
            template,
            count,
            request_id=lambda i: uuid.uuid4(),
            state=PartnerRequest.State.DELIVERED,
            next_attempt_at=past,
            delivered_at=past,
        )

    delivered(2)
    few = queries(due_partner_requests)
    delivered(40)
    many = queries(due_partner_requests)
    assert few == many
    assert due_partner_requests() == []

    backlog = copies(template, 5, request_id=lambda i: uuid.uuid4(), next_attempt_at=past)
    assert due_partner_requests(limit=3) == [r.pk for r in backlog[:3]]
