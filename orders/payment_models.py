"""What Stripe told the site and what did not add up: webhook events stored once, and
the discrepancies the handlers and the nightly reconciliation find.

Kept apart from `models` (which imports these, so Django finds them) to keep each file
about one thing; the order is named by "orders.Order" so nothing imports upwards.
"""

from django.db import models


class PaymentEvent(models.Model):
    """A webhook event from Stripe, stored once; `processed_at` makes handling idempotent."""

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100, db_index=True)
    payload = models.JSONField()
    order = models.ForeignKey(
        "orders.Order",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="payment_events",
    )
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-received_at", "-pk"]
        # The retry sweep, every minute, reads only the events not processed yet.
        indexes = [
            models.Index(
                fields=["received_at"],
                condition=models.Q(processed_at__isnull=True),
                name="payment_event_unprocessed",
            )
        ]

    def __str__(self):
        return f"{self.type} {self.event_id}"


class Discrepancy(models.Model):
    """A payment that did not pay what it should, or an order paid without a payment.

    Recorded by the webhook handlers the moment a payment fails to match its order, and
    by the nightly reconciliation; at most once per Checkout Session and kind, and
    emailed to the admins once (`notified_at`).
    """

    class Kind(models.TextChoices):
        PAID_NO_ORDER = "paid_no_order", "Paid at Stripe, no paid order"
        ORDER_NO_PAYMENT = "order_no_payment", "Paid order, no payment at Stripe"
        FOREIGN_SESSION = "foreign_session", "Payment for an order that is not its own session"
        AMOUNT_MISMATCH = "amount_mismatch", "Amount or currency differs from the order"
        LATE_PAYMENT = "late_payment", "Paid after the order was cancelled or paid"
        AUTHORISED_NO_ORDER = "authorised_no_order", "Card authorised at Stripe, no order"
        WAITING_NO_AUTHORISATION = (
            "waiting_no_authorisation",
            "Order waiting for verification, no authorisation at Stripe",
        )

    class RefundStatus(models.TextChoices):
        NOT_REFUNDED = "", "Not refunded by the site"
        REFUNDED = "refunded", "Refunded automatically"
        ALREADY_REFUNDED = "already_refunded", "Already refunded in Stripe"
        FAILED = "failed", "Refund failed: refund it in Stripe"
        NO_PAYMENT_INTENT = "no_payment_intent", "No payment to refund: check in Stripe"

    kind = models.CharField(max_length=30, choices=Kind)
    order = models.ForeignKey(
        "orders.Order",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="discrepancies",
    )
    stripe_session_id = models.CharField(max_length=255, blank=True)
    stripe_payment_intent = models.CharField(max_length=255, blank=True, db_index=True)
    amount = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    detail = models.CharField(max_length=300)
    refund_status = models.CharField(
        max_length=20, choices=RefundStatus, blank=True, default=RefundStatus.NOT_REFUNDED
    )
    stripe_refund_id = models.CharField(max_length=255, blank=True)
    detected_at = models.DateTimeField(auto_now_add=True)
    notified_at = models.DateTimeField(
        null=True, blank=True, help_text="When the admins were emailed about it."
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-detected_at", "-pk"]
        verbose_name_plural = "discrepancies"
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "stripe_session_id"],
                condition=~models.Q(stripe_session_id=""),
                name="discrepancy_once_per_session_and_kind",
            )
        ]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.detail}"
