import uuid
from datetime import date, timedelta
from decimal import Decimal
from pathlib import PurePosixPath

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.core.signals import setting_changed
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.dispatch import receiver
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import LazyObject, empty
from simple_history.models import HistoricalRecords

from pharmacy.page_versions import PagesQuerySet
from pharmacy.state_machine import StateMachine

from .partner import TelemedicinePartner

DEFAULT_VALIDITY = timedelta(days=365)


class PrivateStorage(LazyObject):
    """Prescription documents: outside STATIC_ROOT and MEDIA_ROOT, with no URL at all.

    They are only ever read by the download view, which checks who asks. Files are
    written 0600 and folders 0700, so that no other account on the server (nginx, a
    second application, a shell user) can read health data off the disk.
    """

    def _setup(self):
        self._wrapped = FileSystemStorage(
            location=settings.PRIVATE_MEDIA_ROOT,
            base_url=None,
            file_permissions_mode=0o600,
            directory_permissions_mode=0o700,
        )


private_storage = PrivateStorage()


def get_private_storage() -> PrivateStorage:
    """A callable, so migrations refer to it instead of freezing a machine's path."""
    return private_storage


@receiver(setting_changed)
def _private_root_changed(*, setting, **kwargs):
    """Tests point PRIVATE_MEDIA_ROOT at a temporary folder; follow them."""
    if setting == "PRIVATE_MEDIA_ROOT":
        private_storage._wrapped = empty


def document_path(instance, filename: str) -> str:
    """A random name: nothing about the patient or the original file name leaks into it."""
    suffix = PurePosixPath(filename).suffix.lower()
    return f"prescriptions/{timezone.now():%Y/%m}/{uuid.uuid4().hex}{suffix}"


class Source(models.TextChoices):
    UPLOAD = "upload", "Uploaded by the patient"
    TELEMEDICINE = "telemedicine", "Telemedicine partner"


class Status(models.TextChoices):
    SUBMITTED = "submitted", "Submitted"
    NEEDS_INFO = "needs_info", "Needs information"
    VERIFIED = "verified", "Verified"
    REJECTED = "rejected", "Rejected"


# Every allowed move, the first state included; `move` refuses anything else, a
# repeat too (a decision taken twice is a mistake worth saying).
PRESCRIPTION_MACHINE = StateMachine(
    choices=Status,
    table={
        None: {Status.SUBMITTED},
        Status.SUBMITTED: {Status.VERIFIED, Status.REJECTED, Status.NEEDS_INFO},
        Status.NEEDS_INFO: {Status.SUBMITTED},
        Status.VERIFIED: set(),
        Status.REJECTED: set(),
    },
    history="prescriptions.StatusChange",
    history_fk="prescription",
    refusal="A {from_state} prescription cannot become {to_state}.",
)


# The queue's ranks, first served first (`Prescription.queue_rank`).
QUEUE_ORDER_WAITING, QUEUE_SUBMITTED, QUEUE_NEEDS_INFO, QUEUE_DECIDED = 0, 1, 2, 3


class PrescriptionQuerySet(PagesQuerySet):
    def active(self, *, on: date | None = None):
        """Verified, not expired, with units left: what the patient may be taking."""
        on = on or timezone.localdate()
        return self.filter(status=Status.VERIFIED, expiry_date__gte=on).filter(
            units_used__lt=models.F("quantity") * (models.F("refills") + 1)
        )

    def usable(self, *, on: date | None = None):
        """Active prescriptions the patient may buy against now: not held for review."""
        return self.active(on=on).filter(held_since__isnull=True)


