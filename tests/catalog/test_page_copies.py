"""Each process keeps its own copy of the cached catalog pages and checks a version in
the shared cache at most every CATALOG_PAGE_RECHECK_SECONDS: an edit made in another
process shows once this one has checked, without any wait in the process that made it.

"Another process" is played by what its edit leaves in the shared cache (the row
changed, the pages dropped, the version moved) while this process's copies stay.
"""

import pytest
from django.core.cache import cache
from django.urls import reverse

from catalog import caching
from catalog.models import Package


@pytest.fixture
def drug_url(baclofen):
    return reverse("catalog:drug_detail", kwargs={"slug": baclofen.slug})


def edit_price_in_another_process(package: Package, price: str) -> None:
    Package.objects.filter(pk=package.pk).update(price=price)
    key = caching.drug_page_key(package.formulation.drug.slug)
    caching._drop_shared([key, key + caching.ANONYMOUS_SUFFIX], lists=True)


@pytest.mark.parametrize("signed_in", [False, True])
def test_a_price_edit_in_another_process_shows_on_the_next_visit(
    client, settings, package, drug_url, patient_user, signed_in
):
    settings.CATALOG_PAGE_RECHECK_SECONDS = 0
    if signed_in:
        client.force_login(patient_user)
    assert "$46.53" in client.get(drug_url).content.decode()
    edit_price_in_another_process(package, "39.99")
    html = client.get(drug_url).content.decode()
    assert "$39.99" in html
    assert "$46.53" not in html


def test_a_price_edit_in_another_process_shows_on_the_drug_list(client, settings, package):
    settings.CATALOG_PAGE_RECHECK_SECONDS = 0
    assert "From $41.71" in client.get("/").content.decode()
    Package.objects.filter(pk__in=Package.objects.filter(price="41.71")).update(price="30.00")
    caching._drop_shared([], lists=True)
    assert "From $30.00" in client.get("/").content.decode()


def test_the_process_serves_its_own_copy_until_it_checks_the_version_again(
    client, settings, package, drug_url, django_assert_num_queries
):
    settings.CATALOG_PAGE_RECHECK_SECONDS = 3600
    client.get(drug_url)
    cache.delete(caching.drug_page_key("baclofen") + caching.ANONYMOUS_SUFFIX)
    with django_assert_num_queries(0):
        assert "$46.53" in client.get(drug_url).content.decode()  # this process's copy
    edit_price_in_another_process(package, "39.99")
    assert "$46.53" in client.get(drug_url).content.decode()  # not checked again yet
    settings.CATALOG_PAGE_RECHECK_SECONDS = 0  # the time to check has come
    assert "$39.99" in client.get(drug_url).content.decode()


def test_an_edit_in_this_process_shows_at_once_whatever_the_recheck_time(
    client, settings, package, drug_url, django_capture_on_commit_callbacks
):
    settings.CATALOG_PAGE_RECHECK_SECONDS = 3600
    client.get(drug_url)
    package.price = "39.99"
    with django_capture_on_commit_callbacks(execute=True):
        package.save()
    assert "$39.99" in client.get(drug_url).content.decode()


def test_an_emptied_shared_cache_is_never_taken_for_the_version_a_copy_was_made_in(
    client, settings, package, drug_url
):
    """Redis restarted empty: the copies made before are not trusted any more."""
    settings.CATALOG_PAGE_RECHECK_SECONDS = 0
    client.get(drug_url)
    Package.objects.filter(pk=package.pk).update(price="39.99")
    cache.clear()
    assert "$39.99" in client.get(drug_url).content.decode()


def test_a_process_keeps_a_bounded_number_of_copies(client, db):
    for n in range(caching.LOCAL_COPIES_MAX + 20):
        client.get("/", {"q": f"search {n}"})
    assert len(caching._local.pages) <= caching.LOCAL_COPIES_MAX


def test_the_second_anonymous_visit_gets_the_same_page_and_headers_without_the_view(
    client, drug_url, monkeypatch
):
    first = client.get(drug_url)
    monkeypatch.setattr(caching, "cached_page", None)  # the view would fail now
    second = client.get(drug_url)
    assert second.status_code == 200
    assert second.content == first.content
    assert dict(second.headers) == dict(first.headers)
    for header in ("Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options"):
        assert second.has_header(header)
    assert not second.cookies


def test_the_processs_copy_still_refuses_an_unknown_host(client, drug_url):
    client.get(drug_url)
    assert client.get(drug_url, HTTP_HOST="evil.example").status_code == 400


def test_a_visitor_with_a_session_gets_their_own_header_not_the_anonymous_copy(
    client, drug_url, patient_user
):
    assert "Sign in" in client.get(drug_url).content.decode()
    client.force_login(patient_user)
    html = client.get(drug_url).content.decode()
    assert "Sign out" in html


def test_only_a_get_is_answered_from_the_copy(client, drug_url):
    client.get(drug_url)
    assert client.post(drug_url).status_code == 405


def test_pages_the_process_has_no_copy_of_never_ask_the_cache(client, db, monkeypatch):
    """/healthz and every non-catalog page answer while Redis is down, as before."""

    def unreachable(*args, **kwargs):
        raise ConnectionError("the cache is down")

    monkeypatch.setattr(caching.cache, "get_many", unreachable)
    assert client.get("/healthz").status_code == 200
