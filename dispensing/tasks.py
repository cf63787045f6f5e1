"""Dispensing's periodic work. Thin: the services make running twice change nothing."""

from celery import shared_task

from .services.stock import lots_expire
from .task_names import EXPIRE_LOTS


@shared_task(acks_late=True, name=EXPIRE_LOTS)
def expire_lots() -> int:
    """Take lots past their expiry date off sale; returns how many."""
    return lots_expire()
