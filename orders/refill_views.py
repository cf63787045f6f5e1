"""The patient's auto-refill page for one prescription: turn it on or change it, save a
card on Stripe's page, skip the next refill once, turn it off. Each POST calls one
service and comes back here; only the prescription's own patient gets the page."""

import logging

import stripe
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from prescriptions.models import Prescription
from prescriptions.review import long_date

from .models import AutoRefill
from .payments.cards import card_setup_session_for
from .refill_forms import AutoRefillForm
from .services.autorefill import auto_refill_set, auto_refill_skip, auto_refill_stop

logger = logging.getLogger(__name__)


def _own_prescription(request, prescription_id: int) -> Prescription:
    prescription = (
        Prescription.objects.select_related("formulation__drug")
        .filter(pk=prescription_id, patient=request.user)
        .first()
    )
    if prescription is None:
        raise Http404
    return prescription


def _auto_refill(prescription: Prescription) -> AutoRefill | None:
    return (
        AutoRefill.objects.select_related("package__formulation__drug")
        .prefetch_related("changes")
        .filter(prescription=prescription)
        .first()
    )


def _to_card_page(request, auto_refill: AutoRefill):
    try:
        return redirect(card_setup_session_for(auto_refill_id=auto_refill.pk))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except stripe.StripeError:
        logger.exception("could not open a card setup page for auto-refill %s", auto_refill.pk)
        messages.error(
            request,
            "We could not reach the payment service. Your choice is saved; please try "
            "“Save a card” again in a minute.",
        )
    return redirect("orders:auto_refill", auto_refill.prescription_id)


@login_required
def auto_refill_page(request, prescription_id: int):
    prescription = _own_prescription(request, prescription_id)
    auto_refill = _auto_refill(prescription)
    initial = (
        {"package": auto_refill.package_id, "quantity": auto_refill.quantity} if auto_refill else {}
    )
    form = AutoRefillForm(request.POST or None, prescription=prescription, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                auto_refill = auto_refill_set(
                    patient=request.user,
                    prescription_id=prescription.pk,
                    package_id=form.cleaned_data["package"].pk,
                    quantity=form.cleaned_data["quantity"],
                )
            except ValidationError as exc:
                form.add_error(None, exc)
                status = 400
            else:
                if auto_refill.needs_card:
                    return _to_card_page(request, auto_refill)
                messages.success(
                    request,
                    f"Auto-refill is on: the next refill is on {long_date(auto_refill.next_run_on)}.",
                )
                return redirect("orders:auto_refill", prescription.pk)
        else:
            status = 400
    context = {
        "prescription": prescription,
        "auto_refill": auto_refill,
        "form": form,
        "saving_card": bool(
            auto_refill and auto_refill.needs_card and request.GET.get("card") == "saved"
        ),
    }
    return render(request, "orders/auto_refill.html", context, status=status)


@login_required
@require_POST
def auto_refill_card(request, prescription_id: int):
    """Save a (new) card on Stripe's page."""
    auto_refill = _auto_refill(_own_prescription(request, prescription_id))
    if auto_refill is None:
        raise Http404
    return _to_card_page(request, auto_refill)


@login_required
@require_POST
def auto_refill_skip_view(request, prescription_id: int):
    auto_refill = _auto_refill(_own_prescription(request, prescription_id))
    if auto_refill is None:
        raise Http404
    try:
        next_on = auto_refill_skip(auto_refill_id=auto_refill.pk, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Skipped once: the next refill is on {long_date(next_on)}.")
    return redirect("orders:auto_refill", prescription_id)


@login_required
@require_POST
def auto_refill_stop_view(request, prescription_id: int):
    auto_refill = _auto_refill(_own_prescription(request, prescription_id))
    if auto_refill is None:
        raise Http404
    if auto_refill_stop(
        auto_refill_id=auto_refill.pk, actor=request.user, reason="Turned off by the patient"
    ):
        messages.success(
            request,
            "Auto-refill is off. Remember to reorder before your supply runs out: we still "
            "send you a reminder.",
        )
    return redirect("orders:auto_refill", prescription_id)
