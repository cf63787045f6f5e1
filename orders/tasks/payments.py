"""Payment tasks: thin wrappers that run `orders.payments.process_event`.

Two task names run the same idempotent service. `confirm_payment` takes the
events that can move an order to paid (checkout.session.completed and its async
sibling) and `process_payment_event` every other one, so that workers, queue
routing and monitoring can tell payment confirmations apart. An alias
(`confirm_payment = process_payment_event`) would not do: Celery registers a task
under one name, so the alias would not exist as a task of its own. `enqueue` picks
the task; the webhook view and `retry_unprocessed_events` both go through it.

Retries and backoff live here; effects live in the service, which records
`processed_at` with the order change, so a task delivered twice (acks_late, a
worker lost mid-task, the beat's re-enqueue) does the work once.
"""

import logging
from datetime import timedelta

import stripe
from celery import shared_task
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from .. import payments
from ..models import PaymentEvent

logger = logging.getLogger(__name__)

CONFIRMING_TYPES = frozenset(
    {"checkout.session.completed", "checkout.session.async_payment_succeeded"}
)
# An event still unprocessed this long after it arrived lost its task (broker down,
# worker killed); the beat task enqueues it again.
RETRY_AFTER = timedelta(seconds=30)
RETRY_BATCH = 200

TRANSIENT_ERRORS = (
    OperationalError,
    InterfaceError,
    payments.StripeUnavailable,
    stripe.APIConnectionError,
    stripe.RateLimitError,
)
TASK_OPTIONS = {
    "acks_late": True,
    "autoretry_for": TRANSIENT_ERRORS,
    "retry_backoff": True,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    # About ten minutes of retries; after that the beat task keeps trying every minute.
    "max_retries": 8,
}


@shared_task(**TASK_OPTIONS)
def process_payment_event(payment_event_id: int) -> str:
    return payments.process_event(payment_event_id)


@shared_task(**TASK_OPTIONS)
def confirm_payment(payment_event_id: int) -> str:
    return payments.process_event(payment_event_id)


def enqueue(event: PaymentEvent) -> None:
    """Hand a stored event to the task for its type."""
    task = confirm_payment if event.type in CONFIRMING_TYPES else process_payment_event
    task.delay(event.pk)


@shared_task(acks_late=True)
def retry_unprocessed_events() -> int:
    """Enqueue again the events whose task was lost; returns how many were enqueued.

    A duplicate of a task still waiting in a long queue is harmless: processing is
    idempotent.
    """
    cutoff = timezone.now() - RETRY_AFTER
    stale = list(
        PaymentEvent.objects.filter(processed_at__isnull=True, received_at__lt=cutoff)
        .order_by("received_at", "pk")
        .only("pk", "type")[:RETRY_BATCH]
    )
    for event in stale:
        enqueue(event)
    if stale:
        logger.warning("re-enqueued %d unprocessed payment events", len(stale))
    return len(stale)


@shared_task(**TASK_OPTIONS, name="orders.tasks.payments.expire_checkout_session")
def expire_checkout_session(order_id: int) -> bool:
    """Close a cancelled order's Stripe page, so it cannot be paid after all."""
    return payments.checkout_session_expire(order_id=order_id)


@shared_task(**TASK_OPTIONS)
def reconcile_payments() -> int:
    """Nightly: compare Stripe's paid sessions with the paid orders; returns new findings."""
    from ..reconciliation import reconcile

    return len(reconcile())
