"""The recall email: in the pharmacy's name, what was recalled and what to do."""

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string

from about.emails import sender

from .models import RecallNotice


def recall_email(notice: RecallNotice) -> EmailMessage:
    recall = notice.recall
    drug = recall.package.formulation.drug
    context = {
        "patient": notice.patient,
        "recall": recall,
        "package": recall.package,
        "orders": notice.orders,
        "order_count": len(notice.orders.split(", ")),
        "stop_warnings": [drug.stop_suddenly_warning]
        if drug.must_not_stop_suddenly and drug.stop_suddenly_warning
        else [],
    }
    body = render_to_string("dispensing/email/recall.txt", context)
    subject = f"Important: a medicine you received is recalled (lot {recall.lot_number})"
    return EmailMessage(
        f"{subject} - {settings.SITE_NAME}", body, from_email=sender(), to=[notice.patient.email]
    )


def send_recall_email(notice: RecallNotice) -> None:
    recall_email(notice).send()
