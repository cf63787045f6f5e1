"""Delivery: where an order goes, the parcel that takes it, the shipping options staff
offer, and when a parcel should arrive. `orders.models` re-exports the models.

An option's price and its business days are rows staff edit in the admin (with their
history); an order copies the chosen option's name, price and days when it is placed,
so a later edit never changes what a placed order costs or promised.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords

from pharmacy.page_versions import PagesQuerySet
from pharmacy.us_states import US_STATES

ZIP_CODE = RegexValidator(r"^[0-9]{5}(-[0-9]{4})?\Z", "Enter a ZIP code like 10001 or 10001-1234.")


class DeliveryAddress(models.Model):
    """The patient's delivery address, kept on the account and copied onto each order."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="delivery_address"
    )
    full_name = models.CharField(max_length=150)
    line1 = models.CharField("address", max_length=200)
    line2 = models.CharField("apartment, suite, etc.", max_length=200, blank=True)
    city = models.CharField(max_length=100)
    state = models.CharField(max_length=2, choices=US_STATES)
    zip_code = models.CharField("ZIP code", max_length=10, validators=[ZIP_CODE])
    phone = models.CharField(max_length=30, blank=True, help_text="For the courier, if needed.")
    updated_at = models.DateTimeField(auto_now=True)

    # Each change moves the patient's pages token (pharmacy/page_versions.py).
    objects = PagesQuerySet.as_manager()
    PAGES_PATIENT = "user_id"

    class Meta:
        app_label = "orders"
        verbose_name_plural = "delivery addresses"

    def __str__(self):
        return f"{self.full_name}, {self.city} {self.state}"


class Shipment(models.Model):
    class Status(models.TextChoices):
        IN_TRANSIT = "in_transit", "In transit"
        DELIVERED = "delivered", "Delivered"

    order = models.OneToOneField("orders.Order", on_delete=models.PROTECT, related_name="shipment")
    carrier = models.CharField(max_length=50)
    tracking_number = models.CharField(max_length=64, unique=True)
    tracking_url = models.URLField(
        max_length=500, blank=True, help_text="The carrier's tracking page for this parcel."
    )
    status = models.CharField(max_length=20, choices=Status, default=Status.IN_TRANSIT)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    # Each change moves the patient's pages token (pharmacy/page_versions.py).
    objects = PagesQuerySet.as_manager()
    PAGES_PATIENT = "order__patient_id"

    class Meta:
        app_label = "orders"

    def __str__(self):
        return f"{self.carrier} {self.tracking_number}"

    @property
    def is_delivered(self) -> bool:
        return self.status == self.Status.DELIVERED

    @property
    def tracking_link(self) -> str:
        """The tracking URL when it is a web address (http or https), else "": whatever a
        carrier's API answers, nothing else (javascript:, data:) is ever made a link."""
        scheme, _, rest = self.tracking_url.partition("://")
        if scheme.lower() in ("http", "https") and rest and not rest.startswith("/"):
            return self.tracking_url
        return ""


SATURDAY = 5  # date.weekday(): Monday is 0


def add_business_days(start: date, days: int) -> date:
    """The day `days` business days after `start`, skipping Saturdays and Sundays.

    Counting starts the day after `start`: an order placed on Thursday with 3 business
    days arrives on Tuesday; one placed on Saturday, on Wednesday. Public holidays are
    not known here, so an estimate over one is a day early.
    """
    day = start
    left = days
    while left > 0:
        day += timedelta(days=1)
        if day.weekday() < SATURDAY:
            left -= 1
    return day


WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _day(day: date) -> str:
    # Names written out here, not strftime: the same words whatever the server's locale.
    return f"{WEEKDAYS[day.weekday()]}, {MONTHS[day.month - 1]} {day.day}"


@dataclass(frozen=True)
class DeliveryEstimate:
    earliest: date
    latest: date

    @property
    def label(self) -> str:
        """E.g. "Arrives Tue, Dec 8 to Thu, Dec 10" (with an en dash), or one day."""
        if self.earliest == self.latest:
            return f"Arrives {_day(self.earliest)}"
        return f"Arrives {_day(self.earliest)} – {_day(self.latest)}"

    def __str__(self) -> str:
        return self.label


def delivery_estimate(*, start: date, days_min: int, days_max: int) -> DeliveryEstimate:
    """When a parcel leaving on `start` (or the next business day) should arrive."""
    return DeliveryEstimate(
        earliest=add_business_days(start, days_min), latest=add_business_days(start, days_max)
    )


def price_label(amount: Decimal) -> str:
    """A delivery price as patients read it: "Free" or "$5.00"."""
    return "Free" if amount == 0 else f"${amount:.2f}"


NOT_OFFERED = "The delivery option you chose is no longer offered. Please choose another one."


class ShippingOptionQuerySet(models.QuerySet):
    def active(self):
        return self.filter(active=True)

    def default(self):
        """The option an order gets when nobody chose one (auto-refill): the first offered."""
        return self.active().first()


class ShippingOption(models.Model):
    """A way to deliver an order ("Standard", "Express") with its price and the business
    days it takes; the first active one (by position) is what checkout offers first."""

    name = models.CharField(max_length=60, unique=True, help_text="Shown to patients.")
    price = models.DecimalField(
        max_digits=8,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0.00"))],
        help_text="Charged per order; 0.00 for free delivery.",
    )
    days_min = models.PositiveSmallIntegerField(
        "business days, at the soonest",
        validators=[MinValueValidator(1)],
        help_text="From the day the order is paid; weekends are not counted.",
    )
    days_max = models.PositiveSmallIntegerField(
        "business days, at the latest", validators=[MinValueValidator(1)]
    )
    active = models.BooleanField(
        default=True,
        help_text="Only active options are offered. Turn an option off rather than delete it.",
    )
    position = models.PositiveSmallIntegerField(default=0, help_text="Lower comes first.")
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()
    objects = ShippingOptionQuerySet.as_manager()

    class Meta:
        app_label = "orders"
        ordering = ["position", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(price__gte=0), name="shipping_option_price_not_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(days_max__gte=models.F("days_min")),
                name="shipping_option_days_in_order",
            ),
        ]

    def __str__(self):
        return self.name

    def clean(self):
        if self.days_min and self.days_max and self.days_max < self.days_min:
            raise ValidationError(
                {"days_max": "The latest day cannot come before the soonest day."}
            )

    def estimate(self, *, start: date) -> DeliveryEstimate:
        return delivery_estimate(start=start, days_min=self.days_min, days_max=self.days_max)