class Prescription(models.Model):
    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="prescriptions",
        help_text="Empty while a telemedicine prescription waits for the patient to sign up.",
    )
    patient_email = models.EmailField(help_text="Matches the account it belongs to.")
    patient_name = models.CharField(max_length=301, blank=True)  # 150 + " " + 150
    patient_date_of_birth = models.DateField(null=True, blank=True)
    source = models.CharField(max_length=20, choices=Source, default=Source.UPLOAD)
    partner = models.ForeignKey(
        TelemedicinePartner, on_delete=models.PROTECT, null=True, blank=True
    )
    partner_reference = models.CharField("partner's prescription id", max_length=100, blank=True)
    status = models.CharField(max_length=20, choices=Status, default=Status.SUBMITTED)
    patient_note = models.TextField(blank=True)
    pharmacist_message = models.TextField(
        blank=True, help_text="The reason or question last shown to the patient."
    )

    # The structured prescription, filled by the partner or by the pharmacist.
    prescriber_name = models.CharField(max_length=150, blank=True)
    prescriber_npi = models.CharField("prescriber NPI", max_length=10, blank=True)
    prescriber_license = models.CharField("prescriber state licence", max_length=50, blank=True)
    drug = models.ForeignKey(
        "catalog.Drug", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    formulation = models.ForeignKey(
        "catalog.Formulation",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="prescriptions",
        help_text="Form and strength.",
    )
    directions = models.CharField(max_length=500, blank=True)
    units_per_dose = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        # A bound on typing, not a dose limit: a liquid is counted in mL (20 mL is one
        # dose), and the drug's per-dose maximum in mg is a clinical check.
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(Decimal(100))],
        help_text="Tablets or capsules per dose; mL for a liquid.",
    )
    doses_per_day = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(12)]
    )
    quantity = models.PositiveIntegerField(
        "quantity (units)",
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(1000)],
    )
    refills = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(11)])
    date_written = models.DateField(null=True, blank=True)
    expiry_date = models.DateField(
        null=True, blank=True, help_text="Defaults to one year after the date written."
    )
    units_used = models.PositiveIntegerField(
        default=0,
        help_text="Units reserved by open orders or bought; never above the authorised total.",
    )

    # Automatic clinical checks, refreshed whenever the prescription or profile changes.
    check_results = models.JSONField(default=list, blank=True)
    has_blocking_checks = models.BooleanField(default=False)
    checks_run_at = models.DateTimeField(null=True, blank=True)
    # Re-screening after verification: a blocking finding no pharmacist answered yet
    # holds ordering until one looks again.
    reviewed_findings = models.JSONField(
        default=list,
        blank=True,
        help_text="Codes of the blocking findings a pharmacist answered, at verification "
        "or when reviewing again.",
    )
    held_since = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Ordering is held: a new blocking finding waits for a pharmacist.",
    )
    hold_reason = models.TextField(
        blank=True, help_text="The new findings, as the patient sees them."
    )
    early_refill_allowed = models.BooleanField(
        default=False,
        help_text="A pharmacist allowed the next order before the previous supply is used "
        "up; the order that uses it clears it.",
    )

    identity_accepted_for = models.CharField(
        max_length=400,
        blank=True,
        help_text="The account name and date of birth a pharmacist accepted for this "
        "patient despite a difference; who and why are in the status history.",
    )

    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    override_reason = models.TextField(blank=True)
    submitted_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    # The queue's order, stored so that an index serves it (a page reads a page of rows):
    # when the oldest order still waiting for this prescription had its card authorised
    # (kept by `prescription_order_waiting_refresh`, which the orders' moves call), and
    # the rank the database derives from it and the status.
    order_waiting_since = models.DateTimeField(null=True, blank=True, editable=False)
    queue_rank = models.GeneratedField(
        expression=models.Case(
            models.When(
                status=Status.SUBMITTED, order_waiting_since__isnull=False, then=QUEUE_ORDER_WAITING
            ),
            models.When(status=Status.SUBMITTED, then=QUEUE_SUBMITTED),
            models.When(status=Status.NEEDS_INFO, then=QUEUE_NEEDS_INFO),
            default=QUEUE_DECIDED,
        ),
        output_field=models.PositiveSmallIntegerField(),
        db_persist=True,
    )

    # Each change moves the patient's pages token (pharmacy/page_versions.py).
    objects = PrescriptionQuerySet.as_manager()
    PAGES_PATIENT = "patient_id"
    history = HistoricalRecords(
        excluded_fields=[
            "check_results",
            "checks_run_at",
            "updated_at",
            "order_waiting_since",
            "queue_rank",
        ]
    )

    class Meta:
        ordering = ["-submitted_at"]
        indexes = [
            # The queue, unfiltered and filtered by status, read in its order.
            models.Index(
                fields=["queue_rank", "order_waiting_since", "submitted_at", "id"],
                name="prescription_queue",
            ),
            models.Index(
                fields=["status", "queue_rank", "order_waiting_since", "submitted_at", "id"],
                name="prescription_queue_status",
            ),
            # The few with a blocking finding ("checks: yes"), counted and read in queue
            # order without walking the whole queue.
            models.Index(
                fields=["queue_rank", "order_waiting_since", "submitted_at", "id"],
                condition=models.Q(has_blocking_checks=True),
                name="prescription_queue_blocking",
            ),
            # The few prescriptions an order waits for ("order waiting: yes").
            models.Index(
                fields=["order_waiting_since"],
                condition=models.Q(order_waiting_since__isnull=False),
                name="prescription_order_waiting",
            ),
            models.Index(fields=["submitted_at", "id"], name="prescription_submitted"),
            models.Index(
                fields=["prescriber_npi"],
                opclasses=["varchar_pattern_ops"],
                name="prescription_npi",
            ),
            models.Index(fields=["partner_reference"], name="prescription_partner_ref"),
        ]
        permissions = [("verify_prescription", "Can verify, reject or query prescriptions")]
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "partner_reference"],
                condition=models.Q(partner__isnull=False),
                name="prescription_unique_partner_reference",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=Status.values), name="prescription_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(quantity__isnull=True)
                | models.Q(units_used__lte=models.F("quantity") * (models.F("refills") + 1)),
                name="prescription_units_used_within_authorised",
            ),
        ]

    def __str__(self):
        what = f"{self.formulation}" if self.formulation_id else "prescription"
        return f"#{self.pk} {what} for {self.patient_name or self.patient_email}"

    def get_absolute_url(self):
        return reverse("prescriptions:detail", kwargs={"pk": self.pk})

    @property
    def units_authorised(self) -> int:
        return (self.quantity or 0) * (1 + self.refills)

    @property
    def units_remaining(self) -> int:
        return max(self.units_authorised - self.units_used, 0)

    def is_expired(self, on: date | None = None) -> bool:
        on = on or timezone.localdate()
        return self.expiry_date is not None and self.expiry_date < on

    def display_status(self, on: date | None = None) -> str:
        """What the patient sees: a verified prescription past its expiry reads "Expired",
        one held for a pharmacist's second look "On hold"."""
        if self.status == Status.VERIFIED and self.is_expired(on):
            return "Expired"
        if self.is_held:
            return "On hold"
        return self.get_status_display()

    @property
    def status_badge(self) -> str:
        """The badge's style: expired and on hold read apart from their status."""
        if self.status == Status.VERIFIED and self.is_expired():
            return "expired"
        if self.is_held:
            return Status.NEEDS_INFO
        return self.status

    @property
    def needs_info(self) -> bool:
        return self.status == Status.NEEDS_INFO

    @property
    def is_verified(self) -> bool:
        return self.status == Status.VERIFIED

    @property
    def is_rejected(self) -> bool:
        return self.status == Status.REJECTED

    @property
    def is_held(self) -> bool:
        return self.is_verified and self.held_since is not None

    @property
    def daily_units(self):
        if self.units_per_dose is None or self.doses_per_day is None:
            return None
        return self.units_per_dose * self.doses_per_day


