"""What a visitor sees: the drug list, search, the monograph page and the 404 page."""

import pytest
from django.test import Client
from django.urls import reverse

from catalog.models import Drug, Package
from tests.catalog.test_seed import SEED_HEADINGS
from tests.factories import make_drug


@pytest.fixture
def drug_url(baclofen):
    return reverse("catalog:drug_detail", kwargs={"slug": baclofen.slug})


def test_drug_page_shows_every_section_with_a_table_of_contents(client, drug_url):
    html = client.get(drug_url).content.decode()
    for section_heading in SEED_HEADINGS:
        assert section_heading.replace("’", "&#x27;") in html or section_heading in html
    assert html.count('href="#dosage-and-administration"') >= 1
    assert 'id="dosage-and-administration"' in html
    assert html.count("<h1>") == 1


def test_drug_page_prices_every_pack_with_per_pill_price_and_stock(client, drug_url):
    html = client.get(drug_url).content.decode()
    for label, price, per_pill in (
        ("10 mg tablets, 10 pills", "$46.53", "$4.65"),
        ("10 mg tablets, 30 pills", "$124.20", "$4.14"),
        ("10 mg tablets, 90 pills", "$334.80", "$3.72"),
        ("20 mg tablets, 10 pills", "$41.71", "$4.17"),
        ("20 mg tablets, 30 pills", "$111.30", "$3.71"),
        ("20 mg tablets, 90 pills", "$299.70", "$3.33"),
    ):
        row = html[html.index(label) : html.index("</tr>", html.index(label))]
        assert price in row and per_pill in row
    assert html.count("In stock") == 6


def test_drug_page_asks_for_any_number_of_packages(client, drug_url):
    html = client.get(drug_url).content.decode()
    assert '<input type="number" name="quantity"' in html
    assert "<select" not in html[html.index("Packages and prices") :]


def test_out_of_stock_and_inactive_packages_are_shown_as_such(client, drug_url, baclofen):
    packages = list(Package.objects.filter(formulation__drug=baclofen).order_by("price"))
    packages[0].stock = 0
    packages[0].save()
    packages[1].active = False
    packages[1].save()
    html = client.get(drug_url).content.decode()
    assert "Out of stock" in html
    assert "$41.71" in html
    assert "$46.53" not in html


def test_dosing_table_is_a_real_table_with_headers(client, drug_url):
    html = client.get(drug_url).content.decode()
    assert '<th scope="col">Maximum recommended</th>' in html
    assert '<th scope="row">Adults (oral)</th>' in html
    assert "80 mg/day (20 mg four times daily)" in html


def test_prescription_notice_and_safety_callouts_are_prominent(client, drug_url):
    html = client.get(drug_url).content.decode()
    assert "Prescription required" in html
    safety = html[html.index("Important safety information") : html.index("Packages and prices")]
    assert "never be stopped suddenly" in safety
    assert "Alcohol should be avoided" in safety
    assert "consult your doctor" in safety


def test_intrathecal_form_is_described_but_never_priced(client, drug_url):
    html = client.get(drug_url).content.decode()
    prices = html[html.index("Packages and prices") : html.index("On this page")]
    assert "Intrathecal baclofen (ITB)" in html
    assert "ntrathecal" not in prices


def test_unknown_drug_gets_the_sites_404_page(client, db):
    response = client.get("/medicines/no-such-drug/")
    assert response.status_code == 404
    assert "We couldn’t find that page" in response.content.decode()


def test_unpublished_drug_is_not_found(client, baclofen, drug_url):
    Drug.objects.filter(pk=baclofen.pk).update(is_published=False)
    assert client.get(drug_url).status_code == 404


def test_drug_page_needs_at_most_five_queries_on_a_cold_cache(
    client, drug_url, django_assert_max_num_queries
):
    with django_assert_max_num_queries(5):
        assert client.get(drug_url).status_code == 200


def test_drug_page_needs_no_query_once_cached(client, drug_url, django_assert_num_queries):
    client.get(drug_url)
    with django_assert_num_queries(0):
        assert "$46.53" in client.get(drug_url).content.decode()


