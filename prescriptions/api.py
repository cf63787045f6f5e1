"""The telemedicine intake API: signed JSON e-prescriptions from registered partners."""

import time

from django.core.cache import cache
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


def _unauthorised(message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=401)


@csrf_exempt  # authenticated by the HMAC signature, not a browser session
@require_POST
def telemedicine_prescriptions(request):
    """201 with the new id; 200 with the same id for a prescription already received;
    400 naming each bad field; 401 for an unknown partner, a bad or replayed signature."""
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
        signature = verify_signature(
            secret=partner.secret,
            header=request.headers.get(SIGNATURE_HEADER),
            body=request.body,
            now=int(time.time()),
        )
    except SignatureError as exc:
        return _unauthorised(str(exc))
    # A signature is good for one request: the same bytes sent again are a replay.
    if not cache.add(f"telemedicine:signature:{partner.pk}:{signature}", 1, TOLERANCE_SECONDS * 2):
        return _unauthorised("Replayed request: sign every request anew, with a fresh timestamp.")
    try:
        data = parse_prescription(parse_body(request.body), today=timezone.localdate())
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
