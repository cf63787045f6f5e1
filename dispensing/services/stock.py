"""Stock by lot, and the catalog's sellable count kept in step with it.

`catalog.Package.stock` is what checkout reserves from. It moves with the lots: a lot
received adds its boxes, a lot that expires (or is held by a recall) takes what is
left of it off sale. Dispensing takes boxes out of a lot without moving the package's
stock: checkout already took them from it when the order was placed.
"""

import logging
from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from catalog.models import Package
from catalog.services import stock_adjust
from catalog.stock import move_stock
from pharmacy.batches import JOB_BATCH, keyset_batches

from ..models import Lot

logger = logging.getLogger(__name__)


def lot_receipt_errors(
    *,
    lot_number: str,
    expiry_date: date | None,
    quantity: int | None,
    supplier: str,
    invoice_reference: str,
    today: date | None = None,
) -> dict[str, str]:
    """What is wrong with a delivery as typed, by field; empty when it may be received."""
    today = today or timezone.localdate()
    errors = {}
    if not (lot_number or "").strip():
        errors["lot_number"] = "Enter the lot number printed on the boxes."
    if not (supplier or "").strip():
        errors["supplier"] = "Enter the supplier who sent the lot."
    if not (invoice_reference or "").strip():
        errors["invoice_reference"] = "Enter the invoice or delivery note reference."
    if quantity is None or quantity <= 0:
        errors["quantity_received"] = "Enter how many packages arrived (at least 1)."
    if expiry_date is None:
        errors["expiry_date"] = "Enter the expiry date printed on the boxes."
    elif expiry_date <= today:
        errors["expiry_date"] = (
            f"This lot expires on {expiry_date:%Y-%m-%d}: an expired lot cannot be put on "
            "sale. Quarantine it for return to the supplier."
        )
    return errors


@transaction.atomic
def lot_receive(
    *,
    package_id: int,
    lot_number: str,
    expiry_date: date,
    quantity: int,
    supplier: str,
    invoice_reference: str,
    received_by,
    today: date | None = None,
) -> Lot:
    """Record a delivery of one lot and put its boxes on sale.

    Refuses an expired lot (nothing is received), and a lot number, supplier or
    invoice left blank: a recall or an inspector's question starts from them.
    """
    errors = lot_receipt_errors(
        lot_number=lot_number,
        expiry_date=expiry_date,
        quantity=quantity,
        supplier=supplier,
        invoice_reference=invoice_reference,
        today=today,
    )
    if errors:
        raise ValidationError(errors)
    lot_number = lot_number.strip().upper()
    package = Package.objects.select_for_update().filter(pk=package_id).first()
    if package is None:
        raise ValidationError("This package no longer exists.")
    lot = Lot(
        package=package,
        lot_number=lot_number,
        expiry_date=expiry_date,
        quantity_received=quantity,
        quantity_on_hand=quantity,
        supplier=supplier.strip(),
        invoice_reference=invoice_reference.strip(),
        received_by=received_by,
    )
    lot._history_user = received_by
    lot.save()
    stock_adjust(
        package_id=package.pk,
        quantity=quantity,
        reason=f"Lot {lot_number} received (invoice {lot.invoice_reference})",
        actor=received_by,
    )
    return lot


def _take_off_sale(lot: Lot) -> int:
    """Remove a (locked) lot's boxes from the package's sellable count; returns how many.

    If orders placed before the lot expired (or was recalled) reserved some of them,
    fewer are on the shelf count than in the lot: the count goes to zero, and those
    orders are dispensed from other lots at the final check, or refused there.
    """
    wanted = lot.quantity_on_hand
    if move_stock(lot.package_id, -wanted) is not None:
        return wanted
    left = Package.objects.filter(pk=lot.package_id).values_list("stock", flat=True).get()
    removed = min(left, wanted)
    if removed:
        move_stock(lot.package_id, -removed)
    logger.warning(
        "%s: %s of its %s packages were reserved by orders already; %s taken off sale",
        lot,
        wanted - removed,
        wanted,
        removed,
    )
    return removed


def lots_expire(*, today: date | None = None, batch: int = JOB_BATCH) -> int:
    """Take every lot past its expiry date off sale, once; returns how many lots.

    The periodic sweep (task `dispensing.stock.expire_lots`): running it twice, or
    after a day it missed, changes nothing more.
    """
    today = today or timezone.localdate()
    due = Lot.objects.filter(
        expiry_date__lt=today, removed_from_sale_at__isnull=True, held_at__isnull=True
    )
    count = 0
    # From the partial index of lots on sale (`lot_on_sale_expiry`), a batch at a time.
    for lot_ids in keyset_batches(due, order="expiry_date", size=batch):
        for lot_id in lot_ids:
            with transaction.atomic():
                lot = Lot.objects.select_for_update().get(pk=lot_id)
                if lot.removed_from_sale_at is not None or lot.held_at is not None:
                    continue
                if lot.quantity_on_hand:
                    _take_off_sale(lot)
                lot.removed_from_sale_at = timezone.now()
                lot.save(update_fields=["removed_from_sale_at"])
                count += 1
    return count
