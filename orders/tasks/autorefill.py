"""Auto-refill tasks: the hourly run (beat), one cycle's order and charge, its emails.

`run_auto_refills` finds what is due (`services.autorefill_runs.cycles_due`: notices,
today's cycles, and cycles whose charge a lost task left undone) and queues one
`run_cycle` each. A cycle places one order and charges once however often it runs:
the cycle row links its order in the same transaction, and the charge carries the
cycle's Stripe idempotency key.
"""

from celery import shared_task
from django.utils import timezone

from pharmacy.queue import enqueue

from ..payments.refills import refill_cycle_run
from ..services.autorefill_runs import cycle_email_send, cycles_due
from ..task_names import RUN_AUTO_REFILL_CYCLE, RUN_AUTO_REFILLS, SEND_AUTO_REFILL_EMAIL
from .payments import TASK_OPTIONS
from .shipping import RETRY


@shared_task(acks_late=True, name=RUN_AUTO_REFILLS)
def run_auto_refills() -> int:
    """Send the notices due and queue today's refills; returns how many were queued."""
    cycles = cycles_due(today=timezone.localdate())
    for cycle_id in cycles:
        enqueue(RUN_AUTO_REFILL_CYCLE, cycle_id)
    return len(cycles)


@shared_task(**TASK_OPTIONS, name=RUN_AUTO_REFILL_CYCLE)
def run_cycle(cycle_id: int) -> str:
    """Place the cycle's order and charge the saved card, once."""
    return refill_cycle_run(cycle_id=cycle_id)


@shared_task(**RETRY, name=SEND_AUTO_REFILL_EMAIL)
def send_email(cycle_id: int, kind: str) -> bool:
    """Email the patient about a cycle (`notice` or `refused`), at most once."""
    return cycle_email_send(cycle_id=cycle_id, kind=kind)
