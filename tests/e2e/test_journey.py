"""The whole journey, in a browser, for the three roles, on the production stack.

A visitor compares baclofen's packages and fills a cart; signs up (the confirmation
link comes from the email the site sent), fills the medical profile and uploads a
prescription; a pharmacist, through the admin's sign-in with TOTP, fills in the
prescription's details and verifies it; the patient checks out and pays on the Stripe
stand-in's hosted page; the order waits, paid, for the pharmacist, who receives a lot in
the admin and performs the final check (a wrong lot refused with the reason, then the
right one); the patient's order page turns to "Dispatched" by itself (webhook, Redis,
worker); catalog staff change a price, which a new visitor sees at once while the
patient's order keeps the price paid. Delivery is chosen at checkout (Express here),
with its price and arrival dates; Stripe charges it with the package, and the order
page links to the courier's tracking page once the parcel leaves.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import urlsplit

import stripe
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import Page, expect

from about.emails import pharmacy_name
from catalog.models import Package
from devtools.demo.pharmacy import ensure_demo_pharmacy
from orders.models import Order, OrderStatus, ShippingOption
from prescriptions.models import Prescription, Status
from tests.e2e.conftest import (
    DESKTOP,
    PACKAGE_10_MG,
    PACKAGE_20_MG,
    PHONE,
    SLOW_TIMEOUT_MS,
    Stack,
    admin_sign_in,
    both_sizes,
    labelled,
    latest_email,
    prescription_file,
    price_row,
    sent_emails,
    shot,
)
from tests.factories import make_catalog_staff, make_pharmacist, valid_npi

DRUG_PATH = "/medicines/baclofen/"
NEW_PRICE = Decimal("39.90")
EXPRESS = Decimal("14.95")
PAID = "$56.66"  # the 20 mg package ($41.71) and Express delivery


@dataclass
class Patient:
    first_name: str
    last_name: str
    email: str
    password: str


def package_20mg() -> Package:
    return Package.objects.get(
        formulation__drug__slug="baclofen", formulation__strength_label="20 mg", pill_count=10
    )


# 1. The visitor ------------------------------------------------------------------


def visitor_compares_packages_and_fills_the_cart(page: Page, stack: Stack) -> None:
    page.goto(stack.url + DRUG_PATH)
    expect(page.get_by_role("heading", level=1)).to_have_text("Baclofen")
    expect(page.get_by_role("heading", name="Prescription required")).to_be_visible()
    for label, price, per_pill in (
        (PACKAGE_10_MG, "$46.53", "$4.65"),
        (PACKAGE_20_MG, "$41.71", "$4.17"),
    ):
        row = price_row(page, label)
        expect(row.locator("td").nth(0)).to_have_text(price)
        expect(row.locator("td").nth(1)).to_have_text(per_pill)
        expect(row).to_contain_text("In stock")
    both_sizes(page, "01-drug-page-prices", full_page=False, scroll_to="section.prices")

    price_row(page, PACKAGE_20_MG).get_by_role("button", name=re.compile("^Add to cart")).click()
    expect(page).to_have_url(re.compile(r"/cart/$"))
    expect(page.locator(".messages")).to_contain_text(
        f"Added to your cart: Baclofen {PACKAGE_20_MG} (now 1)."
    )
    cart_row = page.locator("table.cart tbody tr")
    expect(cart_row).to_have_count(1)
    expect(cart_row).to_contain_text(PACKAGE_20_MG)
    expect(cart_row).to_contain_text("$41.71")
    expect(cart_row).to_contain_text("Sign in to check")
    expect(page.get_by_role("link", name="Sign in to check out")).to_be_visible()
    both_sizes(page, "02-cart-asks-to-sign-in")


# 2. Sign-up, profile, prescription ------------------------------------------------


def visitor_signs_up_and_confirms_the_email(page: Page, stack: Stack, patient: Patient) -> None:
    page.get_by_role("link", name="Create an account").click()
    expect(page).to_have_url(re.compile(r"/accounts/signup/"))
    page.get_by_label("First name").fill(patient.first_name)
    page.get_by_label("Last name").fill(patient.last_name)
    labelled(page, "Email").fill(patient.email)
    labelled(page, "Password").fill(patient.password)
    labelled(page, "Password (again)").fill(patient.password)
    page.get_by_role("button", name="Sign Up").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile("verify", re.I))

    mail = latest_email(stack, to=patient.email, subject_contains="Confirm")
    link = re.search(r"https?://\S+/accounts/confirm-email/\S+", mail.body)
    assert link, f"no confirmation link in the email:\n{mail.body}"
    assert link.group(0).startswith(stack.url), "the link must lead back to this site"
    page.goto(link.group(0))
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm Email Address")
    page.get_by_role("button", name="Confirm").click()
    # Confirming signs the patient in (ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION).
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("^Your account"))).to_be_visible()


def patient_fills_the_medical_profile(page: Page, stack: Stack) -> None:
    page.goto(stack.url + "/account/profile/")
    page.get_by_label("Date of birth").fill("1984-03-15")
    page.get_by_label("Weight (kg)").fill("72.5")
    page.get_by_label("No kidney disease").check()
    page.get_by_label("I do not drink alcohol").check()
    # Nothing is preselected: each yes/no question is answered by the patient.
    for question in (
        "Pregnant or planning a pregnancy",
        "Breastfeeding",
        "Liver disease or reduced liver function (hepatic impairment)",
        "Active stomach or duodenal (peptic) ulcer",
        "Epilepsy or seizures",
        "A psychiatric condition",
    ):
        page.get_by_role("group", name=question).get_by_label("No", exact=True).check()
    page.get_by_label("Other allergies and hypersensitivities").fill("Penicillin (rash)")
    page.get_by_role("button", name="Save profile").click()
    expect(page.locator(".messages")).to_contain_text("Your medical profile was saved.")
    expect(page.get_by_label("Date of birth")).to_have_value("1984-03-15")
    both_sizes(page, "03-medical-profile-saved")


def patient_uploads_a_prescription(
    page: Page, stack: Stack, patient: Patient, tmp_path: Path
) -> Prescription:
    pdf = prescription_file(tmp_path, patient)
    page.goto(stack.url + "/account/prescriptions/new/?drug=baclofen")
    page.get_by_label("Prescription files").set_input_files(str(pdf))
    expect(page.get_by_label("Medicine (if you know it)")).to_have_value(
        re.compile(r"^\d+$")  # Baclofen, chosen from the drug page's link
    )
    page.get_by_label("Note for the pharmacist (optional)").fill("The 20 mg tablets, please.")
    page.get_by_role("button", name="Send to the pharmacist").click()
    expect(page).to_have_url(re.compile(r"/account/prescriptions/\d+/$"))
    expect(page.locator(".messages")).to_contain_text("we received your prescription")
    expect(page.locator(".lead .status")).to_have_text("Submitted")
    expect(page.get_by_role("link", name=pdf.name)).to_be_visible()
    both_sizes(page, "04-prescription-submitted")
    return Prescription.objects.get(patient__email=patient.email)


# 3. The pharmacist -------------------------------------------------------------------


def pharmacist_verifies_the_prescription(page: Page, stack: Stack, prescription):
    pharmacist = make_pharmacist(first_name="Rita", last_name="Chen")
    admin_sign_in(page, stack, pharmacist)

    page.goto(stack.url + "/admin/prescriptions/prescription/")
    page.get_by_role("link", name=f"#{prescription.pk}", exact=True).click()
    expect(page).to_have_url(re.compile(rf"/admin/prescriptions/prescription/{prescription.pk}/"))
    checks = page.locator(".field-checks_table")
    expect(checks).to_contain_text("Prescription details to fill in")
    preview = page.locator(".field-documents_preview iframe")
    expect(preview).to_be_visible()
    document = page.request.get(stack.url + preview.get_attribute("src"))
    assert document.ok
    assert document.headers["content-type"] == "application/pdf"
    assert document.headers["content-disposition"].startswith("inline")

    page.get_by_label("Prescriber name").fill("Dr. Grace Hopper")
    page.get_by_label("Prescriber NPI").fill(valid_npi())
    page.get_by_label("Prescriber state licence").fill("NY-123456")
    page.locator("#id_drug").select_option(label="Baclofen")
    page.locator("#id_formulation").select_option(label="Baclofen 20 mg tablet")
    page.get_by_label("Directions").fill("Take 1 tablet by mouth three times a day")
    page.get_by_label("Units per dose").fill("1")
    page.get_by_label("Doses per day").fill("3")
    page.get_by_label("Quantity").fill("30")
    page.get_by_label("Refills").fill("0")
    page.locator("#id_date_written").fill(f"{timezone.localdate():%Y-%m-%d}")
    # The admin shows its save buttons above and below the form (save_on_top).
    page.get_by_role("button", name="Save and continue editing").first.click()

    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")
    expect(checks).not_to_contain_text("Prescription details to fill in")
    expect(checks.locator(".rx-level--block")).to_have_count(0)
    # Chromium paints the PDF viewer only while it is inside the viewport, and asynchronously:
    # a viewport tall enough to hold the preview, then a moment for it to paint.
    page.set_viewport_size({"width": DESKTOP["width"], "height": 1800})
    page.wait_for_timeout(1500)
    shot(page, "05-admin-prescription-checks-desktop")
    page.set_viewport_size(DESKTOP)

    decision = page.locator(".rx-decision")
    decision.get_by_label("Verify").check()
    if checks.locator(".rx-level--warn").count():
        decision.get_by_label("I have reviewed every warning above").check()
    decision.get_by_role("button", name="Record decision").click()
    expect(page.locator(".messagelist")).to_contain_text(
        f"Prescription #{prescription.pk} verified."
    )
    prescription.refresh_from_db()
    assert prescription.status == Status.VERIFIED
    assert prescription.decided_by == pharmacist
    return pharmacist


# 4. Checkout and payment -----------------------------------------------------------


def standin_charged(stack: Stack, order: Order) -> int:
    """What the stand-in's PaymentIntent for the order took, in cents."""
    client = stripe.StripeClient(
        settings.STRIPE_SECRET_KEY,
        base_addresses={"api": stack.standin.url},
        max_network_retries=0,
    )
    return client.v1.payment_intents.retrieve(order.stripe_payment_intent).amount_received


