"""Courier backends: who carries a paid order to the patient, and where it is now.

`settings.COURIER_BACKEND` names the class; the embedded default is `LocalCourier`,
which needs no outside service. A real carrier's backend implements the same two
calls and raises `CourierUnavailable` for anything worth retrying later.
"""

import base64
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol

from django.conf import settings
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.module_loading import import_string

from .models import Order, Shipment

TrackingStatus = Literal["in_transit", "delivered"]


@dataclass(frozen=True)
class TrackingInfo:
    status: TrackingStatus
    delivered_at: datetime | None = None

    @property
    def is_delivered(self) -> bool:
        return self.status == Shipment.Status.DELIVERED


class CourierUnavailable(Exception):
    """The courier could not answer now (network, rate limit, outage); try again later."""


class Courier(Protocol):
    name: str

    def create_shipment(self, order: Order) -> str:
        """Book the parcel and return its tracking number.

        Must return the same number when asked again for the same order, so that a
        task retried after a crash does not book a second parcel.
        """
        ...

    def track(self, shipment: Shipment) -> TrackingInfo: ...


class LocalCourier:
    """Stands in for a carrier: every parcel arrives a fixed time after it leaves."""

    name = "Local courier"
    prefix = "LC"

    def create_shipment(self, order: Order) -> str:
        # An HMAC of the order number: the same order always gets the same number
        # (a retry books nothing new), and nobody can guess another order's number.
        digest = salted_hmac("orders.couriers.LocalCourier", order.number).digest()
        return self.prefix + base64.b32encode(digest).decode("ascii")[:12]

    def track(self, shipment: Shipment) -> TrackingInfo:
        arrives_at = shipment.created_at + timedelta(
            minutes=settings.LOCAL_COURIER_DELIVERY_MINUTES
        )
        if timezone.now() >= arrives_at:
            return TrackingInfo(status=Shipment.Status.DELIVERED, delivered_at=arrives_at)
        return TrackingInfo(status=Shipment.Status.IN_TRANSIT)


def get_courier() -> Courier:
    """A fresh instance of the configured backend (read each time, so tests can swap it)."""
    return import_string(settings.COURIER_BACKEND)()
