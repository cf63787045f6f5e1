"""Saving a card for auto-refill: Stripe Checkout in setup mode, and its completion.

The card never touches the site: the patient saves it on Stripe's page, for a Stripe
Customer of theirs (one per patient, made once with the key `patient-<id>-customer`).
`checkout.session.completed` of a setup session (mode `setup`) names its SetupIntent;
the card is read back from Stripe (the event alone is not trusted) and recorded only
for the auto-refill that stored that session's id, for its own customer.
"""

from typing import Any

import stripe
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse

from ..models import AutoRefill
from ..services.autorefill import auto_refill_card_saved
from .client import stripe_client, transient_as_unavailable
from .discrepancies import text


def _customer_for(client: stripe.StripeClient, auto_refill: AutoRefill) -> str:
    """The patient's Stripe Customer: the one another auto-refill of theirs has, or a new one."""
    known = (
        AutoRefill.objects.filter(patient_id=auto_refill.patient_id)
        .exclude(stripe_customer_id="")
        .values_list("stripe_customer_id", flat=True)
        .first()
    )
    if known:
        return known
    patient = auto_refill.patient
    customer = client.v1.customers.create(
        params={
            "email": patient.email,
            "name": patient.get_full_name() or patient.email,
            "metadata": {"patient": str(patient.pk)},
        },
        options={"idempotency_key": f"patient-{patient.pk}-customer"},
    )
    return customer.id


def card_setup_session_for(*, auto_refill_id: int) -> str:
    """The URL of Stripe's page where the patient saves a card for this auto-refill; the
    open one again while it is open (a double click waits on the row lock and gets it)."""
    client = stripe_client()
    with transaction.atomic(), transient_as_unavailable():
        auto_refill = (
            AutoRefill.objects.select_for_update(of=("self",))
            .select_related("patient")
            .get(pk=auto_refill_id)
        )
        if auto_refill.is_stopped:
            raise ValidationError("Auto-refill is off for this prescription: turn it on first.")
        previous = auto_refill.stripe_setup_session_id
        if previous:
            try:
                session = client.v1.checkout.sessions.retrieve(previous)
            except stripe.InvalidRequestError as exc:
                if exc.code != "resource_missing":
                    raise
            else:
                if session.status == "open" and session.url:
                    return session.url
        customer = auto_refill.stripe_customer_id or _customer_for(client, auto_refill)
        page = settings.SITE_URL.rstrip("/") + reverse(
            "orders:auto_refill", args=[auto_refill.prescription_id]
        )
        metadata = {"auto_refill": str(auto_refill.pk)}
        session = client.v1.checkout.sessions.create(
            params={
                "mode": "setup",
                "customer": customer,
                "currency": "usd",
                "success_url": page + "?card=saved",
                "cancel_url": page,
                "metadata": metadata,
                "setup_intent_data": {"metadata": metadata},
            },
            # A new key after each session: the previous one's id is in it.
            options={"idempotency_key": f"auto-refill-{auto_refill.pk}-setup-{previous or 0}"},
        )
        AutoRefill.objects.filter(pk=auto_refill.pk).update(
            stripe_customer_id=customer, stripe_setup_session_id=session.id
        )
    return session.url


def card_label(method: dict[str, Any]) -> str:
    card = method.get("card") if isinstance(method.get("card"), dict) else {}
    brand = text(card.get("brand")).replace("_", " ").title() or "Card"
    last4 = text(card.get("last4"))
    return f"{brand} ending {last4}" if last4 else brand


def setup_session_completed(session: dict[str, Any]) -> str:
    """`checkout.session.completed` of a setup session: the card saved for its auto-refill."""
    session_id = text(session.get("id"))
    auto_refill = (
        AutoRefill.objects.filter(stripe_setup_session_id=session_id).first()
        if session_id
        else None
    )
    if auto_refill is None:
        return "setup session of no auto-refill: nothing changes"
    intent_id = text(session.get("setup_intent"))
    if not intent_id:
        return "setup session with no setup intent: nothing changes"
    with transient_as_unavailable():
        intent = (
            stripe_client()
            .v1.setup_intents.retrieve(intent_id, params={"expand": ["payment_method"]})
            .to_dict()
        )
    method = intent.get("payment_method") if isinstance(intent.get("payment_method"), dict) else {}
    if intent.get("status") != "succeeded" or not method.get("id"):
        return f"card not saved yet (setup intent {intent.get('status')}): waiting"
    if intent.get("customer") != auto_refill.stripe_customer_id:
        return "refused: the card was saved for another customer"
    saved = auto_refill_card_saved(
        auto_refill_id=auto_refill.pk,
        customer=auto_refill.stripe_customer_id,
        payment_method=method["id"],
        card_label=card_label(method),
    )
    return "card saved for auto-refill" if saved else "card already saved"
