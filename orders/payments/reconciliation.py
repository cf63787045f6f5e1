"""Nightly reconciliation: every payment Stripe took pays its own order, and back.

The webhook path is built never to lose a payment and never to let a payment pay an
order that is not its own, and this proves it after the fact: it lists the Checkout
Sessions Stripe completed and the orders the site marked paid over a window. A
session belongs to the order that stored its id (never to the order its
`client_reference_id` or metadata names). Each mismatch is recorded once
(`orders.payments.discrepancies`); a stray payment the webhook already recorded is not
reported again, and one whose webhook never came is refunded here the same way.
Manual-capture orders add two checks: a card authorisation Stripe holds for a
session that is no order's ("authorised, no order"), and an order waiting for
verification whose authorisation Stripe no longer holds ("order waiting, no
authorisation"). The admins get one email with everything not emailed before.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import stripe
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from ..models import AutoRefillCycle, Discrepancy, Order, OrderStatus
from . import discrepancies
from .client import stripe_client, transient_as_unavailable
from .lookup import named_order
from .refunds import refund_stray_payment

# Statuses an order reaches only after Stripe confirmed its payment.
PAID_STATUSES = (
    OrderStatus.PAID,
    OrderStatus.DISPATCHED,
    OrderStatus.DELIVERED,
    OrderStatus.REFUNDED,
)
DEFAULT_WINDOW = timedelta(days=3)
# Stray payments are refunded: the same kinds the webhook handlers refund.
REFUNDED_KINDS = (Discrepancy.Kind.FOREIGN_SESSION, Discrepancy.Kind.AMOUNT_MISMATCH)
# Paid orders in the window are read this many at a time.
RECONCILE_CHUNK = 500
# The columns the checks and the findings read; the rest of an order is never loaded.
ORDER_COLUMNS = (
    "number",
    "status",
    "total",
    "currency",
    "capture_method",
    "stripe_session_id",
    "stripe_payment_intent",
    "created_at",
)


@dataclass(frozen=True)
class Finding:
    kind: str
    order: Order | None
    session: dict
    amount: Decimal | None
    detail: str


def _paid_sessions(since: datetime, authorised: dict[str, dict] | None = None) -> dict[str, dict]:
    """Completed, paid Checkout Sessions created since `since`, by id; the completed
    unpaid ones with a PaymentIntent (a card authorised, manual capture) go into
    `authorised` when it is given."""
    sessions = {}
    with transient_as_unavailable():
        listing = stripe_client().v1.checkout.sessions.list(
            params={"status": "complete", "limit": 100}
        )
        for session in listing.auto_paging_iter():
            data = session.to_dict()
            if data.get("created", 0) < since.timestamp():
                break  # newest first: the rest are older still
            if data.get("payment_status") == "paid":
                sessions[data["id"]] = data
            elif authorised is not None and data.get("payment_intent"):
                authorised[data["id"]] = data
    return sessions


def _intent_status(intent_id: str) -> str:
    with transient_as_unavailable():
        try:
            return stripe_client().v1.payment_intents.retrieve(intent_id).status
        except stripe.InvalidRequestError as exc:
            if exc.code == "resource_missing":
                return "missing"
            raise


def _authorisation_findings(authorised: dict[str, dict], known: set[str]) -> list[Finding]:
    """A hold at Stripe that is no order's, and an order waiting on a hold Stripe lacks."""
    findings = []
    owned = set(
        Order.objects.filter(stripe_session_id__in=list(authorised)).values_list(
            "stripe_session_id", flat=True
        )
    )
    for session_id, session in authorised.items():
        if session_id in owned or session_id in known:
            continue
        if _intent_status(session["payment_intent"]) == "requires_capture":
            amount, currency = discrepancies.session_amount(session)
            detail = (
                f"Stripe holds {discrepancies.money(amount, currency)} on a card for a "
                "Checkout Session of no order."
            )
            findings.append(
                Finding(Discrepancy.Kind.AUTHORISED_NO_ORDER, None, session, amount, detail)
            )
    for order in Order.objects.filter(status=OrderStatus.AUTHORISED).only(*ORDER_COLUMNS):
        status = _intent_status(order.stripe_payment_intent) if order.stripe_payment_intent else ""
        if status != "requires_capture":
            findings.append(
                Finding(
                    Discrepancy.Kind.WAITING_NO_AUTHORISATION,
                    order,
                    {"id": order.stripe_session_id, "payment_intent": order.stripe_payment_intent},
                    order.total,
                    f"Order {order.number} waits for verification but its authorisation at "
                    f"Stripe is {status or 'missing'}.",
                )
            )
    return findings


def _refunded(payment_intent: str) -> bool:
    """A payment refunded in full in Stripe (by the site or by staff) is not a discrepancy."""
    return bool(payment_intent) and any(
        charge.get("refunded") is True for charge in discrepancies.refunds_of(payment_intent)
    )


