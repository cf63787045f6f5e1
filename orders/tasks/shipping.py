"""Shipping tasks: book a paid order's parcel, follow the parcels on their way.

Thin on purpose: the services refuse anything but the expected move under a row
lock, so running a task twice (a redelivery after a worker died, with acks_late)
changes nothing the second time.
"""

from celery import shared_task
from django.db import OperationalError

from ..couriers import CourierUnavailable
from ..extensions import checked_order_send
from ..services.notifications import emails_sent_here
from ..services.shipping import order_dispatch, shipments_refresh
from ..task_names import DISPATCH_ORDER, REFRESH_SHIPMENTS

# Worth trying again later: the courier or the mail server was unreachable (SMTP
# errors are OSErrors), or the database was briefly unavailable or locked.
TRANSIENT = (CourierUnavailable, OSError, OperationalError)
RETRY = {
    "autoretry_for": TRANSIENT,
    "retry_backoff": True,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 8,
    "acks_late": True,
}


@shared_task(**RETRY, name=DISPATCH_ORDER)
def dispatch_order(order_id: int) -> str | None:
    """Hand a paid order to the courier; returns the tracking number, or None if not due.

    Then the emails its final check left to send (a first fill's counselling offer),
    whether or not the parcel could be booked now: no task of their own. Written from
    the order as the dispatch left it, when it did.
    """
    shipment = None
    with emails_sent_here():  # the dispatch email goes out from here, after the commit
        try:
            shipment = order_dispatch(order_id=order_id)
        finally:
            checked_order_send(order_id, order=shipment.order if shipment else None)
    return shipment.tracking_number if shipment else None


@shared_task(acks_late=True, name=REFRESH_SHIPMENTS)
def refresh_shipments() -> int:
    """Ask each parcel's carrier about it; returns how many were delivered."""
    return shipments_refresh()
