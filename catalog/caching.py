"""Whole-page caching of catalog pages that stays correct for every visitor.

A catalog page is rendered once without anything personal in it: where the account
navigation and flash messages go, the shared render holds a marker. Each request
fills the markers in from its own session, so anonymous and signed-in visitors get
the same cached monograph and their own header. A visitor with no cookies at all
(most first visits) gets a copy filled in once for everybody. Any catalog edit
drops the cached pages once the edit has committed.

The shared cache (Redis in production) is one network round trip away; each
process also keeps its own copy of the pages it served, valid while one small
version key in the shared cache stays the same. The process reads that key at most
every CATALOG_PAGE_RECHECK_SECONDS, so a busy page costs a dictionary lookup, and an
edit made in any process (which moves the key) reaches every process within that
time; the process that made the edit drops its copies at once.
"""

import hashlib
import re
import secrets
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.messages import get_messages
from django.core.cache import cache
from django.db import transaction
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.template import Context
from django.template.loader import get_template, render_to_string

from pharmacy.context_processors import site

ACCOUNT_NAV_MARK = "<!--personal:account-nav-->"
MESSAGES_MARK = "<!--personal:messages-->"
# Forms on a shared page (add to cart) carry this where the visitor's CSRF token goes.
CSRF_MARK = "@@personal:csrf@@"
PAGE_KEY_PREFIX = "catalog:page:"
ANONYMOUS_SUFFIX = ":anonymous"
_INDENT = re.compile(r"\n\s+")


LIST_VERSION_KEY = f"{PAGE_KEY_PREFIX}list-version"
# Moved by every drop, from any process: a process's own copies hold while it stays.
PAGES_VERSION_KEY = f"{PAGE_KEY_PREFIX}version"
# Each search is a page of its own: a process keeps at most this many copies.
LOCAL_COPIES_MAX = 256
# A process's copy of an anonymous page also under the address it was served at.
ADDRESS_PREFIX = "address:"


class _LocalCopies:
    """This process's copies of shared pages, each tagged with the version it was
    read under, and the version last read from the shared cache."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pages: dict[str, tuple[str, str]] = {}
        # (page version, list version, when read), replaced whole so threads see one.
        self.versions: tuple[str, int, float] | None = None

    def forget(self) -> None:
        with self.lock:
            self.pages.clear()
            self.versions = None

    def get(self, key: str, version: str) -> str | None:
        entry = self.pages.get(key)
        return entry[1] if entry is not None and entry[0] == version else None

    def put(self, key: str, version: str, html: str) -> None:
        with self.lock:
            if key not in self.pages and len(self.pages) >= LOCAL_COPIES_MAX:
                del self.pages[next(iter(self.pages))]  # the oldest
            self.pages[key] = (version, html)


_local = _LocalCopies()


def forget_local_copies() -> None:
    """Drop this process's copies; the next request reads the versions again."""
    _local.forget()
    _nav_copies.clear()


def _versions() -> tuple[str, int]:
    """The pages' and the lists' versions, read from the shared cache at most every
    CATALOG_PAGE_RECHECK_SECONDS (in one round trip)."""
    now = time.monotonic()
    known = _local.versions
    if known is not None and now - known[2] < settings.CATALOG_PAGE_RECHECK_SECONDS:
        return known[0], known[1]
    found = cache.get_many([PAGES_VERSION_KEY, LIST_VERSION_KEY])
    page_version = found.get(PAGES_VERSION_KEY)
    if page_version is None:
        # A new (or emptied) cache: a new version, so no process trusts older copies.
        cache.add(PAGES_VERSION_KEY, secrets.token_hex(8), None)
        page_version = cache.get(PAGES_VERSION_KEY)
    list_version = found.get(LIST_VERSION_KEY)
    if list_version is None:
        list_version = cache.get_or_set(LIST_VERSION_KEY, 1, None)
    _local.versions = (page_version, list_version, now)
    return page_version, list_version


def current_versions() -> tuple[str, int]:
    """The versions this process holds the catalog's pages under, for copies of other
    pages that show the catalog (orders/page_copy.py)."""
    return _versions()


def _get(key: str, version: str) -> str | None:
    html = _local.get(key, version)
    if html is None:
        html = cache.get(key)
        if html is not None:
            _local.put(key, version, html)
    return html


def _set(key: str, version: str, html: str) -> None:
    cache.set(key, html, settings.CATALOG_PAGE_CACHE_SECONDS)
    _local.put(key, version, html)


def drug_page_key(slug: str) -> str:
    return f"{PAGE_KEY_PREFIX}drug:{slug}"


def list_page_key(query: str, page: str) -> str:
    """The drug list for a search and page, in the current version of the catalog.

    Searches are too many to delete one by one, so a catalog edit moves the version
    and the old pages simply expire.
    """
    version = _versions()[1]
    digest = hashlib.sha256(query.encode()).hexdigest()[:32]
    return f"{PAGE_KEY_PREFIX}list:v{version}:{digest}:{page}"


