"""The emails a patient is sent about an order, each kind once per order.

Kept apart from `models` (which imports it, so Django finds it); the order is named by
"orders.Order" so nothing imports upwards.
"""

from django.db import models


class Notification(models.Model):
    """An email the patient was sent about an order; unique, so never sent twice."""

    class Kind(models.TextChoices):
        AUTHORISED = "authorised", "Card authorised"
        CONFIRMED = "confirmed", "Payment confirmed"
        DISPATCHED = "dispatched", "Dispatched"
        DELIVERED = "delivered", "Delivered"
        CANCELLED = "cancelled", "Cancelled"
        REFUNDED = "refunded", "Refunded"
        REFILL = "refill", "Refill reminder"
        PAYMENT_FAILED = "payment_failed", "Card declined, order still payable"

    order = models.ForeignKey(
        "orders.Order", on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=20, choices=Kind)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["order", "kind"], name="notification_once_per_kind")
        ]
        # The lost-work sweep looks only at emails not sent yet.
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=models.Q(sent_at__isnull=True),
                name="notification_unsent",
            )
        ]

    def __str__(self):
        return f"{self.get_kind_display()} for {self.order}"
