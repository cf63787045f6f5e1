"""Staff sign in with a second factor; each role reaches exactly what it needs."""

import pytest
from allauth.mfa.models import Authenticator
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from accounts.mfa import current_totp_code, totp_secret
from accounts.roles import CATALOG_STAFF, PHARMACIST
from catalog.models import Package
from prescriptions.models import MedicalProfile, Prescription
from tests.factories import (
    PASSWORD,
    make_catalog_staff,
    make_pharmacist,
    make_user_with_verified_email,
    sign_in_staff,
)

LOGIN = "/accounts/login/"


def group_permissions(name: str) -> set[str]:
    group = Group.objects.get(name=name)
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}


def test_staff_without_mfa_enrol_then_sign_in_again_with_a_code(client, db):
    staff = make_catalog_staff(mfa=False)
    client.post(LOGIN, {"login": staff.email, "password": PASSWORD})
    for url in (reverse("admin:index"), reverse("admin:catalog_package_changelist")):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"] == reverse("mfa_activate_totp")

    # Enrolling: allauth asks for the password again, then for a code from the app.
    assert client.get(reverse("mfa_activate_totp")).status_code == 302
    client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    assert client.get(reverse("mfa_activate_totp")).status_code == 200
    code = current_totp_code(client.session["mfa.totp.secret"])
    response = client.post(reverse("mfa_activate_totp"), {"code": code})
    assert totp_secret(staff)
    # The recovery codes are shown once, in the same session...
    assert response["Location"] == reverse("mfa_view_recovery_codes")
    assert client.get(reverse("mfa_view_recovery_codes")).status_code == 200

    # ...but a session opened with the password alone never reaches the admin, even
    # after typing a code to enrol: the staff member signs in again, with a code.
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert response["Location"] == f"{LOGIN}?next=%2Fadmin%2F"
    assert not client.session.get("_auth_user_id")
    response = client.post(
        f"{LOGIN}?next=%2Fadmin%2F", {"login": staff.email, "password": PASSWORD}
    )
    assert response["Location"] == reverse("mfa_authenticate")
    response = client.post(
        reverse("mfa_authenticate"), {"code": current_totp_code(totp_secret(staff))}
    )
    assert response["Location"] == reverse("admin:index")
    assert client.get(reverse("admin:index")).status_code == 200


def test_staff_sign_in_asks_for_the_authenticator_code(db):
    staff = make_pharmacist()
    client = Client()
    response = client.post(LOGIN, {"login": staff.email, "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_authenticate")
    assert not client.session.get("_auth_user_id")

    assert client.post(reverse("mfa_authenticate"), {"code": "000000"}).status_code == 200
    assert not client.session.get("_auth_user_id")

    code = current_totp_code(totp_secret(staff))
    response = client.post(reverse("mfa_authenticate"), {"code": code})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(staff.pk)
    assert client.get(reverse("admin:index")).status_code == 200


def test_admin_sign_in_goes_through_allauth(client, db):
    response = client.get(reverse("admin:login"))
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)


def test_a_patient_is_denied_the_admin_and_its_sign_in(client, db):
    client.force_login(make_user_with_verified_email())
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert client.get(reverse("admin:login")).status_code == 403
    assert client.get(reverse("admin:prescriptions_medicalprofile_changelist")).status_code == 302


