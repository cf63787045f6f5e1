"""Consultations: a patient without a prescription asks a telemedicine partner for one.

The patient answers the drug's questionnaire (their medical profile, saved as they
answer it, and the questions staff define for the drug), chooses a partner and a
form and strength; the request goes to the partner through the outbox (signed,
retried until acknowledged), as our JSON or as FHIR. The partner answers through the
intake (`consultation_answers`).
"""

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse

from ..models import CONSULTATION_MACHINE, Consultation, PartnerRequest
from ..selectors import (
    consultation_partners,
    consultation_questions,
    open_consultation,
    profile_answers,
)
from .consultation_answers import notify
from .partner_requests import partner_request_queue
from .profile import profile_update


def _site(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def _drug_answers(drug, answers: dict) -> list[dict]:
    """The drug's questions with the patient's answers; ValidationError naming the
    first required question left unanswered."""
    result = []
    for question in consultation_questions(drug=drug):
        value = answers.get(question.pk)
        if isinstance(value, bool):
            value = "yes" if value else "no"
        value = (value or "").strip() if isinstance(value, str) else ""
        if question.required and not value:
            raise ValidationError(f"Please answer “{question.text}”.")
        result.append(
            {"id": f"question.{question.pk}", "question": question.text, "kind": question.kind}
            | {"answer": value}
        )
    return result


def _payload(*, patient, profile, formulation, answers: list[dict], request_id) -> dict:
    drug = formulation.drug
    return {
        "type": "consultation_request",
        "reason": f"The patient has no prescription for {drug} and asks for one.",
        "patient": {
            "email": patient.email,
            "name": patient.get_full_name(),
            "first_name": patient.first_name,
            "last_name": patient.last_name,
            "date_of_birth": profile.date_of_birth.isoformat() if profile.date_of_birth else None,
        },
        "medication": {
            "drug": drug.slug,
            "form": formulation.form,
            "strength": formulation.strength_label,
            "rxnorm": formulation.rxnorm_code or None,
        },
        "questionnaire": answers,
        "answer": {
            "prescription": _site(reverse("prescriptions_api:telemedicine")),
            "prescription_fhir": _site(reverse("prescriptions_api:telemedicine_fhir")),
            "consultation": str(request_id),
            "decline": _site(reverse("prescriptions_api:telemedicine_decline", args=[request_id])),
        },
    }


@transaction.atomic
def consultation_request(
    *, patient, drug, formulation, partner, profile_data: dict, answers: dict
) -> Consultation:
    """The patient asks `partner` for a prescription of `drug`: the profile is saved,
    the answers kept, the request queued. While one is open for the drug, asking again
    returns it. ValidationError says why it cannot be asked."""
    open_one = open_consultation(patient=patient, drug=drug)
    if open_one is not None:
        return open_one
    if not drug.is_published or not drug.prescription_required:
        raise ValidationError(f"{drug} needs no consultation here.")
    if formulation.drug_id != drug.pk or not formulation.sellable:
        raise ValidationError(f"Choose a form and strength of {drug} that we sell.")
    if not consultation_partners().filter(pk=partner.pk).exists():
        raise ValidationError(f"{partner} does not take consultation requests; choose another.")
    profile = profile_update(patient=patient, data=profile_data)
    answers = profile_answers(profile) + _drug_answers(drug, answers)
    request_id = uuid.uuid4()
    try:
        # A savepoint: when another tab asked at the same moment, its request stands and
        # this one (with its queued delivery) is dropped.
        with transaction.atomic():
            outbound = partner_request_queue(
                partner=partner,
                kind=PartnerRequest.Kind.CONSULTATION,
                payload=_payload(
                    patient=patient,
                    profile=profile,
                    formulation=formulation,
                    answers=answers,
                    request_id=request_id,
                ),
                request_id=request_id,
            )
            consultation = Consultation(
                patient=patient,
                drug=drug,
                formulation=formulation,
                partner=partner,
                partner_request=outbound,
                answers=answers,
            )
            CONSULTATION_MACHINE.move(consultation, Consultation.Status.SENT, actor=patient)
    except IntegrityError:
        return Consultation.objects.get(patient=patient, drug=drug, status=Consultation.Status.SENT)
    notify(consultation)
    return consultation
