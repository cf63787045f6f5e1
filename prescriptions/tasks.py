"""Celery tasks of the prescriptions app: thin, by id, safe to run twice."""

from celery import shared_task
from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone

from .emails import consultation_email_send, renewal_email_send, status_change_email
from .models import StatusChange
from .services.consultation_answers import SEND_CONSULTATION_EMAIL
from .services.outbox import partner_request_send, partner_requests_send_due
from .services.partner_requests import DELIVER_PARTNER_REQUEST
from .services.renewals import SEND_RENEWAL_EMAIL


@shared_task(
    name="prescriptions.tasks.send_prescription_update",
    bind=True,
    autoretry_for=(OSError,),
    retry_backoff=True,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=8,
)
def send_prescription_update(self, status_change_id: int) -> bool:
    """Email the patient about one status change, at most once.

    The row is locked while sending, so two workers given the same task cannot both
    send; a crash after sending and before the commit can repeat the email, which is
    the lesser harm than never telling the patient.
    """
    with transaction.atomic():
        change = (
            StatusChange.objects.select_for_update(of=("self",))
            .select_related("prescription__patient", "prescription__formulation__drug")
            .get(pk=status_change_id)
        )
        if change.notified_at or not change.prescription.patient_id:
            return False
        status_change_email(change).send()
        change.notified_at = timezone.now()
        change.save(update_fields=["notified_at"])
    return True


PARTNER_TASK_OPTIONS = {
    "acks_late": True,
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": True,
    "max_retries": 5,
}


@shared_task(name=DELIVER_PARTNER_REQUEST, **PARTNER_TASK_OPTIONS)
def deliver_partner_request(partner_request_id: int) -> str:
    """One delivery attempt of a request to a partner; the sweep makes the next ones."""
    return partner_request_send(request_pk=partner_request_id)


@shared_task(name="prescriptions.tasks.deliver_due_partner_requests", **PARTNER_TASK_OPTIONS)
def deliver_due_partner_requests() -> list[str]:
    return partner_requests_send_due()


@shared_task(
    name=SEND_RENEWAL_EMAIL,
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=8,
)
def send_renewal_email(renewal_id: int, state: str) -> bool:
    """Tell the patient where their renewal request is (once per state it reaches)."""
    return renewal_email_send(renewal_id=renewal_id, state=state)


@shared_task(
    name=SEND_CONSULTATION_EMAIL,
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=8,
)
def send_consultation_email(consultation_id: int, status: str) -> bool:
    """Tell the patient where their consultation stands (once per status it reaches)."""
    return consultation_email_send(consultation_id=consultation_id, status=status)
