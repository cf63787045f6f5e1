"""Ordering before a pharmacist has verified the prescription, in a browser, on the
production stack.

A new patient uploads the prescription inside checkout and pays on the Stripe
stand-in's page, which only authorises the card; a pharmacist verifies it in the admin,
the worker captures the payment and the order is dispatched. In the rejected variant
the hold is released and nothing is charged; in the lapsed one the hold runs out at the
bank (the stand-in's lapse) and the order is cancelled once. A returning patient with a verified
prescription reaches a paid order in a few clicks.
"""

from __future__ import annotations

import json
import re
import secrets
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import Page, expect

from orders.models import CaptureMethod, Order, OrderStatus
from prescriptions.models import Prescription, Status
from prescriptions.services import prescription_verify
from tests.e2e.conftest import (
    PACKAGE_20_MG,
    PHONE,
    SLOW_TIMEOUT_MS,
    Stack,
    _read_mail,
    add_to_cart,
    admin_sign_in,
    both_sizes,
    labelled,
    latest_email,
    prescription_file,
    price_row,
    shot,
    sign_in,
)
from tests.e2e.test_journey import pharmacist_verifies_the_prescription
from tests.factories import make_e_prescription, make_pharmacist, make_profile
from tests.orders.factories import baclofen_package, make_address, make_patient

AUTHORISED = "Card authorised, waiting for the pharmacist"
# The stand-in is on 127.0.0.1: no proxy of the environment in between.
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))
# The fastest path the issue promises: drug page to a paid order.
MAX_CLICKS_ON_OUR_PAGES = 4


def new_patient():
    patient = make_patient(
        first_name="Nora", last_name="Quinn", email=f"nora.{secrets.token_hex(3)}@example.com"
    )
    make_profile(patient)
    return patient


def reload_until(page: Page, status: str, timeout_s: float = SLOW_TIMEOUT_MS / 1000) -> None:
    """An authorised order's page does not refresh itself (it may wait for days): the
    patient comes back to it."""
    deadline = time.monotonic() + timeout_s
    while page.locator("#order-status").inner_text() != status and time.monotonic() < deadline:
        page.wait_for_timeout(500)
        page.reload()
    expect(page.locator("#order-status")).to_have_text(status)


def patient_uploads_in_checkout_and_authorises(
    page: Page, stack: Stack, patient, tmp_path: Path
) -> Order:
    sign_in(page, stack, patient)
    add_to_cart(page, stack, PACKAGE_20_MG)
    expect(page.locator("table.cart tbody tr")).to_contain_text("No prescription")
    page.get_by_role("link", name="Continue to checkout").click()
    expect(page).to_have_url(re.compile(r"/checkout/$"))

    cover = page.get_by_role("group", name=f"Prescription for Baclofen {PACKAGE_20_MG}")
    cover.get_by_label("Upload the prescription now").check()
    cover.get_by_label("Prescription files").set_input_files(
        str(prescription_file(tmp_path, patient))
    )
    labelled(page, "Address").fill("42 Harbor Road")
    page.get_by_label("City").fill("Albany")
    page.get_by_label("State").select_option("NY")
    page.get_by_label("ZIP code").fill("12207")
    expect(page.locator("#authorise-only")).to_have_text(
        "Your card will be authorised for the order total (the items and the delivery you "
        "choose) now and charged only when a pharmacist "
        "verifies your prescription; if it is not approved, nothing is charged."
    )
    both_sizes(page, "20-checkout-upload-prescription")
    page.get_by_role("button", name="Place order and pay").click()

    expect(page).to_have_url(re.compile(r"^http://127\.0\.0\.1:\d+/pay/cs_"))
    page.get_by_role("button", name="Pay $41.71").click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(stack.url)}/orders/[^/]+/\?paid=1$"))
    # The page refreshes itself until the stand-in's webhook has made the order authorised.
    expect(page.locator("#order-status")).to_have_text(AUTHORISED, timeout=SLOW_TIMEOUT_MS)
    order = Order.objects.get(patient=patient)
    prescription = Prescription.objects.get(patient=patient)
    assert order.capture_method == CaptureMethod.MANUAL
    assert prescription.status == Status.SUBMITTED
    notice = page.get_by_role("status")
    expect(notice).to_contain_text("nothing is charged yet")
    expect(notice.get_by_role("link", name=f"prescription #{prescription.pk}")).to_have_attribute(
        "href", prescription.get_absolute_url()
    )
    expect(page.get_by_role("button", name="Cancel order")).to_be_visible()
    page.set_viewport_size(PHONE)
    shot(page, "21-order-authorised-phone")
    latest_email(stack, to=patient.email, subject_contains="nothing is charged yet")
    return order


