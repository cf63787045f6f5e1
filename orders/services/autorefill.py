"""Auto-refill: the patient's standing order on one prescription, run a few days before
their supply runs out.

A patient turns it on for a prescription on its page (package, how many) and saves a
card once (Checkout in setup mode, `payments.cards`). The day the supply runs out is
`orders.supply`'s estimate, as for the reminders; the refill runs
AUTO_REFILL_DAYS_BEFORE_RUN_OUT days before, and AUTO_REFILL_NOTICE_DAYS before that the
patient is emailed (skip once, change or turn off). On the day the order goes through
checkout's own `order_place` (the clinical review runs again, the coverage, the
early-refill rule) and `payments.refills` charges the saved card off-session.

Never a silent gap: whatever stops a refill (a hold after a profile change, an expired
prescription, the review refusing it) is recorded with its reason and emailed; a card
that is refused leaves a payable order and an email.
"""

from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from catalog.models import Package
from prescriptions.models import Prescription
from prescriptions.review import long_date

from ..cart import MAX_PACKAGES_PER_LINE
from ..models import (
    AUTO_REFILL_MACHINE,
    AutoRefill,
    AutoRefillCycle,
    AutoRefillStatus,
    OrderLine,
)
from ..supply import run_out_date
from .reminders import SUPPLIED_STATUSES

Outcome = AutoRefillCycle.Outcome
# A refusal that may pass later keeps auto-refill on: it tries again from a later day.
RETRY_LATER = {"out_of_stock", "early_refill", "order_waiting"}
# An order placed by a cycle whose charge was lost (worker killed) is charged again after.
LOST_CHARGE_AFTER = timedelta(minutes=10)
EMAIL_FIELDS = {"notice": "notice_sent_at", "refused": "outcome_sent_at"}


def _what(package: Package, quantity: int) -> str:
    return f"{quantity} × {package.formulation.drug.name} {package.label}"


