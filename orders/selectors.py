"""Reading orders for pages and services."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import Q
from django.utils import timezone

from catalog.models import Package
from prescriptions.models import Prescription, Status
from prescriptions.selectors import units_available

from .cart import MAX_PACKAGES_PER_LINE, CartLine
from .delivery import DeliveryEstimate, price_label
from .models import Order, OrderLine, OrderStatus, ShippingOption
from .shipping_copy import offered_options


@dataclass(frozen=True)
class ShippingChoice:
    """A shipping option as the cart shows it: price, arrival, and the order's total."""

    option: ShippingOption
    estimate: DeliveryEstimate
    total: Decimal

    @property
    def price(self) -> str:
        return price_label(self.option.price)


def shipping_choices(*, items_total: Decimal, start: date) -> list[ShippingChoice]:
    """Every option offered now, first the one checkout picks unless the patient changes it."""
    return [
        ShippingChoice(option, option.estimate(start=start), items_total + option.price)
        for option in offered_options()
    ]


def matching_pending_order(*, patient, lines: list[CartLine]) -> Order | None:
    """The patient's order still waiting for payment with exactly these lines, if any.

    A checkout whose answer was lost (the order committed, then the response failed)
    is submitted again with the same cart; it must lead to that order's payment, not
    to a second order holding the same stock.
    """
    wanted = sorted((line.package.pk, line.quantity) for line in lines)
    candidates = Order.objects.filter(
        patient=patient,
        status=OrderStatus.PENDING_PAYMENT,
        payment_due_by__gt=timezone.now(),
    ).prefetch_related("lines")
    for order in candidates:
        if sorted((line.package_id, line.quantity) for line in order.lines.all()) == wanted:
            return order
    return None


# A prescription in these states is still with the pharmacist: an order may wait for it.
WAITING_STATUSES = (Status.SUBMITTED, Status.NEEDS_INFO)


def waiting_prescription(*, patient, prescription_id: int, drug_id: int) -> Prescription | None:
    """The patient's prescription still waiting for a pharmacist, for this drug or for no
    drug yet (an upload, before the pharmacist reads it), or None."""
    return (
        Prescription.objects.filter(
            pk=prescription_id, patient=patient, status__in=WAITING_STATUSES
        )
        .filter(Q(drug_id=drug_id) | Q(drug__isnull=True))
        .first()
    )


def waiting_prescriptions(*, patient, drug_ids) -> list[Prescription]:
    """The patient's prescriptions still waiting for a pharmacist for any of these drugs,
    or for no drug yet, newest first: what a line without a verified one may wait for."""
    return list(
        Prescription.objects.filter(patient=patient, status__in=WAITING_STATUSES)
        .filter(Q(drug_id__in=drug_ids) | Q(drug__isnull=True))
        .order_by("-submitted_at")
    )


def arrived_prescriptions(*, patient_id: int, drug_ids, since) -> list[Prescription]:
    """What an order line waiting for a prescription to arrive may be matched with: the
    patient's prescriptions of these drugs still with the pharmacist, or verified ones
    sent since `since` (a prescriber's, verified before its task ran), that no order
    still waiting has taken; oldest first."""
    taken = OrderLine.objects.filter(
        order__status=OrderStatus.AUTHORISED, prescription__isnull=False
    ).values("prescription_id")
    return list(
        Prescription.objects.filter(patient_id=patient_id, drug_id__in=drug_ids)
        .filter(Q(status__in=WAITING_STATUSES) | Q(status=Status.VERIFIED, submitted_at__gte=since))
        .exclude(pk__in=taken)
        .order_by("submitted_at", "pk")
    )


def quantity_refusal(*, patient, package: Package, quantity: int) -> str | None:
    """Why the cart cannot hold `quantity` packages of `package`, or None.

    Past MAX_PACKAGES_PER_LINE, never (an abuse limit). A signed-in patient whose
    verified prescriptions cover this form and strength may hold up to what they still
    cover, and is told the limit rather than given less than asked without a word; a
    patient with none may fill the cart, and checkout asks how each line is covered.
    """
    if quantity > MAX_PACKAGES_PER_LINE:
        return f"You can order at most {MAX_PACKAGES_PER_LINE} of one package at a time."
    if not patient.is_authenticated:
        return None
    covered = units_available(patient=patient, formulation=package.formulation)
    wanted = quantity * package.pill_count
    if not covered or wanted <= covered:
        return None
    unit = package.formulation.unit_plural
    most = covered // package.pill_count
    name = f"{package.formulation.drug.name} {package.label}"
    limit = (
        f"You can have at most {most} of this package."
        if most
        else "This package is larger than that: choose a smaller one."
    )
    return (
        f"{name}: your prescription covers {covered} more {unit}, and {quantity} of this "
        f"package would be {wanted}. {limit}"
    )
