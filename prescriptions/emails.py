"""The emails that tell a patient what happened to their prescription."""

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string

from about.emails import sender

from .models import Status, StatusChange

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
            "SITE_NAME": settings.SITE_NAME,
        },
    )
    subject = f"{SUBJECTS[change.to_status]} (#{prescription.pk})"
    return EmailMessage(subject, body, from_email=sender(), to=[prescription.patient.email])
