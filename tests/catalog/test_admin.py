"""Catalog staff edit prices and monograph text in the admin; the page follows at once."""

from decimal import Decimal

import pytest
from django.urls import reverse

from catalog.models import MonographSection, Package
from tests.factories import make_user


@pytest.fixture
def first_package(baclofen):
    return (
        Package.objects.filter(formulation__drug=baclofen)
        .order_by("formulation__position", "pill_count")
        .first()
    )


def package_form(first_package, **changes):
    data = {
        "formulation": first_package.formulation_id,
        "pill_count": first_package.pill_count,
        "price": first_package.price,
        "active": "on",
    }
    data.update(changes)
    return data


def test_staff_price_edit_shows_on_the_cached_drug_page_at_once(
    staff_client, baclofen, first_package, django_capture_on_commit_callbacks
):
    page = baclofen.get_absolute_url()
    assert "$46.53" in staff_client.get(page).content.decode()  # now cached

    url = reverse("admin:catalog_package_change", args=[first_package.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(url, package_form(first_package, price="39.99"))
    assert response.status_code == 302

    html = staff_client.get(page).content.decode()
    assert "$39.99" in html
    assert "$4.00" in html
    assert "$46.53" not in html


def test_staff_section_edit_shows_on_the_cached_drug_page_at_once(
    staff_client, baclofen, django_capture_on_commit_callbacks
):
    page = baclofen.get_absolute_url()
    staff_client.get(page)
    section = baclofen.sections.get(slug="pharmacological-action")
    url = reverse("admin:catalog_monographsection_change", args=[section.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            url,
            {
                "drug": baclofen.pk,
                "position": section.position,
                "slug": section.slug,
                "heading": "How baclofen works",
                "body": "Rewritten by the pharmacy team.",
                "callout": "",
            },
        )
    assert response.status_code == 302
    html = staff_client.get(page).content.decode()
    assert "How baclofen works" in html
    assert "Rewritten by the pharmacy team." in html


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"price": "-5.00"}, "greater than or equal to 0.01"),
        ({"price": "12.345"}, "no more than 2 decimal places"),
    ],
)
def test_bad_values_typed_by_staff_are_refused_and_change_nothing(
    staff_client, first_package, changes, error
):
    url = reverse("admin:catalog_package_change", args=[first_package.pk])
    response = staff_client.post(url, package_form(first_package, **changes))
    assert response.status_code == 200
    assert error in response.content.decode()
    first_package.refresh_from_db()
    assert (first_package.price, first_package.stock) == (Decimal("46.53"), 100)


def test_every_change_is_kept_with_its_author(staff_client, catalog_staff, first_package):
    url = reverse("admin:catalog_package_change", args=[first_package.pk])
    staff_client.post(url, package_form(first_package, price="40.00"))
    staff_client.post(url, package_form(first_package, price="41.00"))
    latest = first_package.history.first()
    assert latest.history_user == catalog_staff
    assert latest.price == Decimal("41.00")
    assert latest.prev_record.price == Decimal("40.00")
    assert latest.prev_record.history_user == catalog_staff
    history = staff_client.get(reverse("admin:catalog_package_history", args=[first_package.pk]))
    assert history.status_code == 200
    assert catalog_staff.email in history.content.decode()


def test_section_history_is_reviewable(staff_client, catalog_staff, baclofen):
    section = MonographSection.objects.get(drug=baclofen, slug="contraindications")
    section.body = "Changed."
    section._change_reason = "test"
    section.save()
    response = staff_client.get(
        reverse("admin:catalog_monographsection_history", args=[section.pk])
    )
    assert response.status_code == 200


def test_catalog_staff_cannot_manage_users(staff_client):
    assert staff_client.get(reverse("admin:accounts_user_changelist")).status_code == 403


def test_catalog_staff_cannot_delete_drugs(staff_client, baclofen):
    url = reverse("admin:catalog_drug_delete", args=[baclofen.pk])
    assert staff_client.get(url).status_code == 403


def test_a_non_staff_user_cannot_reach_the_admin(client, db):
    client.force_login(make_user())
    response = client.get(reverse("admin:catalog_package_changelist"))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


def test_anonymous_visitor_is_sent_to_login(client, db):
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302


def test_admin_lists_have_search_and_filters(staff_client, baclofen):
    response = staff_client.get(reverse("admin:catalog_package_changelist"), {"q": "baclofen"})
    html = response.content.decode()
    assert "Out of stock" in html  # the stock filter
    assert "Baclofen 10 mg tablet, 10 pills" in html


def test_a_formulation_lists_its_packs_with_prices_and_links_to_add_one(staff_client, baclofen):
    formulation = baclofen.formulations.get(strength_label="10 mg")
    html = staff_client.get(
        reverse("admin:catalog_formulation_change", args=[formulation.pk])
    ).content.decode()
    for package in formulation.packages.all():
        assert reverse("admin:catalog_package_change", args=[package.pk]) in html
        assert str(package.price) in html and str(package.price_per_pill) in html
    assert f"{reverse('admin:catalog_package_add')}?formulation={formulation.pk}" in html
    listing = staff_client.get(reverse("admin:catalog_formulation_changelist")).content.decode()
    assert "10, 30, 90" in listing
