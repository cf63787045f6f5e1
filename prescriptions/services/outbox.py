"""The outbox's one entry point for the tasks: deliver a request, and when the partner
refuses it for good, tell what depended on it (each kind of request its own way)."""

from ..models import PartnerRequest
from .partner_requests import due_partner_requests, partner_request_deliver
from .renewals import renewal_request_failed

ON_FAILED = {PartnerRequest.Kind.RENEWAL: renewal_request_failed}


def partner_request_send(*, request_pk: int, now=None) -> str:
    """One delivery attempt (see `partner_requests`); what happened."""
    outcome = partner_request_deliver(request_pk=request_pk, now=now)
    if outcome.startswith(PartnerRequest.State.FAILED):
        outbound = PartnerRequest.objects.get(pk=request_pk)
        ON_FAILED[outbound.kind](partner_request=outbound)
    return outcome


def partner_requests_send_due(*, now=None) -> list[str]:
    """The sweep: an attempt for every request that is due; and a refusal whose
    follow-up was lost (a worker stopped in between) is followed up now."""
    for outbound in PartnerRequest.objects.filter(
        state=PartnerRequest.State.FAILED, renewal__state="sent"
    ):
        renewal_request_failed(partner_request=outbound)
    return [partner_request_send(request_pk=pk, now=now) for pk in due_partner_requests(now=now)]
