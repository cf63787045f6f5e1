"""Ordering before the prescription exists, in a browser, on the production stack.

A new patient tells checkout that their telemedicine service will send the
prescription and pays on the Stripe stand-in's page, which only authorises the card.
The partner then sends the prescription over the signed API; it joins the waiting
order, a pharmacist verifies it in the admin, the worker captures the payment and the
order is dispatched.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request

from playwright.sync_api import Page, expect

from orders.models import CaptureMethod, Order, OrderStatus
from prescriptions.intake import PARTNER_HEADER, SIGNATURE_HEADER, sign
from prescriptions.models import MedicalProfile, Prescription
from tests.dispensing.factories import release
from tests.e2e.conftest import (
    PACKAGE_20_MG,
    PHONE,
    SLOW_TIMEOUT_MS,
    Stack,
    add_to_cart,
    admin_sign_in,
    labelled,
    latest_email,
    shot,
    sign_in,
)
from tests.e2e.test_journey_waiting import AUTHORISED, NO_PROXY, new_patient, reload_until
from tests.factories import make_partner, make_pharmacist, valid_npi


def partner_sends(stack: Stack, partner, patient) -> int:
    """The partner's system posts the prescription, signed, as its integration does."""
    born = MedicalProfile.objects.get(user=patient).date_of_birth
    body = json.dumps(
        {
            "prescription_id": f"TM-{patient.pk}",
            "patient": {
                "email": patient.email,
                "first_name": patient.first_name,
                "last_name": patient.last_name,
                "date_of_birth": f"{born:%Y-%m-%d}",
            },
            "prescriber": {"name": "Dr. Grace Hopper", "npi": valid_npi(), "state_license": "NY-1"},
            "medication": {"drug": "baclofen", "form": "tablet", "strength": "20 mg"},
            "directions": {
                "text": "1 tablet three times a day",
                "units_per_dose": 1,
                "doses_per_day": 3,
            },
            "quantity": 90,
            "refills": 0,
            "date_written": time.strftime("%Y-%m-%d"),
        }
    ).encode()
    request = urllib.request.Request(  # noqa: S310 (http to the local stack)
        f"{stack.url}/api/telemedicine/prescriptions/",
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            PARTNER_HEADER: partner.slug,
            SIGNATURE_HEADER: sign(secret=partner.secret, body=body, timestamp=int(time.time())),
        },
    )
    with NO_PROXY.open(request, timeout=20) as response:
        assert response.status == 201
        return json.load(response)["id"]


def test_the_telemedicine_prescription_sent_after_checkout_is_charged_once_verified(
    page: Page, new_page, stack: Stack
):
    patient = new_patient()
    partner = make_partner(name="Acme Telehealth")
    sign_in(page, stack, patient)
    add_to_cart(page, stack, PACKAGE_20_MG)
    page.get_by_role("link", name="Continue to checkout").click()
    cover = page.get_by_role("group", name=f"Prescription for Baclofen {PACKAGE_20_MG}")
    cover.get_by_label("My prescriber or a telemedicine service will send it").check()
    labelled(page, "Address").fill("42 Harbor Road")
    page.get_by_label("City").fill("Albany")
    page.get_by_label("State").select_option("NY")
    page.get_by_label("ZIP code").fill("12207")
    page.get_by_role("button", name="Place order and pay").click()
    expect(page).to_have_url(re.compile(r"^http://127\.0\.0\.1:\d+/pay/cs_"))
    page.get_by_role("button", name=re.compile(r"^Pay \$")).click()
    expect(page.locator("#order-status")).to_have_text(AUTHORISED, timeout=SLOW_TIMEOUT_MS)
    expect(page.locator("#awaited-prescription")).to_contain_text(
        "waiting for your prescriber or telemedicine service"
    )
    page.set_viewport_size(PHONE)
    shot(page, "24-order-awaits-prescription-phone")
    order = Order.objects.get(patient=patient)
    assert order.capture_method == CaptureMethod.MANUAL
    assert order.lines.get().prescription is None

    prescription_id = partner_sends(stack, partner, patient)
    stack.worker.wait_idle(timeout=20)
    assert order.lines.get().prescription_id == prescription_id

    admin = new_page()
    admin_sign_in(admin, stack, make_pharmacist(first_name="Rita", last_name="Chen"))
    admin.goto(f"{stack.url}/admin/prescriptions/prescription/")
    row = admin.locator("#result_list tbody tr").first
    expect(row).to_contain_text(f"#{prescription_id}")  # the order waiting puts it first
    admin.goto(f"{stack.url}/admin/prescriptions/prescription/{prescription_id}/change/")
    decision = admin.locator(".rx-decision").filter(has_text="Verify")
    decision.get_by_role("radio", name="Verify").check()
    acknowledge = admin.get_by_label("I have reviewed every warning above")
    if acknowledge.count():
        acknowledge.check()
    decision.get_by_role("button", name="Record decision").click()
    expect(admin.locator(".messagelist")).to_contain_text(f"#{prescription_id}")
    assert Prescription.objects.get(pk=prescription_id).status == "verified"

    page.goto(stack.url + order.get_absolute_url())
    reload_until(page, "Paid")  # charged; the pharmacist's final check comes next
    release(order, capture=None)
    reload_until(page, "Dispatched")
    order.refresh_from_db()
    assert order.status == OrderStatus.DISPATCHED
    latest_email(stack, to=patient.email, subject_contains=f"Receipt for order {order.number}")
