"""Stock by lot: what came in from which supplier, when it expires, and what is left.

A lot is counted in packages (boxes of one catalog Package). Its rows are kept, never
deleted (every record that points at one protects it): supply-chain rules ask for six
years of who sent what, and a recall needs to find every box that went out.
"""

from datetime import date, timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords

# What "expires soon" means for staff: the admin filter and the stock page.
EXPIRES_SOON_DAYS = 90


class LotQuerySet(models.QuerySet):
    def sellable(self, *, on: date | None = None):
        """Lots whose boxes may be sold: not expired, not held, with boxes left."""
        on = on or timezone.localdate()
        return self.filter(
            expiry_date__gte=on,
            held_at__isnull=True,
            removed_from_sale_at__isnull=True,
            quantity_on_hand__gt=0,
        )

    def expires_within(self, days: int, *, on: date | None = None):
        on = on or timezone.localdate()
        return self.filter(expiry_date__lte=on + timedelta(days=days), quantity_on_hand__gt=0)


class Lot(models.Model):
    package = models.ForeignKey("catalog.Package", on_delete=models.PROTECT, related_name="lots")
    lot_number = models.CharField(max_length=40, db_index=True)
    expiry_date = models.DateField(help_text="The last day the lot may be used, from the box.")
    quantity_received = models.PositiveIntegerField("packages received")
    quantity_on_hand = models.PositiveIntegerField(
        "packages on hand", help_text="Received, less what was dispensed from it."
    )
    supplier = models.CharField(max_length=150)
    invoice_reference = models.CharField(max_length=80)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    removed_from_sale_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the expiry sweep took its boxes off the sellable stock.",
    )
    held_at = models.DateTimeField(
        null=True, blank=True, help_text="When a recall took its boxes off the sellable stock."
    )
    hold_reason = models.CharField(max_length=300, blank=True)

    objects = LotQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        ordering = ["expiry_date", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quantity_received__gt=0), name="lot_received_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(quantity_on_hand__lte=models.F("quantity_received")),
                name="lot_on_hand_at_most_received",
            ),
        ]
        # The expiry sweep reads only the lots still on sale, by their expiry date.
        indexes = [
            models.Index(
                fields=["expiry_date"],
                condition=models.Q(removed_from_sale_at__isnull=True, held_at__isnull=True),
                name="lot_on_sale_expiry",
            )
        ]

    def __str__(self):
        return f"Lot {self.lot_number} (exp {self.expiry_date:%Y-%m-%d})"

    def is_expired(self, on: date | None = None) -> bool:
        return self.expiry_date < (on or timezone.localdate())

    @property
    def is_held(self) -> bool:
        return self.held_at is not None

    @property
    def is_sellable(self) -> bool:
        return (
            not self.is_expired()
            and not self.is_held
            and self.removed_from_sale_at is None
            and self.quantity_on_hand > 0
        )
