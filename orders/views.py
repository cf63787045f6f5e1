import logging
import re

import stripe
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import get_callable
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods, require_POST

from catalog.models import Package
from prescriptions.selectors import active_prescriptions, profile_notice
from prescriptions.services import prescription_submit_upload, upload_check_claim

from . import services
from .cart import MAX_PACKAGES_PER_LINE, Cart
from .forms import (
    EXPECT,
    CartAddForm,
    CartUpdateForm,
    CoverLineForm,
    DeliveryAddressForm,
    ShippingChoiceForm,
)
from .models import REFUND_BUSINESS_DAYS, DeliveryAddress, Order, OrderLine, OrderStatus
from .page_copy import copied_page, render_page
from .payments import sessions
from .progress import declined_notice, order_steps, order_timeline, patient_status
from .selectors import quantity_refusal, shipping_choices, waiting_prescriptions
from .services.refusals import coverage

logger = logging.getLogger(__name__)
csrf_log = logging.getLogger("django.security.csrf")  # where Django logs its own refusals
ORDERS_PER_PAGE = 10
ORDER_NUMBER = re.compile(r"[23456789A-Z]{10,12}")


def _cart_context(request, cart: Cart, *, notice: bool = True) -> dict:
    """What the cart and checkout pages show; `notice` False leaves the profile notice
    out, for a caller that adds it (`_profile_notice`) only if it renders the page."""
    lines = cart.lines()
    signed_in = request.user.is_authenticated
    # One query for what covers the lines and what is held back from them.
    active = (
        active_prescriptions(
            patient=request.user, formulation_ids={line.package.formulation_id for line in lines}
        )
        if signed_in and lines
        else []
    )
    covered = coverage(patient=request.user, lines=lines, active=active) if signed_in else {}
    held = {}
    for prescription in active:
        if prescription.is_held:
            held.setdefault(prescription.formulation_id, []).append(prescription)
    rows = [
        {
            "line": line,
            "available": covered.get(line.package.pk),
            "covered": covered.get(line.package.pk, 0) >= line.units,
            "held": held.get(line.package.formulation_id, []),
        }
        for line in lines
    ]
    total = Cart.total(lines)
    return {
        "rows": rows,
        "max_quantity": MAX_PACKAGES_PER_LINE,
        "total": total,
        "shipping": shipping_choices(items_total=total, start=timezone.localdate()) if rows else [],
        "all_covered": bool(rows) and all(row["covered"] for row in rows),
        "profile_notice": _profile_notice(request, rows) if notice else None,
    }


def _profile_notice(request, rows) -> dict | None:
    return profile_notice(patient=request.user) if request.user.is_authenticated and rows else None


def _flash_errors(request, form) -> None:
    """A cart form has no page of its own: its errors go to the cart as messages."""
    for errors in form.errors.values():
        for error in errors:
            messages.error(request, error)


@copied_page("cart")
def cart_view(request):
    return render_page(request, "orders/cart.html", _cart_context(request, Cart(request.session)))


def _add_to_cart(request):
    form = CartAddForm(request.POST)
    if not form.is_valid():
        _flash_errors(request, form)
        return redirect("orders:cart")
    package = form.cleaned_data["package"]
    cart = Cart(request.session)
    wanted = cart.items.get(str(package.pk), 0) + form.cleaned_data["quantity"]
    refusal = quantity_refusal(patient=request.user, package=package, quantity=wanted)
    if refusal:
        messages.error(request, refusal)
        return redirect("orders:cart")
    quantity = cart.add(package, form.cleaned_data["quantity"])
    messages.success(
        request,
        f"Added to your cart: {package.formulation.drug.name} {package.label} (now {quantity}).",
    )
    return redirect("orders:cart")


_add_to_cart_protected = csrf_protect(_add_to_cart)
# Sec-Fetch-Site values a browser sends for a request this site's own page made, or one
# the visitor started from the browser itself; never for another site's form.
_OWN_FETCH_SITES = {"same-origin", "none"}


def _sent_from_this_site(request) -> bool | None:
    """What the browser says about where the request came from: True for this site,
    False for anywhere else, None when it says nothing (not a current browser).

    Sec-Fetch-Site is set by the browser and cannot be forged by a page; browsers
    without it send Origin on every POST.
    """
    origin = request.headers.get("Origin")
    if origin is not None and origin in settings.CSRF_TRUSTED_ORIGINS:
        return True
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:
        return fetch_site in _OWN_FETCH_SITES
    if origin is not None:
        return origin == f"{request.scheme}://{request.get_host()}"
    return None


