"""Counselling and messages: the pharmacist's offer on a first fill, the patient's answer,
and what patient and pharmacists write to each other about an order.

The offer and its answer are kept with history (who answered when, who counselled);
messages are append-only. Both are private to the order's patient and the pharmacists.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords

from orders.models import Order

from .record import AppendOnly


class CounsellingOffer(models.Model):
    class Answer(models.TextChoices):
        PENDING = "pending", "Not answered yet"
        ACCEPTED = "accepted", "Wants to talk to a pharmacist"
        DECLINED = "declined", "Declined counselling"
        QUESTION = "question", "Asked a question"

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="counselling_offers")
    prescription = models.ForeignKey(
        "prescriptions.Prescription", on_delete=models.PROTECT, related_name="+"
    )
    offered_at = models.DateTimeField(default=timezone.now)
    answer = models.CharField(max_length=10, choices=Answer, default=Answer.PENDING)
    answered_at = models.DateTimeField(null=True, blank=True)
    counselled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    counselled_at = models.DateTimeField(null=True, blank=True)
    notes = models.TextField(blank=True, help_text="The pharmacist's record of the counselling.")
    emailed_at = models.DateTimeField(null=True, blank=True, help_text="The offer's email.")

    history = HistoricalRecords()

    class Meta:
        ordering = ["-offered_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["order", "prescription"], name="counselling_offered_once_per_fill"
            )
        ]
        # The sweep of lost work looks only at offers not emailed yet.
        indexes = [
            models.Index(
                fields=["offered_at"],
                condition=models.Q(emailed_at__isnull=True),
                name="counselling_offer_unemailed",
            )
        ]

    def __str__(self):
        return f"Counselling on {self.order}: {self.get_answer_display()}"

    @property
    def is_pending(self) -> bool:
        return self.answer == self.Answer.PENDING

    @property
    def waits_for_pharmacist(self) -> bool:
        """Accepted or asked, and no pharmacist has recorded the counselling yet."""
        wanted = (self.Answer.ACCEPTED, self.Answer.QUESTION)
        return self.answer in wanted and self.counselled_at is None


class OrderMessage(AppendOnly):
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="messages")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    from_pharmacist = models.BooleanField()
    body = models.TextField(max_length=2000)
    at = models.DateTimeField(default=timezone.now, db_index=True)
    # Set once by the notice task (its one write, past the append-only manager).
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self):
        who = "Pharmacist" if self.from_pharmacist else "Patient"
        return f"{who} on {self.order}, {self.at:%Y-%m-%d %H:%M}"


class OrderConversation(Order):
    """Orders with a counselling answer or messages, as the pharmacists' list shows them."""

    class Meta:
        proxy = True
        verbose_name = "patient conversation"
        verbose_name_plural = "patient conversations"