@pytest.mark.django_db
def test_roles_hold_exactly_their_permissions():
    assert group_permissions(PHARMACIST) == {
        "prescriptions.view_medicalprofile",
        "prescriptions.view_prescription",
        "prescriptions.change_prescription",
        "prescriptions.verify_prescription",
        "prescriptions.view_prescriptiondocument",
        "prescriptions.view_statuschange",
        "prescriptions.view_auditevent",
        "prescriptions.view_deniedattempt",
        "prescriptions.view_partnerexchange",
        "prescriptions.view_partnerrequest",
        "prescriptions.view_renewalrequest",
        "prescriptions.view_consultationquestion",
        "prescriptions.add_consultationquestion",
        "prescriptions.change_consultationquestion",
        "prescriptions.delete_consultationquestion",
        "prescriptions.view_consultation",
        "orders.view_order",
        "orders.refund_order",
        "orders.view_paymentevent",
        "orders.view_shipment",
        "orders.view_discrepancy",
        "orders.change_discrepancy",
        # Receiving lots, the "to check" queue, the final check, what was dispensed.
        "dispensing.view_lot",
        "dispensing.add_lot",
        "dispensing.view_ordertocheck",
        "dispensing.view_finalcheck",
        "dispensing.perform_finalcheck",
        "dispensing.view_dispenserecord",
        "dispensing.view_recall",
        "dispensing.add_recall",
        "dispensing.view_recallnotice",
        "dispensing.view_orderconversation",
        "dispensing.view_counsellingoffer",
        # Boxes put back into their lots, and the parcels a recall holds (dispensing 0005).
        "dispensing.view_dispensereturn",
        "dispensing.view_dispatchhold",
        "orders.view_autorefill",
        "orders.change_autorefill",
        "orders.view_autorefillchange",
        "orders.view_autorefillcycle",
    }
    catalog = group_permissions(CATALOG_STAFF)
    # Catalog rows, the pharmacy's details, licences and notices (about/migrations/0002),
    # and the delivery options' prices (orders/migrations/0009), never deleted.
    assert all(p.startswith(("catalog.", "about.", "orders.")) for p in catalog)
    assert {p for p in catalog if p.startswith("orders.")} == {
        "orders.view_shippingoption",
        "orders.add_shippingoption",
        "orders.change_shippingoption",
    }
    assert {p for p in catalog if p.startswith("about.")} == {
        "about.view_pharmacyidentity",
        "about.add_pharmacyidentity",
        "about.change_pharmacyidentity",
        "about.view_statelicence",
        "about.add_statelicence",
        "about.change_statelicence",
        "about.delete_statelicence",
        "about.view_policy",
        "about.add_policy",
        "about.change_policy",
    }
    assert "catalog.change_package" in catalog
    assert "catalog.delete_drug" not in catalog


def test_pharmacist_can_view_profiles_but_not_edit_them(client, db):
    patient = make_user_with_verified_email(first_name="Pat")
    profile = MedicalProfile.objects.create(user=patient)
    sign_in_staff(client, make_pharmacist())
    assert client.get(reverse("admin:prescriptions_medicalprofile_changelist")).status_code == 200
    page = client.get(reverse("admin:prescriptions_medicalprofile_change", args=[profile.pk]))
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    response = client.post(
        reverse("admin:prescriptions_medicalprofile_change", args=[profile.pk]), {"pregnant": "on"}
    )
    assert response.status_code == 403


def test_pharmacist_cannot_edit_prices_or_users(client, baclofen):
    sign_in_staff(client, make_pharmacist())
    package = Package.objects.filter(formulation__drug=baclofen).first()
    assert client.get(reverse("admin:catalog_package_change", args=[package.pk])).status_code == 403
    assert client.get(reverse("admin:accounts_user_changelist")).status_code == 403


def test_catalog_staff_cannot_see_profiles(client, db):
    sign_in_staff(client, make_catalog_staff())
    url = reverse("admin:prescriptions_medicalprofile_changelist")
    assert client.get(url).status_code == 403


def test_demo_accounts_are_refused_with_debug_off(db, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="development only"):
        call_command("seed_demo")


def test_demo_accounts_cover_every_role_and_seeding_twice_changes_nothing(db, settings, capsys):
    settings.DEBUG = True
    call_command("seed_demo")
    first = capsys.readouterr().out
    counts = (
        Authenticator.objects.count(),
        MedicalProfile.objects.count(),
        Prescription.objects.count(),
    )
    call_command("seed_demo")
    assert counts == (
        Authenticator.objects.count(),
        MedicalProfile.objects.count(),
        Prescription.objects.count(),
    )
    queue = Prescription.objects.filter(status__in=["submitted", "needs_info"])
    assert queue.count() == 3
    assert queue.filter(has_blocking_checks=True).exists()
    assert queue.filter(has_blocking_checks=False).exists()
    for email in ("patient@example.com", "pharmacist@example.com", "staff@example.com"):
        assert email in first
    assert first.count("TOTP secret") == 2
    pharmacist = Group.objects.get(name=PHARMACIST).user_set.get()
    assert pharmacist.emailaddress_set.get().verified
    assert totp_secret(pharmacist) in first
