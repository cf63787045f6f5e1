"""A partner's answer to a consultation: a prescription through the intake that names
the consultation, a decline with a reason, or the request refused for good.

Every move goes through `CONSULTATION_MACHINE`, which refuses what its table does not
allow and writes a history row (with the partner's reason for a decline).
"""

import uuid

from django.db import transaction
from django.utils import timezone

from pharmacy.queue import enqueue_on_commit

from ..intake import IntakeError
from ..models import CONSULTATION_MACHINE, Consultation, PartnerRequest, Prescription
from .identity import comparable_email

SEND_CONSULTATION_EMAIL = "prescriptions.tasks.send_consultation_email"


def notify(consultation: Consultation) -> None:
    enqueue_on_commit(SEND_CONSULTATION_EMAIL, consultation.pk, consultation.status)


def _answer(consultation: Consultation, status: str, *, also_save=(), message="") -> None:
    """The partner's answer: the move, its history row, and the patient's email."""
    consultation.answered_at = timezone.now()
    CONSULTATION_MACHINE.move(
        consultation, status, also_save=["answered_at", *also_save], message=message
    )
    notify(consultation)


def _sent_to(partner, request_id) -> Consultation | None:
    try:
        request_id = uuid.UUID(str(request_id))
    except ValueError:
        return None
    return (
        Consultation.objects.select_for_update(of=("self",))
        .select_related("patient", "partner_request")
        .filter(partner_request__partner=partner, partner_request__request_id=request_id)
        .first()
    )


def consultation_link(
    *, partner, consultation: str, new_prescription: Prescription
) -> Consultation:
    """A partner's prescription answers the consultation it names: link them.

    Raises IntakeError naming `consultation` when this partner was sent no such
    request, when it is for another patient or medicine, or already answered. Call
    it in the intake's transaction.
    """
    found = _sent_to(partner, consultation)
    if found is None:
        raise IntakeError(
            {"consultation": [f"You were sent no consultation request {consultation!r}."]}
        )
    if comparable_email(found.patient.email) != new_prescription.patient_email:
        raise IntakeError(
            {"consultation": ["This consultation is for another patient than this one."]}
        )
    if found.drug_id != new_prescription.drug_id:
        raise IntakeError(
            {"consultation": [f"This consultation asks about {found.drug}, not this medicine."]}
        )
    if found.status != Consultation.Status.SENT:
        raise IntakeError(
            {"consultation": [f"This consultation was already answered ({found.status})."]}
        )
    found.prescription = new_prescription
    _answer(
        found,
        Consultation.Status.PRESCRIBED,
        also_save=["prescription"],
        message=f"Prescription {new_prescription.partner_reference} received.",
    )
    return found


@transaction.atomic
def consultation_decline(*, partner, request_id, reason: str) -> Consultation:
    """The partner's clinician declines (with the reason the patient reads). Declining
    twice changes nothing; a consultation answered with a prescription cannot be."""
    reason = (reason or "").strip()
    if not reason:
        raise IntakeError({"reason": ["Give the reason; the patient reads it."]})
    consultation = _sent_to(partner, request_id)
    if consultation is None:
        raise Consultation.DoesNotExist
    if consultation.status == Consultation.Status.DECLINED:
        return consultation
    if consultation.status != Consultation.Status.SENT:
        raise IntakeError(
            {"request_id": ["This request was already answered with a prescription."]}
        )
    consultation.decline_reason = reason[:500]
    _answer(
        consultation,
        Consultation.Status.DECLINED,
        also_save=["decline_reason"],
        message=consultation.decline_reason,
    )
    return consultation


@transaction.atomic
def consultation_request_failed(*, partner_request: PartnerRequest) -> Consultation | None:
    """The partner refused the request for good: the patient is told to choose another
    service (or upload a prescription)."""
    consultation = (
        Consultation.objects.select_for_update()
        .filter(partner_request=partner_request, status=Consultation.Status.SENT)
        .first()
    )
    if consultation is None:
        return None
    CONSULTATION_MACHINE.move(
        consultation, Consultation.Status.NOT_SENT, message=partner_request.last_error
    )
    notify(consultation)
    return consultation