@require_POST
@csrf_exempt
def cart_add(request):
    """Add a package; every request proves it came from this site's own page.

    The cached drug page is the same bytes for every visitor without a session, so it
    carries no CSRF token, and a cross-site form POST never carries the SameSite
    session cookie: both arrive here without one. What tells them apart is what the
    browser says about the page that sent them (Sec-Fetch-Site, Origin). A forged one
    is refused before it can start a session, which would replace the victim's own
    and plant a cart in it. Without those headers (old browsers, scripts) and for
    every visitor who has a session, the token their page carries is required, as
    on every other form.
    """
    sent_here = _sent_from_this_site(request)
    if sent_here is False:
        reason = "the form was sent from another site"
        csrf_log.warning("Forbidden (%s): %s", reason, request.path)
        return get_callable(settings.CSRF_FAILURE_VIEW)(request, reason=reason)
    if sent_here and settings.SESSION_COOKIE_NAME not in request.COOKIES:
        return _add_to_cart(request)
    return _add_to_cart_protected(request)


@require_POST
def cart_update(request):
    form = CartUpdateForm(request.POST)
    if not form.is_valid():
        _flash_errors(request, form)
        return redirect("orders:cart")
    package_id, quantity = form.cleaned_data["package"], form.cleaned_data["quantity"]
    if quantity:
        package = Package.objects.select_related("formulation__drug").get(pk=package_id)
        refusal = quantity_refusal(patient=request.user, package=package, quantity=quantity)
        if refusal:
            messages.error(request, refusal)
            return redirect("orders:cart")
    Cart(request.session).set_quantity(package_id, quantity)
    messages.success(request, "Your cart was updated.")
    return redirect("orders:cart")


@login_required
def checkout(request):
    cart = Cart(request.session)
    address = DeliveryAddress.objects.filter(user=request.user).first()
    initial = {} if address else {"full_name": request.user.get_full_name()}
    form = DeliveryAddressForm(request.POST or None, instance=address, initial=initial)
    posted = request.method == "POST"
    # A placed order goes to payment: its profile notice would never be shown.
    context = _cart_context(request, cart, notice=not posted)
    covers = _cover_forms(request, context["rows"], bound=posted)
    delivery = ShippingChoiceForm(
        request.POST or None,
        options=[choice.option for choice in context["shipping"]],
        items_total=context["total"],
        start=timezone.localdate(),
    )
    problems = []
    status = 200
    if posted:
        valid = [form.is_valid(), delivery.is_valid()] + [cover.is_valid() for cover in covers]
        valid += [cover.upload.is_valid() for cover in covers if all(valid) and cover.wants_upload]
        if all(valid):
            lines = [row["line"] for row in context["rows"]]  # read just above
            waiting = _waiting_choices(request, covers)
            expecting = frozenset(c.line.package.pk for c in covers if c.expects_prescription)
            try:
                order = services.order_check_out(
                    patient=request.user,
                    lines=lines,
                    address_data=form.cleaned_data,
                    waiting=waiting or None,
                    expecting=expecting,
                    shipping_option_id=delivery.chosen_id,
                )
            except services.CheckoutError as exc:
                problems = exc.problems or []
                status = 409
                if not lines:
                    messages.error(request, "Your cart is empty.")
                    return redirect("orders:cart")
                # What was uploaded stays a submitted prescription: offer it, chosen.
                chosen = {**waiting, **dict.fromkeys(expecting, EXPECT)}
                covers = _cover_forms(request, context["rows"], chosen=chosen)
            else:
                cart.clear()
                return _go_to_payment(request, order)
        else:
            status = 400
    context.update(form=form, delivery=delivery, problems=problems, covers=covers)
    if posted and not problems:  # the page shows the notice only without problems
        context["profile_notice"] = _profile_notice(request, context["rows"])
    if not context["rows"] and request.method == "GET":
        messages.info(request, "Your cart is empty: add a package from a medicine's page first.")
        return redirect("orders:cart")
    return render(request, "orders/checkout.html", context, status=status)


def _cover_forms(request, rows, *, bound: bool = False, chosen=None) -> list[CoverLineForm]:
    """A form for each line no verified prescription covers, listing the patient's
    prescriptions still with a pharmacist for its drug (or for no drug yet, an upload)."""
    uncovered = [row["line"] for row in rows if not row["covered"]]
    if not uncovered:
        return []
    drugs = {line.package.formulation.drug_id for line in uncovered}
    waiting = waiting_prescriptions(patient=request.user, drug_ids=drugs)
    claim = _upload_claim(request)
    chosen = chosen or {}
    return [
        CoverLineForm(
            request.POST if bound else None,
            request.FILES if bound else None,
            line=line,
            waiting=[p for p in waiting if p.drug_id in (None, line.package.formulation.drug_id)],
            claim_upload=claim,
            initial={"choice": chosen.get(line.package.pk)},
        )
        for line in uncovered
    ]


