"""The emails that tell a patient what happened to their prescription."""

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse

from about.emails import pharmacy_name, sender, subject

from .models import Consultation, RenewalRequest, Status, StatusChange

SUBJECTS = {
    Status.SUBMITTED: "We received your prescription",
    Status.NEEDS_INFO: "Your prescription: our pharmacist needs more information",
    Status.VERIFIED: "Your prescription is verified",
    Status.REJECTED: "We could not accept your prescription",
}


def site_url(path: str) -> str:
    return f"{settings.SITE_URL.rstrip('/')}{path}"


def status_change_email(change: StatusChange) -> EmailMessage:
    prescription = change.prescription
    body = render_to_string(
        "prescriptions/email/status_change.txt",
        {
            "change": change,
            "prescription": prescription,
            "url": site_url(prescription.get_absolute_url()),
            "SITE_NAME": pharmacy_name(),
        },
    )
    title = subject(f"{SUBJECTS[change.to_status]} (#{prescription.pk})")
    return EmailMessage(title, body, from_email=sender(), to=[prescription.patient.email])


RENEWAL_SUBJECTS = {
    RenewalRequest.State.SENT: "We asked {partner} to renew your prescription #{pk}",
    RenewalRequest.State.FOR_PRESCRIBER: "Your renewal request for prescription #{pk}: give it "
    "to your prescriber",
    RenewalRequest.State.RENEWED: "Your prescription #{pk} was renewed",
    RenewalRequest.State.DECLINED: "Your prescription #{pk} was not renewed",
}


def renewal_email_send(*, renewal_id: int, state: str) -> bool:
    """Email the patient that their renewal request reached `state`, once; False when
    it was sent already or the request has moved on (that state's email goes instead)."""
    with transaction.atomic():
        renewal = (
            RenewalRequest.objects.select_for_update(of=("self",))
            .select_related("prescription__partner", "patient", "new_prescription")
            .get(pk=renewal_id)
        )
        if renewal.state != state or renewal.emailed_state == state:
            return False
        prescription = renewal.prescription
        partner = prescription.partner.name if prescription.partner_id else "your prescriber"
        body = render_to_string(
            "prescriptions/email/renewal.txt",
            {
                "renewal": renewal,
                "prescription": prescription,
                "partner": partner,
                "url": site_url(prescription.get_absolute_url()),
                "request_url": site_url(reverse("prescriptions:renewal", args=[prescription.pk])),
                "new_url": site_url(renewal.new_prescription.get_absolute_url())
                if renewal.new_prescription_id
                else "",
                "SITE_NAME": pharmacy_name(),
            },
        )
        title = subject(RENEWAL_SUBJECTS[state].format(partner=partner, pk=prescription.pk))
        EmailMessage(title, body, from_email=sender(), to=[renewal.patient.email]).send()
        renewal.emailed_state = state
        renewal.save(update_fields=["emailed_state"])
    return True


CONSULTATION_SUBJECTS = {
    Consultation.Status.SENT: "We sent your consultation request for {drug} to {partner}",
    Consultation.Status.PRESCRIBED: "{partner} prescribed {drug} for you",
    Consultation.Status.DECLINED: "{partner} did not prescribe {drug}",
    Consultation.Status.NOT_SENT: "{partner} could not take your consultation request",
}


def consultation_email_send(*, consultation_id: int, status: str) -> bool:
    """Email the patient that their consultation reached `status`, once; False when it
    was sent already or the consultation has moved on (that status's email goes instead)."""
    with transaction.atomic():
        consultation = (
            Consultation.objects.select_for_update(of=("self",))
            .select_related("patient", "partner", "drug", "prescription")
            .get(pk=consultation_id)
        )
        if consultation.status != status or consultation.emailed_status == status:
            return False
        body = render_to_string(
            "prescriptions/email/consultation.txt",
            {
                "consultation": consultation,
                "url": site_url(consultation.get_absolute_url()),
                "prescription_url": site_url(consultation.prescription.get_absolute_url())
                if consultation.prescription_id
                else "",
                "SITE_NAME": settings.SITE_NAME,
            },
        )
        title = subject(
            CONSULTATION_SUBJECTS[status].format(
                partner=consultation.partner.name, drug=consultation.drug.name
            )
        )
        EmailMessage(title, body, from_email=sender(), to=[consultation.patient.email]).send()
        consultation.emailed_status = status
        consultation.save(update_fields=["emailed_status"])
    return True
