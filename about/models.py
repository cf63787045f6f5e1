"""Who the pharmacy is, where it may ship, and the notices it publishes: rows staff edit
in the admin, each change kept with its author (django-simple-history)."""

from django.db import models
from django.urls import reverse
from django.utils import timezone
from simple_history.models import HistoricalRecords

from pharmacy.us_states import US_STATES, state_name


class PharmacyIdentity(models.Model):
    """The one row that says who the pharmacy is: the footer of every page, the contact
    page, and the sender and signature of every email read it."""

    # Always True and unique: the table holds one row at most.
    singleton = models.BooleanField(default=True, unique=True, editable=False)
    legal_name = models.CharField(max_length=200, help_text="As on the pharmacy's licences.")
    name = models.CharField(
        "name patients know", max_length=120, help_text="Shown on pages and in emails."
    )
    street_address = models.CharField(max_length=200)
    city = models.CharField(max_length=100)
    state = models.CharField(max_length=2, choices=US_STATES)
    zip_code = models.CharField("ZIP code", max_length=10)
    phone = models.CharField(max_length=30)
    email = models.EmailField(help_text="Where patients write to the pharmacy.")
    opening_hours = models.TextField(
        help_text="One line per day or range of days, e.g. 'Monday to Friday: 9 am to 6 pm'."
    )
    pharmacist_in_charge = models.CharField(max_length=150)
    pharmacist_licence_number = models.CharField("pharmacist's licence number", max_length=50)
    accreditation = models.TextField(
        blank=True, help_text="Optional, e.g. the accreditations the pharmacy holds."
    )
    sender_email = models.EmailField(
        "email sender address",
        help_text="The From address of every email the site sends, with the name above.",
    )
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "pharmacy details"
        verbose_name_plural = "pharmacy details"

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        self.singleton = True
        super().save(*args, **kwargs)

    @property
    def address_line(self) -> str:
        return f"{self.street_address}, {self.city}, {self.state} {self.zip_code}"


class LicenceKind(models.TextChoices):
    PHARMACY = "pharmacy", "Pharmacy licence"
    NON_RESIDENT = "non_resident", "Non-resident pharmacy licence"
    MAIL_ORDER = "mail_order", "Mail-order pharmacy permit"


class StateLicenceQuerySet(models.QuerySet):
    def current(self, on=None):
        """Licences valid on `on` (today): the pharmacy may ship to their states."""
        return self.filter(expires_on__gte=on or timezone.localdate())


class StateLicence(models.Model):
    """A licence to dispense in one state. The pharmacy ships only to the states of
    its unexpired licences (orders/services/destinations.py)."""

    state = models.CharField(max_length=2, choices=US_STATES, db_index=True)
    licence_number = models.CharField(max_length=50)
    kind = models.CharField(max_length=20, choices=LicenceKind, default=LicenceKind.PHARMACY)
    expires_on = models.DateField(
        help_text="From the day after, the pharmacy no longer ships there."
    )
    history = HistoricalRecords()

    objects = StateLicenceQuerySet.as_manager()

    class Meta:
        ordering = ["state", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["state", "kind"], name="one_licence_per_state_and_kind")
        ]

    def __str__(self):
        return f"{self.state_name}: {self.get_kind_display()} {self.licence_number}"

    @property
    def state_name(self) -> str:
        return state_name(self.state)

    def is_current(self, on=None) -> bool:
        return self.expires_on >= (on or timezone.localdate())


class PolicyKind(models.TextChoices):
    """The notices every pharmacy publishes; the value is the page's address."""

    PRIVACY = "privacy-practices", "Notice of Privacy Practices"
    TERMS = "terms-of-use", "Terms of use"
    RETURNS = "returns", "Returns of medicines"
    PHARMACIST = "talk-to-a-pharmacist", "How to reach a pharmacist"


class Policy(models.Model):
    kind = models.CharField(max_length=30, choices=PolicyKind, unique=True)
    title = models.CharField(max_length=200)
    body = models.TextField(help_text="Plain text; leave an empty line between paragraphs.")
    changed_at = models.DateTimeField(
        "last changed", auto_now=True, help_text="Shown on the page; set on every save."
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name_plural = "policies"
        ordering = ["kind"]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("about:policy", args=[self.kind])
