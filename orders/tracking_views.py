"""The local courier's public tracking page, linked from the order page and the
dispatch email as a real carrier's would be."""

import re

from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_safe

from .models import Shipment

TRACKING_NUMBER = re.compile(r"[A-Z0-9]{4,64}")


@require_safe
def track_parcel(request, tracking_number: str):
    """The local courier's public tracking page, as a carrier's would be: the parcel's
    status and dates, found by its unguessable tracking number; no name, address or
    contents, so it needs no sign-in (the patient may pass the link on)."""
    if not TRACKING_NUMBER.fullmatch(tracking_number):
        raise Http404
    shipment = (
        Shipment.objects.filter(tracking_number=tracking_number).select_related("order").first()
    )
    if shipment is None:
        raise Http404
    return render(
        request,
        "orders/track_parcel.html",
        {"shipment": shipment, "estimate": shipment.order.delivery_estimate},
    )
