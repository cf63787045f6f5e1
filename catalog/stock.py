"""Stock moves, by orders and by staff: never below zero, and the cached drug page
dropped only when what it shows changes (a package going out of stock or coming back).

The drug page says "In stock" or "Out of stock", not how many boxes are left, so
an order that leaves boxes on the shelf keeps the cached page: at several orders a
second, dropping it every time would have every visitor rebuild it.

Every move is one conditional UPDATE on the current value (`stock = stock + n`,
only where that stays at or above zero), never a write of a value read earlier:
two moves at the same moment both count.
"""

from django.db import connection

from .caching import invalidate_drug_pages
from .models import Drug, Package


def _availability_changed(package_id: int) -> None:
    slug = Drug.objects.filter(formulations__packages__pk=package_id).values_list("slug", flat=True)
    invalidate_drug_pages(slug.first(), lists=False)


def move_stock(package_id: int, boxes: int) -> int | None:
    """Add `boxes` (or remove, when negative) with one conditional update.

    Returns the stock it left, or None when fewer than -`boxes` are on the shelf
    (nothing changes then).
    """
    # One statement: the conditional update returns the stock it left, whoever else
    # moves stock at the same moment. The row stays locked until the caller's
    # transaction ends, and every checkout of the package takes the same row: callers
    # move stock last, just before their commit.
    table = connection.ops.quote_name(Package._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET stock = stock + %s WHERE id = %s AND stock >= %s "  # noqa: S608
            "RETURNING stock",
            [boxes, package_id, max(0, -boxes)],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    left = row[0]
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
