"""Whole-page caching of catalog pages that stays correct for every visitor.

A catalog page is rendered once without anything personal in it: where the account
navigation and flash messages go, the shared render holds a marker. Each request
fills the markers in from its own session, so anonymous and signed-in visitors get
the same cached monograph and their own header. A visitor with no cookies at all
(most first visits) gets a copy filled in once for everybody. Any catalog edit
drops the cached pages once the edit has committed.
"""

import hashlib
import re
from collections.abc import Callable

from django.conf import settings
from django.contrib.messages import get_messages
from django.core.cache import cache
from django.db import transaction
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.template import Context
from django.template.loader import get_template, render_to_string
from django.utils.functional import SimpleLazyObject

from pharmacy.context_processors import site

ACCOUNT_NAV_MARK = "<!--personal:account-nav-->"
MESSAGES_MARK = "<!--personal:messages-->"
# Forms on a shared page (add to cart) carry this where the visitor's CSRF token goes.
CSRF_MARK = "@@personal:csrf@@"
PAGE_KEY_PREFIX = "catalog:page:"
ANONYMOUS_SUFFIX = ":anonymous"
_INDENT = re.compile(r"\n\s+")


LIST_VERSION_KEY = f"{PAGE_KEY_PREFIX}list-version"


def drug_page_key(slug: str) -> str:
    return f"{PAGE_KEY_PREFIX}drug:{slug}"


def list_page_key(query: str, page: str) -> str:
    """The drug list for a search and page, in the current version of the catalog.

    Searches are too many to delete one by one, so a catalog edit moves the version
    and the old pages simply expire.
    """
    version = cache.get_or_set(LIST_VERSION_KEY, 1, None)
    digest = hashlib.sha256(query.encode()).hexdigest()[:32]
    return f"{PAGE_KEY_PREFIX}list:v{version}:{digest}:{page}"


def render_shared(template_name: str, context: dict) -> str:
    """Render a page for every visitor: no request, markers where personal parts go."""
    context = {"shared_page": True, "csrf_mark": CSRF_MARK, **site(None), **context}
    html = render_to_string(template_name, context)
    return _INDENT.sub("\n", html)


def personalise(request, html: str) -> str:
    """Fill a shared page's markers with this visitor's navigation and messages
    (the CSRF token is filled in by `cached_page`, per request).

    The two fragments need only these variables, so they are rendered with a plain
    context rather than running every context processor twice per request.
    """
    context = Context(
        {
            "request": request,
            "user": request.user,
            "messages": get_messages(request),
            # Lazy: only a signed-in header (its sign-out form) needs the token.
            "csrf_token": SimpleLazyObject(lambda: get_token(request)),
        }
    )
    nav = get_template("includes/_account_nav.html").template.render(context)
    messages = get_template("includes/_messages.html").template.render(context)
    return html.replace(ACCOUNT_NAV_MARK, nav, 1).replace(MESSAGES_MARK, messages, 1)


def _has_no_cookies(request) -> bool:
    """No session and no flash messages: this visitor's header is everybody's."""
    cookies = request.COOKIES
    return settings.SESSION_COOKIE_NAME not in cookies and "messages" not in cookies


def cached_page(request, key: str, build: Callable[[], str]) -> HttpResponse:
    """Serve the page under `key`, building it with `build()` on a cache miss."""
    anonymous = _has_no_cookies(request)
    html = cache.get(key + ANONYMOUS_SUFFIX) if anonymous else None
    if html is None:
        shared = cache.get(key)
        if shared is None:
            shared = build()
            cache.set(key, shared, settings.CATALOG_PAGE_CACHE_SECONDS)
        html = personalise(request, shared)
        if anonymous:
            html = html.replace(CSRF_MARK, "")
            cache.set(key + ANONYMOUS_SUFFIX, html, settings.CATALOG_PAGE_CACHE_SECONDS)
    if anonymous:
        # Nothing per visitor at all: orders.views.cart_add needs no token from a
        # visitor without a session, so this page is the same bytes for everyone.
        return HttpResponse(html)
    return HttpResponse(html.replace(CSRF_MARK, get_token(request)))


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
    cache.delete_many(keys)
    if not lists:
        return
    try:
        cache.incr(LIST_VERSION_KEY)  # every drug list page, whatever its search
    except ValueError:
        cache.set(LIST_VERSION_KEY, 1, None)
