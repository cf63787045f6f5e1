"""Adding to the cart proves the form was this site's own, with or without a session.

The hole: `cart_add` skipped CSRF when no session cookie came with the request, and a
cross-site form POST never carries the SameSite session cookie, so another site's
form replaced the victim's session with a new one holding the attacker's cart.
"""

import os
import re

import pytest
from django.contrib.sessions.models import Session
from django.test import Client

from catalog.models import Package

ADD = "/cart/add/"
OWN_ORIGIN = "http://testserver"


def add(client, package, **headers):
    return client.post(ADD, {"package": package.pk, "quantity": 3}, **headers)


@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_ORIGIN": "https://evil.example"},
        {"HTTP_ORIGIN": "https://evil.example", "HTTP_SEC_FETCH_SITE": "cross-site"},
        {"HTTP_SEC_FETCH_SITE": "cross-site"},
        {"HTTP_SEC_FETCH_SITE": "same-site"},  # a sibling subdomain is another site too
        {"HTTP_ORIGIN": "null"},  # a sandboxed frame or a data: page
        {"HTTP_ORIGIN": "http://testserver.evil.example"},
    ],
    ids=["origin", "origin-and-fetch-site", "fetch-site", "same-site", "null", "lookalike"],
)
def test_a_cross_site_form_starts_no_session_and_plants_no_cart(package, headers):
    client = Client(enforce_csrf_checks=True)
    response = add(client, package, **headers)
    assert response.status_code == 403
    assert "sessionid" not in response.cookies
    assert not Session.objects.exists()


def test_a_cross_site_form_leaves_the_victims_session_alone(package):
    """The victim's browser holds a cart; the forged POST arrives without the cookie."""
    victim = Client(enforce_csrf_checks=True)
    assert add(victim, package, HTTP_SEC_FETCH_SITE="same-origin").status_code == 302
    cart_before = victim.session["cart"]
    forged = Client(enforce_csrf_checks=True)  # SameSite: no cookies cross-site
    assert add(forged, package, HTTP_ORIGIN="https://evil.example").status_code == 403
    assert Session.objects.count() == 1
    assert victim.session["cart"] == cart_before


@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_ORIGIN": OWN_ORIGIN, "HTTP_SEC_FETCH_SITE": "same-origin"},  # Chromium, Firefox
        {"HTTP_ORIGIN": OWN_ORIGIN},  # a browser without Fetch Metadata
    ],
    ids=["fetch-metadata", "origin-only"],
)
def test_the_cached_drug_page_still_adds_to_the_cart_without_a_token(baclofen, package, headers):
    client = Client(enforce_csrf_checks=True)
    page = client.get(baclofen.get_absolute_url()).content.decode()
    assert 'name="csrfmiddlewaretoken" value=""' in page  # the same bytes for everyone
    response = add(client, package, **headers)
    assert response.status_code == 302
    assert response["Location"] == "/cart/"
    assert client.session["cart"] == {str(package.pk): 3}


def test_a_trusted_origin_may_add_to_the_cart(package, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://shop.example"]
    client = Client(enforce_csrf_checks=True)
    headers = {"HTTP_ORIGIN": "https://shop.example", "HTTP_SEC_FETCH_SITE": "cross-site"}
    assert add(client, package, **headers).status_code == 302


def test_without_the_browsers_word_the_token_is_required(baclofen, package):
    """A client that sends neither Origin nor Sec-Fetch-Site proves itself as every
    other form does: the CSRF cookie and its token."""
    client = Client(enforce_csrf_checks=True)
    assert add(client, package).status_code == 403
    assert not Session.objects.exists()
    client.cookies.load({"messages": "x"})  # any cookie: the page then carries a token
    page = client.get(baclofen.get_absolute_url()).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    response = client.post(
        ADD, {"package": package.pk, "quantity": 1, "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302


def test_with_a_session_the_token_is_required_even_from_this_site(package):
    client = Client(enforce_csrf_checks=True)
    assert add(client, package, HTTP_SEC_FETCH_SITE="same-origin").status_code == 302
    assert add(client, package, HTTP_SEC_FETCH_SITE="same-origin").status_code == 403


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.skipif(not os.path.exists("/usr/bin/chromium"), reason="needs Debian's chromium")
def test_in_a_real_browser_the_drug_page_adds_and_another_sites_form_does_not(
    live_server, baclofen, browser
):
    context = browser.new_context()
    page = context.new_page()
    page.goto(live_server.url + baclofen.get_absolute_url())
    page.locator("form.add-to-cart button").first.click()
    page.wait_for_url(re.compile(r"/cart/$"))
    assert page.locator("table.cart tbody tr").count() == 1
    context.close()

    context = browser.new_context()  # another visitor, on another site's page
    page = context.new_page()
    package = Package.objects.filter(formulation__drug=baclofen).first()
    page.set_content(
        f'<form method="post" action="{live_server.url}{ADD}">'
        f'<input name="package" value="{package.pk}"><input name="quantity" value="1">'
        "<button>Win a prize</button></form>"
    )
    with page.expect_response(re.compile(re.escape(ADD))) as answer:
        page.click("button")
    assert answer.value.status == 403
    assert not context.cookies(live_server.url)
    context.close()
