"""axe-core on the pages of ordering before verification: the checkout's choice of a
waiting prescription or an upload (also with its errors) and the authorised order."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from orders.models import Order, OrderStatus
from tests.e2e.conftest import PACKAGE_10_MG, PHONE, Stack, add_to_cart, both_sizes, sign_in
from tests.e2e.test_accessibility import serious_violations
from tests.factories import make_e_prescription
from tests.orders.factories import make_patient, place_waiting


def test_checkout_without_a_verified_prescription_has_no_serious_violations(
    page: Page, stack: Stack
):
    patient = make_patient()
    prescription = make_e_prescription(patient=patient)
    order = place_waiting(patient, prescription)
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.AUTHORISED)
    found: list[str] = []

    sign_in(page, stack, patient)
    add_to_cart(page, stack, PACKAGE_10_MG)
    found.extend(serious_violations(page, "cart, line not covered"))
    page.get_by_role("link", name="Continue to checkout").click()
    cover = page.get_by_role("group", name=f"Prescription for Baclofen {PACKAGE_10_MG}")
    expect(cover.get_by_label(f"#{prescription.pk}, sent", exact=False)).to_be_visible()
    found.extend(serious_violations(page, "checkout, choice of prescription"))

    # Upload chosen, no file: the error sits next to the file input, and the page still fits.
    cover.get_by_label("Upload the prescription now").check()
    page.get_by_role("button", name="Place order and pay").click()
    expect(cover.locator(".field-errors")).to_contain_text("Choose at least one file")
    found.extend(serious_violations(page, "checkout, upload refused"))
    page.set_viewport_size(PHONE)
    both_sizes(page, "23-checkout-upload-error")

    page.goto(stack.url + order.get_absolute_url())
    expect(page.locator("#order-status")).to_have_text(
        "Card authorised, waiting for the pharmacist"
    )
    found.extend(serious_violations(page, "authorised order"))

    assert not found, "Serious or critical accessibility violations:\n" + "\n".join(found)
