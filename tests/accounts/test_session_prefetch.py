"""With Redis, the session and the user's copy come in one round trip (accounts/sessions.py),
and what ends a session still ends it on the next request."""

import pytest
from django.contrib.auth import HASH_SESSION_KEY
from django.core.cache import cache
from django.test import Client

from accounts import user_cache
from accounts.user_cache import KEY
from tests.factories import make_user

PAGE = "/medicines/baclofen/"


@pytest.fixture(autouse=True)
def prefetching_sessions(settings):
    settings.USER_CACHE_SECONDS = 60
    settings.SESSION_ENGINE = "accounts.sessions"


@pytest.fixture
def signed_in(patient, baclofen) -> Client:
    client = Client()
    client.force_login(patient)
    assert "Sign out" in client.get(PAGE).content.decode()  # the user is now copied
    return client


@pytest.fixture
def reads(monkeypatch) -> list:
    """Each read from the cache, as the keys asked for together."""
    seen = []
    get, get_many = cache.get, cache.get_many
    monkeypatch.setattr(
        cache, "get", lambda key, *a, **kw: seen.append([key]) or get(key, *a, **kw)
    )
    monkeypatch.setattr(
        cache,
        "get_many",
        lambda keys, *a, **kw: seen.append(list(keys)) or get_many(keys, *a, **kw),
    )
    return seen


def test_a_signed_in_page_reads_its_session_and_user_in_one_round_trip(
    signed_in, patient, reads, django_assert_max_num_queries
):
    with django_assert_max_num_queries(0):
        html = signed_in.get(PAGE).content.decode()
    assert "Sign out" in html and patient.first_name in html
    with_user = [keys for keys in reads if KEY.format(patient.pk) in keys]
    # The session's key beside it, and the user's pages token (pharmacy/page_versions.py).
    assert len(with_user) == 1 and len(with_user[0]) == 3


def test_a_new_password_still_ends_the_other_sessions_at_once(
    signed_in, patient, django_capture_on_commit_callbacks
):
    patient.set_password("a-brand-new-password-42")
    with django_capture_on_commit_callbacks(execute=True):
        patient.save()
    assert "Sign in" in signed_in.get(PAGE).content.decode()


def test_a_deactivated_account_is_still_signed_out_at_once(
    signed_in, patient, django_capture_on_commit_callbacks
):
    patient.is_active = False
    with django_capture_on_commit_callbacks(execute=True):
        patient.save()
    assert "Sign in" in signed_in.get(PAGE).content.decode()


def test_a_copy_read_with_the_session_never_signs_in_with_a_wrong_hash(signed_in):
    session = signed_in.session
    session[HASH_SESSION_KEY] = "not-the-hash"
    session.save()
    assert "Sign in" in signed_in.get(PAGE).content.decode()


def test_a_wrong_note_of_whose_session_it_was_never_shows_another_person(signed_in, patient):
    """The process's note of whose session it was is only a hint: the session decides."""
    other = make_user(first_name="Quinn", last_name="Other")
    cache.set(KEY.format(other.pk), other, 60)
    user_cache._hints[signed_in.cookies["sessionid"].value] = str(other.pk)
    html = signed_in.get(PAGE).content.decode()
    assert "Pat" in html and "Quinn" not in html
