"""The outbox's one entry point for the tasks and the decline endpoint: deliver a
request, and when the partner refuses it for good or declines it, tell what depended
on it (each kind of request its own way)."""

from ..models import Consultation, PartnerRequest, RenewalRequest
from .consultation_answers import consultation_decline, consultation_request_failed
from .partner_requests import due_partner_requests, partner_request_deliver
from .renewals import renewal_decline, renewal_request_failed

ON_FAILED = {
    PartnerRequest.Kind.RENEWAL: renewal_request_failed,
    PartnerRequest.Kind.CONSULTATION: consultation_request_failed,
}
ON_DECLINE = {
    PartnerRequest.Kind.RENEWAL: renewal_decline,
    PartnerRequest.Kind.CONSULTATION: consultation_decline,
}


def partner_request_send(*, request_pk: int, now=None) -> str:
    """One delivery attempt (see `partner_requests`); what happened."""
    outcome = partner_request_deliver(request_pk=request_pk, now=now)
    if outcome.startswith(PartnerRequest.State.FAILED):
        outbound = PartnerRequest.objects.get(pk=request_pk)
        ON_FAILED[outbound.kind](partner_request=outbound)
    return outcome


def partner_request_decline(*, partner, request_id, reason: str) -> RenewalRequest | Consultation:
    """The partner's clinician declines a request the pharmacy sent it, whatever its
    kind. PartnerRequest.DoesNotExist for a request this partner never got."""
    outbound = PartnerRequest.objects.filter(partner=partner, request_id=request_id).first()
    if outbound is None:
        raise PartnerRequest.DoesNotExist
    return ON_DECLINE[outbound.kind](partner=partner, request_id=request_id, reason=reason)


def partner_requests_send_due(*, now=None) -> list[str]:
    """The sweep: an attempt for every request that is due; and a refusal whose
    follow-up was lost (a worker stopped in between) is followed up now."""
    for outbound in PartnerRequest.objects.filter(
        state=PartnerRequest.State.FAILED, renewal__state="sent"
    ):
        renewal_request_failed(partner_request=outbound)
    for outbound in PartnerRequest.objects.filter(
        state=PartnerRequest.State.FAILED, consultation__status="sent"
    ):
        consultation_request_failed(partner_request=outbound)
    return [partner_request_send(request_pk=pk, now=now) for pk in due_partner_requests(now=now)]
