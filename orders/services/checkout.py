"""Placing an order: one transaction that takes stock and prescription units, or nothing."""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from catalog.models import Package
from catalog.stock import take_stock
from prescriptions.selectors import (
    checked_profile,
    profile_notice,
    usable_prescriptions,
)
from prescriptions.services import (
    prescription_recheck,
    prescription_reserve_units,
)

from ..cart import CartLine
from ..models import (
    ORDER_MACHINE,
    CaptureMethod,
    DeliveryAddress,
    Order,
    OrderLine,
    OrderStatus,
)
from ..selectors import matching_pending_order, waiting_prescription
from .delivery_options import chosen_shipping_option
from .destinations import ship_to_problem
from .refusals import (
    CheckoutError,
    CheckoutProblem,
    line_not_covered,
    line_too_early,
    order_still_waiting,
)


def _reserve_units(*, patient, package: Package, units: int, profile, account):
    """Reserve the units on one prescription that has them all (soonest expiry first),
    after running its review again: one with a new blocking finding is held, not used.
    `profile` and `account`: the patient's, read in this transaction for every review.

    Returns (the prescription or None, the ids of prescriptions held on the way).
    """
    held = []
    for candidate in usable_prescriptions(patient=patient, formulation=package.formulation):
        if candidate.units_remaining < units:
            continue
        prescription = prescription_recheck(
            prescription_id=candidate.pk, profile=profile, account=account
        )
        if prescription.is_held:
            held.append(prescription.pk)
            continue
        if prescription_reserve_units(
            prescription_id=prescription.pk, units=units, patient_id=prescription.patient_id
        ):
            return prescription, held
    return None, held


def _keep_holds(problems: list[CheckoutProblem]) -> None:
    """A refused checkout rolls back, holds included: put the holds its review found back,
    so the pharmacist sees the prescription waiting and the patient sees why."""
    for prescription_id in sorted({pk for problem in problems for pk in problem.held}):
        prescription_recheck(prescription_id=prescription_id)


def _waiting_for(*, patient, line: CartLine, waiting: dict[int, int]):
    """The prescription still with the pharmacist that this line names, or a problem."""
    package = line.package
    prescription = waiting_prescription(
        patient=patient, prescription_id=waiting[package.pk], drug_id=package.formulation.drug_id
    )
    if prescription is None:
        return None, CheckoutProblem(
            package,
            "not_waiting",
            f"{package.label}: prescription #{waiting[package.pk]} is not one of yours waiting "
            "for a pharmacist for this medicine.",
        )
    return prescription, None


def order_place(
    *,
    patient,
    lines: list[CartLine],
    address: DeliveryAddress,
    waiting: dict[int, int] | None = None,
    expecting: frozenset[int] = frozenset(),
    shipping_option_id: int | None = None,
) -> Order:
    """Create an order waiting for payment, or raise CheckoutError and change nothing
    but the holds its review found.

    The order is delivered with shipping option `shipping_option_id` (None: the first
    one offered), which must be active; its name, price and business days are copied
    onto the order, and its price is part of the total.

    Prices come from the database, never from the form. The patient's medical profile
    must be filled in and confirmed recently (the review screens every order against
    it). Each line needs a verified, unexpired prescription of this patient for that
    drug and strength with enough units left, whose review, run again now, finds no
    blocking finding a pharmacist has not answered; and the patient's earlier orders of
    the drug must be used up to REFILL_TOO_EARLY_SHARE, unless a pharmacist allowed an
    early refill on that prescription. The units are reserved and the stock taken in the same transaction,
    by conditional updates, so two patients racing for the last box cannot both win.

    `waiting` (package id -> prescription id) lets a line no verified prescription
    covers name one of the patient's prescriptions still waiting for a pharmacist:
    the order is then authorised at checkout and charged once that prescription is
    verified (capture_method manual). Its stock is taken now, but no units: the
    quantity the prescription allows is not known before verification
    (`OrderLine.units_reserved` False; settling reserves them). While an order of a
    drug waits so, another order of that drug is refused: it could not be counted
    for an early refill (settling counts only the orders already charged).

    `expecting` (package ids) lets such a line wait for a prescription that has not
    arrived yet: the patient's prescriber or a telemedicine partner is to send it. The
    line has no prescription until one of the patient's for that drug arrives and is
    matched to it (`authorisation.awaited_lines_match`); then it waits as above.
    """
    if not lines:
        raise CheckoutError([])
    try:
        return _place(
            patient=patient,
            lines=lines,
            address=address,
            waiting=waiting or {},
            expecting=frozenset(expecting),
            shipping_option_id=shipping_option_id,
        )
    except CheckoutError as exc:
        _keep_holds(exc.problems)
        raise


