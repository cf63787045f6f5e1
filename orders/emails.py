"""The emails that tell a patient what happened to their order, one per Notification kind.

Each is plain text, names the order in the subject, links to the order page, and
repeats the warning of each medicine that must not be stopped suddenly (the drug's
own flag and sentence): an email about a late, cancelled or refunded order is exactly
when someone might be about to run out.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.mail import EmailMessage
from django.urls import reverse

from about.emails import pharmacy_email
from catalog.models import Drug

from .models import REFUND_BUSINESS_DAYS, Notification, Order, OrderLine, OrderStatus
from .supply import run_out_date, stop_warnings

Kind = Notification.Kind

SUBJECTS = {
    Kind.AUTHORISED: "Order {number} received: your card is authorised, nothing is charged yet",
    Kind.CONFIRMED: "Receipt for order {number}: payment received",
    Kind.DISPATCHED: "Order {number} is on its way",
    Kind.DELIVERED: "Order {number} was delivered",
    Kind.CANCELLED: "Order {number} was cancelled",
    Kind.REFUNDED: "Order {number} was refunded",
    Kind.REFILL: "Time to reorder: the medicine from order {number} runs out soon",
    Kind.PAYMENT_FAILED: "Order {number}: your card was declined, please pay to receive it",
}


def absolute_url(path: str) -> str:
    return f"{settings.SITE_URL.rstrip('/')}{path}"


def money(amount: Decimal, currency: str = "usd") -> str:
    if currency.lower() == "usd":
        return f"${amount:.2f}"
    return f"{amount:.2f} {currency.upper()}"


@dataclass(frozen=True)
class ReceiptRow:
    description: str
    package_price: str
    quantity: int
    total: str
    units: int
    prescription_id: int
    units_reserved: bool = True


@dataclass(frozen=True)
class Supply:
    """One line of a refill reminder: what runs out when, and whether it can be reordered."""

    description: str
    run_out: date
    prescription_id: int
    units_left: int
    expires_on: date | None
    expired: bool
    needs_new_prescription: bool
    reorder_url: str
    prescription_url: str
    upload_url: str


def _drugs(lines: list[OrderLine]) -> list[Drug]:
    drugs = {line.package.formulation.drug.pk: line.package.formulation.drug for line in lines}
    return sorted(drugs.values(), key=lambda drug: drug.name)


def _drug_names(drugs: list[Drug]) -> str:
    """The medicines this email is about, as a sentence names them: "a or b"."""
    names = [drug.name.lower() for drug in drugs]
    if len(names) <= 1:
        return names[0] if names else "your medicine"
    return ", ".join(names[:-1]) + " or " + names[-1]


def _receipt(order: Order, lines: list[OrderLine]) -> dict:
    rows = [
        ReceiptRow(
            description=line.description,
            package_price=money(line.package_price, order.currency),
            quantity=line.quantity,
            total=money(line.line_total, order.currency),
            units=line.units,
            prescription_id=line.prescription_id,
            units_reserved=line.units_reserved,
        )
        for line in lines
    ]
    return {
        "rows": rows,
        "total": money(order.total, order.currency),
        # The delivery as chosen at checkout, copied onto the order.
        "shipping_name": order.shipping_name,
        "shipping_price": (
            money(order.shipping_price, order.currency) if order.shipping_price else "Free"
        ),
        "delivery_estimate": order.delivery_estimate,
    }


def _shipment(order: Order, lines: list[OrderLine]) -> dict:
    return {
        "shipment": getattr(order, "shipment", None),
        "delivery_estimate": order.delivery_estimate if order.is_dispatched else None,
    }


def _authorised(order: Order, lines: list[OrderLine]) -> dict:
    waiting = sorted(
        {line.prescription_id for line in lines if not line.units_reserved and line.prescription_id}
    )
    awaited = [line.description for line in lines if line.awaits_prescription]
    hours = timedelta(hours=settings.ORDER_VERIFICATION_HOURS)
    verify_by = (order.authorised_at or order.created_at) + hours
    if order.capture_before:
        verify_by = min(verify_by, order.capture_before - timedelta(days=1))
    return {
        "waiting": waiting,
        "awaited": awaited,
        "verify_by": verify_by,
        **_receipt(order, lines),
    }


def _cancellation(order: Order, lines: list[OrderLine]) -> dict:
    """Why it was cancelled: by the patient, by the pharmacy, not paid in time, or (an
    order authorised at checkout) its prescription or the hold on the card, in the
    words the cancelling service wrote in the note."""
    change = order.status_changes.filter(to_status=OrderStatus.CANCELLED).last()
    if change is not None and change.from_status == OrderStatus.AUTHORISED and not change.actor_id:
        reason = "authorisation"
    elif change is not None and change.actor_id == order.patient_id:
        reason = "by_patient"
    elif change is not None and change.actor_id is not None:
        reason = "by_pharmacy"
    else:
        reason = "not_paid"
    return {"reason": reason, "note": change.note if change else "", **_receipt(order, lines)}


def _refund(order: Order, lines: list[OrderLine]) -> dict:
    change = order.status_changes.filter(to_status=OrderStatus.REFUNDED).last()
    return {
        "refunded_at": change.at if change else None,
        "refund_days": REFUND_BUSINESS_DAYS,
        **_receipt(order, lines),
    }


def _refill(order: Order, lines: list[OrderLine]) -> dict:
    supplies = []
    for line in lines:
        # As recorded at payment, the day the reminder was sent for.
        run_out = line.refill_due_on or run_out_date(line)
        if run_out is None:
            continue
        prescription = line.prescription
        drug = line.package.formulation.drug
        supplies.append(
            Supply(
                description=line.description,
                run_out=run_out,
                prescription_id=prescription.pk,
                units_left=prescription.units_remaining,
                expires_on=prescription.expiry_date,
                expired=prescription.is_expired(),
                # Another order of the same size must fit in what is left.
                needs_new_prescription=(
                    prescription.is_expired() or prescription.units_remaining < line.units
                ),
                reorder_url=absolute_url(reverse("orders:reorder", args=[order.number])),
                prescription_url=absolute_url(prescription.get_absolute_url()),
                upload_url=absolute_url(f"{reverse('prescriptions:new')}?drug={drug.slug}"),
            )
        )
    supplies.sort(key=lambda supply: supply.run_out)
    return {"supplies": supplies}


EXTRA_CONTEXT = {
    Kind.AUTHORISED: _authorised,
    Kind.CONFIRMED: _receipt,
    Kind.DISPATCHED: _shipment,
    Kind.DELIVERED: _shipment,
    Kind.CANCELLED: _cancellation,
    Kind.REFUNDED: _refund,
    Kind.REFILL: _refill,
    Kind.PAYMENT_FAILED: _receipt,
}


def order_email(order: Order, kind: str, *, lines: list[OrderLine] | None = None) -> EmailMessage:
    """The email for `kind` (a Notification.Kind), addressed to the order's patient.

    `lines`: the order's lines with their package, drug and prescription, when the
    caller read them already (the reminders read a whole batch's at once).
    """
    kind = Kind(kind)
    if lines is None:
        lines = order.lines.select_related("package__formulation__drug").order_by("pk")
        if kind == Kind.REFILL:  # the only one about the prescriptions themselves
            lines = lines.select_related("prescription")
        lines = list(lines)
    drugs = _drugs(lines)
    context = {
        "order": order,
        "patient": order.patient,
        "lines": lines,
        "url": absolute_url(order.get_absolute_url()),
        "drug_names": _drug_names(drugs),
        "stop_warnings": stop_warnings(drugs),
        **EXTRA_CONTEXT[kind](order, lines),
    }
    return pharmacy_email(
        template=f"orders/email/{kind}.txt",
        context=context,
        title=SUBJECTS[kind].format(number=order.number),
        to=[order.patient.email],
    )
