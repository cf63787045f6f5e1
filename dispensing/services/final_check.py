"""The pharmacist's final check: the one way a paid order reaches the courier.

The pharmacist holds the boxes picked for each line, with the prescription and the
label, and confirms the drug and strength, the number of packages, and the lot number
and expiry printed on each box. The site knows which lots should have been picked
(first expiry first, never one that expires before the supply is used up) and
compares: anything that differs refuses the check with the reason, and the refusal is
recorded. When everything matches, the boxes leave their lots, a dispense record is
written per line and lot, and orders' `order_release_for_dispatch` queues the courier.
"""

from dataclasses import dataclass, field
from datetime import date

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from orders.models import Order, OrderLine, OrderStatus
from orders.services import order_release_for_dispatch

from ..fefo import Allocation, Candidate, allocate, days_of_supply, use_until
from ..models import DispenseRecord, FinalCheck, Lot
from .counselling import counselling_offer_first_fills

CHECK_PERMISSION = "dispensing.perform_finalcheck"


@dataclass(frozen=True)
class LotConfirmation:
    """What the pharmacist read off the boxes of one lot for one line."""

    line_id: int
    lot_number: str
    expiry_date: date | None
    quantity: int | None


@dataclass
class LinePlan:
    """One line as the check sees it: the lots FEFO picks, or why it cannot be filled."""

    line: OrderLine
    allocations: list[Allocation] = field(default_factory=list)
    days_supply: int | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def prescription(self):
        return self.line.prescription


def _line_name(line: OrderLine) -> str:
    return f"Line {line.description}"


def _plan_line(line: OrderLine, *, taken: dict[int, int], today: date, lock: bool) -> LinePlan:
    plan = LinePlan(line=line)
    prescription = line.prescription
    name = _line_name(line)
    if prescription is None or not prescription.is_verified:
        plan.problems.append(f"{name}: no verified prescription covers it.")
        return plan
    if prescription.is_held:
        plan.problems.append(f"{name}: the prescription is on hold for a pharmacist's review.")
    if prescription.is_expired(today):
        plan.problems.append(
            f"{name}: the prescription expired on {prescription.expiry_date:%Y-%m-%d}."
        )
    if prescription.formulation_id != line.package.formulation_id:
        plan.problems.append(
            f"{name}: the prescription is for {prescription.formulation}, "
            f"not {line.package.formulation}."
        )
    plan.days_supply = days_of_supply(units=line.units, daily_units=prescription.daily_units)
    if plan.days_supply is None:
        plan.problems.append(
            f"{name}: the prescription has no units per dose and doses per day, so the days "
            "of supply (and which lots last) cannot be known."
        )
        return plan
    lots = Lot.objects.sellable(on=today).filter(package_id=line.package_id)
    if lock:
        lots = lots.select_for_update()
    candidates = [
        Candidate(
            lot.pk, lot.lot_number, lot.expiry_date, lot.quantity_on_hand - taken.get(lot.pk, 0)
        )
        for lot in lots.order_by("expiry_date", "received_at", "pk")
    ]
    last_day = use_until(today=today, days=plan.days_supply)
    allocations = allocate(candidates, packages=line.quantity, last_day=last_day)
    if allocations is None:
        plan.problems.append(
            f"{name}: no lots on hand hold {line.quantity} package(s) that last until "
            f"{last_day:%Y-%m-%d} ({plan.days_supply} days of supply). Receive a lot, or "
            "refund the order."
        )
        return plan
    for allocation in allocations:
        taken[allocation.lot_id] = taken.get(allocation.lot_id, 0) + allocation.quantity
    plan.allocations = allocations
    return plan


def final_check_plan(
    *, order: Order, today: date | None = None, lock: bool = False
) -> list[LinePlan]:
    """The lots each line of `order` is to be dispensed from, and what stands in the way."""
    today = today or timezone.localdate()
    taken: dict[int, int] = {}
    lines = order.lines.select_related("package__formulation__drug", "prescription__formulation")
    return [_plan_line(line, taken=taken, today=today, lock=lock) for line in lines]


def _normalised(lot_number: str) -> str:
    return "".join((lot_number or "").split()).upper()


