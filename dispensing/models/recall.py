"""Recalls: a lot the manufacturer or the FDA withdrew, who received it, who was told.

A recall is entered once per lot number and package; the notices (one per affected
patient) are written in the same transaction, so a patient is emailed once however
many orders of theirs the lot went into, and the email task sending a notice twice
sends it once.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords

from orders.models import Order
from pharmacy.page_versions import PagesQuerySet


class Recall(models.Model):
    package = models.ForeignKey("catalog.Package", on_delete=models.PROTECT, related_name="+")
    lot_number = models.CharField(max_length=40, db_index=True)
    reason = models.TextField(help_text="Why the lot is recalled, as the recall notice says.")
    patient_instructions = models.TextField(
        "what patients should do",
        help_text="Sent to every patient who received the lot, e.g. to keep taking the "
        "medicine until a replacement arrives, or to stop and return it.",
    )
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    entered_at = models.DateTimeField(default=timezone.now, db_index=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-entered_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["package", "lot_number"], name="recall_once_per_lot")
        ]

    def __str__(self):
        return f"Recall of lot {self.lot_number} ({self.package})"


class RecallNotice(models.Model):
    """One affected patient of a recall, and when they were emailed."""

    recall = models.ForeignKey(Recall, on_delete=models.PROTECT, related_name="notices")
    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    orders = models.CharField(max_length=300, help_text="The orders that received the lot.")
    held_orders = models.CharField(
        max_length=300,
        blank=True,
        help_text="Orders checked with the lot but not yet sent: held, not shipped.",
    )
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["recall", "patient"], name="recall_notice_once_per_patient"
            )
        ]

    def __str__(self):
        return f"{self.recall}: {self.patient}"


class DispatchHold(models.Model):
    """A checked order whose parcel holds boxes of a recalled lot: not to be booked.

    The courier task skips the order while a hold is open (orders.extensions). A
    pharmacist closes it by unpacking the parcel for a new final check with another
    lot, or by refunding the order.
    """

    class Outcome(models.TextChoices):
        HELD = "held", "Held: not to be sent"
        RECHECK = "recheck", "Unpacked for a new final check"
        REFUNDED = "refunded", "Order refunded"

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="dispatch_holds")
    recall = models.ForeignKey(Recall, on_delete=models.PROTECT, related_name="holds")
    reason = models.CharField(max_length=300)
    held_at = models.DateTimeField(default=timezone.now, db_index=True)
    outcome = models.CharField(max_length=10, choices=Outcome, default=Outcome.HELD)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    # Each change moves the patient's pages token (pharmacy/page_versions.py).
    objects = PagesQuerySet.as_manager()
    PAGES_PATIENT = "order__patient_id"

    history = HistoricalRecords()

    class Meta:
        ordering = ["-held_at", "-pk"]
        verbose_name = "parcel held by a recall"
        verbose_name_plural = "parcels held by a recall"
        constraints = [
            models.UniqueConstraint(fields=["order", "recall"], name="dispatch_hold_once_a_recall")
        ]

    def __str__(self):
        return f"{self.order}: {self.get_outcome_display()}"

    @property
    def is_open(self) -> bool:
        return self.outcome == self.Outcome.HELD