def render_shared(template_name: str, context: dict) -> str:
    """Render a page for every visitor: no request, markers where personal parts go."""
    context = {"shared_page": True, "csrf_mark": CSRF_MARK, **site(None), **context}
    html = render_to_string(template_name, context)
    return _INDENT.sub("\n", html)


# This process's renders of the account navigation, by everything it shows.
NAV_COPIES_MAX = 4096
_nav_copies: dict[tuple, str] = {}
_nav_lock = threading.Lock()


def _account_nav(request) -> str:
    """The header's account navigation, rendered once per process for what it shows:
    the cart's count, and the user's name and staff link or, signed out, the address
    to come back to. Its sign-out form carries CSRF_MARK, filled in per request."""
    user = request.user
    shown = (
        (user.pk, user.display_name, user.is_staff)
        if user.is_authenticated
        else (None, request.path)
    )
    key = (request.session.get("cart_count"), *shown)
    nav = _nav_copies.get(key)
    if nav is None:
        context = Context({"request": request, "user": user, "csrf_token": CSRF_MARK})
        nav = get_template("includes/_account_nav.html").template.render(context)
        with _nav_lock:
            if len(_nav_copies) >= NAV_COPIES_MAX:
                _nav_copies.pop(next(iter(_nav_copies)), None)  # the oldest
            _nav_copies[key] = nav
    return nav


def personalise(request, html: str) -> str:
    """Fill a shared page's markers with this visitor's navigation and messages
    (the CSRF token is filled in by `cached_page`, per request).

    The fragments need only a few variables, so they are rendered with a plain
    context rather than running every context processor twice per request; the
    messages only when there are some.
    """
    storage = get_messages(request)
    messages = ""
    if storage:
        context = Context({"messages": storage})
        messages = get_template("includes/_messages.html").template.render(context)
    nav = _account_nav(request)
    return html.replace(ACCOUNT_NAV_MARK, nav, 1).replace(MESSAGES_MARK, messages, 1)


def _has_no_cookies(request) -> bool:
    """No session and no flash messages: this visitor's header is everybody's."""
    cookies = request.COOKIES
    return settings.SESSION_COOKIE_NAME not in cookies and "messages" not in cookies


def cached_page(request, key: str, build: Callable[[], str]) -> HttpResponse:
    """Serve the page under `key`, building it with `build()` on a cache miss."""
    anonymous = _has_no_cookies(request)
    version = _versions()[0]
    html = _get(key + ANONYMOUS_SUFFIX, version) if anonymous else None
    if html is None:
        shared = _get(key, version)
        if shared is None:
            shared = build()
            _set(key, version, shared)
        html = personalise(request, shared)
        if anonymous:
            html = html.replace(CSRF_MARK, "")
            _set(key + ANONYMOUS_SUFFIX, version, html)
    if anonymous:
        # Nothing per visitor at all: orders.views.cart_add needs no token from a
        # visitor without a session, so this page is the same bytes for everyone.
        _local.put(ADDRESS_PREFIX + request.get_full_path(), version, html)
        return HttpResponse(html)
    return HttpResponse(html.replace(CSRF_MARK, get_token(request)))


def copy_for_address(request) -> HttpResponse | None:
    """The page this process last served at this address to a visitor without
    cookies, while the version holds; None when it has none (or the visitor has a
    session or flash messages, whose header is their own).

    For catalog.middleware, which answers with it before the session, CSRF, auth and
    messages middleware: none of them has anything to do for such a visitor.
    """
    if request.method != "GET" or not _has_no_cookies(request):
        return None
    key = ADDRESS_PREFIX + request.get_full_path()
    if key not in _local.pages:
        return None  # not a catalog page, or not yet served: no cache to ask
    html = _local.get(key, _versions()[0])
    return None if html is None else HttpResponse(html)


def invalidate_drug_pages(*slugs: str, lists: bool = True) -> None:
    """Drop the cached pages of these drugs after the current transaction commits,
    and every drug list page too unless `lists` is False (a change the lists do not
    show, such as a package going out of stock)."""
    keys = [drug_page_key(slug) for slug in slugs if slug]
    keys += [key + ANONYMOUS_SUFFIX for key in keys]
    if keys:
        # `robust`: once the change has committed, a cache that cannot be reached (Redis
        # down) must not turn it into an error page that says nothing was changed, nor
        # stop the other on-commit work (emails, dispatch). The failure is logged.
        transaction.on_commit(lambda: _drop(keys, lists), robust=True)


def _drop(keys: list[str], lists: bool) -> None:
    _local.forget()  # this process sees its own edit at once
    _drop_shared(keys, lists)
    _local.forget()  # and nothing it copied while the keys moved


def _drop_shared(keys: list[str], lists: bool) -> None:
    """What every process sees: the pages gone, then the versions moved (a process that
    reads the new version can no longer find an old page)."""
    cache.delete_many(keys)
    if lists:
        try:
            cache.incr(LIST_VERSION_KEY)  # every drug list page, whatever its search
        except ValueError:
            cache.set(LIST_VERSION_KEY, 1, None)
    cache.set(PAGES_VERSION_KEY, secrets.token_hex(8), None)
