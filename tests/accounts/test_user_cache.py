"""A signed-in page reads its user from a copy in the cache, and anything that must end
a session (a new password, a deactivated or deleted account, a wrong session hash)
still ends it on the next request."""

import pytest
from django.contrib.auth import HASH_SESSION_KEY
from django.core.cache import cache
from django.test import Client

from accounts.user_cache import KEY

PAGE = "/medicines/baclofen/"


@pytest.fixture(autouse=True)
def user_cache_on(settings):
    settings.USER_CACHE_SECONDS = 60


@pytest.fixture
def signed_in(patient, baclofen) -> Client:
    client = Client()
    client.force_login(patient)
    assert "Sign out" in client.get(PAGE).content.decode()  # the user is now copied
    return client


def test_a_signed_in_page_needs_no_query_for_the_user_once_copied(
    signed_in, django_assert_max_num_queries
):
    with django_assert_max_num_queries(1):  # the session, when the database holds it
        html = signed_in.get(PAGE).content.decode()
    assert "Sign out" in html


def test_a_new_password_ends_the_other_sessions_at_once(
    signed_in, patient, django_capture_on_commit_callbacks
):
    patient.set_password("a-brand-new-password-42")
    with django_capture_on_commit_callbacks(execute=True):
        patient.save()
    assert "Sign in" in signed_in.get(PAGE).content.decode()


def test_a_deactivated_account_is_signed_out_at_once(
    signed_in, patient, django_capture_on_commit_callbacks
):
    patient.is_active = False
    with django_capture_on_commit_callbacks(execute=True):
        patient.save()
    assert "Sign in" in signed_in.get(PAGE).content.decode()


def test_a_copy_that_outlived_its_row_never_signs_anyone_in(signed_in, patient):
    """The cache still holds the user (the drop was lost): its hash decides."""
    patient.set_password("changed-without-signal-99")
    type(patient).objects.filter(pk=patient.pk).update(password=patient.password)
    session = signed_in.session
    session[HASH_SESSION_KEY] = "not-the-hash"
    session.save()
    assert "Sign in" in signed_in.get(PAGE).content.decode()


def test_a_name_change_shows_on_the_next_page(
    signed_in, patient, django_capture_on_commit_callbacks
):
    patient.first_name = "Robin"
    with django_capture_on_commit_callbacks(execute=True):
        patient.save()
    assert cache.get(KEY.format(patient.pk)) is None
    signed_in.get(PAGE)
    assert cache.get(KEY.format(patient.pk)).first_name == "Robin"


def test_without_the_copy_every_request_reads_the_row(
    settings, signed_in, django_assert_max_num_queries
):
    settings.USER_CACHE_SECONDS = 0
    with django_assert_max_num_queries(2) as captured:
        signed_in.get(PAGE)
    assert any("accounts_user" in query["sql"] for query in captured.captured_queries)
