"""The audit trail of the partner API: every request received from a telemedicine
partner, and every attempt to deliver one to a partner, is a `PartnerExchange` row.

What is kept is what an auditor asks ("who sent what, when, and what did we
answer?") without a second copy of the patient's data: the body's SHA-256 and size,
the endpoint, the status, a one-line outcome and the prescription it concerned.
"""

import functools
import hashlib
import json

from allauth.core.internal.httpkit import get_client_ip
from django.core.exceptions import RequestDataTooBig
from django.core.validators import slug_re

from .intake import PARTNER_HEADER
from .models import PartnerExchange, Prescription, TelemedicinePartner

OUTCOME_LENGTH = 500


def _summary(response) -> tuple[str, int | None]:
    """A line saying what the answer was, and the prescription id it names."""
    try:
        body = json.loads(response.content)
    except ValueError:
        return f"HTTP {response.status_code}", None
    if body.get("resourceType") == "OperationOutcome":
        issues = body.get("issue") or []
        text = "; ".join(
            f"{(i.get('expression') or [''])[0]}: {i.get('diagnostics', '')}".lstrip(": ")
            for i in issues
        )
        location = response.headers.get("Location", "")
        tail = location.rstrip("/").rpartition("/")[2]
        return text, int(tail) if response.status_code < 300 and tail.isdigit() else None
    if "id" in body:
        said = "already received" if body.get("duplicate") else "received"
        return f"{said} as prescription {body['id']}", body["id"]
    if "errors" in body:
        return "; ".join(f"{k}: {' '.join(v)}" for k, v in body["errors"].items()), None
    return str(body.get("error", "")), None


def record_received(view):
    """Decorate a partner API view: one PartnerExchange row per request, whatever the
    answer (a refused signature, an unknown partner, a bad body, a new prescription)."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        try:
            body = request.body
        except RequestDataTooBig:
            body = None
        slug = request.headers.get(PARTNER_HEADER, "")[:100]
        partner = (
            TelemedicinePartner.objects.filter(slug=slug).first()
            if slug_re.fullmatch(slug)
            else None
        )
        outcome, prescription_id = _summary(response)
        PartnerExchange.objects.create(
            partner=partner,
            partner_slug=slug,
            direction=PartnerExchange.Direction.RECEIVED,
            endpoint=f"{request.method} {request.path}"[:300],
            status_code=response.status_code,
            outcome=outcome[:OUTCOME_LENGTH] or f"HTTP {response.status_code}",
            body_sha256=hashlib.sha256(body).hexdigest() if body is not None else "",
            body_size=len(body)
            if body is not None
            else int(request.META.get("CONTENT_LENGTH") or 0),
            prescription=Prescription.objects.filter(pk=prescription_id).first()
            if prescription_id
            else None,
            remote_addr=get_client_ip(request),
        )
        return response

    return wrapper


def record_sent(*, partner_request, endpoint: str, body: bytes, status_code, outcome: str):
    """One delivery attempt of an outbound request (status None: unreachable)."""
    renewal = getattr(partner_request, "renewal", None)
    return PartnerExchange.objects.create(
        partner=partner_request.partner,
        partner_slug=partner_request.partner.slug,
        direction=PartnerExchange.Direction.SENT,
        endpoint=endpoint[:300],
        status_code=status_code,
        outcome=outcome[:OUTCOME_LENGTH],
        body_sha256=hashlib.sha256(body).hexdigest(),
        body_size=len(body),
        prescription=renewal.prescription if renewal else None,
        request=partner_request,
    )