def _place(
    *,
    patient,
    lines: list[CartLine],
    address: DeliveryAddress,
    waiting: dict[int, int],
    expecting: frozenset[int],
    shipping_option_id: int | None,
    account=None,
    savepoint: bool = True,
) -> Order:
    """order_place's work. `account`: the patient's user row, read (and locked) in the
    caller's transaction; `savepoint` False when the caller's transaction is undone
    with this one (order_check_out), so a refusal needs no savepoint of its own."""
    with transaction.atomic(savepoint=savepoint):
        # Read the packages afresh: the price charged is the database's, now.
        fresh = (
            Package.objects.purchasable()
            .select_related("formulation__drug")
            .in_bulk([line.package.pk for line in lines])
        )
        problems = [
            CheckoutProblem(line.package, "unavailable", f"{line.package.label}: no longer sold.")
            for line in lines
            if line.package.pk not in fresh
        ]
        # Read once for the notice and for every prescription's review below.
        profile = checked_profile(patient_id=patient.pk)
        notice = profile_notice(patient=patient, profile=profile)
        if notice:
            problems.append(CheckoutProblem(None, "profile", notice["message"]))
        if unlicensed := ship_to_problem(address.state):
            problems.append(CheckoutProblem(None, "unlicensed_state", unlicensed))
        shipping, not_offered = chosen_shipping_option(shipping_option_id)
        if not_offered:
            problems.append(CheckoutProblem(None, "shipping", not_offered))
        lines = [
            CartLine(fresh[ln.package.pk], ln.quantity) for ln in lines if ln.package.pk in fresh
        ]
        reserved = []
        supplies = {}  # by drug: what earlier orders left on hand (not this order)
        for line in lines:
            package = line.package
            waiting_order = order_still_waiting(patient=patient, line=line)
            if waiting_order:
                problems.append(waiting_order)
                continue
            prescription, held = _reserve_units(
                patient=patient, package=package, units=line.units, profile=profile, account=account
            )
            units_reserved = prescription is not None
            if prescription is None and package.pk in waiting:
                prescription, problem = _waiting_for(patient=patient, line=line, waiting=waiting)
                if problem:
                    problems.append(problem)
                    continue
            if prescription is None and package.pk not in expecting:
                problems.append(line_not_covered(patient=patient, line=line, held=held))
                continue
            early = line_too_early(
                patient=patient, line=line, prescription=prescription, seen=supplies
            )
            if early:
                problems.append(early)
                continue
            reserved.append((line, prescription, units_reserved))
        if problems:
            transaction.set_rollback(True)
            raise CheckoutError(problems)
        now = timezone.now()
        order = Order(
            patient=patient,
            total=sum((line.line_total for line, _, _ in reserved), shipping.price),
            capture_method=(
                CaptureMethod.AUTOMATIC
                if all(units for _, _, units in reserved)
                else CaptureMethod.MANUAL
            ),
            ship_name=address.full_name,
            ship_line1=address.line1,
            ship_line2=address.line2,
            ship_city=address.city,
            ship_state=address.state,
            ship_zip=address.zip_code,
            ship_phone=address.phone,
            shipping_name=shipping.name,
            shipping_price=shipping.price,
            shipping_days_min=shipping.days_min,
            shipping_days_max=shipping.days_max,
            created_at=now,
            payment_due_by=now + timedelta(minutes=settings.ORDER_PAYMENT_MINUTES),
        )
        ORDER_MACHINE.move(order, OrderStatus.PENDING_PAYMENT, actor=patient)
        OrderLine.objects.bulk_create(
            OrderLine(
                order=order,
                package=line.package,
                prescription=prescription,
                description=f"{line.package.formulation.drug.name} {line.package.label}",
                package_price=line.package.price,
                quantity=line.quantity,
                pills_per_package=line.package.pill_count,
                monograph_version=line.package.formulation.drug.monograph_version,
                units_reserved=units_reserved,
            )
            for line, prescription, units_reserved in reserved
        )
        # The stock last: every checkout of a package updates its one row, which stays
        # locked until this transaction commits; taken before the order was written, it
        # was held while the order, its status and its lines were written, and the next
        # checkout of the package waited that long.
        out_of_stock = [
            CheckoutProblem(line.package, "out_of_stock", f"{line.package.label}: out of stock.")
            for line, _, _ in reserved
            if not take_stock(line.package.pk, line.quantity)
        ]
        if out_of_stock:
            transaction.set_rollback(True)
            raise CheckoutError(out_of_stock)
    return order


def order_check_out(
    *,
    patient,
    lines: list[CartLine],
    address_data: dict,
    waiting: dict[int, int] | None = None,
    expecting: frozenset[int] = frozenset(),
    shipping_option_id: int | None = None,
) -> Order:
    """The checkout form's one step: keep the delivery address and place the order, in
    one transaction (a refused order keeps neither), or raise CheckoutError.

    The same cart submitted again while its order waits for payment (a double click, or
    a retry after the answer was lost) leads to that order, not to a second one holding
    the same stock. The patient's row is locked first, so two submissions arriving at
    once are taken one after the other and the second finds the first's order.
    """
    try:
        with transaction.atomic():
            # The row read under the lock is the account the reviews compare.
            account = get_user_model().objects.select_for_update().filter(pk=patient.pk).first()
            existing = matching_pending_order(patient=patient, lines=lines) if lines else None
            if existing is not None:
                return existing
            address = _address_keep(patient=patient, data=address_data)
            if not lines:
                raise CheckoutError([])
            # Placed in this transaction: a refusal undoes both (no savepoint needed).
            return _place(
                patient=patient,
                lines=lines,
                address=address,
                waiting=waiting or {},
                expecting=frozenset(expecting),
                shipping_option_id=shipping_option_id,
                account=account,
                savepoint=False,
            )
    except CheckoutError as exc:
        _keep_holds(exc.problems)
        raise


@transaction.atomic
def address_save(*, patient, data: dict) -> DeliveryAddress:
    """Keep the delivery address on the account for next time."""
    address, _ = DeliveryAddress.objects.update_or_create(user=patient, defaults=data)
    return address


def _address_keep(*, patient, data: dict) -> DeliveryAddress:
    """address_save inside order_check_out's transaction, whose lock on the patient's row
    keeps their checkouts apart: one UPDATE of the kept address (which locks it too),
    or address_save when there is none yet. The address returned is what is kept."""
    now = timezone.now()
    if DeliveryAddress.objects.filter(user=patient).update_of([patient.pk], **data, updated_at=now):
        return DeliveryAddress(user=patient, updated_at=now, **data)
    return address_save(patient=patient, data=data)
