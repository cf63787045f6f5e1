"""No page with patient data may be kept by a shared cache or the browser's cache.

The hole: /account/, the profile and its JSON export, prescriptions and orders were
sent without Cache-Control, so a proxy or the next person at a shared computer could
read them back.
"""

import pytest
from django.test import Client
from django.urls import reverse

from prescriptions.models import MedicalProfile
from tests.factories import sign_in

PRIVATE = {"private", "no-store"}


def directives(response) -> set[str]:
    return {part.strip() for part in response.get("Cache-Control", "").split(",") if part.strip()}


@pytest.fixture
def signed_in(people_and_objects):
    users, objects = people_and_objects
    MedicalProfile.objects.get_or_create(user=users["patient_a"])
    patient = sign_in(Client(), users["patient_a"])
    session = patient.session
    session["cart"] = {str(objects["package"]): 1}
    session.save()
    return patient, sign_in(Client(), users["pharmacist"]), objects


def patient_urls(objects) -> list[str]:
    return [
        reverse("accounts:overview"),
        reverse("prescriptions:profile"),
        reverse("prescriptions:profile_export"),
        reverse("prescriptions:list"),
        reverse("prescriptions:new"),
        reverse("prescriptions:detail", kwargs=objects["prescription"]),
        reverse("prescriptions:document", kwargs=objects["document"]),
        reverse("orders:list"),
        reverse("orders:detail", kwargs=objects["order"]),
        reverse("orders:cart"),
        reverse("orders:checkout"),
        reverse("account_email"),
        reverse("mfa_index"),
    ]


def staff_urls(objects) -> list[str]:
    prescription = objects["prescription"]["pk"]
    return [
        reverse("admin:index"),
        reverse("admin:prescriptions_prescription_changelist"),
        reverse("admin:prescriptions_prescription_change", args=[prescription]),
        reverse("admin:prescriptions_medicalprofile_changelist"),
        reverse("admin:orders_order_changelist"),
        reverse("prescriptions:document", kwargs=objects["document"]),
    ]


def test_every_page_with_patient_data_says_private_no_store(signed_in):
    patient, pharmacist, objects = signed_in
    wrong = []
    for client, urls in ((patient, patient_urls(objects)), (pharmacist, staff_urls(objects))):
        for url in urls:
            response = client.get(url)
            if response.status_code != 200 or not directives(response) >= PRIVATE:
                wrong.append(f"{url}: {response.status_code} {response.get('Cache-Control')}")
    assert not wrong, "\n".join(wrong)


def test_a_signed_in_visitors_catalog_page_is_private_too(signed_in, baclofen):
    """It shows their name, their cart and a CSRF token of theirs."""
    patient, _, _ = signed_in
    assert directives(patient.get(baclofen.get_absolute_url())) >= PRIVATE


def test_an_anonymous_cart_is_private(baclofen, people_and_objects):
    _, objects = people_and_objects
    visitor = Client()
    added = visitor.post(
        reverse("orders:cart_add"),
        {"package": objects["package"], "quantity": 1},
        HTTP_SEC_FETCH_SITE="same-origin",
    )
    assert directives(added) >= PRIVATE
    assert directives(visitor.get(reverse("orders:cart"))) >= PRIVATE


def test_catalog_pages_for_visitors_without_a_session_stay_cacheable(baclofen):
    visitor = Client()
    for url in (reverse("catalog:drug_list"), baclofen.get_absolute_url()):
        response = visitor.get(url)
        assert response.status_code == 200
        assert "Cache-Control" not in response, url


def test_a_view_that_sets_its_own_cache_control_keeps_it(signed_in):
    """The admin's never_cache says more than private, no-store; it is not overwritten."""
    _, pharmacist, _ = signed_in
    assert "must-revalidate" in directives(pharmacist.get(reverse("admin:index")))
