"""State changes of the catalog made by staff."""

from django.core.exceptions import ValidationError
from django.db import transaction

from .models import Package, StockAdjustment
from .stock import move_stock


@transaction.atomic
def stock_adjust(*, package_id: int, quantity: int, reason: str, actor) -> StockAdjustment:
    """Add (`quantity` > 0) or remove boxes, and record who did it, why, and what it left.

    The stock moves by `quantity` from whatever it is now (one conditional UPDATE,
    which also locks the row until the record is written), so an order placed
    while the staff member had the form open keeps its decrement. A removal of more
    than is on the shelf is refused and changes nothing.
    """
    reason = (reason or "").strip()
    if not quantity:
        raise ValidationError({"quantity": "Enter how many boxes to add (e.g. 5) or remove (-5)."})
    if not reason:
        raise ValidationError({"reason": "Say why the stock changes (delivery, damage, count…)."})
    package = Package.objects.filter(pk=package_id).first()
    if package is None:
        raise ValidationError("This package no longer exists.")
    left = move_stock(package_id, quantity)
    if left is None:
        on_shelf = Package.objects.filter(pk=package_id).values_list("stock", flat=True).get()
        raise ValidationError(
            {
                "quantity": f"Only {on_shelf} on the shelf: cannot remove {-quantity}. "
                "Nothing was changed."
            }
        )
    return StockAdjustment.objects.create(
        package=package, quantity=quantity, stock_after=left, reason=reason[:200], actor=actor
    )
