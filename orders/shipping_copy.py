"""The delivery options offered, from this process's copy rather than a query per cart.

Every cart shows every active option, and staff change them a few times a year, so
each process keeps the list it last read, valid while one version key in the shared
cache stays the same. The key is read at most every SHIPPING_OPTIONS_RECHECK_SECONDS;
saving or deleting an option (in any process) moves it once that has committed, so
the change shows in every process within that time and at once in the one that made
it. With the setting at 0 every call reads the table.

A change made without save() (a queryset update, a fixture load) shows when another
option is saved, or when the process restarts.
"""

import secrets
import threading
import time

from django.apps import apps
from django.conf import settings
from django.core.cache import cache
from django.db import transaction

# The model by name: orders.apps connects the signals below before models can be imported.
MODEL = "orders.ShippingOption"

VERSION_KEY = "orders:shipping-options:version"


class _Copy:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        # (version, options, when the version was read), replaced whole.
        self.held: tuple[str, tuple, float] | None = None


_copy = _Copy()


def forget_copy() -> None:
    """Drop this process's copy; the next call reads the table again."""
    _copy.held = None


def _version() -> str:
    version = cache.get(VERSION_KEY)
    if version is None:
        # A new (or emptied) cache: a new version, so no process trusts an older copy.
        cache.add(VERSION_KEY, secrets.token_hex(8), None)
        version = cache.get(VERSION_KEY)
    return version


def offered_options() -> tuple:
    """The active options, first the one checkout picks unless the patient changes it.

    The rows are shared between requests: read them, never change them.
    """
    seconds = settings.SHIPPING_OPTIONS_RECHECK_SECONDS
    if not seconds:
        return tuple(apps.get_model(MODEL).objects.active())
    now = time.monotonic()
    held = _copy.held
    if held is not None and now - held[2] < seconds:
        return held[1]
    version = _version()
    if held is not None and held[0] == version:
        _copy.held = (version, held[1], now)
        return held[1]
    options = tuple(apps.get_model(MODEL).objects.active())
    with _copy.lock:
        _copy.held = (version, options, now)
    return options


def options_version() -> str | None:
    """The version the process's copy of the options was read under (rechecked as
    `offered_options` does), for copies of pages that show them; None when the options
    are read on every call, which no copy can stand for."""
    if not settings.SHIPPING_OPTIONS_RECHECK_SECONDS:
        return None
    offered_options()
    held = _copy.held
    return held[0] if held is not None else None


def options_changed(sender, **kwargs) -> None:
    """Connected to ShippingOption's post_save and post_delete (orders.apps)."""

    def move() -> None:
        forget_copy()
        cache.set(VERSION_KEY, secrets.token_hex(8), None)

    # At once, so that this process's next read sees its own change; again on commit
    # (with the key), in case a request read the rows in between.
    forget_copy()
    # `robust`: the change has committed; an unreachable cache must not undo it.
    transaction.on_commit(move, robust=True)