class PrescriptionDocument(models.Model):
    prescription = models.ForeignKey(
        Prescription, on_delete=models.PROTECT, related_name="documents"
    )
    file = models.FileField(storage=get_private_storage, upload_to=document_path, max_length=200)
    content_type = models.CharField(max_length=50)
    original_name = models.CharField(max_length=100, help_text="For display only.")
    size = models.PositiveIntegerField()
    pages = models.PositiveSmallIntegerField(default=1)
    sha256 = models.CharField(max_length=64, help_text="Of the stored bytes; checked on download.")
    original_sha256 = models.CharField(
        max_length=64, db_index=True, help_text="Of the bytes as uploaded; spots reuse."
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["uploaded_at", "pk"]

    def __str__(self):
        return self.original_name

    def get_absolute_url(self):
        return reverse(
            "prescriptions:document",
            kwargs={"pk": self.prescription_id, "document_pk": self.pk},
        )

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")


class StatusChange(models.Model):
    """One row per move of the state machine: who, when, why."""

    prescription = models.ForeignKey(
        Prescription, on_delete=models.PROTECT, related_name="status_changes"
    )
    from_status = models.CharField(max_length=20, choices=Status, blank=True)
    to_status = models.CharField(max_length=20, choices=Status)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    message = models.TextField(blank=True)
    override_reason = models.TextField(blank=True)
    at = models.DateTimeField(default=timezone.now)
    notified_at = models.DateTimeField(
        null=True, blank=True, help_text="When the patient was emailed about this change."
    )

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self):
        return f"{self.from_status or 'new'} → {self.to_status}"

    @property
    def is_receipt(self) -> bool:
        """The first row: the prescription arrived."""
        return not self.from_status and self.to_status == Status.SUBMITTED

    @property
    def is_answer(self) -> bool:
        """The patient answered a question, which puts it back in the queue."""
        return self.from_status == Status.NEEDS_INFO and self.to_status == Status.SUBMITTED

    @property
    def asks_for_info(self) -> bool:
        return self.to_status == Status.NEEDS_INFO

    @property
    def is_verification(self) -> bool:
        return self.to_status == Status.VERIFIED

    @property
    def is_rejection(self) -> bool:
        return self.to_status == Status.REJECTED