def test_home_lists_drugs_with_their_lowest_price(client, baclofen):
    html = client.get("/").content.decode()
    assert baclofen.get_absolute_url() in html
    assert "From $41.71" in html


@pytest.mark.parametrize("query", ["baclo", "BACLOFEN", "muscle relaxant"])
def test_search_finds_baclofen(client, baclofen, query):
    response = client.get("/", {"q": query})
    assert baclofen.get_absolute_url() in response.content.decode()


def test_search_without_match_says_so_and_offers_the_full_list(client, baclofen):
    html = client.get("/", {"q": "zzzz"}).content.decode()
    assert "No medicine matches “zzzz”" in html
    assert baclofen.get_absolute_url() not in html


@pytest.mark.parametrize("query", ["x" * 101, "bac\x00lofen"])
def test_malformed_search_gets_a_clear_message(client, baclofen, query):
    response = client.get("/", {"q": query})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'aria-invalid="true"' in html
    assert "shorten your search" in html or "Null characters are not allowed" in html


def test_search_markup_is_escaped(client, db):
    html = client.get("/", {"q": "<script>alert(1)</script>"}).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html


def test_drug_list_is_paginated(client, db):
    for _ in range(13):
        make_drug()
    first = client.get("/").content.decode()
    assert "Page 1 of 2" in first
    assert "Page 2 of 2" in client.get("/", {"page": 2}).content.decode()


def test_cached_page_carries_each_visitors_own_header(staff_client, drug_url):
    client = Client()
    anonymous = client.get(drug_url).content.decode()  # cached for everybody
    signed_in = staff_client.get(drug_url).content.decode()
    assert "Sign in" in anonymous
    assert "Sign out" not in anonymous
    assert "Sign out" in signed_in
    assert "Sign out" not in client.get(drug_url).content.decode()


def test_drug_page_for_a_signed_in_patient_needs_at_most_two_queries(
    client, drug_url, patient_user, django_assert_max_num_queries
):
    client.force_login(patient_user)
    client.get(drug_url)  # the shared page is now cached, and the user copied
    # the session and the user without Redis; none with it (accounts/user_cache.py)
    with django_assert_max_num_queries(2):
        html = client.get(drug_url).content.decode()
    assert "Sign out" in html
    assert "$46.53" in html


def test_drug_list_and_searches_are_cached_and_follow_every_edit(
    client, baclofen, django_assert_num_queries, django_capture_on_commit_callbacks
):
    assert "From $41.71" in client.get("/").content.decode()
    client.get("/", {"q": "baclo"})
    with django_assert_num_queries(0):
        assert "From $41.71" in client.get("/").content.decode()
        assert baclofen.get_absolute_url() in client.get("/", {"q": "baclo"}).content.decode()
    package = Package.objects.filter(formulation__drug=baclofen).order_by("price").first()
    package.price = "30.00"
    with django_capture_on_commit_callbacks(execute=True):
        package.save()
    assert "From $30.00" in client.get("/").content.decode()
    assert "From $30.00" in client.get("/", {"q": "baclo"}).content.decode()


def test_the_stop_suddenly_callout_is_the_drugs_own_field(
    client, drug_url, baclofen, django_capture_on_commit_callbacks
):
    html = client.get(drug_url).content.decode()
    callout = html[
        html.index('id="stop-suddenly"') : html.index("</li>", html.index('id="stop-suddenly"'))
    ]
    assert "baclofen must never be stopped suddenly" in callout
    assert 'href="#dosage-and-administration"' in callout
    baclofen.must_not_stop_suddenly = False
    with django_capture_on_commit_callbacks(execute=True):
        baclofen.save()
    html = client.get(drug_url).content.decode()
    assert 'id="stop-suddenly"' not in html
    assert "never be stopped suddenly." in html  # still in its section, not called out


def test_a_drug_flagged_by_staff_gets_the_callout(
    client, drug_url, baclofen, django_capture_on_commit_callbacks
):
    baclofen.stop_suddenly_warning = "Taper over two weeks; never stop at once."
    with django_capture_on_commit_callbacks(execute=True):
        baclofen.save()
    html = client.get(drug_url).content.decode()
    assert "Taper over two weeks; never stop at once." in html
