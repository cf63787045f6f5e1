"""Staff reach patient data only from a session that signed in with the second factor.

The reproduced hole: a pharmacist with no authenticator signed in with the password
and downloaded a patient's prescription document. Having an authenticator is not
enough either: the session itself must have passed the code step at sign-in.
"""

import pytest
from allauth.mfa.models import Authenticator
from django.test import Client
from django.urls import get_script_prefix, reverse, set_script_prefix

from accounts.mfa import current_totp_code, enrol_totp, totp_secret
from prescriptions.models import AuditEvent, MedicalProfile
from tests.factories import (
    PASSWORD,
    make_pharmacist,
    make_user,
    make_user_with_verified_email,
    sign_in_staff,
)
from tests.security.test_access_matrix import ACCOUNTS, ADMIN_MODELS, SITE, send, url_of

LOGIN = reverse("account_login")
ENROL = reverse("mfa_activate_totp")
# What a staff session without its second factor may still open: none shows patient data.
OPEN = {"account_login", "account_logout", "account_reauthenticate"}


def is_open(row) -> bool:
    return row.name in OPEN or row.name.startswith("mfa_")


def password_sign_in(client, user):
    """The staff member types the password on allauth's form, and nothing more."""
    response = client.post(LOGIN, {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302
    assert client.session.get("_auth_user_id") == str(user.pk)
    return client


def admin_urls(objects, profile) -> list[str]:
    urls = [reverse("admin:index")]
    for model in ADMIN_MODELS:
        app_label, name = model.split(".")
        urls.append(reverse(f"admin:{app_label}_{name}_changelist"))
    prescription = objects["prescription"]["pk"]
    urls += [
        reverse("admin:prescriptions_prescription_change", args=[prescription]),
        reverse("admin:prescriptions_prescription_history", args=[prescription]),
        reverse("admin:prescriptions_medicalprofile_change", args=[profile.pk]),
        reverse("admin:prescriptions_medicalprofile_history", args=[profile.pk]),
    ]
    return urls


@pytest.fixture
def profile(people_and_objects):
    users, _ = people_and_objects
    profile, _ = MedicalProfile.objects.update_or_create(
        user=users["patient_a"], defaults={"pregnant": True}
    )
    return profile


def test_a_pharmacist_without_an_authenticator_cannot_download_a_document(people_and_objects):
    _, objects = people_and_objects
    pharmacist = make_pharmacist(mfa=False)
    client = password_sign_in(Client(), pharmacist)
    response = client.get(reverse("prescriptions:document", kwargs=objects["document"]))
    assert response.status_code == 302
    assert response["Location"] == ENROL
    assert not AuditEvent.objects.filter(actor=pharmacist).exists()  # the view never ran


def test_a_password_only_session_cannot_download_a_document_even_with_an_authenticator(
    people_and_objects,
):
    _, objects = people_and_objects
    pharmacist = make_pharmacist()  # enrolled, but this session never typed a code
    client = Client()
    client.force_login(pharmacist)
    url = reverse("prescriptions:document", kwargs=objects["document"])
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(f"{LOGIN}?next=")
    assert not client.session.get("_auth_user_id")  # signed out, to sign in with a code
    assert sign_in_staff(Client(), pharmacist).get(url).status_code == 200


def test_no_staff_url_answers_a_session_without_its_second_factor(people_and_objects, profile):
    """Every URL of the access matrix and the admin, for both kinds of session."""
    _, objects = people_and_objects
    enrolled = make_pharmacist()
    unenrolled = make_pharmacist(mfa=False)
    unenrolled_client = password_sign_in(Client(), unenrolled)
    wrong = []

    def check(make_request, label):
        client = Client()
        client.force_login(enrolled)
        answer = make_request(client)
        if answer.status_code != 302 or not answer["Location"].startswith(f"{LOGIN}?next="):
            wrong.append(f"{label} with an authenticator: {answer.status_code}")
        answer = make_request(unenrolled_client)
        if answer.status_code != 302 or answer["Location"] != ENROL:
            wrong.append(f"{label} without one: {answer.status_code}")

    for row in SITE + ACCOUNTS:
        if not is_open(row):
            check(lambda c, row=row: send(c, row, objects), f"{row.method} {url_of(row, objects)}")
    for url in admin_urls(objects, profile):
        check(lambda c, url=url: c.get(url), f"GET {url}")
        check(lambda c, url=url: c.post(url, {}), f"POST {url}")
    assert not wrong, "\n".join(wrong)
    assert not AuditEvent.objects.filter(actor__in=[enrolled, unenrolled]).exists()


def test_every_staff_url_answers_a_session_signed_in_with_the_code(people_and_objects, profile):
    _, objects = people_and_objects
    client = sign_in_staff(Client(), make_pharmacist())
    urls = [
        reverse("admin:prescriptions_medicalprofile_change", args=[profile.pk]),
        reverse("prescriptions:document", kwargs=objects["document"]),
        *admin_urls(objects, profile),
    ]
    for url in urls:
        assert client.get(url).status_code in (200, 403), url


def test_enrolling_and_reauthenticating_with_the_code_does_not_upgrade_the_session(
    people_and_objects,
):
    """A thief with the password of an unenrolled pharmacist enrols their own phone and
    types its code at allauth's reauthentication step: still no patient data."""
    _, objects = people_and_objects
    pharmacist = make_pharmacist(mfa=False)
    client = password_sign_in(Client(), pharmacist)
    client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    client.get(ENROL)
    secret = client.session["mfa.totp.secret"]
    client.post(ENROL, {"code": current_totp_code(secret)})
    assert totp_secret(pharmacist) == secret
    client.post(reverse("mfa_reauthenticate"), {"code": current_totp_code(secret)})
    response = client.get(reverse("prescriptions:document", kwargs=objects["document"]))
    assert response.status_code == 302
    assert response["Location"].startswith(f"{LOGIN}?next=")


def test_a_session_whose_authenticator_was_reset_must_enrol_again(people_and_objects):
    _, objects = people_and_objects
    pharmacist = make_pharmacist()
    client = sign_in_staff(Client(), pharmacist)
    Authenticator.objects.filter(user=pharmacist).delete()  # an administrator reset it
    response = client.get(reverse("prescriptions:document", kwargs=objects["document"]))
    assert response.status_code == 302
    assert response["Location"] == ENROL


def test_superusers_need_the_second_factor_too(db):
    user = make_user(is_staff=True, is_superuser=True)
    enrol_totp(user)
    client = Client()
    client.force_login(user)
    response = client.get(reverse("accounts:overview"))
    assert response.status_code == 302
    assert response["Location"].startswith(f"{LOGIN}?next=")


@pytest.fixture
def script_prefix():
    """The site mounted under /shop/, as WSGIHandler sets it from SCRIPT_NAME (the test
    client does not); the prefix is a thread-local, so put it back."""
    previous = get_script_prefix()
    set_script_prefix("/shop/")
    yield "/shop"
    set_script_prefix(previous)


def test_under_a_script_prefix_enrolment_opens_and_nothing_else_does(db, script_prefix):
    pharmacist = make_pharmacist(mfa=False)
    client = Client(SCRIPT_NAME=script_prefix)
    client.force_login(pharmacist)
    response = client.get("/account/")
    assert response["Location"] == f"{script_prefix}{ENROL}"
    response = client.get(ENROL)  # allauth asks for the password first, not a loop
    assert response["Location"].startswith(reverse("account_reauthenticate"))
    assert response["Location"].startswith(script_prefix)


def test_patients_need_no_second_factor(db):
    client = Client()
    client.force_login(make_user_with_verified_email())
    assert client.get(reverse("prescriptions:profile")).status_code == 200


def deactivate(client):
    client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    return client.post(reverse("mfa_deactivate_totp"))


def test_staff_cannot_remove_their_last_authenticator(db):
    pharmacist = make_pharmacist()
    client = sign_in_staff(Client(), pharmacist)
    response = deactivate(client)
    assert response.status_code == 200
    assert "Staff accounts must keep two-factor authentication" in response.content.decode()
    assert Authenticator.objects.filter(user=pharmacist, type="totp").exists()


def test_a_patient_may_turn_two_factor_off(db):
    patient = make_user_with_verified_email()
    enrol_totp(patient)
    client = Client()
    client.force_login(patient)
    response = deactivate(client)
    assert response.status_code == 302
    assert not Authenticator.objects.filter(user=patient).exists()
