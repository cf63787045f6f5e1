"""Orders whose card is authorised at checkout and charged after verification.

The moves are in `lifecycle` (`order_mark_authorised`, then `order_mark_paid` or
`order_cancel`); talking to Stripe about the authorisation (capture, cancel) is
`orders.payments.settlement`, above this layer.
"""

from datetime import date, timedelta

from django.contrib.auth import get_user_model
from django.db import transaction

from prescriptions.review import long_date
from prescriptions.selectors import refill_supply
from prescriptions.services import (
    prescription_order_waiting_refresh,
    prescription_recheck,
    prescription_reserve_units,
    prescription_use_early_refill,
)

from ..models import ORDER_MACHINE, Order, OrderLine, OrderStatus
from ..selectors import WAITING_STATUSES, arrived_prescriptions


def waiting_lines(order: Order) -> list[OrderLine]:
    """The lines whose prescription was still with the pharmacist at checkout."""
    return list(
        order.lines.filter(units_reserved=False).select_related(
            "prescription", "package__formulation"
        )
    )


def line_reserve_units(*, line: OrderLine) -> bool:
    """Take a verified prescription's units for a line that took none at checkout, after
    running its review again as checkout does; False (nothing taken) if it cannot.

    Call it inside the transaction that moves the order to paid.
    """
    prescription = prescription_recheck(prescription_id=line.prescription_id)
    if prescription.is_held:
        return False
    if not prescription_reserve_units(prescription_id=line.prescription_id, units=line.units):
        return False
    OrderLine.objects.filter(pk=line.pk).update(units_reserved=True)
    line.units_reserved = True
    return True


def early_refill_reason(*, order: Order, lines: list[OrderLine], today: date) -> str:
    """Why charging these waiting lines now would be an early refill, for the patient;
    "" when it would not, or a pharmacist allowed it (the allowance is then used).

    Checkout could not count a waiting line: its prescription's directions were not
    known. Now they are, so checkout's rule runs again, counting the patient's orders
    of the drug that hold their medicine (`refill_supply`: paid, dispatched, delivered,
    or paying now), so the ones settled before this one, but never this order nor one
    still waiting (their turn comes, and each is counted once charged). The patient's
    row is locked first, as checkout does, so two orders verified together are
    settled one after the other and the second counts the first. Call it inside the
    transaction that captures, so an allowance goes back if nothing is charged.
    """
    get_user_model().objects.select_for_update().filter(pk=order.patient_id).exists()
    checked = set()
    for line in lines:
        drug_id = line.package.formulation.drug_id
        if drug_id in checked:
            continue  # one allowance covers the whole order, as at checkout
        checked.add(drug_id)
        supply = refill_supply(patient=order.patient, drug_id=drug_id)
        if supply is None or today >= supply.refill_from:
            continue
        same_drug = [ln for ln in lines if ln.package.formulation.drug_id == drug_id]
        if any(
            prescription_use_early_refill(prescription_id=ln.prescription_id) for ln in same_drug
        ):
            continue
        last_day = supply.runs_out - timedelta(days=1)
        return (
            f"your earlier orders of {line.description} last until {long_date(last_day)} "
            f"(you may order it again from {long_date(supply.refill_from)}); a pharmacist can "
            "allow an early refill"
        )
    return ""


def awaiting_patients() -> list[int]:
    """The patients with an authorised order waiting for a prescription to arrive."""
    return list(
        OrderLine.objects.filter(order__status=OrderStatus.AUTHORISED, prescription__isnull=True)
        .values_list("order__patient_id", flat=True)
        .distinct()
    )


@transaction.atomic
def awaited_lines_match(*, patient_id: int) -> list[int]:
    """Give each line of the patient's authorised orders that waits for a prescription to
    arrive one that did: theirs, for the line's drug and strength (or a strength still to
    be read by the pharmacist), not on another waiting order, oldest first. Returns the
    orders whose lines were matched, to be settled.

    The lines are locked, so an arrival's task and the sweep match a line once; each
    match is written in the order's history.
    """
    lines = list(
        OrderLine.objects.select_for_update(of=("self",))
        .filter(
            order__patient_id=patient_id,
            order__status=OrderStatus.AUTHORISED,
            prescription__isnull=True,
        )
        .select_related("order", "package__formulation")
        .order_by("order_id", "pk")
    )
    if not lines:
        return []
    candidates = arrived_prescriptions(
        patient_id=patient_id,
        drug_ids={line.package.formulation.drug_id for line in lines},
        since=min(line.order.created_at for line in lines),
    )
    matched = []
    for line in lines:
        formulation = line.package.formulation
        match = next(
            (
                p
                for p in candidates
                if p.drug_id == formulation.drug_id
                and p.formulation_id in (None, formulation.pk)
                and (p.status in WAITING_STATUSES or p.submitted_at >= line.order.created_at)
            ),
            None,
        )
        if match is None:
            continue
        candidates.remove(match)
        OrderLine.objects.filter(pk=line.pk).update(prescription=match)
        prescription_order_waiting_refresh(prescription_ids=[match.pk])
        ORDER_MACHINE.note(
            line.order,
            note=f"Prescription #{match.pk} arrived for {line.description}; it waits for a "
            "pharmacist",
        )
        if line.order_id not in matched:
            matched.append(line.order_id)
    return matched
