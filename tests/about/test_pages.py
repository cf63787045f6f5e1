"""The contact page, the notices and the footer of every page."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone

from about.models import PharmacyIdentity, Policy, PolicyKind, StateLicence
from about.selectors import FACTS_KEY, facts, forget_facts


def test_the_footer_names_the_pharmacy_its_address_phone_and_licences(client, demo_pharmacy):
    html = client.get("/").content.decode()
    footer = html[html.index('<footer class="site-footer">') :]
    assert "Northside Demo Pharmacy LLC" in footer
    assert "100 Example Avenue, Suite 2, Albany, NY 12207" in footer
    assert "(555) 010-0142" in footer
    assert "New York (pharmacy licence DEMO-NY-031415)" in footer
    assert "New Jersey (non-resident pharmacy licence DEMO-NJ-271828)" in footer
    assert "Pharmacist in charge: Dana Rivera, PharmD (demo)" in footer
    assert 'href="/contact/"' in footer
    for kind in PolicyKind:
        assert f'href="/policies/{kind.value}/"' in footer


def test_the_footer_says_the_details_are_not_set_up_yet_without_them(client, db):
    html = client.get("/").content.decode()
    assert "address, phone number and licences are not set up yet" in html
    assert 'href="/contact/"' in html


def test_the_contact_page_shows_everything_a_patient_looks_for(client, demo_pharmacy):
    html = client.get("/contact/").content.decode()
    for text in [
        "Northside Pharmacy (demo)",
        "Northside Demo Pharmacy LLC",
        "100 Example Avenue, Suite 2",
        "Albany, NY 12207",
        'href="tel:(555)010-0142"',
        "care@northside-pharmacy.example",
        "Monday to Friday: 8 am to 8 pm",
        "Sunday and holidays: closed",
        "Pharmacist in charge: Dana Rivera, PharmD (demo) (licence NY-RPH-000000 (demo))",
        "New York: Pharmacy licence DEMO-NY-031415, valid until",
        "Massachusetts: Non-resident pharmacy licence DEMO-MA-173205",
        "Accreditation",
        "How to reach a pharmacist",
        "call the pharmacy and ask for the pharmacist",
    ]:
        assert text in html, text


def test_an_expired_licence_is_not_shown_as_a_state_the_pharmacy_serves(client, demo_pharmacy):
    StateLicence.objects.filter(state="NJ").update(
        expires_on=timezone.localdate() - timedelta(days=1)
    )
    forget_facts()
    html = client.get("/contact/").content.decode()
    assert "New Jersey" not in html
    assert "New York: Pharmacy licence" in html


def test_the_contact_page_without_details_says_they_are_not_set_up_yet(client, db):
    response = client.get("/contact/")
    assert response.status_code == 200
    assert "not set up yet" in response.content.decode()


def test_a_policy_page_shows_its_paragraphs_and_the_date_it_last_changed(client, demo_pharmacy):
    policy = Policy.objects.get(kind=PolicyKind.PRIVACY)
    response = client.get(policy.get_absolute_url())
    html = response.content.decode()
    assert response.status_code == 200
    assert '<h1 id="policy-h">Notice of Privacy Practices</h1>' in html
    assert "<p>This notice describes how medical information about you" in html
    assert html.count("<p>") >= 4  # one per paragraph of the body
    assert f'Last changed on <time datetime="{timezone.localdate():%Y-%m-%d}">' in html


def test_a_notice_not_written_yet_says_so_and_a_made_up_one_is_not_found(client, db):
    response = client.get("/policies/returns/")
    assert response.status_code == 404
    assert "not published yet" in response.content.decode()
    assert client.get("/policies/anything-else/").status_code == 404


def test_saving_the_details_changes_the_footer_of_cached_catalog_pages(
    client, demo_pharmacy, baclofen, django_capture_on_commit_callbacks
):
    url = baclofen.get_absolute_url()
    assert "(555) 010-0142" in client.get(url).content.decode()
    assert "(555) 010-0142" in client.get("/").content.decode()
    demo_pharmacy.phone = "(555) 010-0199"
    with django_capture_on_commit_callbacks(execute=True):
        demo_pharmacy.save()
    assert "(555) 010-0199" in client.get(url).content.decode()
    assert "(555) 010-0199" in client.get("/").content.decode()
    assert "(555) 010-0199" in client.get("/contact/").content.decode()


def test_the_footer_costs_two_queries_once_then_at_most_one_cache_get_per_page(
    client, demo_pharmacy, django_assert_num_queries, monkeypatch, settings
):
    forget_facts()
    with django_assert_num_queries(2):  # the details, the licences
        facts()
    gets = []
    real_get = cache.get
    monkeypatch.setattr(
        cache, "get", lambda key, *a, **kw: gets.append(key) or real_get(key, *a, **kw)
    )
    settings.FACTS_RECHECK_SECONDS = 3600
    with django_assert_num_queries(1):  # the notice about reaching a pharmacist
        client.get("/contact/")
    assert gets.count(FACTS_KEY) == 0  # the process's copy
    settings.FACTS_RECHECK_SECONDS = 0
    with django_assert_num_queries(1):
        client.get("/contact/")
    assert gets.count(FACTS_KEY) == 1


def test_details_changed_by_another_process_show_once_this_one_rechecks(
    client, demo_pharmacy, settings
):
    settings.FACTS_RECHECK_SECONDS = 3600
    assert "(555) 010-0142" in client.get("/contact/").content.decode()
    # Another process saves a new number: its signal drops the shared copy, not this one.
    type(demo_pharmacy).objects.filter(pk=demo_pharmacy.pk).update(phone="(555) 010-0199")
    cache.delete(FACTS_KEY)
    assert "(555) 010-0142" in client.get("/contact/").content.decode()  # not checked yet
    settings.FACTS_RECHECK_SECONDS = 0.000001  # the time to check has come
    assert "(555) 010-0199" in client.get("/contact/").content.decode()


def test_there_is_only_ever_one_row_of_details(demo_pharmacy):
    with pytest.raises(IntegrityError), transaction.atomic():
        PharmacyIdentity.objects.create(
            **{
                field.name: getattr(demo_pharmacy, field.name)
                for field in PharmacyIdentity._meta.concrete_fields
                if field.name not in {"id", "updated_at"}
            }
        )
