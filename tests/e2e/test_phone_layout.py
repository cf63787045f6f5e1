"""Every patient page on a 360 px phone, a 390 px phone and a desktop, as the site serves them.

Nothing may stick out on the right: not the page (the document wider than the window,
so it scrolls sideways) and not any element inside it, scrolling boxes included, since
a table column scrolled out of sight is a column the patient never sees. axe runs on
each page at the narrowest and widest size. The paid order's pages and emails never show
a payment processor's id (pi_..., cs_..., ch_..., re_...).
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from devtools import processes
from orders import services
from orders.models import Order, OrderStatus
from prescriptions.services import profile_update
from tests.dispensing.factories import release
from tests.e2e.conftest import (
    PACKAGE_10_MG,
    PACKAGE_20_MG,
    SLOW_TIMEOUT_MS,
    Stack,
    _read_mail,
    add_to_cart,
    shot,
    sign_in,
)
from tests.e2e.test_accessibility import serious_violations
from tests.factories import make_e_prescription
from tests.orders.factories import make_patient, make_verified_prescription, place_order

SIZES = {
    "phone-360": {"width": 360, "height": 740},
    "phone-390": {"width": 390, "height": 844},
    "desktop": {"width": 1280, "height": 800},
}
AXE_AT = ("phone-360", "desktop")
PROCESSOR_ID = re.compile(r"\b(?:pi|cs|ch|re|py|pm|evt|seti|cus)_[A-Za-z0-9]{6,}")
INTENT = "pi_3PhoneLayoutTest0001"

# Visible elements whose right edge is beyond the window, scrolling boxes or not.
# Hidden ones (display none, visibility hidden, clipped to nothing like .visually-hidden)
# do not count: nobody sees them, and screen readers read them wherever they are.
STICKING_OUT_JS = """() => {
  const width = window.innerWidth;
  const unseen = e => {
    for (let node = e; node && node !== document.documentElement; node = node.parentElement) {
      const s = getComputedStyle(node);
      if (s.display === "none" || s.visibility === "hidden") return true;
      if (s.position === "absolute" && s.clip && s.clip !== "auto") return true;
    }
    return false;
  };
  const out = [...document.querySelectorAll("body *")].filter(e => {
    const r = e.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && r.right > width + 0.5 && !unseen(e);
  });
  const innermost = out.filter(e => !out.some(o => o !== e && e.contains(o)));
  return {
    scroll: document.documentElement.scrollWidth - width,
    culprits: innermost.slice(0, 6).map(e =>
      `${e.tagName.toLowerCase()}${e.className ? "." + String(e.className).replace(/ /g, ".") : ""}`
      + ` "${e.textContent.trim().replace(/\\s+/g, " ").slice(0, 40)}"`
      + ` (right edge ${Math.round(e.getBoundingClientRect().right)}px)`),
  };
}"""


def fits_everywhere(page: Page, name: str, found: list[str], *, axe: bool = True) -> None:
    """The current page at every size: nothing past the right edge; axe where asked."""
    for label, size in SIZES.items():
        page.set_viewport_size(size)
        measured = page.evaluate(STICKING_OUT_JS)
        if measured["scroll"] > 0 or measured["culprits"]:
            found.append(
                f"{name} at {label} ({page.url}): page {measured['scroll']}px too wide; "
                + "; ".join(measured["culprits"])
            )
        if label.startswith("phone-360"):
            shot(page, f"30-{name.replace(' ', '-')}-{label}")
        if axe and label in AXE_AT:
            found.extend(serious_violations(page, f"{name} at {label}"))
    page.set_viewport_size(SIZES["desktop"])


def within_phone_width(page: Page, selector: str) -> None:
    """At 360 px, the first cell of a column lies inside the window's width (a stacked
    row), not scrolled off to the right of a table wider than the phone."""
    page.set_viewport_size(SIZES["phone-360"])
    cell = page.locator(selector).first
    expect(cell).to_be_visible()
    box = cell.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= SIZES["phone-360"]["width"], (
        f"{selector} is off-screen at 360 px: {box}"
    )


def visit(page: Page, stack: Stack, path: str, heading: str | re.Pattern) -> None:
    page.goto(stack.url + path)
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)


def test_every_patient_page_fits_a_360px_phone_without_hidden_columns(
    page: Page, stack: Stack, settings
):
    settings.REFILL_TOO_EARLY_SHARE = "0"  # two orders of one drug today, as scaffolding
    patient = make_patient(first_name="Alexandrina", last_name="Featherstonehaugh-Wilberforce")
    verified = make_verified_prescription(patient=patient)
    make_e_prescription(patient=patient)  # submitted: a second row, another status
    profile_update(patient=patient, data={"allergies": "Lactose", "weight_kg": "70.0"})
    pending = place_order(patient=patient)
    dispatched = place_order(patient=patient)
    services.order_mark_paid(
        order_id=dispatched.pk, payment_intent=INTENT, note=f"Paid with Stripe ({INTENT})"
    )
    release(dispatched, capture=None)  # the pharmacist's final check queues the courier
    found: list[str] = []

    # Signed out.
    visit(page, stack, "/", "Prescription medicines, verified by our pharmacists")
    fits_everywhere(page, "home", found)
    visit(page, stack, "/?q=bac", "Prescription medicines, verified by our pharmacists")
    fits_everywhere(page, "drug list search", found, axe=False)
    visit(page, stack, "/medicines/baclofen/", "Baclofen")
    # The dosing table's last column is on screen on a phone, with its name.
    within_phone_width(page, "table.dosing tbody td[data-label='Maximum recommended']")
    fits_everywhere(page, "drug page", found)
    visit(page, stack, "/no-such-page/", re.compile(r"\S"))
    fits_everywhere(page, "error page", found)
    visit(page, stack, "/accounts/login/", "Sign In")
    fits_everywhere(page, "sign-in", found)

    # Signed in: a covered line and one that needs a prescription.
    sign_in(page, stack, patient)
    add_to_cart(page, stack, PACKAGE_10_MG)
    add_to_cart(page, stack, PACKAGE_20_MG)
    fits_everywhere(page, "cart", found)
    visit(page, stack, "/checkout/", "Checkout")
    fits_everywhere(page, "checkout", found)
    visit(page, stack, "/account/prescriptions/", "Your prescriptions")
    within_phone_width(page, "td[data-label='Units left']")
    fits_everywhere(page, "prescriptions", found)
    visit(page, stack, verified.get_absolute_url(), re.compile(r"Prescription"))
    fits_everywhere(page, "prescription", found)

    processes.wait_for(
        lambda: Order.objects.filter(pk=dispatched.pk, status=OrderStatus.DISPATCHED).exists(),
        timeout=SLOW_TIMEOUT_MS / 1000,
        interval=0.2,
        message=f"order {dispatched.number} dispatched by the worker",
    )
    visit(page, stack, "/orders/", "Your orders")
    within_phone_width(page, "td[data-label='Status']")
    fits_everywhere(page, "orders", found)
    visit(page, stack, pending.get_absolute_url(), f"Order {pending.number}")
    fits_everywhere(page, "order to pay", found)
    visit(page, stack, pending.get_absolute_url() + "?paid=1", f"Order {pending.number}")
    expect(page.locator("#order-status")).to_have_text("Confirming your payment")
    fits_everywhere(page, "order confirming", found, axe=False)
    visit(page, stack, dispatched.get_absolute_url(), f"Order {dispatched.number}")
    expect(page.locator("ol.steps li").nth(1)).to_contain_text("Paid")
    fits_everywhere(page, "order dispatched", found)
    assert not PROCESSOR_ID.search(page.content()), "the order page shows a processor id"

    for path, heading in (
        ("/account/", re.compile(r"\S")),
        ("/account/profile/", "Your medical profile"),
        ("/account/prescriptions/new/", "Upload a prescription"),
        ("/accounts/email/", re.compile(r"\S")),
        ("/accounts/password/change/", re.compile(r"\S")),
    ):
        visit(page, stack, path, heading)
        fits_everywhere(page, f"account {path.strip('/').replace('/', ' ')}", found)

    assert not found, "Pages that do not fit or fail axe:\n" + "\n".join(found)

    mails = [m for m in _read_mail(stack.mail_dir) if patient.email in m.to]
    assert mails, "the paid order sent its emails"
    leaks = [m.subject for m in mails if PROCESSOR_ID.search(m.subject + m.body)]
    assert not leaks, f"emails that show a processor id: {leaks}"
