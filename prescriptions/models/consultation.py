"""Consultations: a patient without a prescription asks a telemedicine partner for one.

Staff define each drug's questions (`ConsultationQuestion`, rows with a history); the
patient answers them with their medical profile, chooses a partner, and the request
goes through the outbox (`PartnerRequest` of kind consultation). The partner answers
with a prescription through the intake naming the consultation, or declines with a
reason. What the patient answered is kept on the consultation as they saw it, so a
question edited later does not change what the clinician read.
"""

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from simple_history.models import HistoricalRecords

from .exchange import PartnerRequest
from .partner import TelemedicinePartner
from .prescription import Prescription


class ConsultationQuestion(models.Model):
    class Kind(models.TextChoices):
        YES_NO = "yes_no", "Yes or no"
        TEXT = "text", "Written answer"

    drug = models.ForeignKey(
        "catalog.Drug", on_delete=models.PROTECT, related_name="consultation_questions"
    )
    text = models.CharField(max_length=300, help_text="As the patient reads it.")
    help_text = models.CharField(
        max_length=300, blank=True, help_text="Optional: why it is asked, in plain words."
    )
    kind = models.CharField(max_length=10, choices=Kind, default=Kind.YES_NO)
    required = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0, help_text="Smaller comes first.")
    active = models.BooleanField(
        default=True, help_text="Inactive questions are no longer asked; past answers stay."
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["drug", "position", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=["yes_no", "text"]),
                name="consultation_question_kind_valid",
            )
        ]

    def __str__(self):
        return self.text


class Consultation(models.Model):
    class State(models.TextChoices):
        SENT = "sent", "Sent to the telemedicine service"
        PRESCRIBED = "prescribed", "Prescribed"
        DECLINED = "declined", "Declined"
        NOT_SENT = "not_sent", "Refused by the telemedicine service"

    # The only moves there are; `services.consultations` refuses any other.
    TRANSITIONS = {
        State.SENT: {State.PRESCRIBED, State.DECLINED, State.NOT_SENT},
    }

    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="consultations"
    )
    drug = models.ForeignKey("catalog.Drug", on_delete=models.PROTECT, related_name="+")
    formulation = models.ForeignKey(
        "catalog.Formulation",
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The form and strength the patient asked for; the clinician decides.",
    )
    partner = models.ForeignKey(
        TelemedicinePartner, on_delete=models.PROTECT, related_name="consultations"
    )
    partner_request = models.OneToOneField(
        PartnerRequest, on_delete=models.PROTECT, related_name="consultation"
    )
    state = models.CharField(max_length=20, choices=State, default=State.SENT, db_index=True)
    answers = models.JSONField(
        help_text="The questions as the patient saw them, with their answers "
        "(profile first, then the drug's)."
    )
    prescription = models.OneToOneField(
        Prescription,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="consultation",
        help_text="The prescription the partner sent in answer.",
    )
    decline_reason = models.CharField(max_length=500, blank=True)
    emailed_state = models.CharField(
        max_length=20, blank=True, help_text="The last state the patient was emailed about."
    )
    created_at = models.DateTimeField(default=timezone.now)
    answered_at = models.DateTimeField(null=True, blank=True)

    history = HistoricalRecords(excluded_fields=["answers", "emailed_state"])

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(state__in=["sent", "prescribed", "declined", "not_sent"]),
                name="consultation_state_valid",
            ),
            # One open consultation per patient and drug: asking twice is the same request.
            models.UniqueConstraint(
                fields=["patient", "drug"],
                condition=models.Q(state="sent"),
                name="consultation_one_open_per_drug",
            ),
        ]

    def __str__(self):
        return f"Consultation #{self.pk} for {self.drug} ({self.get_state_display().lower()})"

    def get_absolute_url(self):
        return reverse("prescriptions:consultation", args=[self.pk])

    @property
    def with_clinician(self) -> bool:
        """Sent and acknowledged by the partner: a clinician has it."""
        return (
            self.state == self.State.SENT
            and self.partner_request.state == PartnerRequest.State.DELIVERED
        )

    @property
    def status_text(self) -> str:
        """Where it stands, as the patient reads it."""
        if self.state == self.State.SENT:
            if self.with_clinician:
                return f"With a clinician at {self.partner}"
            return f"Sent to {self.partner}"
        if self.state == self.State.PRESCRIBED:
            return "Prescribed"
        if self.state == self.State.DECLINED:
            return "Declined"
        return f"{self.partner} could not take it"
