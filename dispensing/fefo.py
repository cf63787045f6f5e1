"""First expiry, first out: which lots a line is dispensed from.

Pure functions over plain values, so the rule is tested without a database. A lot
is never used if it expires before the patient would finish the supply: a box that
expires on day 20 of a 30-day supply leaves the patient taking expired tablets.
"""

import math
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal


@dataclass(frozen=True)
class Candidate:
    lot_id: int
    lot_number: str
    expiry_date: date
    on_hand: int


@dataclass(frozen=True)
class Allocation:
    lot_id: int
    lot_number: str
    expiry_date: date
    quantity: int


def days_of_supply(*, units: int, daily_units: Decimal | int | None) -> int | None:
    """How many days `units` last at the prescription's directions; None without them."""
    if not daily_units or daily_units <= 0:
        return None
    return math.ceil(Decimal(units) / Decimal(daily_units))


def use_until(*, today: date, days: int) -> date:
    """The last day of a supply started today: a lot must not expire before it."""
    return today + timedelta(days=max(days, 1) - 1)


def allocate(
    candidates: list[Candidate], *, packages: int, last_day: date
) -> list[Allocation] | None:
    """Take `packages` boxes from the lots that last until `last_day`, earliest expiry
    first (then in the order given: received first); None when they do not add up."""
    usable = sorted(
        (c for c in candidates if c.expiry_date >= last_day and c.on_hand > 0),
        key=lambda c: c.expiry_date,
    )
    needed = packages
    taken = []
    for lot in usable:
        if needed == 0:
            break
        quantity = min(lot.on_hand, needed)
        taken.append(Allocation(lot.lot_id, lot.lot_number, lot.expiry_date, quantity))
        needed -= quantity
    return taken if needed == 0 else None
