"""Stripe's webhook endpoint (mounted at POST /payments/stripe/webhook/).

It only verifies and stores: the work happens in a task after the transaction
commits, so Stripe gets its answer fast and a failing handler never makes it
resend. Stripe delivers at least once; a redelivered event is acknowledged and not
stored again.
"""

import logging

from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .payments.events import event_enqueue_on_commit, record_event
from .payments.verification import WebhookError

logger = logging.getLogger(__name__)


@csrf_exempt  # Stripe cannot send a CSRF token; the signature authenticates instead.
@require_POST
def stripe_webhook(request: HttpRequest) -> JsonResponse:
    try:
        with transaction.atomic():
            # The raw body: the signature covers these exact bytes.
            event, created = record_event(
                payload=request.body, signature=request.headers.get("Stripe-Signature")
            )
            if created or event.processed_at is None:
                # An unprocessed duplicate may have lost its task (broker down): queue it
                # again; processing is idempotent.
                event_enqueue_on_commit(event)
    except WebhookError as exc:
        logger.warning("Stripe webhook rejected: %s", exc)
        return JsonResponse({"error": str(exc)}, status=400)
    if not created:
        return JsonResponse({"status": "duplicate", "event": event.event_id})
    return JsonResponse({"status": "received", "event": event.event_id})
