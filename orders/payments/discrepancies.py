"""Payments that must not pay an order: recorded once as discrepancies, emailed once.

The webhook handlers (`orders.payments.handlers`) record a payment the moment it fails to
match its order, and the nightly reconciliation (`orders.payments.reconciliation`) records
what it finds; both through `record`, keyed by the Checkout Session and the kind, so
a stray payment the webhook already recorded is not reported again at night. Each
discrepancy is emailed to ADMINS once: `notified_at` is set in the transaction that
sends the mail, so a mail that fails is sent by the next run instead.
"""

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.mail import mail_admins
from django.db import transaction
from django.utils import timezone

from ..models import Discrepancy, Order, PaymentEvent

# Currencies whose amounts Stripe gives in whole units, not hundredths.
ZERO_DECIMAL = frozenset(
    {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga"}
    | {"pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"}
)


def session_amount(session: dict[str, Any]) -> tuple[Decimal | None, str]:
    """(amount, currency) of a Checkout Session as Stripe sent it, amount in major units."""
    cents = session.get("amount_total")
    currency = str(session.get("currency") or "").lower()[:3]
    if type(cents) is not int:
        return None, currency
    return (Decimal(cents) if currency in ZERO_DECIMAL else Decimal(cents) / 100), currency


def money(amount: Decimal | None, currency: str) -> str:
    return "an unknown amount" if amount is None else f"{amount:.2f} {currency.upper()}"


def text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def pays_exactly(order: Order, session: dict[str, Any]) -> bool:
    """The session is the order's own and paid its total, in its currency, in full."""
    amount = session.get("amount_total")
    return (
        bool(order.stripe_session_id)
        and session.get("id") == order.stripe_session_id
        and session.get("payment_status") == "paid"
        and type(amount) is int
        and amount == order.total_cents
        and text(session.get("currency")).lower() == order.currency.lower()
    )


def refunds_of(intent: str) -> list[dict[str, Any]]:
    """The charge of `intent` as each stored charge.refunded event showed it, in any order."""
    payloads = PaymentEvent.objects.filter(
        type="charge.refunded", payload__data__object__payment_intent=intent
    ).values_list("payload", flat=True)
    charges = [(p.get("data") or {}).get("object") for p in payloads if isinstance(p, dict)]
    return [charge for charge in charges if isinstance(charge, dict)]


def refunded_cents(charge: dict[str, Any]) -> int:
    cents = charge.get("amount_refunded")
    return cents if type(cents) is int and cents > 0 else 0


def fully_refunded(order: Order, charge: dict[str, Any]) -> bool:
    """Stripe says refunded, for the whole of this order's total, in its currency."""
    return (
        charge.get("refunded") is True
        and refunded_cents(charge) >= order.total_cents
        and text(charge.get("currency")).lower() == order.currency.lower()
    )


def note_refunded_amount(order: Order, charge: dict[str, Any]) -> Decimal:
    """Keep the most Stripe has said was refunded (events may arrive in any order)."""
    amount = Decimal(refunded_cents(charge)) / 100
    if amount > order.amount_refunded:
        Order.objects.filter(pk=order.pk).update(amount_refunded=amount)
        order.amount_refunded = amount
    return order.amount_refunded


def usd(amount: Decimal) -> str:
    return f"${amount:,.2f}"


def record(
    *,
    kind: str,
    order: Order | None,
    session: dict[str, Any],
    detail: str,
    refund_status: str = Discrepancy.RefundStatus.NOT_REFUNDED,
    refund_id: str = "",
    notify: bool = True,
) -> tuple[Discrepancy, bool]:
    """The discrepancy of this kind for this session, created or brought up to date.

    A refund retried after a failure updates the existing row. With `notify`, the
    admins are emailed after commit (the nightly run emails its findings together).
    """
    amount, currency = session_amount(session)
    intent = session.get("payment_intent")
    discrepancy, created = Discrepancy.objects.get_or_create(
        kind=kind,
        stripe_session_id=str(session.get("id") or ""),
        defaults={
            "order": order,
            "amount": amount,
            "currency": currency,
            "stripe_payment_intent": intent if isinstance(intent, str) else "",
            "detail": detail[:300],
            "refund_status": refund_status,
            "stripe_refund_id": refund_id,
        },
    )
    if not created and (refund_status, refund_id) != (
        discrepancy.refund_status,
        discrepancy.stripe_refund_id,
    ):
        discrepancy.refund_status, discrepancy.stripe_refund_id = refund_status, refund_id
        discrepancy.save(update_fields=["refund_status", "stripe_refund_id"])
    if created and notify:
        transaction.on_commit(email_unreported, robust=True)
    return discrepancy, created


def refunded_stray(session_id: str) -> Discrepancy | None:
    """The discrepancy whose payment was already given back, if any (no second refund)."""
    return (
        Discrepancy.objects.filter(
            stripe_session_id=session_id,
            refund_status__in=[
                Discrepancy.RefundStatus.REFUNDED,
                Discrepancy.RefundStatus.ALREADY_REFUNDED,
            ],
        )
        .exclude(stripe_session_id="")
        .first()
    )


def _line(discrepancy: Discrepancy) -> str:
    order = f"order {discrepancy.order.number}" if discrepancy.order_id else "no order"
    refund = discrepancy.get_refund_status_display()
    if discrepancy.stripe_refund_id:
        refund += f" ({discrepancy.stripe_refund_id})"
    return (
        f"- {discrepancy.get_kind_display()}: {discrepancy.detail} [{order}; "
        f"{money(discrepancy.amount, discrepancy.currency or 'usd')}; "
        f"session {discrepancy.stripe_session_id or '-'}; {refund}]"
    )


def email_unreported(*, nightly: bool = False) -> list[Discrepancy]:
    """Email the admins every discrepancy not emailed yet, in one message; returns them.

    Rows another process is emailing right now are skipped (SKIP LOCKED), so two runs
    never send the same discrepancy twice.
    """
    with transaction.atomic():
        pending = list(
            Discrepancy.objects.select_for_update(skip_locked=True)
            .filter(notified_at__isnull=True)
            .order_by("pk")
        )
        if not pending:
            return []
        count = len(pending)
        noun = f"discrepanc{'y' if count == 1 else 'ies'}"
        subject = f"Payment reconciliation: {count} {noun}" if nightly else f"Payment {noun}"
        intro = (
            "The nightly comparison of Stripe's paid sessions with the orders found:"
            if nightly
            else "Stripe took payments that did not pay their order:"
        )
        mail_admins(
            subject,
            intro
            + "\n\n"
            + "\n".join(_line(d) for d in pending)
            + f"\n\nReview them in the admin: {settings.SITE_URL}/admin/orders/discrepancy/\n",
        )
        Discrepancy.objects.filter(pk__in=[d.pk for d in pending]).update(
            notified_at=timezone.now()
        )
    return pending
