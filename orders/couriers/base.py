"""What every courier backend is: book a parcel, say where it is now.

A real carrier's backend implements `Courier`'s two calls (booking answers the tracking
number and the carrier's public tracking URL) and raises
`CourierUnavailable` for anything worth retrying later. Its `name` is stored on each
Shipment it books (`Shipment.carrier`), and the registry finds the backend by that
name to track the parcel, so a name must never change while parcels are on the way.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from ..models import Order, Shipment

TrackingStatus = Literal["in_transit", "delivered"]


@dataclass(frozen=True)
class Booking:
    """A booked parcel: its tracking number, and the carrier's public page that follows
    it (a real carrier's tracking URL; "" when the carrier has none)."""

    tracking_number: str
    tracking_url: str = ""


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

    def create_shipment(self, order: Order) -> Booking:
        """Book the parcel and return its tracking number and tracking page.

        Must return the same number when asked again for the same order, so that a
        task retried after a crash does not book a second parcel. Only an http(s)
        tracking URL is ever shown to the patient.
        """
        ...

    def track(self, shipment: Shipment) -> TrackingInfo: ...
