"""Which courier books new parcels, and which one tracks each parcel on its way.

`settings.COURIER_BACKEND` is the backend new parcels are booked with;
`settings.COURIERS` lists every backend whose parcels may still be in transit. A
parcel is always tracked by the carrier that booked it, found by the name stored on
its Shipment, so switching COURIER_BACKEND strands nothing: keep the old backend in
COURIERS until its last parcel is delivered.

Both settings are read on each call, so tests (and a settings change) take effect at once.
"""

from django.conf import settings
from django.utils.module_loading import import_string

from .base import Courier


def get_courier() -> Courier:
    """A fresh instance of the backend that books new parcels (COURIER_BACKEND)."""
    return import_string(settings.COURIER_BACKEND)()


def couriers() -> dict[str, Courier]:
    """Every configured backend (COURIERS and COURIER_BACKEND), by the carrier name it stores."""
    paths = dict.fromkeys([*settings.COURIERS, settings.COURIER_BACKEND])
    instances = [import_string(path)() for path in paths]
    return {courier.name: courier for courier in instances}


def courier_for(carrier: str) -> Courier | None:
    """The backend that booked a parcel of `carrier`, or None if none configured is it."""
    return couriers().get(carrier)
