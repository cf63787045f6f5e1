"""Payment tasks: apply a stored Stripe event, close a cancelled order's payment page.

Two task names run the same idempotent service. `confirm_payment` takes the
events that can move an order to paid (the rows of `payments.handlers.EVENTS` with
`confirms=True`) and `process_payment_event` every other one, so that workers, queue
routing and monitoring can tell payment confirmations apart. An alias
(`confirm_payment = process_payment_event`) would not do: Celery registers a task
under one name, so the alias would not exist as a task of its own.
`payments.events.task_name_for` picks the name; the webhook view and the sweep of
unprocessed events both go through it.

Retries and backoff live here; effects live in the service, which records
`processed_at` with the order change, so a task delivered twice (acks_late, a
worker lost mid-task, the sweep's re-enqueue) does the work once.
"""

import stripe
from celery import shared_task
from django.db import InterfaceError, OperationalError

from ..payments.client import StripeUnavailable
from ..payments.events import process_event
from ..payments.sessions import checkout_session_expire
from ..payments.settlement import (
    authorisation_release,
    order_settle,
    orders_waiting_on,
    prescription_arrival_settle,
)
from ..services.notifications import emails_sent_here
from ..task_names import (
    CONFIRM_PAYMENT,
    EXPIRE_CHECKOUT_SESSION,
    PRESCRIPTION_ARRIVED,
    PRESCRIPTION_DECIDED,
    PROCESS_PAYMENT_EVENT,
    RELEASE_AUTHORISATION,
    SETTLE_ORDER,
)

TRANSIENT_ERRORS = (
    OperationalError,
    InterfaceError,
    StripeUnavailable,
    stripe.APIConnectionError,
    stripe.RateLimitError,
)
TASK_OPTIONS = {
    "acks_late": True,
    "autoretry_for": TRANSIENT_ERRORS,
    "retry_backoff": True,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    # About ten minutes of retries; after that the sweep keeps trying every minute.
    "max_retries": 8,
}


@shared_task(**TASK_OPTIONS, name=PROCESS_PAYMENT_EVENT)
def process_payment_event(payment_event_id: int) -> str:
    with emails_sent_here():
        return process_event(payment_event_id)


@shared_task(**TASK_OPTIONS, name=CONFIRM_PAYMENT)
def confirm_payment(payment_event_id: int) -> str:
    # The receipt goes out from here, after the commit: no task of its own.
    with emails_sent_here():
        return process_event(payment_event_id)


@shared_task(**TASK_OPTIONS, name=EXPIRE_CHECKOUT_SESSION)
def expire_checkout_session(order_id: int) -> bool:
    """Close a cancelled order's Stripe page, so it cannot be paid after all."""
    return checkout_session_expire(order_id=order_id)


@shared_task(**TASK_OPTIONS, name=SETTLE_ORDER)
def settle_order(order_id: int) -> str:
    """Charge an authorised order whose prescriptions are verified, or cancel it, or wait."""
    return order_settle(order_id=order_id)


@shared_task(**TASK_OPTIONS, name=PRESCRIPTION_DECIDED)
def prescription_decided(prescription_id: int) -> list[str]:
    """A pharmacist decided on a prescription: settle the authorised orders waiting on it.

    Each order is settled on its own (its own transaction and idempotency keys), so a
    retry after one failed settles the rest without touching the ones already done.
    """
    return [order_settle(order_id=pk) for pk in orders_waiting_on(prescription_id=prescription_id)]


@shared_task(**TASK_OPTIONS, name=PRESCRIPTION_ARRIVED)
def prescription_arrived(prescription_id: int) -> list[str]:
    """A prescription reached a patient's account: an order of theirs waiting for one to
    arrive from the prescriber takes it, and is settled (matching twice matches once)."""
    return prescription_arrival_settle(prescription_id=prescription_id)


@shared_task(**TASK_OPTIONS, name=RELEASE_AUTHORISATION)
def release_authorisation(order_id: int) -> str:
    """Release the card hold of an authorised order cancelled on the site."""
    return authorisation_release(order_id=order_id)