def patient_checks_out_and_pays(page: Page, stack: Stack, patient: Patient) -> Order:
    """Up to the order page saying "Paid": it waits there for the final check."""
    page.goto(stack.url + "/cart/")
    expect(page.locator("table.cart tbody tr")).to_contain_text("Covered")
    page.get_by_role("link", name="Check out").click()
    expect(page).to_have_url(re.compile(r"/checkout/$"))
    expect(page.get_by_label("Full name")).to_have_value(
        f"{patient.first_name} {patient.last_name}"
    )
    express = ShippingOption.objects.get(name="Express")
    arrives = express.estimate(start=timezone.localdate()).label
    delivery = page.get_by_role("group", name="Delivery")
    expect(delivery.get_by_role("radio", name=re.compile("^Standard"))).to_be_checked()
    delivery.get_by_role("radio", name=f"Express: $14.95. {arrives}. Order total {PAID}").check()
    labelled(page, "Address").fill("42 Harbor Road")
    page.get_by_label("Apartment, suite, etc.").fill("Unit 5")
    page.get_by_label("City").fill("Albany")
    page.get_by_label("State").select_option("NY")
    page.get_by_label("ZIP code").fill("12207")
    both_sizes(page, "06-checkout-address")
    page.get_by_role("button", name="Place order and pay").click()

    # Stripe's hosted page, played by the stand-in in its own process.
    expect(page).to_have_url(re.compile(r"^http://127\.0\.0\.1:\d+/pay/cs_"))
    assert not page.url.startswith(stack.url)
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Pay {PAID}")
    expect(page.locator("table")).to_contain_text("Shipping: Express")
    page.set_viewport_size(PHONE)
    shot(page, "07-stripe-standin-pay-phone")
    page.get_by_role("button", name=f"Pay {PAID}").click()

    # Back on the order page, which refreshes itself: paid, then waiting for the pharmacist.
    expect(page).to_have_url(re.compile(rf"^{re.escape(stack.url)}/orders/[^/]+/\?paid=1$"))
    order = Order.objects.get(patient__email=patient.email)
    status = page.locator("#order-status")
    expect(status).to_have_text("Paid", timeout=SLOW_TIMEOUT_MS)
    expect(page.locator(".steps")).to_contain_text("A pharmacist is checking it")
    order.refresh_from_db()
    assert order.awaits_final_check
    return order