def supply_days(*, prescription: Prescription, package: Package, quantity: int) -> int | None:
    """How many days one refill lasts at the prescription's directions (None: unknown)."""
    daily = prescription.daily_units
    if not daily:
        return None
    return max(int(Decimal(package.pill_count * quantity) // daily), 1)


def first_run_on(auto_refill: AutoRefill, *, today: date) -> date:
    """The day of the first refill: a few days before the last supplied order of this
    prescription runs out; with none, after the notice (the patient can skip it); never
    before tomorrow, so that the notice goes out first."""
    line = (
        OrderLine.objects.filter(
            prescription_id=auto_refill.prescription_id, order__status__in=SUPPLIED_STATUSES
        )
        .select_related("order", "prescription")
        .order_by("-order__paid_at", "-pk")
        .first()
    )
    run_out = run_out_date(line) if line else None
    if run_out is None:
        return today + timedelta(days=settings.AUTO_REFILL_NOTICE_DAYS)
    day = run_out - timedelta(days=settings.AUTO_REFILL_DAYS_BEFORE_RUN_OUT)
    return max(day, today + timedelta(days=1))


def refusal(*, prescription: Prescription, package: Package, quantity: int) -> str:
    """Why this prescription cannot be refilled automatically now; empty if it can."""
    if not prescription.is_verified or prescription.is_expired():
        return f"Prescription #{prescription.pk} is not a verified prescription in date."
    if prescription.is_held:
        return (
            f"Prescription #{prescription.pk} is on hold until a pharmacist reviews it again "
            f"({prescription.hold_reason.rstrip('.')}), after a change to your medical profile."
        )
    units = package.pill_count * quantity
    if units > prescription.units_remaining:
        return (
            f"Prescription #{prescription.pk} has {prescription.units_remaining} units left, "
            f"not enough for {units}; ask for a renewal."
        )
    if prescription.daily_units is None:
        return (
            f"Prescription #{prescription.pk}'s directions do not say how much to take a day, "
            "so we cannot tell when your supply runs out."
        )
    return ""


def locked(auto_refill_id: int) -> AutoRefill:
    return (
        AutoRefill.objects.select_for_update(of=("self",))
        .select_related("prescription", "package__formulation__drug", "patient")
        .get(pk=auto_refill_id)
    )


def _saved_card_of(patient, *, besides: int | None) -> AutoRefill | None:
    return (
        AutoRefill.objects.filter(patient=patient)
        .exclude(pk=besides)
        .exclude(stripe_payment_method_id="")
        .order_by("-updated_at")
        .first()
    )


def _activate(auto_refill: AutoRefill, *, actor, note: str) -> None:
    auto_refill.next_run_on = first_run_on(auto_refill, today=timezone.localdate())
    auto_refill.stopped_reason = ""
    AUTO_REFILL_MACHINE.move(
        auto_refill,
        AutoRefillStatus.ACTIVE,
        actor=actor,
        note=f"{note}; first refill on {long_date(auto_refill.next_run_on)}"[:300],
        also_save=[
            "next_run_on",
            "stopped_reason",
            "stripe_customer_id",
            "stripe_payment_method_id",
            "card_label",
        ],
    )


@transaction.atomic
def auto_refill_set(*, patient, prescription_id: int, package_id: int, quantity: int) -> AutoRefill:
    """Turn auto-refill on for one of the patient's prescriptions, or change it.

    On at once with a card the patient saved before (for this or another prescription);
    otherwise it waits for one (`needs_card`), saved through Stripe's setup page.
    """
    prescription = (
        Prescription.objects.select_for_update().filter(pk=prescription_id, patient=patient).first()
    )
    if prescription is None:
        raise ValidationError("This is not one of your prescriptions.")
    package = (
        Package.objects.purchasable()
        .select_related("formulation__drug")
        .filter(pk=package_id, formulation_id=prescription.formulation_id)
        .first()
    )
    if package is None:
        raise ValidationError("Choose a package of the medicine this prescription is for.")
    if not 1 <= quantity <= MAX_PACKAGES_PER_LINE:
        raise ValidationError(f"Choose between 1 and {MAX_PACKAGES_PER_LINE} packages.")
    if why := refusal(prescription=prescription, package=package, quantity=quantity):
        raise ValidationError(why)
    what = _what(package, quantity)
    auto_refill = AutoRefill.objects.select_for_update().filter(prescription=prescription).first()
    if auto_refill is None:
        auto_refill = AutoRefill(
            patient=patient, prescription=prescription, package=package, quantity=quantity
        )
        AUTO_REFILL_MACHINE.move(
            auto_refill, AutoRefillStatus.NEEDS_CARD, actor=patient, note=f"Turned on: {what}"
        )
    else:
        changed = (auto_refill.package_id, auto_refill.quantity) != (package.pk, quantity)
        auto_refill.package, auto_refill.quantity = package, quantity
        auto_refill.save(update_fields=["package", "quantity", "updated_at"])
        if auto_refill.is_stopped and not auto_refill.has_card:
            AUTO_REFILL_MACHINE.move(
                auto_refill, AutoRefillStatus.NEEDS_CARD, actor=patient, note=f"Turned on: {what}"
            )
        elif changed and not auto_refill.is_stopped:
            AUTO_REFILL_MACHINE.note(auto_refill, actor=patient, note=f"Changed to {what}")
    if auto_refill.is_active:
        return auto_refill
    if not auto_refill.has_card and (known := _saved_card_of(patient, besides=auto_refill.pk)):
        auto_refill.stripe_customer_id = known.stripe_customer_id
        auto_refill.stripe_payment_method_id = known.stripe_payment_method_id
        auto_refill.card_label = known.card_label
    if auto_refill.has_card:
        _activate(auto_refill, actor=patient, note=f"On with {auto_refill.card_label}: {what}")
    return auto_refill


@transaction.atomic
def auto_refill_card_saved(
    *, auto_refill_id: int, customer: str, payment_method: str, card_label: str
) -> bool:
    """The card the patient saved on Stripe's setup page; auto-refill starts with it.
    False if that card was already recorded (a redelivered event)."""
    auto_refill = locked(auto_refill_id)
    if auto_refill.stripe_payment_method_id == payment_method:
        return False
    auto_refill.stripe_customer_id = customer
    auto_refill.stripe_payment_method_id = payment_method
    auto_refill.card_label = card_label[:60]
    if auto_refill.needs_card:
        _activate(auto_refill, actor=None, note=f"Card saved ({card_label})")
    else:
        auto_refill.save(
            update_fields=[
                "stripe_customer_id",
                "stripe_payment_method_id",
                "card_label",
                "updated_at",
            ]
        )
        AUTO_REFILL_MACHINE.note(auto_refill, note=f"New card saved ({card_label})")
    return True


@transaction.atomic
def auto_refill_stop(*, auto_refill_id: int, reason: str, actor=None) -> bool:
    """Turn it off, recording why; False if it was already off."""
    auto_refill = locked(auto_refill_id)
    if auto_refill.is_stopped:
        return False
    auto_refill.stopped_reason = reason[:300]
    auto_refill.next_run_on = None
    AUTO_REFILL_MACHINE.move(
        auto_refill,
        AutoRefillStatus.STOPPED,
        actor=actor,
        note=reason[:300],
        also_save=["stopped_reason", "next_run_on"],
    )
    return True


@transaction.atomic
def auto_refill_skip(*, auto_refill_id: int, actor) -> date:
    """Skip the next refill once: the one after comes one refill's supply later."""
    auto_refill = locked(auto_refill_id)
    if not auto_refill.is_active or auto_refill.next_run_on is None:
        raise ValidationError("Auto-refill is not on: there is no refill to skip.")
    skipped = auto_refill.next_run_on
    cycle, _ = AutoRefillCycle.objects.select_for_update().get_or_create(
        auto_refill=auto_refill, run_on=skipped
    )
    if cycle.outcome != Outcome.SCHEDULED:
        raise ValidationError(
            f"The refill of {long_date(skipped)} is already {cycle.get_outcome_display().lower()}."
        )
    cycle.outcome = Outcome.SKIPPED
    cycle.detail = "Skipped by the patient"
    cycle.save(update_fields=["outcome", "detail"])
    days = supply_days(
        prescription=auto_refill.prescription,
        package=auto_refill.package,
        quantity=auto_refill.quantity,
    )
    auto_refill.next_run_on = skipped + timedelta(days=days or 1)
    auto_refill.save(update_fields=["next_run_on", "updated_at"])
    AUTO_REFILL_MACHINE.note(
        auto_refill,
        actor=actor,
        note=f"Skipped the refill of {long_date(skipped)}; next refill on "
        f"{long_date(auto_refill.next_run_on)}",
    )
    return auto_refill.next_run_on
