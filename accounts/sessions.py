"""Sessions from Redis as `cached_db` keeps them, read together with the user's copy.

A signed-in page needs the session, then the user it names (accounts/user_cache.py):
two round trips to Redis, one after the other, because the user's id is in the session.
This process remembers which user each session it served belongs to, so from a
session's second request on both keys are read in one round trip. What was read for
the user is only a candidate: signed_in_user() takes it when the session loaded names
that same user, and checks it exactly as it checks a copy read on its own. The user's
pages token (pharmacy/page_versions.py) comes in the same round trip, for the copies of
their own pages (orders/page_copy.py), which take it on the same condition.
"""

from django.contrib.sessions.backends.cached_db import SessionStore as CachedDBStore

from pharmacy import page_versions

from .user_cache import KEY, user_hint


class SessionStore(CachedDBStore):
    # What the cache held for the session's user, read with the session: (user id, copy).
    prefetched_user: tuple[str, object] | None = None
    # The user's pages token, read with the session: (user id, token or None).
    prefetched_pages: tuple[str, str | None] | None = None

    def load(self):
        user_id = user_hint(self.session_key)
        if user_id is None:
            return super().load()
        user_key = KEY.format(user_id)
        pages_key = page_versions.key(user_id)
        page_versions.before_token_read()
        try:
            found = self._cache.get_many([self.cache_key, user_key, pages_key])
        except Exception:
            # As cached_db: a key the cache refuses resets the session (Django #17810).
            found = {}
        data = found.get(self.cache_key)
        if data is None:
            return super().load()
        self.prefetched_user = (user_id, found.get(user_key))
        self.prefetched_pages = (user_id, found.get(pages_key))
        return data