# 4b. The pharmacist's final check ----------------------------------------------------


def pharmacist_receives_a_lot_and_checks_the_order(page: Page, stack: Stack, order: Order):
    # A label carries the pharmacy's name, address and phone: its details are filled in.
    ensure_demo_pharmacy()
    expiry = timezone.localdate() + timedelta(days=365)
    page.goto(stack.url + "/admin/dispensing/lot/add/")
    page.locator("#id_package").select_option(label=str(package_20mg()))
    page.get_by_label("Lot number").fill("E2E-2207")
    page.get_by_label("Expiry date").fill(f"{expiry:%Y-%m-%d}")
    page.get_by_label("Packages received").fill("12")
    page.get_by_label("Supplier").fill("Cardinal Health")
    page.get_by_label("Invoice reference").fill("CH-4471")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")

    page.goto(stack.url + "/admin/dispensing/ordertocheck/")
    page.get_by_role("link", name=order.number, exact=True).click()
    picks = page.locator("table").filter(has_text="Lot to pick")
    expect(picks).to_contain_text("E2E-2207")
    label = page.get_by_role("link", name="Print the label (PDF)")
    printed = page.request.get(stack.url + label.get_attribute("href"))
    assert printed.ok and printed.headers["content-type"] == "application/pdf"

    def confirm(lot_number: str) -> None:
        page.get_by_label("Lot number on the boxes").fill(lot_number)
        page.get_by_label("Expiry on the boxes").fill(f"{expiry:%Y-%m-%d}")
        page.get_by_label("Packages counted").fill("1")
        page.get_by_label(re.compile("as prescribed")).check()
        page.get_by_role("button", name="Checked: release to the courier").click()

    confirm("E2E-2208")  # a box of another lot in the hand: refused, with the reason
    expect(page.locator(".errorlist")).to_contain_text("lot E2E-2208 is not the lot to dispense")
    shot(page, "08a-admin-final-check-refused-desktop")
    confirm("E2E-2207")
    expect(page.locator(".messagelist")).to_contain_text(f"Order {order.number} checked")


