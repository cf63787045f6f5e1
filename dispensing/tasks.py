"""Dispensing's periodic work. Thin: the services make running twice change nothing."""

from celery import shared_task

from .emails import send_recall_email
from .services.recalls import recall_notice_send
from .services.stock import lots_expire
from .task_names import EXPIRE_LOTS, SEND_RECALL_NOTICE


@shared_task(acks_late=True, name=EXPIRE_LOTS)
def expire_lots() -> int:
    """Take lots past their expiry date off sale; returns how many."""
    return lots_expire()


@shared_task(
    autoretry_for=(OSError,),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=8,
    acks_late=True,
    name=SEND_RECALL_NOTICE,
)
def send_recall_notice(notice_id: int) -> bool:
    """Email one affected patient about a recall, once; False if already sent."""
    return recall_notice_send(notice_id=notice_id, send=send_recall_email)
