"""Auto-refill: the patient's standing order on one prescription, and each refill cycle.

Kept apart from `models` (which imports these, so Django finds them) to keep each file
about one thing; other models are named by "app.Model" so nothing imports upwards.

An `AutoRefill` is the patient's choice for one prescription: which package, how many,
and the saved card (a Stripe Customer and PaymentMethod, saved through Checkout in
setup mode). `next_run_on` is the day the next order is placed, a few days before the
supply runs out. Each run is an `AutoRefillCycle`, unique per auto-refill and day: the
key that makes a cycle place one order and charge once (Stripe idempotency key
`auto-refill-cycle-<id>`), however often its task runs.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone

from pharmacy.state_machine import StateMachine


class AutoRefillStatus(models.TextChoices):
    NEEDS_CARD = "needs_card", "Waiting for a saved card"
    ACTIVE = "active", "On"
    STOPPED = "stopped", "Off"


AUTO_REFILL_MACHINE = StateMachine(
    choices=AutoRefillStatus,
    table={
        None: {AutoRefillStatus.NEEDS_CARD},
        AutoRefillStatus.NEEDS_CARD: {AutoRefillStatus.ACTIVE, AutoRefillStatus.STOPPED},
        AutoRefillStatus.ACTIVE: {AutoRefillStatus.STOPPED},
        AutoRefillStatus.STOPPED: {AutoRefillStatus.NEEDS_CARD, AutoRefillStatus.ACTIVE},
    },
    history="orders.AutoRefillChange",
    history_fk="auto_refill",
    repeats=True,
    refusal="Auto-refill is {from_state} and cannot become {to_state}.",
)


class AutoRefill(models.Model):
    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="auto_refills"
    )
    prescription = models.OneToOneField(
        "prescriptions.Prescription", on_delete=models.PROTECT, related_name="auto_refill"
    )
    package = models.ForeignKey("catalog.Package", on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField("packages", default=1)
    status = models.CharField(
        max_length=20,
        choices=AutoRefillStatus,
        default=AutoRefillStatus.NEEDS_CARD,
        db_index=True,
    )
    stripe_customer_id = models.CharField(max_length=255, blank=True)
    stripe_payment_method_id = models.CharField(max_length=255, blank=True)
    stripe_setup_session_id = models.CharField(max_length=255, blank=True, db_index=True)
    card_label = models.CharField(max_length=60, blank=True, help_text="e.g. Visa ending 4242")
    next_run_on = models.DateField(
        null=True, blank=True, help_text="The day the next refill order is placed and charged."
    )
    stopped_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quantity__gt=0), name="auto_refill_quantity_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=AutoRefillStatus.values),
                name="auto_refill_status_valid",
            ),
        ]
        # The hourly run reads only the auto-refills that are on, by their next day.
        indexes = [
            models.Index(
                fields=["next_run_on"],
                condition=models.Q(status=AutoRefillStatus.ACTIVE),
                name="auto_refill_active_next_run",
            )
        ]

    def __str__(self):
        return f"Auto-refill of prescription #{self.prescription_id}"

    @property
    def is_active(self) -> bool:
        return self.status == AutoRefillStatus.ACTIVE

    @property
    def needs_card(self) -> bool:
        return self.status == AutoRefillStatus.NEEDS_CARD

    @property
    def is_stopped(self) -> bool:
        return self.status == AutoRefillStatus.STOPPED

    @property
    def has_card(self) -> bool:
        return bool(self.stripe_customer_id and self.stripe_payment_method_id)


class AutoRefillChange(models.Model):
    """Every decision about an auto-refill: turned on or off (and why), changed, skipped."""

    auto_refill = models.ForeignKey(AutoRefill, on_delete=models.CASCADE, related_name="changes")
    from_status = models.CharField(max_length=20, choices=AutoRefillStatus, blank=True)
    to_status = models.CharField(max_length=20, choices=AutoRefillStatus)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    note = models.CharField(max_length=300, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self):
        return f"{self.from_status or 'new'} → {self.to_status}: {self.note}"


class AutoRefillCycle(models.Model):
    """One refill: announced, then placed and charged on `run_on`, once."""

    class Outcome(models.TextChoices):
        SCHEDULED = "scheduled", "Planned"
        SKIPPED = "skipped", "Skipped by the patient"
        ORDERED = "ordered", "Order placed"
        REFUSED = "refused", "Not placed"

    auto_refill = models.ForeignKey(AutoRefill, on_delete=models.PROTECT, related_name="cycles")
    run_on = models.DateField()
    outcome = models.CharField(max_length=20, choices=Outcome, default=Outcome.SCHEDULED)
    order = models.OneToOneField(
        "orders.Order",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="auto_refill_cycle",
    )
    detail = models.CharField(max_length=600, blank=True)
    notice_sent_at = models.DateTimeField(null=True, blank=True)
    outcome_sent_at = models.DateTimeField(
        null=True, blank=True, help_text="When the patient was told it was not placed."
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-run_on", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["auto_refill", "run_on"], name="auto_refill_cycle_once_per_day"
            )
        ]

    def __str__(self):
        return f"{self.auto_refill} on {self.run_on}: {self.get_outcome_display()}"

    @property
    def idempotency_key(self) -> str:
        """Stripe's key for this cycle's one off-session charge."""
        return f"auto-refill-cycle-{self.pk}"
