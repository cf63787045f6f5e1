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

from pharmacy.state_machine import StateMachine

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


class ConsultationStatus(models.TextChoices):
    SENT = "sent", "Sent to the telemedicine service"
    PRESCRIBED = "prescribed", "Prescribed"
    DECLINED = "declined", "Declined"
    NOT_SENT = "not_sent", "Refused by the telemedicine service"


CONSULTATION_MACHINE = StateMachine(
    choices=ConsultationStatus,
    table={
        None: {ConsultationStatus.SENT},
        ConsultationStatus.SENT: {
            ConsultationStatus.PRESCRIBED,
            ConsultationStatus.DECLINED,
            ConsultationStatus.NOT_SENT,
        },
        ConsultationStatus.PRESCRIBED: set(),
        ConsultationStatus.DECLINED: set(),
        ConsultationStatus.NOT_SENT: set(),
    },
    history="prescriptions.ConsultationStatusChange",
    history_fk="consultation",
    refusal="A consultation {from_state} cannot become {to_state}.",
)


class Consultation(models.Model):
    Status = ConsultationStatus

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
    status = models.CharField(max_length=20, choices=ConsultationStatus, db_index=True)
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
    emailed_status = models.CharField(
        max_length=20, blank=True, help_text="The last status the patient was emailed about."
    )
    created_at = models.DateTimeField(default=timezone.now)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        # The consultations list, newest first.
        indexes = [models.Index(fields=["created_at", "id"], name="consultation_created")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["sent", "prescribed", "declined", "not_sent"]),
                name="consultation_status_valid",
            ),
            # One open consultation per patient and drug: asking twice is the same request.
            models.UniqueConstraint(
                fields=["patient", "drug"],
                condition=models.Q(status="sent"),
                name="consultation_one_open_per_drug",
            ),
        ]

    def __str__(self):
        return f"Consultation #{self.pk} for {self.drug} ({self.get_status_display().lower()})"

    def get_absolute_url(self):
        return reverse("prescriptions:consultation", args=[self.pk])

    @property
    def with_clinician(self) -> bool:
        """Sent and acknowledged by the partner: a clinician has it."""
        return (
            self.status == self.Status.SENT
            and self.partner_request.state == PartnerRequest.State.DELIVERED
        )

    @property
    def status_text(self) -> str:
        """Where it stands, as the patient reads it."""
        if self.status == self.Status.SENT:
            if self.with_clinician:
                return f"With a clinician at {self.partner}"
            return f"Sent to {self.partner}"
        if self.status == self.Status.PRESCRIBED:
            return "Prescribed"
        if self.status == self.Status.DECLINED:
            return "Declined"
        return f"{self.partner} could not take it"


class ConsultationStatusChange(models.Model):
    """One row per move of a consultation's state machine: when, and why."""

    consultation = models.ForeignKey(
        Consultation, on_delete=models.PROTECT, related_name="status_changes"
    )
    from_status = models.CharField(max_length=20, choices=ConsultationStatus, blank=True)
    to_status = models.CharField(max_length=20, choices=ConsultationStatus)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    message = models.TextField(blank=True, help_text="The partner's reason, or what happened.")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self):
        return f"{self.from_status or 'new'} → {self.to_status}"