def patient_sees_the_parcel_dispatched(page: Page, stack: Stack, patient: Patient, order):
    status = page.locator("#order-status")
    # Nobody reloads: the page's own refresh picks up what the webhook and the worker did.
    reloads: list[str] = []

    def record(frame) -> None:
        if frame is page.main_frame:
            reloads.append(frame.url)

    page.on("framenavigated", record)
    expect(status).to_have_text("Dispatched", timeout=SLOW_TIMEOUT_MS)
    page.remove_listener("framenavigated", record)
    assert all(url.endswith(f"/orders/{order.number}/?paid=1") for url in reloads), reloads
    expect(page.locator("#tracking-number")).to_have_text(re.compile(r"^LC\w+"))
    timeline = page.locator("ol.timeline li")
    expect(timeline).to_have_count(3)
    expect(timeline.nth(0)).to_contain_text("Waiting for payment")
    expect(timeline.nth(1)).to_contain_text("Paid")
    expect(timeline.nth(2)).to_contain_text("Dispatched")
    page.set_viewport_size(DESKTOP)
    both_sizes(page, "08-order-dispatched")

    order.refresh_from_db()
    assert order.status == OrderStatus.DISPATCHED
    assert order.total == Decimal("41.71") + EXPRESS
    assert order.total_cents == standin_charged(stack, order)
    assert page.locator("#tracking-number").inner_text() == order.shipment.tracking_number
    expect(page.locator("#shipping-line")).to_have_text(re.compile(r"Delivery: Express\s*\$14\.95"))
    expect(page.locator("#delivery-estimate")).to_contain_text("Estimated delivery: Arrives")
    page.get_by_role("link", name=re.compile("^Track your parcel")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Track your parcel")
    expect(page.locator("#tracking-number")).to_have_text(order.shipment.tracking_number)
    page.go_back()
    # The worker (another process) ran the tasks and sent both emails.
    assert "orders.payments.confirm_payment[" in stack.worker.log_text()
    latest_email(stack, to=patient.email, subject_contains=f"Receipt for order {order.number}")
    latest_email(stack, to=patient.email, subject_contains=f"Order {order.number} is on its way")
    return order


# 4c. Counselling: the patient's question answered --------------------------------


def patient_asks_and_the_pharmacist_answers(page: Page, pharmacist_page: Page, stack, order):
    page.goto(stack.url + order.get_absolute_url())
    page.get_by_role("link", name=re.compile("write to the pharmacist")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Your pharmacist")
    page.get_by_label("I have a question").check()
    page.get_by_label("Your question (if you have one)").fill("Can I drive on it?")
    page.get_by_role("button", name="Send my answer").click()
    expect(page.locator(".thread")).to_contain_text("Can I drive on it?")
    both_sizes(page, "08b-counselling-question")

    pharmacist_page.goto(stack.url + "/admin/dispensing/orderconversation/")
    pharmacist_page.get_by_role("link", name=order.number, exact=True).click()
    expect(pharmacist_page.locator("#content-main")).to_contain_text("Can I drive on it?")
    pharmacist_page.get_by_label("Answer the patient").fill(
        "Not until you know how it affects you: it can make you drowsy."
    )
    pharmacist_page.get_by_role("button", name="Send answer").click()
    expect(pharmacist_page.locator(".messagelist")).to_contain_text("Answer sent")
    pharmacist_page.get_by_label("How the patient was counselled").fill("Driving, drowsiness.")
    pharmacist_page.get_by_role("button", name="Record counselling").click()
    expect(pharmacist_page.locator(".messagelist")).to_contain_text("Counselling recorded")

    page.reload()
    expect(page.locator(".thread")).to_contain_text("it can make you drowsy")
    notice = latest_email(stack, to=order.patient.email, subject_contains="a pharmacist wrote")
    assert "drowsy" not in notice.body


# 5. Catalog staff change a price ----------------------------------------------------


def staff_change_the_price(page: Page, stack: Stack) -> None:
    staff = make_catalog_staff(first_name="Sam", last_name="Ortiz")
    admin_sign_in(page, stack, staff)
    package = package_20mg()
    page.goto(f"{stack.url}/admin/catalog/package/{package.pk}/change/")
    expect(page.get_by_label("Price")).to_have_value("41.71")
    page.get_by_label("Price").fill(str(NEW_PRICE))
    page.get_by_label("Reason for change").fill("Supplier price rise")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")
    shot(page, "09-admin-package-price-changed-desktop")
    package.refresh_from_db()
    assert package.price == NEW_PRICE
    change = package.history.order_by("-history_date").first()
    assert change.history_user == staff, "the change is kept with its author"
    assert change.history_change_reason == "Supplier price rise", "and with its reason"


def new_visitor_sees_the_new_price(page: Page, stack: Stack) -> None:
    page.goto(stack.url + DRUG_PATH)
    row = price_row(page, PACKAGE_20_MG)
    expect(row.locator("td").nth(0)).to_have_text(f"${NEW_PRICE}")
    expect(row.locator("td").nth(1)).to_have_text("$3.99")
    expect(page.locator("section.prices")).not_to_contain_text("$41.71")
    shot(page, "10-new-visitor-new-price-desktop", full_page=False, scroll_to="section.prices")


def patient_order_keeps_the_old_price(page: Page, stack: Stack, order: Order) -> None:
    page.goto(stack.url + order.get_absolute_url())
    expect(page.locator(".order-lines")).to_contain_text("at $41.71")
    expect(page.locator(".order-total")).to_contain_text(PAID)
    expect(page.locator("#shipping-line")).to_contain_text("$14.95")
    expect(page.locator("#order-status")).to_have_text("Dispatched")


def patient_orders_again_too_early_and_is_told_when(page: Page, stack: Stack, order: Order):
    """The same order again the day it was paid: 10 tablets at 3 a day are not used yet."""
    page.get_by_role("button", name="Order again").click()
    expect(page).to_have_url(f"{stack.url}{order.get_absolute_url()}")
    expect(page.locator(".message--error")).to_contain_text("You may order it again from")
    page.goto(f"{stack.url}/orders/{order.number}/reorder/")  # the reminder email's link
    expect(page.locator("#reorder-refusals")).to_contain_text("You may order it again from")
    expect(page.get_by_role("button", name="Order again")).to_have_count(0)
    both_sizes(page, "11-order-again-too-early")


def every_email_was_in_the_pharmacys_name(stack: Stack, patient: Patient) -> None:
    """Sign-up, prescription, receipt, dispatch, counselling: each names the pharmacy (its
    details were filled in halfway, so the site's name before), never the host it runs on."""
    host = urlsplit(stack.url).netloc
    names = (settings.SITE_NAME, pharmacy_name())
    sent = sent_emails(stack, to=patient.email)
    assert len(sent) >= 5, [m.subject for m in sent]
    for mail in sent:
        assert mail.subject.endswith(tuple(f" - {name}" for name in names)), mail.subject
        assert host not in mail.subject and host not in mail.sender, mail.subject
        assert parseaddr(mail.sender)[0] in names, mail.sender
        # Links name the host; no sentence does ("Hello from 127.0.0.1:8000!").
        words = [line for line in mail.body.splitlines() if "://" not in line]
        assert not [line for line in words if host in line], (mail.subject, words)
        assert "Thank you for using" not in mail.body, mail.subject


def test_visitor_becomes_a_patient_orders_pays_and_sees_the_parcel_dispatched(
    page: Page, new_page, stack: Stack, tmp_path: Path
):
    patient = Patient(
        first_name="Maria",
        last_name="Lopez",
        email=f"maria.lopez.{secrets.token_hex(3)}@example.com",
        password="Spring-meadow-4271",
    )

    ShippingOption.objects.create(name="Express", price=EXPRESS, days_min=1, days_max=2, position=1)
    visitor_compares_packages_and_fills_the_cart(page, stack)
    visitor_signs_up_and_confirms_the_email(page, stack, patient)
    patient_fills_the_medical_profile(page, stack)
    prescription = patient_uploads_a_prescription(page, stack, patient, tmp_path)

    pharmacist_page = new_page()
    pharmacist_verifies_the_prescription(pharmacist_page, stack, prescription)

    order = patient_checks_out_and_pays(page, stack, patient)
    pharmacist_receives_a_lot_and_checks_the_order(pharmacist_page, stack, order)
    order = patient_sees_the_parcel_dispatched(page, stack, patient, order)
    patient_asks_and_the_pharmacist_answers(page, pharmacist_page, stack, order)

    staff_change_the_price(new_page(), stack)
    new_visitor_sees_the_new_price(new_page(), stack)
    patient_order_keeps_the_old_price(page, stack, order)
    patient_orders_again_too_early_and_is_told_when(page, stack, order)
    every_email_was_in_the_pharmacys_name(stack, patient)
