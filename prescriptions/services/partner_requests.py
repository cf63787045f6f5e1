"""Delivering the outbox: requests to telemedicine partners, signed, retried until
the partner acknowledges them.

A request is stored (`partner_request_queue`) in the transaction that decides it and
queued for after the commit; the task delivers it, and a sweep every minute delivers
whatever is due, so a lost task or a partner down for hours loses nothing. Each
request is POSTed as JSON (or, for a partner who takes FHIR, as a FHIR R4 Bundle in
application/fhir+json: `fhir_outbound`) with `X-Request-Id` (the same on every attempt, so the
partner keeps it once however often it arrives), `X-Pharmacy` and a
`Telemedicine-Signature` made exactly as the partner makes theirs for the intake,
with the partner's secret. 2xx delivers it; 408, 429, 5xx, a timeout or a refused
connection retry it with exponential backoff (1 minute doubling to 6 hours, never
giving up); any other 4xx is the partner refusing it for good: it is marked failed
(`outbox.partner_request_send` then tells what depended on it). Every attempt is an exchange in the
audit trail. The row is locked while it is sent, so two workers never send it at once.
"""

import json
import time
from datetime import timedelta

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from pharmacy.queue import enqueue_on_commit

from ..exchanges import record_sent
from ..fhir import FHIR_JSON
from ..fhir_outbound import request_bundle
from ..intake import SIGNATURE_HEADER, sign
from ..models import PartnerRequest, RequestsFormat

DELIVER_PARTNER_REQUEST = "prescriptions.tasks.deliver_partner_request"
REQUEST_ID_HEADER = "X-Request-Id"
PHARMACY_HEADER = "X-Pharmacy"
FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=6)
TIMEOUT_SECONDS = 10
RETRIED_STATUSES = {408, 425, 429}
# Requests attempted per run of the every-minute sweep; the rest wait a minute.
DUE_BATCH = 100


def partner_request_queue(*, partner, kind: str, payload: dict, request_id=None) -> PartnerRequest:
    """Store a request for `partner` and queue its delivery after the commit; the
    payload carries its `request_id` (chosen by the caller when the payload names it),
    and is written as FHIR when the partner takes FHIR."""
    outbound = PartnerRequest(partner=partner, kind=kind, payload={})
    if request_id is not None:
        outbound.request_id = request_id
    outbound.payload = {**payload, "request_id": str(outbound.request_id)}
    if partner.requests_format == RequestsFormat.FHIR:
        outbound.payload = request_bundle(outbound.payload)
    outbound.save()
    enqueue_on_commit(DELIVER_PARTNER_REQUEST, outbound.pk)
    return outbound


def _backoff(attempts: int) -> timedelta:
    return min(FIRST_RETRY * 2 ** max(attempts - 1, 0), LONGEST_RETRY)


def _post(outbound: PartnerRequest, body: bytes):
    """(status or None, a line for the audit trail)."""
    fhir = outbound.payload.get("resourceType") == "Bundle"
    headers = {
        "Content-Type": FHIR_JSON if fhir else "application/json",
        REQUEST_ID_HEADER: str(outbound.request_id),
        PHARMACY_HEADER: settings.SITE_URL,
        SIGNATURE_HEADER: sign(
            secret=outbound.partner.secret, body=body, timestamp=int(time.time())
        ),
    }
    try:
        response = requests.post(
            outbound.partner.requests_url, data=body, headers=headers, timeout=TIMEOUT_SECONDS
        )
    except requests.RequestException as exc:
        return None, f"unreachable: {type(exc).__name__}"
    return response.status_code, f"HTTP {response.status_code}: {response.text[:200]}"


def partner_request_deliver(*, request_pk: int, now=None) -> str:
    """One delivery attempt of a pending request that is due; what happened."""
    now = now or timezone.now()
    with transaction.atomic():
        outbound = (
            PartnerRequest.objects.select_for_update(skip_locked=True)
            .select_related("partner")
            .filter(pk=request_pk)
            .first()
        )
        if outbound is None:
            return "being delivered by another worker"
        if outbound.state != PartnerRequest.State.PENDING:
            return f"already {outbound.state}"
        if outbound.next_attempt_at > now:
            return "not due yet"
        body = json.dumps(outbound.payload, sort_keys=True).encode()
        if not outbound.partner.requests_url or not outbound.partner.active:
            status, outcome = None, "the partner has no requests URL or is inactive"
        else:
            status, outcome = _post(outbound, body)
        record_sent(
            partner_request=outbound,
            endpoint=f"POST {outbound.partner.requests_url}",
            body=body,
            status_code=status,
            outcome=outcome,
        )
        outbound.attempts += 1
        outbound.last_error = "" if status and 200 <= status < 300 else outcome[:300]
        if status and 200 <= status < 300:
            outbound.state = PartnerRequest.State.DELIVERED
            outbound.delivered_at = now
        elif status and 400 <= status < 500 and status not in RETRIED_STATUSES:
            outbound.state = PartnerRequest.State.FAILED
        else:
            outbound.next_attempt_at = now + _backoff(outbound.attempts)
        outbound.save()
        return f"{outbound.state}: {outcome}"


def due_partner_requests(*, now=None, limit: int = DUE_BATCH) -> list[int]:
    """The pending requests whose next attempt is due, oldest first (the sweep's), at
    most `limit`: the sweep runs every minute and takes the rest then. Read from the
    partial index of pending requests (`partner_request_due`), so the requests
    delivered long ago cost nothing."""
    return list(
        PartnerRequest.objects.filter(
            state=PartnerRequest.State.PENDING, next_attempt_at__lte=now or timezone.now()
        )
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