def test_new_patient_uploads_in_checkout_and_is_charged_once_verified(
    page: Page, new_page, stack: Stack, tmp_path: Path
):
    patient = new_patient()
    order = patient_uploads_in_checkout_and_authorises(page, stack, patient, tmp_path)

    pharmacist_verifies_the_prescription(
        new_page(), stack, Prescription.objects.get(patient=patient)
    )

    page.goto(stack.url + order.get_absolute_url())
    reload_until(page, "Dispatched")
    expect(page.locator("#tracking-number")).to_have_text(re.compile(r"^LC\w+"))
    shot(page, "22-order-charged-and-dispatched-phone")
    order.refresh_from_db()
    assert order.status == OrderStatus.DISPATCHED
    latest_email(stack, to=patient.email, subject_contains=f"Receipt for order {order.number}")


def test_a_rejected_prescription_releases_the_hold_and_nothing_is_charged(
    page: Page, new_page, stack: Stack, tmp_path: Path
):
    patient = new_patient()
    order = patient_uploads_in_checkout_and_authorises(page, stack, patient, tmp_path)
    prescription = Prescription.objects.get(patient=patient)

    admin = new_page()
    admin_sign_in(admin, stack, make_pharmacist(first_name="Rita", last_name="Chen"))
    admin.goto(f"{stack.url}/admin/prescriptions/prescription/{prescription.pk}/change/")
    decision = admin.locator(".rx-decision").filter(has_text="Reject")
    decision.get_by_role("radio", name="Reject").check()
    admin.get_by_label("Message to the patient").fill("The signature is missing.")
    decision.get_by_role("button", name="Record decision").click()
    expect(admin.locator(".messagelist")).to_contain_text(f"#{prescription.pk}")

    page.goto(stack.url + order.get_absolute_url())
    reload_until(page, "Cancelled")
    expect(page.locator(".notice--danger")).to_contain_text("nothing was charged")
    mail = latest_email(stack, to=patient.email, subject_contains=f"Order {order.number} was")
    assert "Nothing was charged" in mail.body
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED


def test_a_lapsed_authorisation_cancels_the_order_once_and_nothing_is_charged(
    page: Page, stack: Stack, tmp_path: Path
):
    patient = new_patient()
    stock_before = baclofen_package("20 mg").stock
    order = patient_uploads_in_checkout_and_authorises(page, stack, patient, tmp_path)
    assert baclofen_package("20 mg").stock == stock_before - 1, "the authorised order holds it"

    # No pharmacist comes: the hold runs out at the bank, as Stripe's does after 7 days;
    # the stand-in sends charge.expired and payment_intent.canceled.
    lapse = urllib.request.Request(  # noqa: S310 (http to the stack's local stand-in)
        f"{stack.standin.url}/_standin/payment_intents/{order.stripe_payment_intent}/lapse",
        data=b"",
        method="POST",
    )
    with NO_PROXY.open(lapse, timeout=10) as response:
        intent = json.load(response)
    assert intent["status"] == "canceled"
    assert intent["cancellation_reason"] == "expired"

    page.goto(stack.url + order.get_absolute_url())
    reload_until(page, "Cancelled")
    expect(page.locator(".notice--danger")).to_contain_text("nothing was charged")
    expect(page.get_by_role("button", name="Cancel order")).to_have_count(0)
    shot(page, "23-order-lapsed-cancelled-phone")
    subject = f"Order {order.number} was"
    mail = latest_email(stack, to=patient.email, subject_contains=subject)
    assert "the hold on your card ran out" in mail.body
    assert "Nothing was charged" in mail.body

    stack.worker.wait_idle(timeout=20)
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert order.paid_at is None
    assert baclofen_package("20 mg").stock == stock_before, "the stock is back"
    cancellations = [
        m for m in _read_mail(stack.mail_dir) if patient.email in m.to and subject in m.subject
    ]
    assert len(cancellations) == 1, [m.subject for m in cancellations]


def test_returning_patient_reaches_a_paid_order_in_a_few_clicks(page: Page, stack: Stack):
    patient = make_patient(first_name="Ray", last_name="Ito")
    prescription = make_e_prescription(patient=patient, strength="20 mg", quantity=90, refills=1)
    prescription_verify(
        prescription_id=prescription.pk, pharmacist=make_pharmacist(), warnings_acknowledged=True
    )
    make_address(patient)
    sign_in(page, stack, patient)
    clicks = 0

    def click(locator) -> None:
        nonlocal clicks
        if page.url.startswith(stack.url):
            clicks += 1
        locator.click()

    page.goto(stack.url + "/medicines/baclofen/")
    click(price_row(page, PACKAGE_20_MG).get_by_role("button", name=re.compile("^Add to cart")))
    click(page.get_by_role("link", name="Check out"))
    click(page.get_by_role("button", name="Place order and pay"))
    expect(page).to_have_url(re.compile(r"^http://127\.0\.0\.1:\d+/pay/cs_"))
    click(page.get_by_role("button", name=re.compile(r"^Pay \$")))
    expect(page.locator("#order-status")).to_have_text(
        re.compile("^(Paid|Dispatched)$"), timeout=SLOW_TIMEOUT_MS
    )
    assert clicks <= MAX_CLICKS_ON_OUR_PAGES, clicks
    assert Order.objects.get(patient=patient).capture_method == CaptureMethod.AUTOMATIC
