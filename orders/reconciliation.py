"""Nightly reconciliation: every payment Stripe took has a paid order, and back.

The webhook path is built never to lose a payment, and this proves it after the
fact: it lists the Checkout Sessions Stripe completed and the orders the site
marked paid over a window, and records (and emails) each mismatch once.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.mail import mail_admins
from django.utils import timezone

from .models import Discrepancy, Order, OrderStatus, PaymentEvent
from .payments import _transient_as_unavailable, stripe_client

# Statuses an order reaches only after Stripe confirmed its payment.
PAID_STATUSES = (
    OrderStatus.PAID,
    OrderStatus.DISPATCHED,
    OrderStatus.DELIVERED,
    OrderStatus.REFUNDED,
)
DEFAULT_WINDOW = timedelta(days=3)


@dataclass(frozen=True)
class Finding:
    kind: str
    order: Order | None
    session_id: str
    amount: Decimal | None
    detail: str


def _paid_sessions(since: datetime) -> dict[str, dict]:
    """Completed, paid Checkout Sessions created since `since`, by id."""
    sessions = {}
    with _transient_as_unavailable():
        listing = stripe_client().v1.checkout.sessions.list(
            params={"status": "complete", "limit": 100}
        )
        for session in listing.auto_paging_iter():
            data = session.to_dict()
            if data.get("created", 0) < since.timestamp():
                break  # newest first: the rest are older still
            if data.get("payment_status") == "paid":
                sessions[data["id"]] = data
    return sessions


def _refunded(order: Order, payment_intent: str) -> bool:
    """A stray payment the site already refunded is not a discrepancy."""
    return PaymentEvent.objects.filter(order=order, outcome__icontains="refund").exists() or (
        PaymentEvent.objects.filter(
            type="charge.refunded", payload__data__object__payment_intent=payment_intent
        ).exists()
    )


def find_discrepancies(*, since: datetime) -> list[Finding]:
    sessions = _paid_sessions(since)
    findings = []
    by_number = Order.objects.in_bulk(
        [s.get("client_reference_id") for s in sessions.values() if s.get("client_reference_id")],
        field_name="number",
    )
    for session_id, session in sessions.items():
        order = by_number.get(session.get("client_reference_id") or "")
        amount = Decimal(session.get("amount_total") or 0) / 100
        if order is None:
            findings.append(
                Finding(Discrepancy.Kind.PAID_NO_ORDER, None, session_id, amount, "No such order.")
            )
        elif order.status not in PAID_STATUSES and not _refunded(
            order, session.get("payment_intent") or ""
        ):
            findings.append(
                Finding(
                    Discrepancy.Kind.PAID_NO_ORDER,
                    order,
                    session_id,
                    amount,
                    f"Order {order.number} is {order.get_status_display().lower()}.",
                )
            )
    paid_orders = Order.objects.filter(status__in=PAID_STATUSES, paid_at__gte=since)
    for order in paid_orders:
        if order.stripe_session_id not in sessions:
            findings.append(
                Finding(
                    Discrepancy.Kind.ORDER_NO_PAYMENT,
                    order,
                    order.stripe_session_id,
                    order.total,
                    f"Order {order.number} is {order.get_status_display().lower()} "
                    "but Stripe shows no paid session for it.",
                )
            )
    return findings


def reconcile(
    *, now: datetime | None = None, window: timedelta = DEFAULT_WINDOW
) -> list[Discrepancy]:
    """Record the new discrepancies (each once) and email the admins about them."""
    now = now or timezone.now()
    # Orders paid in the last minutes may still be waiting for their webhook.
    findings = [
        f
        for f in find_discrepancies(since=now - window)
        if not (f.order and f.order.created_at > now - timedelta(minutes=10))
    ]
    new = []
    for finding in findings:
        discrepancy, created = Discrepancy.objects.get_or_create(
            kind=finding.kind,
            order=finding.order,
            stripe_session_id=finding.session_id,
            defaults={"amount": finding.amount, "detail": finding.detail},
        )
        if created:  # otherwise reported on an earlier night
            new.append(discrepancy)
    if new:
        lines = [
            f"- {d.get_kind_display()}: {d.detail} (session {d.stripe_session_id or '-'})"
            for d in new
        ]
        mail_admins(
            f"Payment reconciliation: {len(new)} discrepanc{'y' if len(new) == 1 else 'ies'}",
            "The nightly comparison of Stripe's paid sessions with the orders found:\n\n"
            + "\n".join(lines)
            + f"\n\nReview them in the admin: {settings.SITE_URL}/admin/orders/discrepancy/\n",
        )
    return new
