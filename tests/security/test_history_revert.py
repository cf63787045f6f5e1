"""History pages show old versions; nobody can write an old version back through them.

django-simple-history's version page is a form: a POST saved the old version over the
record, for anyone allowed to read the history, with no re-check and no audit row.
"""

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from catalog.models import Package
from prescriptions.models import KidneyDisease, MedicalProfile, Prescription
from prescriptions.services import profile_update
from tests.factories import (
    make_e_prescription,
    make_user,
    make_user_with_verified_email,
    sign_in_staff,
)

HEALTHY = {"kidney_disease": KidneyDisease.NONE, "pregnant": False, "allergies": ""}
AT_RISK = {"kidney_disease": KidneyDisease.END_STAGE, "pregnant": True, "allergies": "Penicillin"}


@pytest.fixture
def superuser_client(db):
    from accounts.mfa import enrol_totp

    root = make_user(email="root@example.com", is_staff=True, is_superuser=True)
    enrol_totp(root)
    return sign_in_staff(Client(), root)


@pytest.fixture
def profile(db):
    patient = make_user_with_verified_email(first_name="Pat", last_name="Jordan")
    profile_update(patient=patient, data=HEALTHY)
    return profile_update(patient=patient, data=AT_RISK)


def version_url(model, obj, version) -> str:
    return reverse(f"admin:{model}_simple_history", args=[obj.pk, version.history_id])


def profile_facts(profile) -> tuple:
    profile = MedicalProfile.objects.get(pk=profile.pk)
    return profile.kidney_disease, profile.pregnant, profile.allergies


def test_a_pharmacist_cannot_revert_a_profile_to_an_older_version(pharmacist_client, profile):
    old = profile.history.earliest()
    assert old.kidney_disease == KidneyDisease.NONE
    url = version_url("prescriptions_medicalprofile", profile, old)

    response = pharmacist_client.post(url, {})

    assert response.status_code == 405
    assert profile_facts(profile) == (KidneyDisease.END_STAGE, True, "Penicillin")
    assert profile.history.count() == 2


def test_a_superuser_cannot_revert_a_profile_either(superuser_client, profile):
    url = version_url("prescriptions_medicalprofile", profile, profile.history.earliest())
    assert superuser_client.post(url, {}).status_code == 405
    assert profile_facts(profile) == (KidneyDisease.END_STAGE, True, "Penicillin")


def test_old_profile_versions_stay_readable_without_a_revert_button(pharmacist_client, profile):
    url = version_url("prescriptions_medicalprofile", profile, profile.history.earliest())
    response = pharmacist_client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert "No kidney disease" in html
    assert 'value="Revert"' not in html
    assert "Press the 'Revert' button" not in html


def test_posting_a_prescription_version_changes_nothing_and_is_no_server_error(
    pharmacist_client, baclofen
):
    prescription = make_e_prescription(patient=make_user_with_verified_email())
    old = prescription.history.earliest()
    before = Prescription.objects.filter(pk=prescription.pk).values().get()
    url = version_url("prescriptions_prescription", prescription, old)

    client = pharmacist_client
    client.raise_request_exception = False
    response = client.post(url, {"directions": "Take as many as you like", "quantity": 999})

    assert response.status_code == 405
    assert Prescription.objects.filter(pk=prescription.pk).values().get() == before
    page = client.get(url)
    assert page.status_code == 200
    assert 'value="Revert"' not in page.content.decode()


def test_catalog_staff_cannot_revert_a_package_price(staff_client, baclofen):
    package = Package.objects.filter(formulation__drug=baclofen).first()
    package.price = Decimal("99.00")
    package.save()
    old = package.history.earliest()
    url = version_url("catalog_package", package, old)

    response = staff_client.post(
        url,
        {
            "formulation": package.formulation_id,
            "pill_count": package.pill_count,
            "price": old.price,
            "stock": old.stock,
            "active": "on",
        },
    )

    assert response.status_code == 405
    package.refresh_from_db()
    assert package.price == Decimal("99.00")
    history = staff_client.get(url)
    assert history.status_code == 200
    assert 'value="Revert"' not in history.content.decode()


def test_history_lists_say_view_not_revert(staff_client, baclofen):
    package = Package.objects.filter(formulation__drug=baclofen).first()
    url = reverse("admin:catalog_package_history", args=[package.pk])
    html = staff_client.get(url).content.decode()
    assert "View history" in html
    assert "Choose a date from the list below to revert" not in html


def test_every_history_admin_is_the_read_only_one():
    from django.contrib import admin
    from simple_history.admin import SimpleHistoryAdmin

    from pharmacy.admin import HistoryAdmin

    history_admins = [a for a in admin.site._registry.values() if isinstance(a, SimpleHistoryAdmin)]
    assert history_admins
    assert all(isinstance(a, HistoryAdmin) for a in history_admins), [
        type(a).__name__ for a in history_admins if not isinstance(a, HistoryAdmin)
    ]


def restore_url(model, obj, version) -> str:
    return reverse(f"admin:{model}_restore_version", args=[obj.pk, version.history_id])


def test_restoring_a_catalog_version_is_post_only(staff_client, baclofen):
    package = Package.objects.filter(formulation__drug=baclofen).first()
    package.price = Decimal("99.00")
    package.save()
    url = restore_url("catalog_package", package, package.history.earliest())

    assert staff_client.get(url).status_code == 405
    package.refresh_from_db()
    assert package.price == Decimal("99.00")


def test_a_pharmacist_cannot_restore_a_catalog_version(pharmacist_client, baclofen):
    package = Package.objects.filter(formulation__drug=baclofen).first()
    package.price = Decimal("99.00")
    package.save()
    url = restore_url("catalog_package", package, package.history.earliest())

    assert pharmacist_client.post(url).status_code == 403
    package.refresh_from_db()
    assert package.price == Decimal("99.00")


def test_a_version_of_another_record_cannot_be_restored_onto_this_one(staff_client, baclofen):
    mine, other = Package.objects.filter(formulation__drug=baclofen)[:2]
    other.price = Decimal("1.00")
    other.save()
    url = reverse(
        "admin:catalog_package_restore_version", args=[mine.pk, other.history.latest().pk]
    )

    response = staff_client.post(url, follow=True)

    assert "does not exist for this record" in response.content.decode()
    mine.refresh_from_db()
    assert mine.price != Decimal("1.00")


def test_profiles_and_prescriptions_have_no_restore(profile):
    from django.urls import NoReverseMatch

    for model in ("prescriptions_medicalprofile", "prescriptions_prescription"):
        with pytest.raises(NoReverseMatch):
            reverse(f"admin:{model}_restore_version", args=[1, 1])