def _session_finding(session: dict, order: Order | None) -> Finding | None:
    amount, currency = discrepancies.session_amount(session)
    taken = discrepancies.money(amount, currency)
    if order is None:
        named = named_order(session)
        if named is None:
            return Finding(Discrepancy.Kind.PAID_NO_ORDER, None, session, amount, "No such order.")
        detail = f"a session that is not its own names order {named.number}"
        return Finding(Discrepancy.Kind.FOREIGN_SESSION, named, session, amount, detail)
    if not discrepancies.pays_exactly(order, session):
        detail = (
            f"amount or currency mismatch: {taken} paid for order {order.number} "
            f"of {order.total:.2f} {order.currency.upper()}"
        )
        return Finding(Discrepancy.Kind.AMOUNT_MISMATCH, order, session, amount, detail)
    if order.status not in PAID_STATUSES and not _refunded(session.get("payment_intent") or ""):
        detail = f"Order {order.number} is {order.get_status_display().lower()}."
        return Finding(Discrepancy.Kind.PAID_NO_ORDER, order, session, amount, detail)
    return None


def _paid_off_session(order: Order) -> bool:
    """An auto-refill order paid with the saved card has no Checkout Session: its own
    PaymentIntent (stored by the site when it made it) must hold its total, charged."""
    if order.stripe_session_id or not order.stripe_payment_intent:
        return False
    if not order.auto_refilled:
        return False
    with transient_as_unavailable():
        try:
            intent = stripe_client().v1.payment_intents.retrieve(order.stripe_payment_intent)
        except stripe.InvalidRequestError:
            return False
    return (
        intent.status == "succeeded"
        and intent.amount_received == order.total_cents
        and (intent.currency or "").lower() == order.currency.lower()
    )


def paid_in_window(since: datetime) -> QuerySet[Order]:
    """The orders paid in the window, from the index on `paid_at` (`order_paid_at`);
    `auto_refilled` says whether a cycle placed it (no query per order)."""
    return (
        Order.objects.filter(paid_at__gte=since, status__in=PAID_STATUSES)
        .only(*ORDER_COLUMNS)
        .annotate(auto_refilled=Exists(AutoRefillCycle.objects.filter(order=OuterRef("pk"))))
        .order_by("paid_at", "pk")
    )


def find_discrepancies(*, since: datetime) -> list[Finding]:
    authorised: dict[str, dict] = {}
    sessions = _paid_sessions(since, authorised)
    known = set(
        Discrepancy.objects.filter(stripe_session_id__in=[*sessions, *authorised]).values_list(
            "stripe_session_id", flat=True
        )
    )
    own = {
        order.stripe_session_id: order
        for order in Order.objects.filter(stripe_session_id__in=list(sessions)).only(*ORDER_COLUMNS)
    }
    findings = []
    for session_id, session in sessions.items():
        if session_id in known:
            continue  # recorded already, by the webhook or an earlier night
        if finding := _session_finding(session, own.get(session_id)):
            findings.append(finding)
    for order in paid_in_window(since).iterator(chunk_size=RECONCILE_CHUNK):
        # A manual-capture order's session may stay "unpaid" at Stripe after the capture.
        captured_later = order.is_manual_capture and order.stripe_session_id in authorised
        if (
            order.stripe_session_id not in sessions
            and not captured_later
            and not _paid_off_session(order)
        ):
            findings.append(
                Finding(
                    Discrepancy.Kind.ORDER_NO_PAYMENT,
                    order,
                    {"id": order.stripe_session_id},
                    order.total,
                    f"Order {order.number} is {order.get_status_display().lower()} "
                    "but Stripe shows no paid session for it.",
                )
            )
    return findings + _authorisation_findings(authorised, known)


def _record(finding: Finding) -> tuple[Discrepancy, bool]:
    if finding.kind in REFUNDED_KINDS:
        with transaction.atomic():
            if finding.order is not None:  # the webhook handler may be at it too
                Order.objects.select_for_update().filter(pk=finding.order.pk).exists()
            before = Discrepancy.objects.filter(
                kind=finding.kind, stripe_session_id=finding.session["id"]
            ).exists()
            discrepancy, _ = refund_stray_payment(
                kind=finding.kind,
                order=finding.order,
                session=finding.session,
                why=finding.detail,
                notify=False,
            )
            return discrepancy, not before
    discrepancy, created = Discrepancy.objects.get_or_create(
        kind=finding.kind,
        order=finding.order,
        stripe_session_id=finding.session.get("id") or "",
        defaults={
            "amount": finding.amount,
            "currency": discrepancies.session_amount(finding.session)[1] or "usd",
            "stripe_payment_intent": finding.session.get("payment_intent") or "",
            "detail": finding.detail,
        },
    )
    return discrepancy, created


def reconcile(
    *, now: datetime | None = None, window: timedelta = DEFAULT_WINDOW
) -> list[Discrepancy]:
    """Record the new discrepancies (each once) and email the admins what they were not
    told yet (these, and any the webhook recorded whose email failed); returns the new."""
    now = now or timezone.now()
    # Orders paid in the last minutes may still be waiting for their webhook.
    findings = [
        f
        for f in find_discrepancies(since=now - window)
        if not (f.order and f.order.created_at > now - timedelta(minutes=10))
    ]
    new = []
    for finding in findings:
        discrepancy, created = _record(finding)
        if created:  # otherwise reported on an earlier night
            new.append(discrepancy)
    discrepancies.email_unreported(nightly=True)
    return new
