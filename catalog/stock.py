"""Stock moves made by orders: never below zero, and the cached drug page dropped
only when what it shows changes (a package going out of stock or coming back).

The drug page says "In stock" or "Out of stock", not how many boxes are left, so
an order that leaves boxes on the shelf keeps the cached page: at several orders a
second, dropping it every time would have every visitor rebuild it.
"""

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


def take_stock(package_id: int, packs: int) -> bool:
    """Take `packs` boxes if there are that many (a conditional update); False if not."""
    taken = Package.objects.filter(pk=package_id, stock__gte=packs).update(stock=F("stock") - packs)
    if taken and _stock_now(package_id) == 0:
        _availability_changed(package_id)
    return taken == 1


def return_stock(package_id: int, packs: int) -> None:
    """Put back the boxes of an order that will not ship (cancelled, expired, refunded)."""
    Package.objects.filter(pk=package_id).update(stock=F("stock") + packs)
    if _stock_now(package_id) == packs:  # it was out of stock until now
        _availability_changed(package_id)
