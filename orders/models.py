import secrets
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from pharmacy.page_versions import PagesQuerySet
from pharmacy.state_machine import StateMachine
from pharmacy.us_states import US_STATES

from .delivery import (
    ZIP_CODE,
    DeliveryAddress,
    DeliveryEstimate,
    Shipment,
    ShippingOption,
    delivery_estimate,
)

__all__ = ["ZIP_CODE", "DeliveryAddress", "Shipment", "ShippingOption"]  # from .delivery


def new_order_number() -> str:
    """Short, unguessable, easy to read aloud on the phone (no 0/O or 1/I)."""
    alphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
    return "".join(secrets.choice(alphabet) for _ in range(10))


def _partial(field: str, name: str, **where) -> models.Index:
    """An index of `field` over the rows `where` holds (PostgreSQL and SQLite alike)."""
    return models.Index(fields=[field], condition=models.Q(**where), name=name)


class OrderStatus(models.TextChoices):
    PENDING_PAYMENT = "pending_payment", "Waiting for payment"
    AUTHORISED = "authorised", "Card authorised, waiting for the pharmacist"
    PAID = "paid", "Paid"
    DISPATCHED = "dispatched", "Dispatched"
    DELIVERED = "delivered", "Delivered"
    CANCELLED = "cancelled", "Cancelled"
    REFUNDED = "refunded", "Refunded"


# Every allowed move, the first state included; `move` refuses anything else. A
# repeat (a retried task, a webhook delivered twice) changes nothing.
ORDER_MACHINE = StateMachine(
    choices=OrderStatus,
    table={
        None: {OrderStatus.PENDING_PAYMENT},
        OrderStatus.PENDING_PAYMENT: {
            OrderStatus.AUTHORISED,
            OrderStatus.PAID,
            OrderStatus.CANCELLED,
        },
        OrderStatus.AUTHORISED: {OrderStatus.PAID, OrderStatus.CANCELLED},
        OrderStatus.PAID: {OrderStatus.DISPATCHED, OrderStatus.REFUNDED},
        OrderStatus.DISPATCHED: {OrderStatus.DELIVERED},
        OrderStatus.DELIVERED: set(),
        OrderStatus.CANCELLED: set(),
        OrderStatus.REFUNDED: set(),
    },
    history="orders.OrderStatusChange",
    history_fk="order",
    repeats=True,
    refusal="{obj} is {from_state} and cannot become {to_state}.",
)

# What card issuers take to show a refund; Stripe quotes the same range. The order page
# and the refund email both say it, from here.
REFUND_BUSINESS_DAYS = "5 to 10"

# How long Stripe holds an uncaptured card authorisation, when the charge does not say.
AUTHORISATION_LIFETIME = timedelta(days=7)


class CaptureMethod(models.TextChoices):
    """Automatic: charged at checkout. Manual: authorised at checkout, charged (captured)
    once a pharmacist verifies the prescription the order waits for."""

    AUTOMATIC = "automatic", "Charged at checkout"
    MANUAL = "manual", "Authorised at checkout, charged after verification"


