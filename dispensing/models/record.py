"""The pharmacist's final check of a paid order, and what was dispensed from which lot.

Both are append-only: a check that found a mismatch is a row too (with the reason), so
the record shows every attempt, and a dispense record is what the label said and what
left the shelf. Neither can be changed or deleted, from the admin or from code.
"""

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import models
from django.utils import timezone

from orders.models import Order

from .lot import Lot


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise PermissionDenied("Dispensing records are append-only.")

    def delete(self):
        raise PermissionDenied("Dispensing records are append-only.")


class AppendOnly(models.Model):
    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise PermissionDenied("Dispensing records are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionDenied("Dispensing records are append-only.")


class FinalCheck(AppendOnly):
    """One attempt of the final check: released to the courier, or refused and why."""

    class Outcome(models.TextChoices):
        RELEASED = "released", "Checked and released to the courier"
        REFUSED = "refused", "Refused: did not match"

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="final_checks")
    pharmacist = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    outcome = models.CharField(max_length=10, choices=Outcome)
    reason = models.TextField(blank=True, help_text="What did not match, for a refusal.")
    at = models.DateTimeField(default=timezone.now, db_index=True)
    round = models.PositiveSmallIntegerField(
        default=1,
        help_text="1 for the order's first check; one more each time a recall hold sent the "
        "parcel back to be checked again.",
    )

    class Meta:
        ordering = ["-at", "-pk"]
        permissions = [("perform_finalcheck", "Can perform the final check before dispatch")]
        constraints = [
            models.UniqueConstraint(
                fields=["order", "round"],
                condition=models.Q(outcome="released"),
                name="final_check_releases_an_order_once_a_round",
            )
        ]

    def __str__(self):
        return f"{self.order}: {self.get_outcome_display()}"


class DispenseRecord(AppendOnly):
    """Boxes of one lot dispensed for one order line, checked by one pharmacist."""

    final_check = models.ForeignKey(FinalCheck, on_delete=models.PROTECT, related_name="dispensed")
    order_line = models.ForeignKey(
        "orders.OrderLine", on_delete=models.PROTECT, related_name="dispensed"
    )
    prescription = models.ForeignKey(
        "prescriptions.Prescription", on_delete=models.PROTECT, related_name="+"
    )
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="dispensed")
    # Copied from the lot as the label printed them.
    lot_number = models.CharField(max_length=40, db_index=True)
    expiry_date = models.DateField()
    quantity = models.PositiveIntegerField("packages")
    units = models.PositiveIntegerField(help_text="Tablets, capsules or mL: packages x count.")
    pharmacist = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quantity__gt=0), name="dispense_record_quantity_positive"
            )
        ]

    def __str__(self):
        return f"{self.quantity} x {self.order_line.description}, lot {self.lot_number}"


class DispenseReturn(AppendOnly):
    """The boxes of one dispense record put back into their lot: the order was refunded
    before it left, or its parcel was unpacked (a recall) for a new final check.

    One per record, so a refund handled twice returns the boxes once. Boxes of a lot
    that is held (recalled) or expired go back into the lot's count but not on sale:
    they stay in quarantine with the rest of the lot, for the supplier.
    """

    class Reason(models.TextChoices):
        REFUNDED = "refunded", "Order refunded before it was shipped"
        RECHECK = "recheck", "Parcel held by a recall, unpacked for a new final check"

    record = models.OneToOneField(DispenseRecord, on_delete=models.PROTECT, related_name="returned")
    quantity = models.PositiveIntegerField("packages")
    back_on_sale = models.BooleanField(
        help_text="No: the lot is held or expired, so the boxes are kept off sale, or the "
        "order keeps them for its new check."
    )
    reason = models.CharField(max_length=10, choices=Reason)
    note = models.CharField(max_length=300, blank=True, help_text="The refund's own note.")
    returned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty when Stripe reported the refund (made in Stripe's dashboard).",
    )
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self):
        return f"{self.quantity} back to lot {self.record.lot_number}: {self.get_reason_display()}"


class OrderToCheck(Order):
    """Paid orders as the pharmacist's "to check" queue sees them (a proxy of Order)."""

    class Meta:
        proxy = True
        verbose_name = "order to check"
        verbose_name_plural = "orders to check"
