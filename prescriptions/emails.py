"""The emails that tell a patient what happened to their prescription."""

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.urls import reverse

from about.emails import pharmacy_email

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
    return pharmacy_email(
        template="prescriptions/email/status_change.txt",
        context={
            "change": change,
            "prescription": prescription,
            "url": site_url(prescription.get_absolute_url()),
        },
        title=f"{SUBJECTS[change.to_status]} (#{prescription.pk})",
        to=[prescription.patient.email],
    )


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
        pharmacy_email(
            template="prescriptions/email/renewal.txt",
            context={
                "renewal": renewal,
                "prescription": prescription,
                "partner": partner,
                "url": site_url(prescription.get_absolute_url()),
                "request_url": site_url(reverse("prescriptions:renewal", args=[prescription.pk])),
                "new_url": site_url(renewal.new_prescription.get_absolute_url())
                if renewal.new_prescription_id
                else "",
            },
            title=RENEWAL_SUBJECTS[state].format(partner=partner, pk=prescription.pk),
            to=[renewal.patient.email],
        ).send()
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
        pharmacy_email(
            template="prescriptions/email/consultation.txt",
            context={
                "consultation": consultation,
                "url": site_url(consultation.get_absolute_url()),
                "prescription_url": site_url(consultation.prescription.get_absolute_url())
                if consultation.prescription_id
                else "",
                "SITE_NAME": settings.SITE_NAME,
            },
            title=CONSULTATION_SUBJECTS[status].format(
                partner=consultation.partner.name, drug=consultation.drug.name
            ),
            to=[consultation.patient.email],
        ).send()
        consultation.emailed_status = status
        consultation.save(update_fields=["emailed_status"])
    return True
