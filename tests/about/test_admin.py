"""Staff edit the pharmacy's details, licences and notices in the admin, with history."""

import pytest
from django.urls import reverse

from about.models import PharmacyIdentity, Policy, PolicyKind, StateLicence
from devtools.demo.pharmacy import IDENTITY
from tests.factories import make_catalog_staff, sign_in_staff


@pytest.fixture
def admin_client(client, db):
    """Catalog staff keep the pharmacy's details (about/migrations/0002)."""
    return sign_in_staff(client, make_catalog_staff(email="staff@example.org"))


def test_staff_fill_in_the_details_once_and_every_change_is_kept(
    admin_client, django_capture_on_commit_callbacks
):
    add = reverse("admin:about_pharmacyidentity_add")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(add, IDENTITY)
    assert response.status_code == 302, response.content.decode()
    identity = PharmacyIdentity.objects.get()
    change = reverse("admin:about_pharmacyidentity_change", args=[identity.pk])
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(change, {**IDENTITY, "phone": "(555) 010-0177"})
    assert [h.phone for h in identity.history.order_by("history_id")] == [
        IDENTITY["phone"],
        "(555) 010-0177",
    ]
    assert identity.history.latest().history_user.email == "staff@example.org"
    # One row: no second one can be added, and the footer shows the change.
    assert admin_client.get(add).status_code == 403
    assert "(555) 010-0177" in admin_client.get("/").content.decode()


def test_the_licence_list_searches_and_filters(admin_client, db):
    StateLicence.objects.create(
        state="CA", licence_number="CA-777", kind="non_resident", expires_on="2030-01-01"
    )
    url = reverse("admin:about_statelicence_changelist")
    assert "CA-777" in admin_client.get(url, {"q": "CA-777"}).content.decode()
    filtered = admin_client.get(url, {"state": "NY"}).content.decode()
    assert "TEST-NY-1" in filtered and "CA-777" not in filtered


def test_a_changed_notice_keeps_its_history_and_shows_its_new_date(
    admin_client, db, django_capture_on_commit_callbacks
):
    policy = Policy.objects.create(kind=PolicyKind.RETURNS, title="Returns", body="Old words.")
    url = reverse("admin:about_policy_change", args=[policy.pk])
    data = {"kind": PolicyKind.RETURNS, "title": "Returns of medicines", "body": "New words."}
    assert admin_client.post(url, data).status_code == 302
    assert [h.body for h in policy.history.order_by("history_id")] == ["Old words.", "New words."]
    assert "New words." in admin_client.get(policy.get_absolute_url()).content.decode()


def test_the_demo_details_are_the_first_version(demo_pharmacy):
    from devtools.demo.pharmacy import DEMO_REASON

    for row in [demo_pharmacy, *StateLicence.objects.all(), *Policy.objects.all()]:
        assert list(row.history.values_list("history_change_reason", flat=True)) == [DEMO_REASON]


def test_a_change_to_the_details_keeps_its_reason_and_an_old_version_can_be_restored(
    admin_client, demo_pharmacy, django_capture_on_commit_callbacks
):
    change = reverse("admin:about_pharmacyidentity_change", args=[demo_pharmacy.pk])
    form = {**IDENTITY, "phone": "(555) 010-0177", "change_reason": "New phone line"}
    with django_capture_on_commit_callbacks(execute=True):
        assert admin_client.post(change, form).status_code == 302
    history = reverse("admin:about_pharmacyidentity_history", args=[demo_pharmacy.pk])
    html = admin_client.get(history).content.decode()
    assert "New phone line" in html
    assert "(555) 010-0142" in html and "(555) 010-0177" in html

    first = demo_pharmacy.history.earliest()
    restore = reverse(
        "admin:about_pharmacyidentity_restore_version", args=[demo_pharmacy.pk, first.pk]
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert admin_client.post(restore).status_code == 302

    assert PharmacyIdentity.objects.get().phone == IDENTITY["phone"]
    assert demo_pharmacy.history.latest().history_change_reason.startswith("Restored version of")
    assert IDENTITY["phone"] in admin_client.get("/").content.decode()
