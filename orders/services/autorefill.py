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
from pharmacy.queue import enqueue_on_commit
from prescriptions.models import Prescription
from prescriptions.review import long_date
from prescriptions.selectors import refill_supply

from ..cart import MAX_PACKAGES_PER_LINE, CartLine
from ..models import (
    AUTO_REFILL_MACHINE,
    ORDER_MACHINE,
    AutoRefill,
    AutoRefillCycle,
    AutoRefillStatus,
    DeliveryAddress,
    Order,
    OrderLine,
    OrderStatus,
)
from ..refill_emails import auto_refill_email
from ..supply import run_out_date
from ..task_names import SEND_AUTO_REFILL_EMAIL
from .checkout import CheckoutError, CheckoutProblem, order_place
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


def _refusal(*, prescription: Prescription, package: Package, quantity: int) -> str:
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


def _locked(auto_refill_id: int) -> AutoRefill:
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
    if why := _refusal(prescription=prescription, package=package, quantity=quantity):
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
    auto_refill = _locked(auto_refill_id)
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
    auto_refill = _locked(auto_refill_id)
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
    auto_refill = _locked(auto_refill_id)
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


# The daily run ---------------------------------------------------------------------


def _refuse(cycle: AutoRefillCycle, auto_refill: AutoRefill, why: str, *, stop: bool) -> None:
    """The cycle is not placed; the patient is told why, and whether it stays on."""
    cycle.outcome = Outcome.REFUSED
    cycle.detail = why[:600]
    cycle.save(update_fields=["outcome", "detail"])
    if stop:
        auto_refill_stop(auto_refill_id=auto_refill.pk, reason=f"Stopped: {why}"[:300], actor=None)
    enqueue_on_commit(SEND_AUTO_REFILL_EMAIL, cycle.pk, "refused")


def _retry_from(auto_refill: AutoRefill, problems: list[CheckoutProblem], today: date) -> date:
    """The day to try again after a refusal that may pass: from when the early-refill
    rule allows the order, or tomorrow."""
    if any(p.kind == "early_refill" for p in problems):
        drug_id = auto_refill.package.formulation.drug_id
        supply = refill_supply(patient=auto_refill.patient, drug_id=drug_id)
        if supply is not None and supply.refill_from > today:
            return supply.refill_from
    return today + timedelta(days=1)


@transaction.atomic
def cycle_open(*, auto_refill_id: int, today: date) -> int | None:
    """Announce the next refill when its notice is due, or stop it if it can no longer
    run; returns the cycle's id on its day (to place and charge), else None."""
    auto_refill = _locked(auto_refill_id)
    notice_from = today + timedelta(days=settings.AUTO_REFILL_NOTICE_DAYS)
    if not auto_refill.is_active or not auto_refill.next_run_on:
        return None
    if auto_refill.next_run_on > notice_from:
        return None
    cycle, _ = AutoRefillCycle.objects.select_for_update().get_or_create(
        auto_refill=auto_refill, run_on=auto_refill.next_run_on
    )
    if cycle.outcome != Outcome.SCHEDULED:
        return None
    why = _refusal(
        prescription=auto_refill.prescription,
        package=auto_refill.package,
        quantity=auto_refill.quantity,
    )
    if why:
        _refuse(cycle, auto_refill, why, stop=True)
        return None
    if cycle.run_on > today:
        if cycle.notice_sent_at is None:
            enqueue_on_commit(SEND_AUTO_REFILL_EMAIL, cycle.pk, "notice")
        return None
    return cycle.pk


def cycles_due(*, today: date, now=None) -> list[int]:
    """The cycles to place and charge now: today's, and those whose charge was lost."""
    notice_from = today + timedelta(days=settings.AUTO_REFILL_NOTICE_DAYS)
    due = AutoRefill.objects.filter(
        status=AutoRefillStatus.ACTIVE, next_run_on__lte=notice_from
    ).order_by("next_run_on", "pk")
    cycles = [
        cycle_id
        for auto_refill_id in due.values_list("pk", flat=True)
        if (cycle_id := cycle_open(auto_refill_id=auto_refill_id, today=today)) is not None
    ]
    lost = AutoRefillCycle.objects.filter(
        outcome=Outcome.ORDERED,
        order__status=OrderStatus.PENDING_PAYMENT,
        order__stripe_payment_intent="",
        order__payment_error_attempt="",
        created_at__lt=(now or timezone.now()) - LOST_CHARGE_AFTER,
    )
    return cycles + [pk for pk in lost.values_list("pk", flat=True) if pk not in cycles]


