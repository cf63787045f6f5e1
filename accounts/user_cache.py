"""The signed-in user from the cache, rather than a query on every request.

Django loads the user's row on each signed-in request. A copy of the row is kept in
the cache (Redis, shared by every process) under the user's id for
USER_CACHE_SECONDS and dropped whenever the row is saved or deleted, once that has
committed: a password change or a deactivation still ends the other sessions on
their next request. The session's hash is checked against the copy exactly as
Django checks it against the row, and anything else (no copy, an inactive user, a
hash that does not match, a fallback secret) goes through Django's own lookup.

A change made without save() (a queryset update) or a row read just before a commit
and copied just after it shows when the copy expires, so the time is short. With
USER_CACHE_SECONDS at 0 (the default without Redis, whose local-memory cache other
processes cannot see dropped) every request reads the row.
"""

import threading

from django.conf import settings
from django.contrib import auth
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.core.cache import cache
from django.db import transaction
from django.utils.crypto import constant_time_compare

KEY = "accounts:user:{}"
# Which user each session this process served belongs to, so that accounts.sessions can
# read the session and the user's copy in one round trip; the oldest go first.
HINTS_MAX = 10_000
_hints: dict[str, str] = {}
_hints_lock = threading.Lock()


def user_hint(session_key: str | None) -> str | None:
    """The id of the user this session belonged to when this process last served it."""
    return _hints.get(session_key) if session_key else None


def _remember(session_key: str | None, user_id: str) -> None:
    if not session_key or _hints.get(session_key) == user_id:
        return  # a session's later requests: nothing to write
    with _hints_lock:
        if len(_hints) >= HINTS_MAX:
            _hints.pop(next(iter(_hints)), None)
        _hints[session_key] = user_id


def signed_in_user(request):
    """What django.contrib.auth.get_user(request) returns, from the copy when it holds."""
    seconds = settings.USER_CACHE_SECONDS
    session = request.session
    user_id = session.get(SESSION_KEY)
    if not seconds or user_id is None:
        return auth.get_user(request)
    if session.get(BACKEND_SESSION_KEY) not in settings.AUTHENTICATION_BACKENDS:
        return auth.get_user(request)
    key = KEY.format(user_id)
    prefetched = getattr(session, "prefetched_user", None)
    if prefetched is not None and prefetched[0] == str(user_id):
        user = prefetched[1]  # read with the session (accounts.sessions)
    else:
        user = cache.get(key)
    _remember(session.session_key, str(user_id))
    if user is not None and user.is_active:
        session_hash = session.get(HASH_SESSION_KEY)
        if session_hash and constant_time_compare(session_hash, user.get_session_auth_hash()):
            return user
    user = auth.get_user(request)
    if user.is_authenticated and str(user.pk) == str(user_id):
        cache.set(key, user, seconds)
    return user


def forget_user(sender, instance, **kwargs) -> None:
    """Connected to the user model's post_save and post_delete (accounts.apps)."""
    key = KEY.format(instance.pk)
    # `robust`: the change has committed; an unreachable cache must not turn it into an
    # error page (every signed-in page fails while Redis is down anyway).
    transaction.on_commit(lambda: cache.delete(key), robust=True)
