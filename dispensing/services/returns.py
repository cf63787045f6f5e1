"""Dispensed boxes that never left the pharmacy, put back into the lots they came from.

An order refunded after its final check but before the courier took it still has its
boxes on the shelf, labelled, each from a known lot. They go back to exactly those
lots (one DispenseReturn per dispense record, so twice is once), and to the package's
sellable count only if their lot may still be sold: a held (recalled) or expired lot
keeps them in quarantine with the rest of it, counted but off sale. That keeps
`Package.stock` equal to the boxes of sellable lots that no order has reserved.

orders calls `order_boxes_return` from its refund, through orders.extensions (it
knows no dispensing); apps.py registers it.
"""

from django.core.exceptions import ValidationError
from django.utils import timezone

from catalog.stock import move_stock, take_stock

from ..models import DispatchHold, DispenseRecord, DispenseReturn, Lot
from .stock import _take_off_sale


def _lot_on_sale(lot: Lot) -> bool:
    """Whether a (locked) lot's boxes count as sellable; an expired lot the daily sweep has
    not reached yet is taken off sale here first, as the sweep would."""
    if lot.held_at is None and lot.removed_from_sale_at is None and lot.is_expired():
        if lot.quantity_on_hand:
            _take_off_sale(lot)
        lot.removed_from_sale_at = timezone.now()
        lot.save(update_fields=["removed_from_sale_at"])
    return lot.held_at is None and lot.removed_from_sale_at is None


def dispensed_return(
    *, record: DispenseRecord, reason: str, by=None, note: str = "", still_reserved: bool = False
) -> DispenseReturn:
    """Put one record's boxes back into its lot; run inside the caller's transaction.

    `still_reserved`: the order keeps its claim on the boxes (its parcel is unpacked to
    be checked again), so boxes of a sellable lot do not go back on sale, and boxes of a
    held lot are replaced by reserving as many of the package's sellable stock; without
    that many on sale, ValidationError (refund the order instead).
    """
    lot = Lot.objects.select_for_update().get(pk=record.lot_id)
    on_sale = _lot_on_sale(lot)
    lot.quantity_on_hand += record.quantity
    lot._history_user = by
    lot.save(update_fields=["quantity_on_hand"])
    if on_sale and not still_reserved:
        move_stock(lot.package_id, record.quantity)
    if not on_sale and still_reserved and not take_stock(lot.package_id, record.quantity):
        raise ValidationError(
            f"Fewer than {record.quantity} package(s) of {lot.package} are on sale to replace "
            f"lot {lot.lot_number}'s: receive a lot, or refund the order."
        )
    return DispenseReturn.objects.create(
        record=record,
        quantity=record.quantity,
        back_on_sale=on_sale and not still_reserved,
        reason=reason,
        note=note[:300],
        returned_by=by,
    )


def order_boxes_return(*, order, actor=None, note: str = "") -> set[int]:
    """orders.extensions stock return: a refunded order's dispensed boxes back to their
    lots, its recall holds closed; returns the lines it put back (orders puts back the
    others, which never left the package's count)."""
    records = DispenseRecord.objects.filter(
        order_line__order=order, returned__isnull=True
    ).order_by("pk")
    lines = set()
    for record in records:
        dispensed_return(record=record, reason=DispenseReturn.Reason.REFUNDED, by=actor, note=note)
        lines.add(record.order_line_id)
    for hold in DispatchHold.objects.filter(order=order, outcome=DispatchHold.Outcome.HELD):
        hold_close(hold, outcome=DispatchHold.Outcome.REFUNDED, by=actor)
    return lines


def hold_close(hold: DispatchHold, *, outcome: str, by=None) -> None:
    hold.outcome = outcome
    hold.closed_at = timezone.now()
    hold.closed_by = by
    hold._history_user = by
    hold.save(update_fields=["outcome", "closed_at", "closed_by"])
