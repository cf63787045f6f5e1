"""Auto-refill's daily run: open a cycle for each refill that is due, email the notice,
place the cycle's order through checkout and hand it to `payments.refills` to charge.

A cycle is unique per auto-refill and day, so the hourly task run twice, or again after
a worker died, finds the cycle it opened and places or charges nothing twice.
"""

from datetime import date, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from pharmacy.batches import JOB_BATCH, keyset_batches
from pharmacy.queue import enqueue_on_commit
from prescriptions.review import long_date
from prescriptions.selectors import refill_supply

from ..cart import CartLine
from ..models import (
    AUTO_REFILL_MACHINE,
    ORDER_MACHINE,
    AutoRefill,
    AutoRefillCycle,
    AutoRefillStatus,
    DeliveryAddress,
    Order,
    OrderStatus,
)
from ..refill_emails import auto_refill_email
from ..task_names import SEND_AUTO_REFILL_EMAIL
from .autorefill import (
    EMAIL_FIELDS,
    LOST_CHARGE_AFTER,
    RETRY_LATER,
    Outcome,
    auto_refill_stop,
    locked,
    refusal,
    supply_days,
)
from .checkout import CheckoutError, CheckoutProblem, order_place


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
    auto_refill = locked(auto_refill_id)
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
    why = refusal(
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


def cycles_due(*, today: date, now=None, batch: int = JOB_BATCH) -> list[int]:
    """The cycles to place and charge now: today's, and those whose charge was lost."""
    notice_from = today + timedelta(days=settings.AUTO_REFILL_NOTICE_DAYS)
    # From the partial index of the auto-refills that are on, a batch at a time.
    due = AutoRefill.objects.filter(status=AutoRefillStatus.ACTIVE, next_run_on__lte=notice_from)
    cycles = [
        cycle_id
        for auto_refill_ids in keyset_batches(due, order="next_run_on", size=batch)
        for auto_refill_id in auto_refill_ids
        if (cycle_id := cycle_open(auto_refill_id=auto_refill_id, today=today)) is not None
    ]
    lost = AutoRefillCycle.objects.filter(
        outcome=Outcome.ORDERED,
        order__status=OrderStatus.PENDING_PAYMENT,
        order__stripe_payment_intent="",
        order__payment_error_attempt="",
        created_at__lt=(now or timezone.now()) - LOST_CHARGE_AFTER,
    )
    # Driven by the partial index of unpaid orders (`order_unpaid_due_by`): few at a time.
    seen = set(cycles)
    return cycles + [pk for pk in lost.values_list("pk", flat=True) if pk not in seen]


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
        auto_refill = locked(cycle.auto_refill_id)
        if not auto_refill.is_active:
            cycle.outcome = Outcome.REFUSED
            cycle.detail = "Auto-refill was turned off."
            cycle.save(update_fields=["outcome", "detail"])
            return None
        why = refusal(
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
