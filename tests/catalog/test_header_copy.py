"""The header of a cached catalog page is rendered once per process for what it shows
(catalog.caching._account_nav): each visitor still sees their own name, cart count and
staff link, and a working sign-out form with a token of their own."""

import re

import pytest
from django.test import Client
from django.test.signals import template_rendered
from django.urls import reverse

from catalog import caching
from tests.factories import make_user

TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@pytest.fixture
def drug_url(baclofen):
    return reverse("catalog:drug_detail", kwargs={"slug": baclofen.slug})


def nav(html: str) -> str:
    return html[html.index('<ul class="account-nav__list">') : html.index("</ul>")]


def test_each_signed_in_visitor_gets_their_own_name_in_the_header(drug_url, db):
    for first in ("Ada", "Grace"):
        client = Client()
        client.force_login(make_user(email=f"{first.lower()}@example.com", first_name=first))
        assert f"({first}" in nav(client.get(drug_url).content.decode())


def test_a_name_change_shows_on_the_next_page(
    client, drug_url, patient_user, django_capture_on_commit_callbacks
):
    client.force_login(patient_user)
    client.get(drug_url)
    patient_user.first_name, patient_user.last_name = "Renamed", "Person"
    with django_capture_on_commit_callbacks(execute=True):  # the user's copy is dropped
        patient_user.save()
    assert "(Renamed Person)" in nav(client.get(drug_url).content.decode())


def test_the_cart_count_follows_what_is_added(client, drug_url, patient_user, package):
    client.force_login(patient_user)
    assert "badge" not in nav(client.get(drug_url).content.decode())
    client.post("/cart/add/", {"package": package.pk, "quantity": 2})
    assert ">2<span" in nav(client.get(drug_url).content.decode())


def test_staff_see_the_admin_link_and_patients_do_not(staff_client, drug_url, patient_user):
    assert ">Admin</a>" in nav(staff_client.get(drug_url).content.decode())
    patient = Client()
    patient.force_login(patient_user)
    assert ">Admin</a>" not in nav(patient.get(drug_url).content.decode())


def test_the_sign_out_form_carries_a_working_token_on_every_copy(drug_url, patient_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(patient_user)
    client.get(drug_url)
    html = client.get(drug_url).content.decode()
    assert caching.CSRF_MARK not in html
    token = TOKEN.search(nav(html)).group(1)
    response = client.post(reverse("account_logout"), {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert "Sign in" in nav(client.get(drug_url).content.decode())


def test_a_visitor_with_a_session_is_sent_back_to_the_page_they_signed_in_from(
    client, drug_url, package
):
    client.post("/cart/add/", {"package": package.pk, "quantity": 1})  # a session
    client.get("/")
    assert f"?next={drug_url}" in nav(client.get(drug_url).content.decode())


def test_flash_messages_still_show_on_a_cached_page(client, drug_url, patient_user, settings):
    client.force_login(patient_user)
    client.get(drug_url)
    client.post("/cart/add/", {"package": "999999", "quantity": 1})  # refused: a message
    html = client.get(drug_url).content.decode()
    assert 'class="message message--error"' in html
    assert 'class="message' not in client.get(drug_url).content.decode()  # shown once


def test_the_same_header_is_rendered_once_per_process(drug_url, patient_user, db):
    rendered = []

    def note(sender, template, **kwargs):
        rendered.append(template.name)

    client = Client()
    client.force_login(patient_user)
    template_rendered.connect(note)
    try:
        for _ in range(3):
            assert "Sign out" in client.get(drug_url).content.decode()
    finally:
        template_rendered.disconnect(note)
    assert rendered.count("includes/_account_nav.html") == 1
    assert "includes/_messages.html" not in rendered  # nothing to say