def cycle_place_order(*, cycle_id: int) -> Order | None:
    """Place the cycle's order through checkout, once; None when it is not placed (and
    then the patient is told why). The cycle row is locked meanwhile, and the order is
    linked to it in the same transaction, so a second run finds it and places none."""
    with transaction.atomic():
        cycle = AutoRefillCycle.objects.select_for_update().get(pk=cycle_id)
        if cycle.order_id is not None:
            return Order.objects.get(pk=cycle.order_id)
        if cycle.outcome != Outcome.SCHEDULED:
            return None
        auto_refill = _locked(cycle.auto_refill_id)
        if not auto_refill.is_active:
            cycle.outcome = Outcome.REFUSED
            cycle.detail = "Auto-refill was turned off."
            cycle.save(update_fields=["outcome", "detail"])
            return None
        why = _refusal(
            prescription=auto_refill.prescription,
            package=auto_refill.package,
            quantity=auto_refill.quantity,
        )
        address = DeliveryAddress.objects.filter(user=auto_refill.patient).first()
        if not why and address is None:
            why = "There is no delivery address on your account."
        if why:
            _refuse(cycle, auto_refill, why, stop=True)
            return None
        try:
            order = order_place(
                patient=auto_refill.patient,
                lines=[CartLine(auto_refill.package, auto_refill.quantity)],
                address=address,
            )
        except CheckoutError as exc:
            today = timezone.localdate()
            why = " ".join(p.message for p in exc.problems)
            later = bool(exc.problems) and all(p.kind in RETRY_LATER for p in exc.problems)
            if later:
                retry = _retry_from(auto_refill, exc.problems, today)
                auto_refill.next_run_on = retry
                auto_refill.save(update_fields=["next_run_on", "updated_at"])
                AUTO_REFILL_MACHINE.note(
                    auto_refill, note=f"Not placed: {why} Trying again on {long_date(retry)}"[:300]
                )
            _refuse(cycle, auto_refill, why, stop=not later)
            return None
        Order.objects.filter(pk=order.pk).update(
            payment_due_by=timezone.now() + timedelta(hours=settings.AUTO_REFILL_PAYMENT_HOURS)
        )
        order.refresh_from_db()
        ORDER_MACHINE.note(order, note="Placed by your auto-refill; the saved card is charged")
        cycle.order = order
        cycle.outcome = Outcome.ORDERED
        cycle.save(update_fields=["order", "outcome"])
        days = supply_days(
            prescription=auto_refill.prescription,
            package=auto_refill.package,
            quantity=auto_refill.quantity,
        )
        auto_refill.next_run_on = cycle.run_on + timedelta(days=days or 1)
        auto_refill.save(update_fields=["next_run_on", "updated_at"])
        AUTO_REFILL_MACHINE.note(
            auto_refill,
            note=f"Order {order.number} placed; next refill on {long_date(auto_refill.next_run_on)}",
        )
    return order


def cycle_email_send(*, cycle_id: int, kind: str) -> bool:
    """Email the patient about a cycle (its notice, or why it was not placed), once."""
    field = EMAIL_FIELDS[kind]
    with transaction.atomic():
        cycle = (
            AutoRefillCycle.objects.select_for_update(of=("self",))
            .select_related(
                "auto_refill__patient",
                "auto_refill__package__formulation__drug",
                "auto_refill__prescription",
            )
            .get(pk=cycle_id)
        )
        if getattr(cycle, field) is not None:
            return False
        if kind == "notice" and cycle.outcome != Outcome.SCHEDULED:
            return False  # skipped or turned off before the notice went out
        auto_refill_email(cycle, kind).send()
        setattr(cycle, field, timezone.now())
        cycle.save(update_fields=[field])
    return True