class Order(models.Model):
    number = models.CharField(max_length=12, unique=True, default=new_order_number, editable=False)
    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders"
    )
    status = models.CharField(
        max_length=20, choices=OrderStatus, default=OrderStatus.PENDING_PAYMENT, db_index=True
    )
    currency = models.CharField(max_length=3, default="usd")
    total = models.DecimalField(max_digits=10, decimal_places=2)
    # The address as it was when the order was placed.
    ship_name = models.CharField(max_length=150)
    ship_line1 = models.CharField(max_length=200)
    ship_line2 = models.CharField(max_length=200, blank=True)
    ship_city = models.CharField(max_length=100)
    ship_state = models.CharField(max_length=2, choices=US_STATES)
    ship_zip = models.CharField(max_length=10)
    ship_phone = models.CharField(max_length=30, blank=True)
    # The delivery option as it was when the order was placed (see .delivery); empty
    # on orders placed before the pharmacy offered options.
    shipping_name = models.CharField("delivery", max_length=60, blank=True)
    shipping_price = models.DecimalField(
        "delivery price", max_digits=8, decimal_places=2, default=Decimal("0.00")
    )
    shipping_days_min = models.PositiveSmallIntegerField(null=True, blank=True)
    shipping_days_max = models.PositiveSmallIntegerField(null=True, blank=True)

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    payment_due_by = models.DateTimeField(
        help_text="An order still unpaid at this time is cancelled and its stock released."
    )
    paid_at = models.DateTimeField(null=True, blank=True)
    # A paid order waits for the pharmacist's final check (the dispensing app); only then
    # is its dispatch queued (`services.lifecycle.order_release_for_dispatch`).
    checked_at = models.DateTimeField(
        "final check at",
        null=True,
        blank=True,
        help_text="When a pharmacist checked the dispensed lots and released it to the courier.",
    )
    checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="final check by",
    )
    capture_method = models.CharField(
        max_length=10, choices=CaptureMethod, default=CaptureMethod.AUTOMATIC
    )
    authorised_at = models.DateTimeField(null=True, blank=True)
    capture_before = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Stripe releases the card authorisation after this; the order is cancelled "
        "a day before.",
    )
    stripe_session_id = models.CharField(max_length=255, blank=True, db_index=True)
    stripe_payment_intent = models.CharField(max_length=255, blank=True, db_index=True)
    # The latest refused card attempt while the order waits for payment (Stripe's
    # `last_payment_error`); `payment_error_attempt` (its charge) records each attempt once.
    payment_error = models.CharField(max_length=300, blank=True)
    payment_error_at = models.DateTimeField(null=True, blank=True)
    payment_error_attempt = models.CharField(max_length=255, blank=True)
    amount_refunded = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        default=Decimal("0.00"),
        help_text="Refunded in Stripe so far, from its charge.refunded events (partial ones too).",
    )
    updated_at = models.DateTimeField(auto_now=True)

    # Each change moves the patient's pages token (pharmacy/page_versions.py).
    objects = PagesQuerySet.as_manager()
    PAGES_PATIENT = "patient_id"

    class Meta:
        ordering = ["-created_at", "-pk"]
        permissions = [("refund_order", "Can refund or cancel orders")]
        # For the periodic jobs: each index holds only the rows a job looks for, so
        # its sweep costs what is due, not the table (README "Periodic jobs at scale").
        indexes = [
            _partial("payment_due_by", "order_unpaid_due_by", status=OrderStatus.PENDING_PAYMENT),
            _partial("paid_at", "order_paid_at", paid_at__isnull=False),
            _partial(
                "checked_at",
                "order_checked_not_shipped",
                status=OrderStatus.PAID,
                checked_at__isnull=False,
            ),
            # The orders list, newest first, whole and by status.
            models.Index(fields=["created_at", "id"], name="order_created"),
            models.Index(fields=["status", "created_at", "id"], name="order_status_created"),
            # A patient's own orders, newest first: a page of theirs, not a walk of
            # everyone's newest orders until ten are theirs.
            models.Index(fields=["patient", "created_at", "id"], name="order_patient_created"),
            # The pharmacist's "to check" queue, oldest payment first: only the rows in it.
            models.Index(
                fields=["paid_at", "id"],
                condition=models.Q(status=OrderStatus.PAID, checked_at__isnull=True),
                name="order_to_check",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=OrderStatus.values), name="order_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(total__gte=0), name="order_total_not_negative"
            ),
        ]

    def __str__(self):
        return f"Order {self.number}"

    def get_absolute_url(self):
        return reverse("orders:detail", kwargs={"number": self.number})

    @property
    def is_payable(self) -> bool:
        return self.status == OrderStatus.PENDING_PAYMENT and self.payment_due_by > timezone.now()

    # One property per status, for templates: they present, they do not compare strings.
    @property
    def is_pending_payment(self) -> bool:
        return self.status == OrderStatus.PENDING_PAYMENT

    @property
    def is_authorised(self) -> bool:
        """The card is authorised; the order waits for a pharmacist to verify."""
        return self.status == OrderStatus.AUTHORISED

    @property
    def is_manual_capture(self) -> bool:
        return self.capture_method == CaptureMethod.MANUAL

    @property
    def is_paid(self) -> bool:
        """Paid and still at the pharmacy (not dispatched, not refunded)."""
        return self.status == OrderStatus.PAID

    @property
    def awaits_final_check(self) -> bool:
        """Paid, waiting for a pharmacist to check it before it goes to the courier."""
        return self.status == OrderStatus.PAID and self.checked_at is None

    @property
    def is_checked(self) -> bool:
        """Checked by the pharmacist and released to the courier, not yet booked."""
        return self.status == OrderStatus.PAID and self.checked_at is not None

    @property
    def is_dispatched(self) -> bool:
        return self.status == OrderStatus.DISPATCHED

    @property
    def is_delivered(self) -> bool:
        return self.status == OrderStatus.DELIVERED

    @property
    def is_cancelled(self) -> bool:
        return self.status == OrderStatus.CANCELLED

    @property
    def is_refunded(self) -> bool:
        return self.status == OrderStatus.REFUNDED

    @property
    def has_shipped(self) -> bool:
        """Handed to the courier: on its way or delivered."""
        return self.status in (OrderStatus.DISPATCHED, OrderStatus.DELIVERED)

    @property
    def shipping_address(self) -> str:
        lines = [self.ship_name, self.ship_line1, self.ship_line2]
        lines.append(f"{self.ship_city}, {self.ship_state} {self.ship_zip}")
        return "\n".join(line for line in lines if line)

    @property
    def total_cents(self) -> int:
        return int((self.total * 100).to_integral_value())

    @property
    def items_total(self) -> Decimal:
        """What the packages cost; `total` is this plus the delivery."""
        return self.total - self.shipping_price

    @property
    def delivery_estimate(self) -> DeliveryEstimate | None:
        """When it should arrive: counted from the day it was paid (until then, from
        today), with the days the option promised when the order was placed."""
        if self.shipping_days_min is None or self.shipping_days_max is None:
            return None
        start = timezone.localdate(self.paid_at) if self.paid_at else timezone.localdate()
        return delivery_estimate(
            start=start, days_min=self.shipping_days_min, days_max=self.shipping_days_max
        )


