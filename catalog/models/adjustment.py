"""The record of staff changes to the stock on the shelf."""

from django.conf import settings
from django.db import models

from .product import Package


class StockAdjustment(models.Model):
    """A change of stock made by staff: how many boxes, by whom, why, and what it left.

    Written only by `catalog.services.stock_adjust`, in the transaction that moved
    the stock, so the rows add up to every staff change of the shelf.
    """

    package = models.ForeignKey(Package, on_delete=models.PROTECT, related_name="adjustments")
    quantity = models.IntegerField(help_text="Boxes added (positive) or removed (negative).")
    stock_after = models.PositiveIntegerField(help_text="Boxes on the shelf after the change.")
    reason = models.CharField(max_length=200)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(quantity=0), name="stock_adjustment_not_zero"
            ),
        ]

    def __str__(self):
        return f"{self.package}: {self.quantity:+d} → {self.stock_after}"