def _compare(
    plan: LinePlan, confirmations: list[LotConfirmation], drug_confirmed: bool
) -> list[str]:
    name = _line_name(plan.line)
    problems = []
    if not drug_confirmed:
        problems.append(
            f"{name}: confirm that the drug and strength on the boxes and the label match the "
            "prescription."
        )
    expected = {_normalised(a.lot_number): a for a in plan.allocations}
    seen = set()
    for given in confirmations:
        number = _normalised(given.lot_number)
        allocation = expected.get(number)
        if allocation is None:
            wanted = ", ".join(a.lot_number for a in plan.allocations)
            problems.append(
                f"{name}: lot {given.lot_number or '(none)'} is not the lot to dispense "
                f"(first expiry first: {wanted})."
            )
            continue
        seen.add(number)
        if given.expiry_date != allocation.expiry_date:
            typed = f"{given.expiry_date:%Y-%m-%d}" if given.expiry_date else "(none)"
            problems.append(
                f"{name}: the expiry on lot {allocation.lot_number}'s boxes ({typed}) is not the "
                f"lot's recorded expiry ({allocation.expiry_date:%Y-%m-%d})."
            )
        if given.quantity != allocation.quantity:
            problems.append(
                f"{name}: {given.quantity or 0} package(s) of lot {allocation.lot_number} "
                f"counted; {allocation.quantity} to dispense."
            )
    for number, allocation in expected.items():
        if number not in seen:
            problems.append(f"{name}: lot {allocation.lot_number} was not confirmed.")
    return problems


class _Refused(Exception):
    def __init__(self, reasons: list[str]):
        super().__init__("; ".join(reasons))
        self.reasons = reasons


def order_final_check(
    *,
    order_id: int,
    pharmacist,
    drug_confirmed_lines: set[int],
    lots: list[LotConfirmation],
    today: date | None = None,
) -> FinalCheck:
    """Check a paid order against what the pharmacist read off its boxes; release it.

    Raises ValidationError naming each mismatch, with the refusal recorded as a
    FinalCheck row; and for an order that is not waiting for its check (not paid, or
    already released), without a record, since nothing was checked.
    """
    if not pharmacist.has_perm(CHECK_PERMISSION):
        raise PermissionDenied("Only a pharmacist may perform the final check.")
    try:
        return _check_and_release(
            order_id=order_id,
            pharmacist=pharmacist,
            drug_confirmed_lines=drug_confirmed_lines,
            lots=lots,
            today=today or timezone.localdate(),
        )
    except _Refused as refused:
        FinalCheck.objects.create(
            order_id=order_id,
            pharmacist=pharmacist,
            outcome=FinalCheck.Outcome.REFUSED,
            reason="\n".join(refused.reasons),
        )
        raise ValidationError(refused.reasons) from None


@transaction.atomic
def _check_and_release(*, order_id, pharmacist, drug_confirmed_lines, lots, today) -> FinalCheck:
    order = Order.objects.select_for_update().filter(pk=order_id).first()
    if order is None:
        raise ValidationError("This order does not exist.")
    if order.status != OrderStatus.PAID or order.checked_at is not None:
        raise ValidationError(
            f"Order {order.number} is not waiting for its final check "
            f"({order.get_status_display().lower()}"
            f"{', already checked' if order.checked_at else ''})."
        )
    plans = final_check_plan(order=order, today=today, lock=True)
    problems = []
    for plan in plans:
        problems += plan.problems
        if not plan.problems:
            given = [c for c in lots if c.line_id == plan.line.pk]
            problems += _compare(plan, given, plan.line.pk in drug_confirmed_lines)
    if problems:
        raise _Refused(problems)
    counselling_offer_first_fills(order=order, lines=[plan.line for plan in plans])
    # A parcel a recall sent back is checked again: the next round of releases.
    released_before = order.final_checks.filter(outcome=FinalCheck.Outcome.RELEASED).count()
    check = FinalCheck.objects.create(
        order=order,
        pharmacist=pharmacist,
        outcome=FinalCheck.Outcome.RELEASED,
        round=released_before + 1,
    )
    for plan in plans:
        for allocation in plan.allocations:
            lot = Lot.objects.select_for_update().get(pk=allocation.lot_id)
            lot.quantity_on_hand -= allocation.quantity
            lot._history_user = pharmacist
            lot.save(update_fields=["quantity_on_hand"])
            DispenseRecord.objects.create(
                final_check=check,
                order_line=plan.line,
                prescription=plan.prescription,
                lot=lot,
                lot_number=lot.lot_number,
                expiry_date=lot.expiry_date,
                quantity=allocation.quantity,
                units=allocation.quantity * plan.line.pills_per_package,
                pharmacist=pharmacist,
            )
    order_release_for_dispatch(order_id=order.pk, pharmacist=pharmacist)
    return check
