"""The one place that queues and sends the emails about an order.

`notify` is how every service asks for an email (a state change, a refill reminder);
the task `send_order_email` runs `notification_send`. A Notification row, unique per
order and kind, makes each email go out at most once.

Inside a worker's task (`emails_sent_here`), `notify` sends the email in that process
right after the task's commit instead of queueing a task for it: one task fewer per
email, each costing the worker a few ms of Celery machinery. The row's `sent_at` stays
the record: an email that fails to send is queued as a task after all (which retries),
and one lost with its process (a crash between the commit and the send) is queued again
by the sweep of lost work (`sweeps.lost_work_resume`); both lock the row, so it is sent once.
"""

import logging
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import transaction
from django.utils import timezone

from pharmacy.queue import enqueue_on_commit

from ..emails import order_email
from ..models import Notification, Order, OrderLine
from ..task_names import SEND_ORDER_EMAIL

__all__ = ["SEND_ORDER_EMAIL", "emails_sent_here", "notification_send", "notify"]

logger = logging.getLogger(__name__)

_send_here = ContextVar("orders_emails_sent_here", default=False)


@contextmanager
def emails_sent_here():
    """Within this block, `notify` sends each email in this process after the commit.

    For the worker's tasks, which are already off the request; a web request queues a
    task for each email, as before, so that it never waits on the mail server.
    """
    token = _send_here.set(True)
    try:
        yield
    finally:
        _send_here.reset(token)


def _send_after_commit(order: Order, kind: str, lines: list[OrderLine] | None) -> None:
    try:
        notification_send(order_id=order.pk, kind=kind, order=order, lines=lines)
    except Exception:
        # The row is still unsent: the task retries with backoff, as if queued at first.
        # Queued `robust`ly: with the broker down too, the sweep finds the row unsent.
        logger.warning("Order email %s for order %s not sent here; queued", kind, order.pk)
        enqueue_on_commit(SEND_ORDER_EMAIL, order.pk, kind)


def notify(order: Order, kind: str, *, lines: list[OrderLine] | None = None) -> None:
    """Email the patient about `kind` after commit, at most once.

    The row is inserted unless it is there (one INSERT .. ON CONFLICT DO NOTHING, no
    read first and no savepoint); whoever sends it locks it and skips it if sent, so
    an email asked for again, or queued twice, is still sent a single time. Sent here
    (`emails_sent_here`), the email is written from `order` as this transaction left
    it, and from `lines` (with their package and drug) when the caller read them.
    """
    Notification.objects.bulk_create([Notification(order=order, kind=kind)], ignore_conflicts=True)
    if _send_here.get():
        transaction.on_commit(lambda: _send_after_commit(order, kind, lines), robust=True)
    else:
        enqueue_on_commit(SEND_ORDER_EMAIL, order.pk, kind)


def notification_send(
    *,
    order_id: int,
    kind: str,
    order: Order | None = None,
    lines: list[OrderLine] | None = None,
) -> bool:
    """Email the patient about `kind` for this order, at most once; True if sent now.

    The row is marked sent, by an UPDATE of it while unsent, before the send, and the
    mark commits only after it: the UPDATE locks the row until then, so of two workers
    given the same task the second waits and then finds it sent, and a send that fails
    rolls the mark back. A crash after sending and before the commit can repeat the
    email, the lesser harm than never telling the patient. `order` (and its `lines`):
    the order as the caller just committed it, so that only the row is written here.
    """
    unsent = Notification.objects.filter(order_id=order_id, kind=kind, sent_at__isnull=True)
    with transaction.atomic():
        if not unsent.update(sent_at=timezone.now()):
            if Notification.objects.filter(order_id=order_id, kind=kind).exists():
                return False  # sent already
            # Queued by hand, not through `notify`.
            Notification.objects.get_or_create(order_id=order_id, kind=kind)
            if not unsent.update(sent_at=timezone.now()):
                return False
        if order is None:
            order = Order.objects.select_related("patient").get(pk=order_id)
        order_email(order, kind, lines=lines).send()
    return True