def _waiting_choices(request, covers: list[CoverLineForm]) -> dict[int, int]:
    """package id -> the prescription its line waits for; uploads are stored first, and
    stay submitted prescriptions whatever becomes of the order."""
    waiting = {}
    for cover in covers:
        package = cover.line.package
        if cover.wants_upload:
            prescription = prescription_submit_upload(
                patient=request.user,
                documents=cover.upload.cleaned_data["documents"],
                note=cover.upload.cleaned_data["note"],
                drug=package.formulation.drug,
            )
            waiting[package.pk] = prescription.pk
        elif cover.prescription_id is not None:
            waiting[package.pk] = cover.prescription_id
    return waiting


def _upload_claim(request):
    """Counts a batch of files against the signed-in patient's hourly limit, as the
    prescriptions upload page does."""

    def claim(files: int) -> None:
        upload_check_claim(user=request.user, files=files)

    return claim


def _go_to_payment(request, order: Order):
    """To Stripe's hosted page; if Stripe cannot be reached, back to the order page."""
    try:
        return redirect(sessions.checkout_session_for(order))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except stripe.StripeError:
        logger.exception("Could not open a Stripe Checkout Session for order %s", order.number)
        messages.error(
            request,
            "We could not reach the payment service. Your order is saved and its stock is held; "
            "please try “Pay now” again in a minute.",
        )
    return redirect(order)


def _own_order(request, number: str) -> Order:
    if not ORDER_NUMBER.fullmatch(number):
        raise Http404
    order = (
        Order.objects.filter(number=number, patient=request.user)
        .prefetch_related(
            Prefetch("lines", queryset=OrderLine.objects.select_related("prescription")),
            "status_changes",
        )
        .select_related("shipment")
        .first()
    )
    if order is None:
        raise Http404
    return order


@login_required
@copied_page("orders")
def order_list(request):
    orders = Order.objects.filter(patient=request.user).prefetch_related("lines")
    page = Paginator(orders, ORDERS_PER_PAGE).get_page(request.GET.get("page"))
    return render_page(request, "orders/order_list.html", {"page_obj": page})


@login_required
@copied_page("order")
def order_detail(request, number: str):
    order = _own_order(request, number)
    waiting = order.status == OrderStatus.PAID or (
        order.status == OrderStatus.PENDING_PAYMENT and request.GET.get("paid") == "1"
    )
    context = {
        "order": order,
        "refresh": waiting,
        "status_label": patient_status(order, confirming=waiting),
        "steps": order_steps(order, confirming=waiting),
        "timeline": order_timeline(order),
        "declined": declined_notice(order),
        "refund_days": REFUND_BUSINESS_DAYS,
        # The prescriptions a pharmacist has yet to verify before the card is charged.
        "waits_for": list(
            {
                line.prescription_id: line.prescription
                for line in order.lines.all()
                if not line.units_reserved and line.prescription_id
            }.values()
        ),
        # The lines whose prescription the prescriber is still to send.
        "awaits": [line for line in order.lines.all() if line.awaits_prescription],
    }
    # A payable order's page offers to pay until its deadline, whatever else changes.
    until = order.payment_due_by if order.is_payable else None
    return render_page(request, "orders/order_detail.html", context, until=until)


@login_required
@require_POST
def order_pay(request, number: str):
    return _go_to_payment(request, _own_order(request, number))


@login_required
@require_POST
def order_cancel(request, number: str):
    order = _own_order(request, number)
    try:
        services.order_cancel(
            order_id=order.pk, actor=request.user, note="Cancelled by the patient"
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Order {order.number} was cancelled. Nothing was charged.")
    return redirect(order)


@login_required
@require_http_methods(["GET", "POST"])
def order_reorder(request, number: str):
    """Order again. GET (the reminder email's link) shows what would go in the cart and
    asks to confirm; only the POST fills the cart, then opens checkout."""
    order = _own_order(request, number)
    if request.method == "GET":
        plan = services.reorder_plan(patient=request.user, order_id=order.pk)
        return render(request, "orders/order_reorder.html", {"order": order, "plan": plan})
    try:
        plan = services.reorder_fill_cart(
            patient=request.user, order_id=order.pk, cart=Cart(request.session)
        )
    except ValidationError as exc:
        for reason in exc.messages:
            messages.error(request, reason)
        return redirect(order)
    for reason in plan.refusals:
        messages.warning(request, f"Left out: {reason}")
    for note in plan.notes:
        messages.info(request, note)
    messages.success(request, f"The lines of order {order.number} are in your cart: check out.")
    return redirect("orders:checkout")
