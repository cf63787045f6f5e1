"""The footer of every page names the pharmacy, its phone and its licences, and fits a
360 px phone; its contact link leads to the contact page."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from about.models import StateLicence
from devtools.demo.pharmacy import ensure_demo_pharmacy
from tests.e2e.conftest import Stack

PHONE_360 = {"width": 360, "height": 780}


def test_the_footer_shows_contact_and_licence_lines_on_a_phone(page: Page, stack: Stack):
    StateLicence.objects.all().delete()  # the demo's licences instead of the suite's
    ensure_demo_pharmacy()
    page.set_viewport_size(PHONE_360)
    for path in ["/", "/medicines/baclofen/"]:
        page.goto(stack.url + path)
        footer = page.locator("footer.site-footer")
        expect(footer).to_contain_text("Northside Demo Pharmacy LLC")
        expect(footer).to_contain_text("(555) 010-0142")
        expect(footer).to_contain_text("New York (pharmacy licence DEMO-NY-031415)")
        expect(footer.get_by_role("link", name="Notice of Privacy Practices")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.locator("footer.site-footer").get_by_role("link", name="Contact the pharmacy").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Contact the pharmacy")
    expect(page.get_by_text("Monday to Friday: 8 am to 8 pm")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
