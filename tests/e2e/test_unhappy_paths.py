"""What goes wrong, in the browser: a declined card, a rejected prescription, a stranger's URL."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from orders.models import Order, OrderStatus
from prescriptions.models import AuditEvent
from prescriptions.services import prescription_reject
from tests.e2e.conftest import PACKAGE_10_MG, PHONE, Stack, add_to_cart, labelled, shot, sign_in
from tests.factories import make_e_prescription, make_pharmacist
from tests.orders.factories import (
    baclofen_package,
    make_address,
    make_patient,
    make_verified_prescription,
)

STANDIN_PAGE = re.compile(r"^http://127\.0\.0\.1:\d+/pay/(cs_\w+)$")


def test_a_declined_card_leaves_the_order_payable_and_its_stock_reserved(page: Page, stack: Stack):
    patient = make_patient()
    make_verified_prescription(patient=patient)
    make_address(patient)
    package = baclofen_package("10 mg")
    stock_before = package.stock

    sign_in(page, stack, patient)
    add_to_cart(page, stack, PACKAGE_10_MG)
    expect(page.locator("table.cart tbody tr")).to_contain_text("Covered")
    page.get_by_role("link", name="Check out").click()
    expect(labelled(page, "Address")).to_have_value("12 Elm Street")  # kept on the account
    page.get_by_role("button", name="Place order and pay").click()

    expect(page).to_have_url(STANDIN_PAGE)
    session_id = STANDIN_PAGE.match(page.url).group(1)
    page.get_by_role("button", name="Decline").click()
    expect(page.get_by_role("alert")).to_contain_text("Your card was declined.")
    expect(page.get_by_role("alert")).to_contain_text("No money was taken.")
    page.set_viewport_size(PHONE)
    shot(page, "11-payment-declined-phone")

    page.get_by_role("link", name="Return to the shop").click()
    order = Order.objects.get(patient=patient)
    expect(page).to_have_url(f"{stack.url}/orders/{order.number}/")
    expect(page.locator("#order-status")).to_have_text("Waiting for payment")
    expect(page.get_by_role("button", name="Pay now ($46.53)")).to_be_visible()
    expect(page.get_by_role("button", name="Cancel order")).to_be_visible()

    order.refresh_from_db()
    package.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert order.paid_at is None
    assert package.stock == stock_before - 1, "the package stays reserved until the order expires"

    # "Pay now" opens the same hosted page again: one open session per order.
    page.get_by_role("button", name="Pay now ($46.53)").click()
    expect(page).to_have_url(STANDIN_PAGE)
    assert STANDIN_PAGE.match(page.url).group(1) == session_id
    expect(page.get_by_role("heading", level=1)).to_have_text("Pay $46.53")


def test_a_rejected_prescription_shows_its_reason_and_blocks_checkout(page: Page, stack: Stack):
    patient = make_patient()
    make_address(patient)
    prescription = make_e_prescription(patient=patient)
    prescription_reject(
        prescription_id=prescription.pk,
        pharmacist=make_pharmacist(),
        reason="The signature is missing.",
    )
    stock_before = baclofen_package("10 mg").stock

    sign_in(page, stack, patient)
    page.goto(f"{stack.url}/account/prescriptions/{prescription.pk}/")
    expect(page.locator(".lead .status")).to_have_text("Rejected")
    reason = page.get_by_role("region", name="Why we could not accept it")
    expect(reason).to_contain_text("The signature is missing.")
    expect(reason.get_by_role("link", name="Upload a new prescription")).to_be_visible()
    page.set_viewport_size(PHONE)
    shot(page, "12-prescription-rejected-phone")

    add_to_cart(page, stack, PACKAGE_10_MG)
    row = page.locator("table.cart tbody tr")
    expect(row).to_contain_text("No prescription")
    expect(row.get_by_role("link", name="Upload a prescription")).to_have_attribute(
        "href", "/account/prescriptions/new/?drug=baclofen"
    )
    expect(page.get_by_role("link", name="Check out")).to_have_count(0)
    expect(page.locator(".form-actions")).to_contain_text(
        "Every package needs a verified prescription"
    )

    # Going to the checkout anyway: the order is refused and says what is missing.
    page.goto(f"{stack.url}/checkout/")
    expect(page.locator(".order-lines")).to_contain_text("Not covered by a verified prescription")
    page.get_by_role("button", name="Place order and pay").click()
    problem = page.get_by_role("alert").filter(has_text="We could not place your order")
    expect(problem).to_contain_text("Nothing was charged.")
    expect(problem).to_contain_text(
        f"{PACKAGE_10_MG}: no verified prescription of yours covers it."
    )
    expect(problem.get_by_role("link", name="Upload a prescription")).to_have_attribute(
        "href", "/account/prescriptions/new/?drug=baclofen"
    )
    shot(page, "13-checkout-refused-no-prescription-phone")
    assert not Order.objects.filter(patient=patient).exists()
    assert baclofen_package("10 mg").stock == stock_before


def test_another_patients_prescription_is_not_found(page: Page, stack: Stack):
    owner = make_patient(first_name="Olivia", last_name="Owens")
    prescription = make_e_prescription(patient=owner)
    stranger = make_patient(first_name="Sid", last_name="Stranger")

    sign_in(page, stack, stranger)
    response = page.goto(f"{stack.url}/account/prescriptions/{prescription.pk}/")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("We couldn’t find that page")
    expect(page.get_by_role("link", name="Browse our medicines")).to_be_visible()
    main = page.locator("main")
    for private in ("Olivia", owner.email, prescription.prescriber_name):
        expect(main).not_to_contain_text(private)
    page.set_viewport_size(PHONE)
    shot(page, "14-someone-elses-prescription-not-found-phone")
    assert AuditEvent.objects.filter(actor=stranger, patient=owner, allowed=False).exists(), (
        "the denied attempt is audited"
    )
