"""Renewals: a patient asks for a new prescription when theirs runs out.

A verified prescription whose units no longer cover one package, that expires within
`RENEWAL_DAYS_BEFORE_EXPIRY` days, or has expired, may be renewed. One that came from
a telemedicine partner with a requests URL is asked of that partner through the
outbox (signed, retried until acknowledged); the partner answers with a new
prescription through the intake naming the old one (`renews`), which links the two,
or declines with a reason. Any other (an upload, a partner without a URL, or a
partner that refused the request) becomes a request the patient gives their
prescriber: a page they can print or forward, with everything the prescriber needs.
"""

import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from catalog.models import Package
from pharmacy.queue import enqueue_on_commit

from ..intake import IntakeError
from ..models import PartnerRequest, Prescription, RenewalRequest, Source, Status
from ..review import long_date
from .partner_requests import partner_request_queue

SEND_RENEWAL_EMAIL = "prescriptions.tasks.send_renewal_email"


@dataclass(frozen=True)
class RenewalNeed:
    due: bool
    reason: str  # for the patient and the prescriber, in plain words


def renewal_need(prescription: Prescription, *, today: date | None = None) -> RenewalNeed:
    """Whether the prescription may be renewed now, and why (or why not yet)."""
    today = today or timezone.localdate()
    if prescription.status != Status.VERIFIED:
        return RenewalNeed(False, "only a verified prescription can be renewed")
    if prescription.expiry_date and prescription.expiry_date < today:
        return RenewalNeed(True, f"it expired on {long_date(prescription.expiry_date)}")
    smallest = (
        Package.objects.filter(formulation_id=prescription.formulation_id)
        .order_by("pill_count")
        .values_list("pill_count", flat=True)
        .first()
    )
    if prescription.units_remaining < (smallest or 1):
        return RenewalNeed(True, "its refills are used up")
    window = timedelta(days=settings.RENEWAL_DAYS_BEFORE_EXPIRY)
    if prescription.expiry_date and prescription.expiry_date - today <= window:
        return RenewalNeed(True, f"it expires on {long_date(prescription.expiry_date)}")
    return RenewalNeed(
        False,
        f"it still has {prescription.units_remaining} units"
        + (
            f" and is valid until {long_date(prescription.expiry_date)}"
            if prescription.expiry_date
            else ""
        ),
    )


def _payload(prescription: Prescription, reason: str, request_id) -> dict:
    formulation = prescription.formulation
    return {
        "type": "renewal_request",
        "prescription_id": prescription.partner_reference,
        "pharmacy_prescription_id": prescription.pk,
        "reason": reason,
        "patient": {
            "email": prescription.patient_email,
            "name": prescription.patient_name,
            "date_of_birth": prescription.patient_date_of_birth.isoformat()
            if prescription.patient_date_of_birth
            else None,
        },
        "medication": {
            "drug": formulation.drug.slug,
            "form": formulation.form,
            "strength": formulation.strength_label,
            "rxnorm": formulation.rxnorm_code or None,
        },
        "directions": {
            "text": prescription.directions,
            "units_per_dose": str(prescription.units_per_dose)
            if prescription.units_per_dose is not None
            else None,
            "doses_per_day": prescription.doses_per_day,
        },
        "quantity": prescription.quantity,
        "refills": prescription.refills,
        "answer": {
            "prescription": settings.SITE_URL.rstrip("/")
            + reverse("prescriptions_api:telemedicine"),
            "prescription_fhir": settings.SITE_URL.rstrip("/")
            + reverse("prescriptions_api:telemedicine_fhir"),
            "renews": prescription.partner_reference,
            "decline": settings.SITE_URL.rstrip("/")
            + reverse("prescriptions_api:telemedicine_decline", args=[request_id]),
        },
    }


def renewal_by_partner(prescription: Prescription) -> bool:
    """Whether a renewal of it is asked of the partner who sent it (else: the prescriber)."""
    partner = prescription.partner
    return (
        prescription.source == Source.TELEMEDICINE
        and partner is not None
        and partner.active
        and bool(partner.requests_url)
        and bool(prescription.partner_reference)
    )


def _notify(renewal: RenewalRequest) -> None:
    enqueue_on_commit(SEND_RENEWAL_EMAIL, renewal.pk, renewal.state)


