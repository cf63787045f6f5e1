from django.conf import settings
from django.db import models
from django.utils import timezone

from .prescription import Prescription


class ClinicalReview(models.Model):
    """A pharmacist's decision on a verified prescription, after its verification:
    looked again at new findings, or allowed an early refill. Who, when, why."""

    class Kind(models.TextChoices):
        REVIEWED_AGAIN = "reviewed_again", "Reviewed again after new findings"
        EARLY_REFILL = "early_refill", "Early refill allowed"

    prescription = models.ForeignKey(
        Prescription, on_delete=models.PROTECT, related_name="clinical_reviews"
    )
    kind = models.CharField(max_length=20, choices=Kind)
    pharmacist = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.TextField()
    findings = models.JSONField(
        default=list, blank=True, help_text="The findings as the pharmacist saw them."
    )
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=["reviewed_again", "early_refill"]),
                name="clinical_review_kind_valid",
            )
        ]

    def __str__(self):
        return f"{self.get_kind_display()} on #{self.prescription_id}"
