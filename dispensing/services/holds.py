"""Parcels a recall holds: checked with a recalled lot, not yet booked with the courier.

A recall entered between the final check and the courier's booking must stop the
parcel: `holds_place` (from the recall, in its transaction) opens a DispatchHold on
each such order, and orders' dispatch asks `dispatch_hold_reasons` (registered in
orders.extensions by apps.py) before it books, so the courier task skips the order
and leaves it paid and checked. The patient hears of it in the recall's own notice.

The pharmacist then unpacks the parcel (`hold_recheck`): every box goes back to its
lot (the recalled ones into quarantine with the rest of their lot), the order goes
back to the "to check" queue, and the final check picks other lots. Or the order is
refunded, which closes the hold (services.returns).
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from orders.models import Order, OrderStatus
from orders.services import order_return_to_check

from ..models import DispatchHold, DispenseRecord, DispenseReturn, Recall
from .final_check import CHECK_PERMISSION
from .returns import dispensed_return, hold_close


def dispatch_hold_reasons(order_ids: list[int]) -> dict[int, str]:
    """orders.extensions dispatch hold: the open holds' reasons of those orders, by order
    id, in one query; the orders without an open hold are left out."""
    reasons: dict[int, list[str]] = {}
    holds = DispatchHold.objects.filter(
        order_id__in=order_ids, outcome=DispatchHold.Outcome.HELD
    ).values_list("order_id", "reason")
    for order_id, reason in holds:
        reasons.setdefault(order_id, []).append(reason)
    return {order_id: "; ".join(parts) for order_id, parts in reasons.items()}


def holds_place(*, recall: Recall, by) -> dict[int, set[str]]:
    """Hold every order checked with the recalled lot whose parcel is not booked yet;
    returns patient id -> the numbers of their orders held. Run in the recall's
    transaction, with the orders locked, so a dispatch in progress waits for it."""
    order_ids = (
        DispenseRecord.objects.filter(
            lot__package_id=recall.package_id,
            lot__lot_number=recall.lot_number,
            returned__isnull=True,
        )
        .values_list("order_line__order_id", flat=True)
        .distinct()
    )
    orders = (
        Order.objects.select_for_update(of=("self",))
        .filter(
            pk__in=list(order_ids),
            status=OrderStatus.PAID,
            checked_at__isnull=False,
            shipment__isnull=True,
        )
        .order_by("pk")
    )
    held: dict[int, set[str]] = {}
    for order in orders:
        hold = DispatchHold(
            order=order,
            recall=recall,
            reason=f"Recall of lot {recall.lot_number}: {recall.reason}"[:300],
        )
        hold._history_user = by
        hold.save()
        held.setdefault(order.patient_id, set()).add(order.number)
    return held


@transaction.atomic
def hold_recheck(*, hold_id: int, pharmacist) -> Order:
    """Unpack a held parcel for a new final check with other lots.

    Every box of the parcel goes back to its lot: the recalled ones into quarantine,
    replaced by as many of the package's sellable stock (refused, with nothing
    changed, when fewer are on sale: refund the order instead); the others back to
    their lot, still the order's. The order returns to the "to check" queue.
    """
    if not pharmacist.has_perm(CHECK_PERMISSION):
        raise PermissionDenied("Only a pharmacist may send a parcel back to the final check.")
    # The order's row first, as a refund and the courier lock it, then the hold's.
    order_id = DispatchHold.objects.values_list("order_id", flat=True).get(pk=hold_id)
    Order.objects.select_for_update().filter(pk=order_id).first()
    hold = DispatchHold.objects.select_for_update().select_related("recall").get(pk=hold_id)
    if not hold.is_open:
        raise ValidationError(
            f"{hold.order} is no longer held ({hold.get_outcome_display().lower()})."
        )
    note = f"Parcel unpacked for a new final check: recall of lot {hold.recall.lot_number}"
    order = order_return_to_check(order_id=hold.order_id, actor=pharmacist, note=note)
    records = DispenseRecord.objects.filter(
        order_line__order_id=order.pk, returned__isnull=True
    ).order_by("pk")
    for record in records:
        dispensed_return(
            record=record,
            reason=DispenseReturn.Reason.RECHECK,
            by=pharmacist,
            note=note,
            still_reserved=True,
        )
    for open_hold in DispatchHold.objects.filter(order=order, outcome=DispatchHold.Outcome.HELD):
        hold_close(open_hold, outcome=DispatchHold.Outcome.RECHECK, by=pharmacist)
    return order