class OrderLine(models.Model):
    """One package in an order: its price and monograph version as the patient saw them."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    package = models.ForeignKey("catalog.Package", on_delete=models.PROTECT, related_name="+")
    prescription = models.ForeignKey(
        "prescriptions.Prescription",
        on_delete=models.PROTECT,
        related_name="order_lines",
        null=True,
        blank=True,
        help_text="Empty while the order waits for a prescription the patient's prescriber or "
        "a telemedicine partner is to send; it is matched when it arrives.",
    )
    description = models.CharField(max_length=200)
    package_price = models.DecimalField(
        "price per package", max_digits=10, decimal_places=2, help_text="At the time of the order."
    )
    quantity = models.PositiveIntegerField("packages")
    pills_per_package = models.PositiveIntegerField()
    monograph_version = models.PositiveIntegerField()
    units_reserved = models.BooleanField(
        default=True,
        help_text="Whether the prescription's units were taken for this line; a line placed "
        "against a prescription still waiting for a pharmacist takes them when it is verified.",
    )
    refill_due_on = models.DateField(
        "supply runs out on",
        null=True,
        blank=True,
        help_text="The first day without medicine, from the directions and the units bought; "
        "set when the order is paid. The refill reminders look ahead by it.",
    )

    # Each change moves the patient's pages token (pharmacy/page_versions.py).
    objects = PagesQuerySet.as_manager()
    PAGES_PATIENT = "order__patient_id"

    class Meta:
        ordering = ["pk"]
        indexes = [
            _partial("refill_due_on", "order_line_refill_due_on", refill_due_on__isnull=False)
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quantity__gt=0), name="order_line_quantity_positive"
            ),
            # Units are only ever taken on a prescription.
            models.CheckConstraint(
                condition=models.Q(prescription__isnull=False) | models.Q(units_reserved=False),
                name="order_line_units_need_prescription",
            ),
        ]

    def __str__(self):
        return f"{self.quantity} x {self.description}"

    @property
    def awaits_prescription(self) -> bool:
        """The order waits for this line's prescription to arrive from the prescriber."""
        return self.prescription_id is None

    @property
    def units(self) -> int:
        return self.quantity * self.pills_per_package

    @property
    def line_total(self) -> Decimal:
        return self.package_price * self.quantity


class OrderStatusChange(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=20, choices=OrderStatus, blank=True)
    to_status = models.CharField(max_length=20, choices=OrderStatus)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    note = models.CharField(max_length=300, blank=True)
    at = models.DateTimeField(default=timezone.now)

    # Each change moves the patient's pages token (pharmacy/page_versions.py).
    objects = PagesQuerySet.as_manager()
    PAGES_PATIENT = "order__patient_id"

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self):
        return f"{self.from_status or 'new'} → {self.to_status}"


# The order's emails, Stripe's events and the discrepancies, and auto-refill's models,
# live in their own modules; imported here so Django registers them.
from .notification_models import Notification  # noqa: E402
from .payment_models import Discrepancy, PaymentEvent  # noqa: E402
from .refill_models import (  # noqa: E402
    AUTO_REFILL_MACHINE,
    AutoRefill,
    AutoRefillChange,
    AutoRefillCycle,
    AutoRefillStatus,
)

__all__ += [
    "AUTO_REFILL_MACHINE",
    "AutoRefill",
    "AutoRefillChange",
    "AutoRefillCycle",
    "AutoRefillStatus",
    "Discrepancy",
    "Notification",
    "PaymentEvent",
]
