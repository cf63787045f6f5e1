"""Periodic sweeps (celery beat): expiry, lost work, unprocessed events, reconciliation.

Each finds what is due in the database and hands it to a service, so a sweep that
runs twice, or overlaps the work it looks for, changes nothing the second time.
"""

import logging

from celery import shared_task

from .. import services
from ..payments.events import unprocessed_events_requeue
from ..payments.reconciliation import reconcile
from ..payments.settlement import authorised_orders_settle
from ..services.sweeps import lost_work_resume
from ..task_names import (
    EXPIRE_UNPAID_ORDERS,
    RECONCILE_PAYMENTS,
    RESUME_LOST_WORK,
    RETRY_UNPROCESSED_EVENTS,
    SETTLE_AUTHORISED_ORDERS,
)
from .payments import TASK_OPTIONS

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, name=EXPIRE_UNPAID_ORDERS)
def expire_unpaid_orders() -> int:
    """Cancel orders not paid in time, giving their stock and units back; returns how many."""
    return services.expire_unpaid_orders()


@shared_task(acks_late=True, name=RESUME_LOST_WORK)
def resume_lost_work() -> int:
    """Queue again the dispatches and emails whose task was lost; returns how many."""
    return lost_work_resume()


@shared_task(acks_late=True, name=RETRY_UNPROCESSED_EVENTS)
def retry_unprocessed_events() -> int:
    """Queue again the payment events whose task was lost; returns how many."""
    count = unprocessed_events_requeue()
    if count:
        logger.warning("re-enqueued %d unprocessed payment events", count)
    return count


@shared_task(**TASK_OPTIONS, name=RECONCILE_PAYMENTS)
def reconcile_payments() -> int:
    """Nightly: compare Stripe's paid sessions with the paid orders; returns new findings."""
    return len(reconcile())


@shared_task(**TASK_OPTIONS, name=SETTLE_AUTHORISED_ORDERS)
def settle_authorised_orders() -> int:
    """Settle the authorised orders a lost decision task left waiting, and cancel those
    whose hold is about to lapse or whose prescription never came; returns how many moved."""
    return authorised_orders_settle()
