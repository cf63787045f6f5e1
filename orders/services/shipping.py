"""Getting a paid order to the patient: booking its parcel, and following it to the door.

The courier books the same tracking number for the same order, and the shipment is
created only while the order is paid (`order_mark_dispatched`, under its row lock),
so a dispatch run twice, or twice at once, ends with one shipment.
"""

import logging

from django.db import OperationalError
from django.db.models import Exists, OuterRef

from ..couriers import CourierUnavailable, couriers, get_courier
from ..extensions import dispatch_hold_reason
from ..models import Order, OrderStatus, Shipment
from .lifecycle import order_mark_delivered, order_mark_dispatched

logger = logging.getLogger(__name__)

# Worth asking again on the next run: the courier, or the database, was unavailable.
TRACKING_TRANSIENT = (CourierUnavailable, OSError, OperationalError)


def order_dispatch(*, order_id: int) -> Shipment | None:
    """Book a checked order's parcel with the courier for new parcels; mark it dispatched.

    Returns the new shipment, or None when the order is not due (gone, not paid, not
    through the pharmacist's final check, held by a recall, or already shipped). Raises
    CourierUnavailable, with nothing changed here, when the courier cannot book now; the
    task retries.
    """
    # The order, and whether it has a shipment already, in one query (by its key: the
    # ordering of the orders list would only cost compiling).
    shipped = Exists(Shipment.objects.filter(order_id=OuterRef("pk")))
    order = Order.objects.filter(pk=order_id).annotate(shipped=shipped).order_by("pk").first()
    if order is None or order.status != OrderStatus.PAID or order.checked_at is None:
        return None
    if order.shipped:
        return None
    if reason := dispatch_hold_reason(order_id):
        logger.info("Order %s is held, not booked: %s", order.number, reason)
        return None
    courier = get_courier()
    booking = courier.create_shipment(order)
    return order_mark_dispatched(
        order_id=order_id,
        carrier=courier.name,
        tracking_number=booking.tracking_number,
        tracking_url=booking.tracking_url,
    )


def shipments_refresh() -> int:
    """Ask each parcel's own carrier where it is; returns how many were delivered.

    A parcel is asked about at the carrier that booked it (its Shipment's `carrier`),
    so parcels booked before COURIER_BACKEND changed are still followed. A parcel
    whose carrier is not configured any more is logged and skipped; a carrier that
    cannot answer about one parcel does not hold up the others; the next run asks again.
    """
    known = couriers()
    shipments = Shipment.objects.filter(
        order__status=OrderStatus.DISPATCHED, status=Shipment.Status.IN_TRANSIT
    ).order_by("created_at", "pk")
    delivered = 0
    for shipment in shipments:
        courier = known.get(shipment.carrier)
        if courier is None:
            logger.error(
                "No courier backend named %r is configured (COURIERS): %s is not tracked",
                shipment.carrier,
                shipment,
            )
            continue
        try:
            info = courier.track(shipment)
        except TRACKING_TRANSIENT as error:
            logger.warning("Could not track %s: %s", shipment, error)
            continue
        if info.is_delivered and order_mark_delivered(order_id=shipment.order_id):
            delivered += 1
    return delivered
