"""Stripe's webhook events: stored once when they arrive, applied once by a task.

Events are stored once (`record_event`, called by the webhook view) and handled
later by a task (`process_event`), so a slow or failing handler never makes Stripe
resend, and a lost task is found again by the sweep that queues unprocessed events
again (`unprocessed_events_requeue`). Which task takes an event follows from its row
in `handlers.EVENTS`.
"""

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from pharmacy.queue import enqueue, enqueue_on_commit

from ..models import PaymentEvent
from ..task_names import CONFIRM_PAYMENT, PROCESS_PAYMENT_EVENT
from .handlers import EVENTS
from .lookup import event_object, event_order
from .verification import verified_event

# An event still unprocessed this long after it arrived lost its task (broker down,
# worker killed); the sweep queues it again.
RETRY_AFTER = timedelta(seconds=30)
RETRY_BATCH = 200


def task_name_for(event_type: str) -> str:
    """The task that takes an event of this type: payment confirmations have their own."""
    row = EVENTS.get(event_type)
    return CONFIRM_PAYMENT if row is not None and row.confirms else PROCESS_PAYMENT_EVENT


def event_enqueue_on_commit(event: PaymentEvent) -> None:
    """Hand a stored event to its task once the transaction commits.

    `robust`: a broker outage must not turn into a 500 for an event already stored;
    `unprocessed_events_requeue` queues it again.
    """
    enqueue_on_commit(task_name_for(event.type), event.pk)


def record_event(*, payload: bytes, signature: str | None) -> tuple[PaymentEvent, bool]:
    """Verify a webhook and store its event once; (event, False) for a redelivery.

    `get_or_create` catches the IntegrityError of two deliveries racing on the
    unique `event_id` and returns the row that won.
    """
    data = verified_event(payload, signature)
    with transaction.atomic():
        return PaymentEvent.objects.get_or_create(
            event_id=data["id"],
            defaults={"type": data["type"], "payload": data, "order": event_order(data)},
        )


def process_event(event_id: int) -> str:
    """Apply a stored event to its order, once; returns the outcome it records.

    The event row is locked and `processed_at` set in the same transaction as the
    order change, so two workers given the same event do it once. Late, duplicate
    and out-of-order events are outcomes, never errors: an illegal transition's
    ValidationError is recorded. Only transient failures (database, Stripe) raise,
    rolling everything back so the task can retry. The order is found again from the
    payload each time (see `lookup.event_order`); a handler gets None for an event that is no
    order's own.
    """
    with transaction.atomic():
        event = PaymentEvent.objects.select_for_update().get(pk=event_id)
        if event.processed_at is not None:
            return "already processed"
        event_type = EVENTS.get(event.type)
        if event_type is None:
            outcome = "ignored"
        else:
            try:
                with transaction.atomic():
                    # Found and locked in one query; the handler's services take it as is.
                    order = event_order(event.payload, lock=True)
                    event.order = order
                    outcome = event_type.handler(order, event_object(event.payload))
            except ValidationError as exc:
                outcome = "refused: " + " ".join(exc.messages)
        event.outcome = outcome[:300]
        event.processed_at = timezone.now()
        event.save(update_fields=["order", "outcome", "processed_at"])
    return outcome


def unprocessed_events_requeue(*, now=None) -> int:
    """Queue again the events whose task was lost; returns how many were queued.

    A duplicate of a task still waiting in a long queue is harmless: processing is
    idempotent.
    """
    cutoff = (now or timezone.now()) - RETRY_AFTER
    stale = list(
        PaymentEvent.objects.filter(processed_at__isnull=True, received_at__lt=cutoff)
        .order_by("received_at", "pk")
        .only("pk", "type")[:RETRY_BATCH]
    )
    for event in stale:
        enqueue(task_name_for(event.type), event.pk)
    return len(stale)
