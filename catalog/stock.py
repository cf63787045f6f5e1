"""Stock moves, by orders and by staff: never below zero, and the cached drug page
dropped only when what it shows changes (a package going out of stock or coming back).

The drug page says "In stock" or "Out of stock", not how many boxes are left, so
an order that leaves boxes on the shelf keeps the cached page: at several orders a
second, dropping it every time would have every visitor rebuild it.

Every move is one conditional UPDATE on the current value (`stock = stock + n`,
only where that stays at or above zero), never a write of a value read earlier:
two moves at the same moment both count.
"""

from django.db import transaction
from django.db.models import F

from .caching import invalidate_drug_pages
from .models import Drug, Package


def _stock_now(package_id: int) -> int:
    # Read inside the transaction that just updated the row: it holds the row's lock,
    # so this is the stock its own update left, whoever else is buying.
    return Package.objects.filter(pk=package_id).values_list("stock", flat=True).get()


def _availability_changed(package_id: int) -> None:
    slug = Drug.objects.filter(formulations__packages__pk=package_id).values_list("slug", flat=True)
    invalidate_drug_pages(slug.first(), lists=False)


def move_stock(package_id: int, boxes: int) -> int | None:
    """Add `boxes` (or remove, when negative) with one conditional update.

    Returns the stock it left, or None when fewer than -`boxes` are on the shelf
    (nothing changes then).
    """
    # One transaction (the caller's, when there is one): the update's row lock is held
    # until the read, so `left` is what this move left, whoever else moves stock. No
    # savepoint: no caller catches an error of these two statements and goes on.
    with transaction.atomic(savepoint=False):
        moved = Package.objects.filter(pk=package_id, stock__gte=max(0, -boxes)).update(
            stock=F("stock") + boxes
        )
        if not moved:
            return None
        left = _stock_now(package_id)
    went_out = left == 0
    came_back = boxes > 0 and left == boxes
    if went_out or came_back:
        _availability_changed(package_id)
    return left


def take_stock(package_id: int, packs: int) -> bool:
    """Take `packs` boxes if there are that many (a conditional update); False if not."""
    return move_stock(package_id, -packs) is not None


def return_stock(package_id: int, packs: int) -> None:
    """Put back the boxes of an order that will not ship (cancelled, expired, refunded)."""
    move_stock(package_id, packs)
