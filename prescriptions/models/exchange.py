"""What passes between the pharmacy and its telemedicine partners.

`PartnerRequest` is the outbox: a request to a partner (a renewal, a
consultation) is stored first, in the transaction that decides it, and a task
delivers it, retrying with backoff until the partner acknowledges it, so a partner
that is down for a while loses nothing. `PartnerExchange` is the audit trail: one
row per HTTP request received from a partner or sent to one, whatever its outcome.
`RenewalRequest` is a patient's request for a new prescription to replace one
whose refills are used up or which expires.
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from .partner import TelemedicinePartner
from .prescription import Prescription


class PartnerRequest(models.Model):
    class Kind(models.TextChoices):
        RENEWAL = "renewal_request", "Renewal request"
        CONSULTATION = "consultation_request", "Consultation request"

    class State(models.TextChoices):
        PENDING = "pending", "Waiting to be delivered"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Refused by the partner"

    request_id = models.UUIDField(
        default=uuid.uuid4,
        unique=True,
        editable=False,
        help_text="Sent as X-Request-Id: the partner keeps one request per id, so a "
        "redelivery after a lost answer is not a second request.",
    )
    partner = models.ForeignKey(
        TelemedicinePartner, on_delete=models.PROTECT, related_name="outbound_requests"
    )
    kind = models.CharField(max_length=30, choices=Kind)
    payload = models.JSONField(
        help_text="The body, as signed and sent: our JSON, or a FHIR R4 Bundle for a partner "
        "who takes FHIR."
    )
    state = models.CharField(max_length=10, choices=State, default=State.PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now, db_index=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(state__in=["pending", "delivered", "failed"]),
                name="partner_request_state_valid",
            )
        ]
        # The every-minute sweep reads only the requests still to deliver, by when.
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(state="pending"),
                name="partner_request_due",
            )
        ]

    def __str__(self):
        return f"{self.get_kind_display()} to {self.partner} ({self.get_state_display().lower()})"


class PartnerExchange(models.Model):
    class Direction(models.TextChoices):
        RECEIVED = "in", "Received from the partner"
        SENT = "out", "Sent to the partner"

    partner = models.ForeignKey(
        TelemedicinePartner,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="exchanges",
        help_text="Empty when the request named no known partner.",
    )
    partner_slug = models.CharField(
        max_length=100, blank=True, help_text="As the request named it (X-Partner)."
    )
    direction = models.CharField(max_length=3, choices=Direction, db_index=True)
    endpoint = models.CharField(max_length=300)
    status_code = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="The HTTP status; empty when the partner was unreachable."
    )
    outcome = models.CharField(max_length=500)
    body_sha256 = models.CharField("body SHA-256", max_length=64)
    body_size = models.PositiveIntegerField()
    prescription = models.ForeignKey(
        Prescription,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="partner_exchanges",
    )
    request = models.ForeignKey(
        PartnerRequest,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="exchanges",
        help_text="The outbound request this attempt delivered.",
    )
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name = "partner exchange"

    def __str__(self):
        arrow = "←" if self.direction == self.Direction.RECEIVED else "→"
        return f"{arrow} {self.partner or self.partner_slug or 'unknown'} {self.endpoint}"


class RenewalRequest(models.Model):
    class State(models.TextChoices):
        SENT = "sent", "Sent to the prescriber's service"
        FOR_PRESCRIBER = "for_prescriber", "For the patient to give their prescriber"
        RENEWED = "renewed", "Renewed"
        DECLINED = "declined", "Declined"

    prescription = models.ForeignKey(
        Prescription, on_delete=models.PROTECT, related_name="renewal_requests"
    )
    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="renewal_requests"
    )
    state = models.CharField(max_length=20, choices=State, db_index=True)
    partner_request = models.OneToOneField(
        PartnerRequest,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="renewal",
    )
    new_prescription = models.OneToOneField(
        Prescription,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="renews",
        help_text="The prescription the partner sent in answer.",
    )
    decline_reason = models.CharField(max_length=500, blank=True)
    emailed_state = models.CharField(
        max_length=20, blank=True, help_text="The last state the patient was emailed about."
    )
    created_at = models.DateTimeField(default=timezone.now)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(state__in=["sent", "for_prescriber", "renewed", "declined"]),
                name="renewal_request_state_valid",
            ),
            # One open request per prescription: asking twice is the same request.
            models.UniqueConstraint(
                fields=["prescription"],
                condition=models.Q(state__in=["sent", "for_prescriber"]),
                name="renewal_request_one_open_per_prescription",
            ),
        ]

    def __str__(self):
        return f"Renewal of prescription #{self.prescription_id} ({self.get_state_display()})"

    @property
    def is_open(self) -> bool:
        return self.state in (self.State.SENT, self.State.FOR_PRESCRIBER)
