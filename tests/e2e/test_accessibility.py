"""axe-core on the pages a patient meets, with real content, as the site serves them."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from prescriptions.services import profile_update
from tests.e2e.conftest import PACKAGE_10_MG, Stack, add_to_cart, sign_in
from tests.orders.factories import make_patient, make_verified_prescription, place_order

BLOCKING_IMPACTS = ("serious", "critical")
NODES_SHOWN = 3

axe = Axe()


def serious_violations(page: Page, name: str) -> list[str]:
    """One line per serious or critical violation on the current page, for the failure message."""
    results = axe.run(page)
    lines = []
    for violation in results.response["violations"]:
        if violation.get("impact") not in BLOCKING_IMPACTS:
            continue
        targets = [" ".join(map(str, node["target"])) for node in violation["nodes"]]
        shown = ", ".join(targets[:NODES_SHOWN])
        more = f" (+{len(targets) - NODES_SHOWN} more)" if len(targets) > NODES_SHOWN else ""
        lines.append(
            f"{name} ({page.url}): {violation['id']} [{violation['impact']}] "
            f"{violation['help']}; nodes: {shown}{more}"
        )
    return lines


def test_patient_pages_have_no_serious_or_critical_accessibility_violations(
    page: Page, stack: Stack
):
    patient = make_patient()
    make_verified_prescription(patient=patient)
    profile_update(
        patient=patient,
        data={
            "date_of_birth": date(1980, 5, 17),
            "weight_kg": Decimal("70.0"),
            "allergies": "Lactose",
        },
    )
    order = place_order(patient=patient)
    found: list[str] = []

    def scan(name: str, path: str, heading: str) -> None:
        page.goto(stack.url + path)
        expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        found.extend(serious_violations(page, name))

    # Signed out.
    scan("home page", "/", "Prescription medicines, verified by our pharmacists")
    scan("drug page", "/medicines/baclofen/", "Baclofen")
    scan("sign-up", "/accounts/signup/", "Sign Up")

    # Signed in, with a verified prescription, a profile, a cart and an order.
    sign_in(page, stack, patient)
    scan("medical profile", "/account/profile/", "Your medical profile")
    scan("prescription upload", "/account/prescriptions/new/", "Upload a prescription")
    add_to_cart(page, stack, PACKAGE_10_MG)
    scan("cart", "/cart/", "Your cart")
    scan("checkout", "/checkout/", "Checkout")
    scan("order page", order.get_absolute_url(), f"Order {order.number}")

    assert not found, "Serious or critical accessibility violations:\n" + "\n".join(found)
