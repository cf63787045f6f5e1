"""Courier backends: who carries a paid order to the patient, and where it is now.

- `base`: the `Courier` protocol, `Booking`, `TrackingInfo`, `CourierUnavailable`.
- `local`: `LocalCourier`, the embedded default, which needs no outside service.
- `registry`: the backend that books new parcels (`COURIER_BACKEND`) and the backend
  that tracks each parcel, by the carrier name on its Shipment (`COURIERS`).

To add a courier: a class with `name`, `create_shipment` and `track` (see `base`),
its dotted path in COURIERS, and in COURIER_BACKEND once new parcels should use it.
`orders.couriers.LocalCourier` stays importable here, the path settings have named.
"""

from .base import Booking, Courier, CourierUnavailable, TrackingInfo
from .local import LocalCourier
from .registry import courier_for, couriers, get_courier

__all__ = [
    "Booking",
    "Courier",
    "CourierUnavailable",
    "LocalCourier",
    "TrackingInfo",
    "courier_for",
    "couriers",
    "get_courier",
]
