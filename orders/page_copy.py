"""Each process's copies of the pages a signed-in patient sees of their own: the cart,
an order's page and the orders list.

A patient looks at the same cart or order page again and again (the order page even
reloads itself while a payment is confirmed), and rendering it costs its queries and
templates each time. A process keeps what it rendered, and serves it again while
everything the page shows is what it was:

- the patient's rows: the user's pages token (pharmacy/page_versions.py), moved on
  every change to their orders, lines, status changes, parcels, holds, prescriptions,
  medical profile and user row, and read with the session in the same round trip
  (accounts/sessions.py), so a change shows in every process on the next request;
- the session (the cart is kept there) and the address with its query string;
- the catalog (prices, what is sold: catalog.caching's versions), the delivery options
  (orders/shipping_copy.py) and the pharmacy's footer (about/selectors.py), as this
  process's own copies of those know them: a staff edit shows within their recheck
  (0.5 s) in other processes, at once in the one that made it;
- the local date, the time zone and the language (delivery dates, prescription
  expiry, the profile's confirmation are counted in local days), and, for an order
  that can still be paid, its payment deadline (the page stops offering to pay then).

A copy lives at most USER_PAGE_COPY_SECONDS (0 turns copies off: the default without
Redis, whose local-memory cache other processes cannot see) and a process keeps at most
COPIES_MAX, the least recently served going first.

Never copied, nor served from a copy: anything but GET, an anonymous or staff visitor,
a request with flash messages waiting, an answer other than a plain 200 page (a
redirect, a cookie or a header of the view's own), a render that showed or added
messages or changed the session. The forms' CSRF token is a marker in the copy,
filled in with this request's token, as on the catalog's shared pages; the headers
the middleware adds (Cache-Control: private, no-store, CSP, ...) are added to a copy
as to any answer. When the cache cannot be reached, pages are rendered as without
copies.
"""

import hashlib
import json
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from functools import wraps

from django.conf import settings
from django.contrib.messages import get_messages
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.utils import timezone, translation

from about.selectors import facts_version
from catalog.caching import CSRF_MARK, current_versions
from pharmacy import page_versions

from .shipping_copy import options_version

logger = logging.getLogger(__name__)

COPIES_MAX = 500
_MARK = CSRF_MARK.encode()
# Set on the request while a page is rendered to be copied.
_MAKING = "_page_copy_making"
_UNTIL = "_page_copy_until"


@dataclass(frozen=True)
class _Copy:
    stamp: tuple
    expires: float  # time.monotonic()
    until: datetime | None
    content: bytes
    content_type: str

    def holds(self, stamp: tuple) -> bool:
        if self.stamp != stamp or time.monotonic() >= self.expires:
            return False
        return self.until is None or timezone.now() < self.until


class _Copies:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pages: OrderedDict[tuple, _Copy] = OrderedDict()

    def get(self, key: tuple) -> _Copy | None:
        with self.lock:
            copy = self.pages.get(key)
            if copy is not None:
                self.pages.move_to_end(key)
            return copy

    def put(self, key: tuple, copy: _Copy) -> None:
        with self.lock:
            self.pages[key] = copy
            self.pages.move_to_end(key)
            while len(self.pages) > COPIES_MAX:
                self.pages.popitem(last=False)

    def forget(self) -> None:
        with self.lock:
            self.pages.clear()


_copies = _Copies()


def forget_copies() -> None:
    """Drop this process's copies."""
    _copies.forget()


def _key(request, page: str) -> tuple | None:
    """What the copy is filed under, or None when this request gets no copy."""
    if not settings.USER_PAGE_COPY_SECONDS or request.method != "GET":
        return None
    user = request.user
    if not user.is_authenticated or user.is_staff or user.is_superuser:
        return None
    if len(get_messages(request)):
        return None  # they are shown once, on the page rendered for them
    session = json.dumps(dict(request.session.items()), sort_keys=True, default=str)
    digest = hashlib.blake2b(session.encode(), digest_size=16).hexdigest()
    return (user.pk, page, request.get_full_path(), digest)


def _user_token(request, user_id) -> str | None:
    prefetched = getattr(request.session, "prefetched_pages", None)
    if prefetched is not None and prefetched[0] == str(user_id) and prefetched[1] is not None:
        return prefetched[1]  # read with the session (accounts.sessions)
    return page_versions.current_token(user_id)


def _stamp(request, user_id) -> tuple | None:
    """Everything a copy must have been made under to be served now; None when part
    of it cannot be known (the cache is unreachable, the options have no version)."""
    try:
        token = _user_token(request, user_id)
        shipping = options_version()
        catalog = current_versions()
        footer = facts_version()
    except Exception:
        logger.warning("No copies of the patient's pages: the cache cannot be read", exc_info=True)
        return None
    if token is None or shipping is None:
        return None
    return (
        token,
        catalog,
        shipping,
        footer,
        timezone.localdate(),
        timezone.get_current_timezone_name(),
        translation.get_language(),
    )


def render_page(request, template_name: str, context: dict, *, until: datetime | None = None):
    """`render()` for a page under `copied_page`; `until`: when what it shows changes
    by the clock alone (a payment deadline)."""
    if getattr(request, _MAKING, False):
        context = {**context, "csrf_token": CSRF_MARK}
        setattr(request, _UNTIL, until)
    return render(request, template_name, context)


def _may_copy(request, response) -> bool:
    if response.status_code != 200 or response.streaming or response.cookies:
        return False
    if set(response.headers) != {"Content-Type"} or _MARK not in response.content:
        return False  # not rendered by render_page, or with headers of its own
    messages = get_messages(request)
    if getattr(messages, "used", False) or getattr(messages, "added_new", False):
        return False
    return not request.session.modified


def _with_token(request, content: bytes) -> bytes:
    return content.replace(_MARK, get_token(request).encode())


def copied_page(page: str):
    """Serve the view's page from this process's copy while it holds (see above)."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            key = _key(request, page)
            stamp = _stamp(request, key[0]) if key else None
            if stamp is None:
                return view(request, *args, **kwargs)
            copy = _copies.get(key)
            if copy is not None and copy.holds(stamp):
                content = _with_token(request, copy.content)
                return HttpResponse(content, content_type=copy.content_type)
            setattr(request, _MAKING, True)
            response = view(request, *args, **kwargs)
            setattr(request, _MAKING, False)
            if not _may_copy(request, response):
                if not response.streaming and _MARK in getattr(response, "content", b""):
                    response.content = _with_token(request, response.content)
                return response
            seconds = settings.USER_PAGE_COPY_SECONDS
            copy = _Copy(
                stamp=stamp,
                expires=time.monotonic() + seconds,
                until=getattr(request, _UNTIL, None),
                content=response.content,
                content_type=response["Content-Type"],
            )
            _copies.put(key, copy)
            response.content = _with_token(request, copy.content)
            return response

        return wrapper

    return decorator
