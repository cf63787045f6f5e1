"""Dispensing's periodic work. Thin: the services make running twice change nothing."""

from celery import shared_task

from .emails import send_counselling_offer_email, send_message_notice_email, send_recall_email
from .services.counselling import (
    counselling_offer_send,
    counselling_offers_send,
    message_notice_send,
)
from .services.recalls import recall_notice_send
from .services.stock import lots_expire
from .task_names import (
    EXPIRE_LOTS,
    SEND_COUNSELLING_OFFER,
    SEND_MESSAGE_NOTICE,
    SEND_RECALL_NOTICE,
)

EMAIL_RETRY = {
    "autoretry_for": (OSError,),
    "retry_backoff": True,
    "retry_backoff_max": 600,
    "max_retries": 8,
    "acks_late": True,
}


@shared_task(acks_late=True, name=EXPIRE_LOTS)
def expire_lots() -> int:
    """Take lots past their expiry date off sale; returns how many."""
    return lots_expire()


@shared_task(**EMAIL_RETRY, name=SEND_RECALL_NOTICE)
def send_recall_notice(notice_id: int) -> bool:
    """Email one affected patient about a recall, once; False if already sent."""
    return recall_notice_send(notice_id=notice_id, send=send_recall_email)


@shared_task(**EMAIL_RETRY, name=SEND_COUNSELLING_OFFER)
def send_counselling_offer(offer_id: int) -> bool:
    """Email the counselling offer of a first fill, once."""
    return counselling_offer_send(offer_id=offer_id, send=send_counselling_offer_email)


def send_counselling_offers(order_id: int, *, order=None) -> None:
    """What orders' dispatch task runs for dispensing: the order's counselling offers not
    emailed yet, sent in its process (an offer that fails is queued as the task above)."""
    counselling_offers_send(order_id=order_id, send=send_counselling_offer_email, order=order)


@shared_task(**EMAIL_RETRY, name=SEND_MESSAGE_NOTICE)
def send_message_notice(message_id: int) -> bool:
    """Email the other side that a message waits (without its content), once."""
    return message_notice_send(message_id=message_id, send=send_message_notice_email)
