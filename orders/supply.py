"""How long an order's medicine lasts: the day a supply runs out, and what to warn about.

The day follows from the prescription's directions (units per dose x doses per day)
and the units bought. Pure reads over order lines and catalog rows, shared by the
refill reminders and the emails.
"""

from datetime import date, timedelta
from decimal import Decimal

from django.utils import timezone

from catalog.models import Drug

from .models import OrderLine


def run_out_date(line: OrderLine) -> date | None:
    """The first day without medicine; None when the directions do not say how much a day.

    Counted from the day of payment in the pharmacy's time zone, in whole days: 10
    pills at 1 x 3 a day last 3 days, and the patient is out on the fourth morning.
    """
    return run_out_day(
        units=line.units, daily_units=line.prescription.daily_units, paid_at=line.order.paid_at
    )


def run_out_day(*, units: int, daily_units: Decimal | None, paid_at) -> date | None:
    """`run_out_date` from its three facts, for a caller that read the directions alone."""
    if not daily_units or paid_at is None:
        return None
    days = int(Decimal(units) // daily_units)
    return timezone.localdate(paid_at) + timedelta(days=days)


def stop_warnings(drugs: list[Drug]) -> list[str]:
    """The drugs' own warnings against stopping suddenly, as staff edited them."""
    return [drug.stop_warning for drug in sorted(drugs, key=lambda d: d.name) if drug.stop_warning]
