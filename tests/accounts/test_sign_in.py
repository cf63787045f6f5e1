"""Sign-up, email verification, sign-in, sign-out, password reset and rate limits."""

import re
import time

import pytest
from django.contrib.sessions.models import Session
from django.core import mail
from django.test import Client, override_settings
from django.urls import reverse

from accounts.middleware import LAST_SEEN_KEY
from tests.factories import PASSWORD, make_user_with_verified_email, sign_in_staff

LOGIN = "/accounts/login/"


def sign_up(client, email="new@example.com"):
    return client.post(
        "/accounts/signup/",
        {
            "first_name": "Ada",
            "last_name": "Patient",
            "email": email,
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )


def test_sign_up_requires_email_verification_before_first_sign_in(client, db):
    response = sign_up(client)
    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    assert not client.session.get("_auth_user_id")
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["new@example.com"]

    link = re.search(r"https?://[^\s]+/accounts/confirm-email/[^\s]+/", mail.outbox[0].body).group(
        0
    )
    path = link.split("testserver", 1)[1]
    assert client.get(path).status_code == 200
    response = client.post(path)
    assert response.status_code == 302
    assert client.session.get("_auth_user_id")
    assert client.get(reverse("accounts:overview")).content.decode().count("Ada Patient") >= 1


def test_unverified_account_cannot_sign_in(client, db):
    sign_up(client)
    other = Client()
    response = other.post(LOGIN, {"login": "new@example.com", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    assert not other.session.get("_auth_user_id")


def test_sign_in_rotates_the_session_id(client, db):
    user = make_user_with_verified_email()
    session = client.session
    session["browsing"] = True
    session.save()
    before = session.session_key
    assert client.cookies["sessionid"].value == before
    response = client.post(LOGIN, {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302
    assert client.session.session_key != before
    assert client.session["_auth_user_id"] == str(user.pk)


def test_sign_out_ends_the_session_on_the_server(client, db):
    user = make_user_with_verified_email()
    client.post(LOGIN, {"login": user.email, "password": PASSWORD})
    key = client.session.session_key
    assert Session.objects.filter(session_key=key).exists()
    client.post(reverse("account_logout"))
    assert not Session.objects.filter(session_key=key).exists()
    replay = Client()
    replay.cookies["sessionid"] = key
    assert replay.get(reverse("accounts:overview")).status_code == 302


def test_password_reset_mails_a_link_that_sets_a_new_password(client, db):
    user = make_user_with_verified_email()
    client.post("/accounts/password/reset/", {"email": user.email})
    assert len(mail.outbox) == 1
    link = re.search(r"http://testserver(/accounts/password/reset/key/[^\s]+)", mail.outbox[0].body)
    response = client.get(link.group(1), follow=True)
    form_url = response.redirect_chain[-1][0] if response.redirect_chain else link.group(1)
    response = client.post(
        form_url, {"password1": "brand-new-pass-42", "password2": "brand-new-pass-42"}
    )
    assert response.status_code == 302
    assert Client().login(email=user.email, password="brand-new-pass-42")


def test_password_change_keeps_the_user_signed_in(client, db):
    user = make_user_with_verified_email()
    client.force_login(user)
    response = client.post(
        reverse("account_change_password"),
        {"oldpassword": PASSWORD, "password1": "another-pass-43", "password2": "another-pass-43"},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("another-pass-43")
    assert client.get(reverse("accounts:overview")).status_code == 200


def test_repeated_failed_sign_ins_lock_the_account_out_even_with_the_right_password(client, db):
    user = make_user_with_verified_email()
    for _ in range(5):
        response = client.post(LOGIN, {"login": user.email, "password": "wrong-password"})
        assert "not correct" in response.content.decode()
    response = client.post(LOGIN, {"login": user.email, "password": PASSWORD})
    assert response.status_code == 200
    assert "Too many failed login attempts" in response.content.decode()
    assert "wait 5 minutes and try again" in response.content.decode()
    assert not client.session.get("_auth_user_id")


def test_a_flood_of_sign_in_requests_gets_429(client, db):
    statuses = [client.post(LOGIN, {"login": "", "password": ""}).status_code for _ in range(31)]
    assert statuses[:30] == [200] * 30
    assert statuses[30] == 429
    assert "Too many attempts" in client.post(LOGIN, {}).content.decode()


@override_settings(
    CACHES={
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
)
def test_sign_in_fails_closed_when_the_rate_limit_cache_is_down(db):
    user = make_user_with_verified_email()
    client = Client(raise_request_exception=False)
    response = client.post(LOGIN, {"login": user.email, "password": PASSWORD})
    assert response.status_code == 503
    assert "briefly unavailable" in response.content.decode()
    assert response["Retry-After"]
    assert not Session.objects.exists()
    user.refresh_from_db()
    assert user.last_login is None


@pytest.mark.parametrize("url", ["/account/", "/account/profile/"])
def test_account_pages_need_sign_in(client, db, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)


def test_staff_are_signed_out_after_the_idle_timeout(client, catalog_staff, settings):
    sign_in_staff(client, catalog_staff)
    session = client.session
    session[LAST_SEEN_KEY] = int(time.time()) - settings.STAFF_IDLE_TIMEOUT_SECONDS - 5
    session.save()
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)
    assert not client.session.get("_auth_user_id")


def test_active_staff_stay_signed_in(client, catalog_staff, settings):
    sign_in_staff(client, catalog_staff)
    session = client.session
    session[LAST_SEEN_KEY] = int(time.time()) - settings.STAFF_IDLE_TIMEOUT_SECONDS + 60
    session.save()
    assert client.get(reverse("admin:index")).status_code == 200


def test_patients_have_no_staff_idle_timeout(client, db, settings):
    patient = make_user_with_verified_email()
    client.force_login(patient)
    session = client.session
    session[LAST_SEEN_KEY] = int(time.time()) - settings.STAFF_IDLE_TIMEOUT_SECONDS - 5
    session.save()
    assert client.get(reverse("accounts:overview")).status_code == 200
