"""Celery tasks of the prescriptions app: thin, by id, safe to run twice."""

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from .emails import status_change_email
from .models import StatusChange


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
