"""What checkout refuses a line or an order for, and the words the patient reads.

Read without changing anything, except an early refill's allowance, which a line that
needs it uses (`line_too_early`); `line_refusals` says the same for ordering again.
"""

from dataclasses import dataclass

from django.utils import timezone

from catalog.models import Package
from prescriptions.review import long_date
from prescriptions.selectors import (
    active_prescriptions,
    held_prescriptions,
    refill_supply,
    usable_prescriptions,
)
from prescriptions.services import prescription_use_early_refill

from ..cart import CartLine
from ..models import Order, OrderStatus


@dataclass
class CheckoutProblem:
    package: Package | None  # None for what concerns the whole order (the profile)
    # "profile" | "held" | "early_refill" | "no_prescription" | "not_enough_units"
    # | "out_of_stock" | "unavailable" | "not_waiting" | "order_waiting" | "unlicensed_state"
    # | "shipping"
    kind: str
    message: str
    held: tuple[int, ...] = ()  # prescriptions this checkout's review put on hold


class CheckoutError(Exception):
    """Why an order could not be placed, line by line; nothing was changed."""

    def __init__(self, problems: list[CheckoutProblem]):
        self.problems = problems
        super().__init__("; ".join(p.message for p in problems))


def coverage(*, patient, lines: list[CartLine], active=None) -> dict[int, int]:
    """Units the patient may still buy per package, from their usable prescriptions
    (active and not held), in one query for the whole cart; `active`: the patient's
    `active_prescriptions` for these lines, when the caller has loaded them already."""
    if not lines:
        return {}
    if active is None:
        formulations = {line.package.formulation_id for line in lines}
        active = active_prescriptions(patient=patient, formulation_ids=formulations)
    return {
        line.package.pk: sum(
            p.units_remaining
            for p in active
            if p.formulation_id == line.package.formulation_id and p.held_since is None
        )
        for line in lines
    }


def line_not_covered(*, patient, line: CartLine, held: list[int]) -> CheckoutProblem:
    package = line.package
    on_hold = list(held_prescriptions(patient=patient, formulation=package.formulation))
    if on_hold:
        return CheckoutProblem(
            package,
            "held",
            f"{package.label}: "
            + " ".join(
                f"your prescription #{p.pk} is on hold until a pharmacist reviews it again "
                f"({p.hold_reason.rstrip('.')})."
                for p in on_hold
            )
            + " You cannot order against it until then; the pharmacy may contact you.",
            held=tuple(held),
        )
    left = coverage(patient=patient, lines=[line])[package.pk]
    if left:
        return CheckoutProblem(
            package,
            "not_enough_units",
            f"{package.label}: your prescriptions cover {left} more units, this needs {line.units}.",
        )
    return CheckoutProblem(
        package, "no_prescription", f"{package.label}: no verified prescription of yours covers it."
    )


def line_too_early(*, patient, line: CartLine, prescription, seen: dict) -> CheckoutProblem | None:
    """An early refill, refused with the date the patient may order from, unless the
    prescription carries a pharmacist's allowance (which this order then uses); a line
    whose prescription is yet to arrive (None) has none to use."""
    drug = line.package.formulation.drug
    if drug.pk not in seen:
        seen[drug.pk] = (refill_supply(patient=patient, drug_id=drug.pk), set())
    supply, allowed = seen[drug.pk]
    if supply is None or timezone.localdate() >= supply.refill_from:
        return None
    if prescription is not None and (
        prescription.pk in allowed or prescription_use_early_refill(prescription_id=prescription.pk)
    ):
        allowed.add(prescription.pk)  # one allowance covers the whole order
        return None
    return CheckoutProblem(
        line.package,
        "early_refill",
        f"{drug.name} {line.package.label}: your earlier orders (the last on "
        f"{long_date(supply.last_order_on)}) run out on {long_date(supply.runs_out)}. You may "
        f"order it again from {long_date(supply.refill_from)}. If you need it sooner, contact "
        "the pharmacy: a pharmacist can allow an early refill.",
    )


def line_refusals(*, patient, line: CartLine) -> list[CheckoutProblem]:
    """What checkout would refuse `line` for, read without reserving or using anything
    (for ordering again): another order of the drug waiting for a pharmacist, units no
    verified prescription covers, an early refill (unless a usable prescription carries
    a pharmacist's allowance, which checkout then uses)."""
    problems = [order_still_waiting(patient=patient, line=line)]
    if coverage(patient=patient, lines=[line])[line.package.pk] < line.units:
        problems.append(line_not_covered(patient=patient, line=line, held=[]))
    usable = usable_prescriptions(patient=patient, formulation=line.package.formulation)
    if not usable.filter(early_refill_allowed=True).exists():
        problems.append(line_too_early(patient=patient, line=line, prescription=None, seen={}))
    return [problem for problem in problems if problem]


def order_still_waiting(*, patient, line: CartLine) -> CheckoutProblem | None:
    """Another order of the drug while one still waits for a pharmacist is refused.

    The waiting order's supply cannot be counted yet (its directions are not known
    before verification, and settling counts only orders already charged), so a second
    order now could not be checked for an early refill, and would be a double supply.
    """
    drug = line.package.formulation.drug
    waiting = (
        Order.objects.filter(
            patient=patient,
            status=OrderStatus.AUTHORISED,
            lines__package__formulation__drug_id=drug.pk,
        )
        .order_by("pk")
        .first()
    )
    if waiting is None:
        return None
    return CheckoutProblem(
        line.package,
        "order_waiting",
        f"{drug.name} {line.package.label}: your order {waiting.number} of this medicine is "
        "waiting for a pharmacist to verify its prescription. You can order more once it is "
        "charged or cancelled.",
    )