@transaction.atomic
def renewal_request(*, prescription_id: int, patient) -> RenewalRequest:
    """The patient asks for their prescription to be renewed; asking again while a
    request is open returns that request. ValidationError when it is not due."""
    prescription = (
        Prescription.objects.select_for_update(of=("self",))
        .select_related("partner", "formulation__drug")
        .filter(pk=prescription_id, patient=patient)
        .first()
    )
    if prescription is None:
        raise Prescription.DoesNotExist
    open_request = prescription.renewal_requests.filter(
        state__in=[RenewalRequest.State.SENT, RenewalRequest.State.FOR_PRESCRIBER]
    ).first()
    if open_request is not None:
        return open_request
    need = renewal_need(prescription)
    if not need.due:
        raise ValidationError(
            f"Prescription #{prescription.pk} does not need renewing yet: {need.reason}."
        )
    renewal = RenewalRequest(prescription=prescription, patient=patient)
    if renewal_by_partner(prescription):
        request_id = uuid.uuid4()
        renewal.partner_request = partner_request_queue(
            partner=prescription.partner,
            kind=PartnerRequest.Kind.RENEWAL,
            payload=_payload(prescription, need.reason, request_id),
            request_id=request_id,
        )
        renewal.state = RenewalRequest.State.SENT
    else:
        renewal.state = RenewalRequest.State.FOR_PRESCRIBER
    renewal.save()
    _notify(renewal)
    return renewal


@transaction.atomic
def renewal_request_failed(*, partner_request: PartnerRequest) -> RenewalRequest | None:
    """The partner refused the request for good: the patient gives it to their
    prescriber instead, and is told so."""
    renewal = (
        RenewalRequest.objects.select_for_update()
        .filter(partner_request=partner_request, state=RenewalRequest.State.SENT)
        .first()
    )
    if renewal is None:
        return None
    renewal.state = RenewalRequest.State.FOR_PRESCRIBER
    renewal.save(update_fields=["state"])
    _notify(renewal)
    return renewal


def renewal_link(*, partner, renews: str, new_prescription: Prescription) -> RenewalRequest:
    """A partner's new prescription names the one it renews: link them, closing the
    patient's open request (or recording a renewal the partner made unasked).

    Raises IntakeError naming `renews` when this partner sent no such prescription,
    or sent it for another patient. Call it in the intake's transaction.
    """
    original = Prescription.objects.filter(partner=partner, partner_reference=renews).first()
    if original is None:
        raise IntakeError({"renews": [f"You sent no prescription {renews!r} to renew."]})
    if original.patient_email != new_prescription.patient_email:
        raise IntakeError(
            {"renews": [f"Prescription {renews!r} is for another patient than this one."]}
        )
    renewal = (
        original.renewal_requests.select_for_update()
        .filter(state__in=[RenewalRequest.State.SENT, RenewalRequest.State.FOR_PRESCRIBER])
        .first()
    )
    if renewal is None:
        renewal = RenewalRequest(prescription=original, patient_id=original.patient_id)
    renewal.state = RenewalRequest.State.RENEWED
    renewal.new_prescription = new_prescription
    renewal.answered_at = timezone.now()
    if renewal.patient_id:
        renewal.save()
        _notify(renewal)
    return renewal


@transaction.atomic
def renewal_decline(*, partner, request_id, reason: str) -> RenewalRequest:
    """The partner's clinician declines a renewal request (with the reason the patient
    reads). Declining twice changes nothing; an answered request cannot be declined."""
    reason = (reason or "").strip()
    if not reason:
        raise IntakeError({"reason": ["Give the reason; the patient reads it."]})
    renewal = (
        RenewalRequest.objects.select_for_update()
        .filter(partner_request__partner=partner, partner_request__request_id=request_id)
        .first()
    )
    if renewal is None:
        raise RenewalRequest.DoesNotExist
    if renewal.state == RenewalRequest.State.DECLINED:
        return renewal
    if renewal.state == RenewalRequest.State.RENEWED:
        raise IntakeError(
            {"request_id": ["This request was already answered with a prescription."]}
        )
    renewal.state = RenewalRequest.State.DECLINED
    renewal.decline_reason = reason[:500]
    renewal.answered_at = timezone.now()
    renewal.save()
    _notify(renewal)
    return renewal
