"""The telemedicine intake API: signed e-prescriptions from registered partners, as our
JSON or as a FHIR R4 MedicationRequest."""

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
from .exchanges import record_received
from .fhir import (
    EXPRESSIONS,
    FHIR_JSON,
    FhirError,
    Issue,
    operation_outcome,
    parse_fhir_prescription,
)
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
from .models import Consultation, PartnerRequest, RenewalRequest, TelemedicinePartner

JSON = "application/json"
# JSON is UTF-8 (RFC 8259); a charset parameter may say so, and say nothing else.
UTF8 = {"utf-8", "utf8"}


def _signed_request(request, *, media_type: str, refuse):
    """The partner and the body of a signed request, or the refusal to send back
    (`refuse(status, message, header=None)` shapes it: JSON or an OperationOutcome).

    An unknown partner or a bad or replayed signature is 401; a body over
    DATA_UPLOAD_MAX_MEMORY_SIZE 413 and one not declared as `media_type` 415, both
    refused before the signature is checked, and storing nothing.
    """
    slug = request.headers.get(PARTNER_HEADER, "")
    partner = (
        TelemedicinePartner.objects.filter(slug=slug, active=True).first()
        if slug_re.fullmatch(slug)
        else None
    )
    if partner is None:
        return (
            None,
            None,
            refuse(401, f"Unknown or inactive partner: send your partner id in {PARTNER_HEADER}."),
        )
    try:
        body = request.body
    except RequestDataTooBig:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return (
            None,
            None,
            refuse(
                413, f"The body is larger than {limit} bytes: send one prescription per request."
            ),
        )
    # An empty body declares nothing (clients send it without a Content-Type): it goes
    # on to be refused as not JSON, with the other malformed bodies.
    charset = request.content_params.get("charset", "utf-8").lower()
    if body and not (request.content_type == media_type and charset in UTF8):
        sent = request.headers.get("Content-Type", "")[:100]
        return (
            None,
            None,
            refuse(
                415,
                f"Send the body as JSON, with Content-Type: {media_type} (UTF-8); got {sent!r}.",
                header="Content-Type",
            ),
        )
    try:
        signature = verify_signature(
            secret=partner.secret,
            header=request.headers.get(SIGNATURE_HEADER),
            body=body,
            now=int(time.time()),
        )
    except SignatureError as exc:
        return None, None, refuse(401, str(exc))
    # A signature is good for one request: the same bytes sent again are a replay.
    if not cache.add(f"telemedicine:signature:{partner.pk}:{signature}", 1, TOLERANCE_SECONDS * 2):
        return (
            None,
            None,
            refuse(401, "Replayed request: sign every request anew, with a fresh timestamp."),
        )
    return partner, body, None


def _json_refusal(status: int, message: str, header: str | None = None) -> JsonResponse:
    return JsonResponse({"error": message, **({"header": header} if header else {})}, status=status)


@csrf_exempt  # authenticated by the HMAC signature, not a browser session
@require_POST
@record_received
def telemedicine_prescriptions(request):
    """201 with the new id; 200 with the same id for a prescription already received;
    400 naming each bad field; 401 for an unknown partner, a bad or replayed signature;
    413 for a body over DATA_UPLOAD_MAX_MEMORY_SIZE; 415 for one not declared as JSON.
    The last two are refused before the signature is checked, and store nothing."""
    partner, body, refused = _signed_request(request, media_type=JSON, refuse=_json_refusal)
    if refused:
        return refused
    try:
        data = parse_prescription(parse_body(body), today=timezone.localdate())
        prescription, created = services.prescription_receive_from_partner(
            partner=partner, data=data
        )
    except IntakeError as exc:
        return JsonResponse({"errors": exc.errors}, status=400)
    return JsonResponse(
        {
            "id": prescription.pk,
            "partner_prescription_id": prescription.partner_reference,
            "status": prescription.status,
            "duplicate": not created,
        },
        status=201 if created else 200,
    )


def _fhir_response(outcome: dict, status: int, **headers) -> JsonResponse:
    return JsonResponse(outcome, status=status, content_type=FHIR_JSON, headers=headers)


def _fhir_refusal(status: int, message: str, header: str | None = None) -> JsonResponse:
    code = {401: "security", 413: "too-costly", 415: "not-supported"}.get(status, "invalid")
    return _fhir_response(
        operation_outcome([Issue(header or "request", message, code)]), status=status
    )


@csrf_exempt  # authenticated by the HMAC signature, not a browser session
@require_POST
@record_received
def telemedicine_fhir_medication_request(request):
    """The same intake for a FHIR R4 MedicationRequest (or a Bundle holding one), signed
    the same way, sent as application/fhir+json. 201 (200 for one already received)
    with an OperationOutcome that gives our id, and Location; 400 with an
    OperationOutcome naming each bad element; 401, 413 and 415 as the JSON intake."""
    partner, body, refused = _signed_request(request, media_type=FHIR_JSON, refuse=_fhir_refusal)
    if refused:
        return refused
    try:
        data = parse_fhir_prescription(parse_body(body), today=timezone.localdate())
    except IntakeError as exc:  # the body is not a JSON object
        issues = [Issue("request", " ".join(m), "structure") for m in exc.errors.values()]
        return _fhir_response(operation_outcome(issues), status=400)
    except FhirError as exc:
        return _fhir_response(operation_outcome(exc.issues), status=400)
    try:
        prescription, created = services.prescription_receive_from_partner(
            partner=partner, data=data
        )
    except IntakeError as exc:  # what only the stored prescriptions can tell (`renews`)
        issues = [
            Issue(EXPRESSIONS.get(field, field), " ".join(messages), "value")
            for field, messages in exc.errors.items()
        ]
        return _fhir_response(operation_outcome(issues), status=400)
    location = request.build_absolute_uri(f"{request.path.rstrip('/')}/{prescription.pk}")
    said = "Received" if created else "Already received"
    outcome = operation_outcome(
        [
            Issue(
                "MedicationRequest.identifier",
                f"{said} as prescription {prescription.pk} ({prescription.status}).",
                "informational",
            )
        ],
        severity="information",
    )
    return _fhir_response(outcome, status=201 if created else 200, Location=location)


@csrf_exempt  # authenticated by the HMAC signature, not a browser session
@require_POST
@record_received
def telemedicine_request_decline(request, request_id):
    """The partner's clinician declines a request the pharmacy sent (a renewal or a
    consultation), with `{"reason": "..."}` the patient reads. 200 when recorded
    (again: the same), 400 naming the field, 401 as the intake, 404 for a request this
    partner never got."""
    partner, body, refused = _signed_request(request, media_type=JSON, refuse=_json_refusal)
    if refused:
        return refused
    try:
        payload = parse_body(body)
        answered = services.partner_request_decline(
            partner=partner,
            request_id=request_id,
            reason=payload.get("reason") if isinstance(payload.get("reason"), str) else "",
        )
    except IntakeError as exc:
        return JsonResponse({"errors": exc.errors}, status=400)
    except (PartnerRequest.DoesNotExist, RenewalRequest.DoesNotExist, Consultation.DoesNotExist):
        return JsonResponse({"error": f"No request {request_id} was sent to you."}, status=404)
    if isinstance(answered, RenewalRequest):
        answer = {
            "request_id": str(request_id),
            "state": answered.state,
            "prescription_id": answered.prescription.partner_reference,
        }
    else:
        answer = {"request_id": str(request_id), "state": answered.status}
    return JsonResponse(answer)
