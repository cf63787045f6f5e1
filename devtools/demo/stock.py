"""Demo lots: every sellable package gets two lots received by the demo pharmacist, one
expiring within 90 days (the admin's "expires soon" filter shows it) and one next year,
so that the final check of a demo order has boxes to pick, first expiry first."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from catalog.models import Package
from dispensing.models import Lot
from dispensing.services.stock import lot_receive

from .accounts import require_debug

DEMO_LOTS = (("DEMO-A", 75, 5), ("DEMO-B", 400, 20))  # lot prefix, days to expiry, packages


@transaction.atomic
def ensure_demo_lots(*, pharmacist) -> int:
    """Receive the demo lots that are missing; returns how many were received now."""
    require_debug()
    received = 0
    today = timezone.localdate()
    for package in Package.objects.purchasable():
        for prefix, days, quantity in DEMO_LOTS:
            number = f"{prefix}{package.pk:03d}"
            if Lot.objects.filter(package=package, lot_number=number).exists():
                continue
            lot_receive(
                package_id=package.pk,
                lot_number=number,
                expiry_date=today + timedelta(days=days),
                quantity=quantity,
                supplier="Demo Wholesale Inc.",
                invoice_reference=f"DEMO-INV-{package.pk}",
                received_by=pharmacist,
            )
            received += 1
    return received
