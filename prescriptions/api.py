"""The telemedicine intake API: signed JSON e-prescriptions from registered partners."""

import time

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import RequestDataTooBig
from django.core.validators import slug_re
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from . import services
from .intake import (
    PARTNER_HEADER,
    SIGNATURE_HEADER,
    TOLERANCE_SECONDS,
    IntakeError,
    SignatureError,
    parse_body,
    parse_prescription,
    verify_signature,
)
from .models import TelemedicinePartner

JSON = "application/json"
# JSON is UTF-8 (RFC 8259); a charset parameter may say so, and say nothing else.
UTF8 = {"utf-8", "utf8"}


def _unauthorised(message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=401)


def _unsupported_media_type(request) -> JsonResponse | None:
    """415 unless the body is declared as UTF-8 JSON, so nothing else is ever parsed."""
    charset = request.content_params.get("charset", "utf-8").lower()
    if request.content_type == JSON and charset in UTF8:
        return None
    sent = request.headers.get("Content-Type", "")[:100]
    return JsonResponse(
        {
            "error": f"Send the body as JSON, with Content-Type: {JSON} (UTF-8); got {sent!r}.",
            "header": "Content-Type",
        },
        status=415,
    )


def _too_large() -> JsonResponse:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return JsonResponse(
        {"error": f"The body is larger than {limit} bytes: send one prescription per request."},
        status=413,
    )


@csrf_exempt  # authenticated by the HMAC signature, not a browser session
@require_POST
def telemedicine_prescriptions(request):
    """201 with the new id; 200 with the same id for a prescription already received;
    400 naming each bad field; 401 for an unknown partner, a bad or replayed signature;
    413 for a body over DATA_UPLOAD_MAX_MEMORY_SIZE; 415 for one not declared as JSON.
    The last two are refused before the signature is checked, and store nothing."""
    slug = request.headers.get(PARTNER_HEADER, "")
    partner = (
        TelemedicinePartner.objects.filter(slug=slug, active=True).first()
        if slug_re.fullmatch(slug)
        else None
    )
    if partner is None:
        return _unauthorised(
            f"Unknown or inactive partner: send your partner id in {PARTNER_HEADER}."
        )
    try:
        body = request.body
    except RequestDataTooBig:
        return _too_large()
    # An empty body declares nothing (clients send it without a Content-Type): it goes
    # on to be refused as not JSON, with the other malformed bodies.
    if body and (refused := _unsupported_media_type(request)):
        return refused
    try:
        signature = verify_signature(
            secret=partner.secret,
            header=request.headers.get(SIGNATURE_HEADER),
            body=body,
            now=int(time.time()),
        )
    except SignatureError as exc:
        return _unauthorised(str(exc))
    # A signature is good for one request: the same bytes sent again are a replay.
    if not cache.add(f"telemedicine:signature:{partner.pk}:{signature}", 1, TOLERANCE_SECONDS * 2):
        return _unauthorised("Replayed request: sign every request anew, with a fresh timestamp.")
    try:
        data = parse_prescription(parse_body(body), today=timezone.localdate())
    except IntakeError as exc:
        return JsonResponse({"errors": exc.errors}, status=400)
    prescription, created = services.prescription_receive_from_partner(partner=partner, data=data)
    return JsonResponse(
        {
            "id": prescription.pk,
            "partner_prescription_id": prescription.partner_reference,
            "status": prescription.status,
            "duplicate": not created,
        },
        status=201 if created else 200,
    )
