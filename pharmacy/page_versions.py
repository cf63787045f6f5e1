"""A version token per user for the pages that show their own rows, moved on every change.

A process may keep a copy of a signed-in page (orders/page_copy.py) only while
nothing it shows has changed. What it shows of the patient (their orders, the lines,
status changes and parcels, their prescriptions, medical profile, the parcel holds,
the user row itself) is watched here: each change to such a row gives every user it
belongs to a new random token in the shared cache once the change has committed, and,
for the thread that made it, before it next reads a token (`pages_changed`). The token is
read with the session (accounts/sessions.py), so every process sees a change on the
user's next request.

What is covered, for each model passed to `watch()` (which refuses a model whose
default manager is not a `PagesQuerySet`, so declaring one without the other fails at
start-up):

- save() and delete(), through post_save and post_delete (a queryset's delete() sends
  them too, as long as a receiver is connected);
- a queryset's update(), bulk_create() and bulk_update(), which send no signal: the
  queryset reads the patients of the rows first (one query, on write paths only),
  related managers (`order.lines.update(...)`) included, since they derive from the
  default manager.

Watched (each app's ready()): the user, Order, OrderLine, OrderStatusChange, Shipment,
DeliveryAddress, Prescription, MedicalProfile and DispatchHold. Not covered: writes
through `_base_manager` (dispensing's counselling stamps, which these pages do not
show) or raw SQL, a migration's data changes, and rows of models not watched. A move
that cannot reach the cache (Redis down) is logged; the copies it would have dropped
expire after USER_PAGE_COPY_SECONDS.

The model names its patient with `PAGES_PATIENT`, a lookup path to the user's id:
"patient_id", "user_id", "order__patient_id", or "pk" for the user model itself.
"""

import logging
import secrets
import threading

from django.core.cache import cache
from django.db import models, transaction
from django.db.models.signals import post_delete, post_save

logger = logging.getLogger(__name__)

KEY = "pages:user:{}"
# How long a token lives unmoved; a new one is made when it is gone, which only drops
# copies (USER_PAGE_COPY_SECONDS is far shorter anyway).
TOKEN_SECONDS = 24 * 60 * 60


def key(user_id) -> str:
    return KEY.format(user_id)


def current_token(user_id) -> str:
    """The user's token, made when the cache holds none (a new or emptied cache)."""
    before_token_read()
    token = cache.get(key(user_id))
    if token is None:
        cache.add(key(user_id), secrets.token_hex(8), TOKEN_SECONDS)
        token = cache.get(key(user_id))
    return token


class _Pending(threading.local):
    def __init__(self) -> None:
        # To move once the transaction commits.
        self.user_ids: set = set()
        # Changed in a transaction still open, not yet moved: moved before this thread
        # next reads a token, or with the commit, whichever comes first.
        self.unseen: set = set()


_pending = _Pending()


def pages_changed(user_ids) -> None:
    """Move these users' tokens once the current transaction commits, and before this
    thread next reads a token if that comes first.

    Before the next read, so that the thread making the change (and a test, whose
    transaction never commits) sees it on its next page; on commit, because a page
    rendered in between read the rows as they were before the commit. Other processes
    cannot see the change before the commit, so the token they read stays right until
    then. A thread that never reads a token (a worker) writes once per transaction: the
    ids of a transaction are gathered and moved in one write by one on-commit callback;
    ids left by a rolled-back transaction are moved with the next commit, or before the
    next read, which only drops copies.
    """
    ids = {user_id for user_id in user_ids if user_id is not None}
    if not ids:
        return
    connection = transaction.get_connection()
    if connection.in_atomic_block:  # else on_commit() runs at once
        _pending.unseen |= ids
    _pending.user_ids |= ids
    if any(callback is _move_pending for _, callback, _ in connection.run_on_commit):
        return  # one move per transaction (a rolled-back savepoint takes its own away)
    # `robust`: the change has committed; an unreachable cache must not undo it.
    transaction.on_commit(_move_pending, robust=True)


def before_token_read() -> None:
    """Move the tokens this thread changed and has not moved yet: called before anything
    reads a token (`current_token`, the session's read in accounts/sessions.py)."""
    if not _pending.unseen:
        return
    ids, _pending.unseen = _pending.unseen, set()
    try:
        _move(ids)
    except Exception:
        # The page goes on; the on-commit move is tried (and logged) next.
        logger.warning("Could not move the pages tokens of users %s", sorted(ids), exc_info=True)


def _move(ids: set) -> None:
    cache.set_many({key(user_id): secrets.token_hex(8) for user_id in ids}, TOKEN_SECONDS)


def _move_pending() -> None:
    ids, _pending.user_ids = _pending.user_ids, set()
    _pending.unseen = set()  # every one of them is in `ids`
    if ids:
        _move(ids)


def _patients_of_objects(model, objs, path: str) -> set:
    """The users of these (unsaved or just written) objects, following `path`."""
    head, _, rest = path.partition("__")
    if head == "pk":
        return {obj.pk for obj in objs}
    field = model._meta.get_field(head.removesuffix("_id"))
    if not rest:
        return {getattr(obj, field.attname) for obj in objs} - {None}
    if "__" not in rest and all(field.is_cached(obj) for obj in objs):
        # The related rows are loaded (`line.order`): no query.
        related_rows = [getattr(obj, field.name) for obj in objs]
        return {getattr(row, rest) for row in related_rows if row is not None} - {None}
    values = {getattr(obj, field.attname) for obj in objs} - {None}
    if not values:
        return set()
    related = field.related_model
    return set(related._base_manager.filter(pk__in=values).values_list(rest, flat=True).distinct())


class PagesQuerySet(models.QuerySet):
    """Moves the pages' tokens of the patients of the rows it writes without save()."""

    def _path(self) -> str | None:
        # None for a migration's historical model, which has no class attributes.
        return getattr(self.model, "PAGES_PATIENT", None)

    def _patients(self) -> set:
        path = self._path()
        if path is None:
            return set()
        return set(self.order_by().values_list(path, flat=True).distinct())

    def _given_to(self, values: dict) -> set:
        """The user an update hands the rows to, when it sets their patient directly."""
        path = self._path()
        if path is None or "__" in path:
            return set()
        name = self.model._meta.pk.name if path == "pk" else path.removesuffix("_id")
        given = values.get(name, values.get(path))
        if isinstance(given, models.Model):
            given = given.pk
        return {given} if isinstance(given, int) else set()

    def update(self, **kwargs):
        patients = self._patients()
        rows = super().update(**kwargs)
        if rows:
            pages_changed(patients | self._given_to(kwargs))
        return rows

    update.alters_data = True

    def update_of(self, patients, **kwargs):
        """update() of rows whose patients the caller knows (an order's lines): the same
        moves, without the query that finds them."""
        rows = super().update(**kwargs)
        if rows:
            pages_changed(set(patients) | self._given_to(kwargs))
        return rows

    update_of.alters_data = True

    def bulk_create(self, objs, *args, **kwargs):
        created = super().bulk_create(objs, *args, **kwargs)
        if self._path():
            pages_changed(_patients_of_objects(self.model, created, self._path()))
        return created

    def bulk_update(self, objs, fields, *args, **kwargs):
        objs = list(objs)
        rows = super().bulk_update(objs, fields, *args, **kwargs)
        if self._path():
            pages_changed(_patients_of_objects(self.model, objs, self._path()))
        return rows

    bulk_update.alters_data = True


def _row_changed(sender, instance, **kwargs) -> None:
    pages_changed(_patients_of_objects(sender, [instance], sender.PAGES_PATIENT))


def watch(*watched: type[models.Model]) -> None:
    """Move the patients' tokens on every change to these models' rows (from an app's
    ready())."""
    for model in watched:
        queryset = getattr(model._default_manager, "_queryset_class", None)
        if not (queryset and issubclass(queryset, PagesQuerySet)):
            raise TypeError(f"{model.__name__}'s default manager must use a PagesQuerySet")
        if not getattr(model, "PAGES_PATIENT", None):
            raise TypeError(f"{model.__name__} must name its patient in PAGES_PATIENT")
        uid = f"page-versions:{model._meta.label}"
        post_save.connect(_row_changed, sender=model, dispatch_uid=uid)
        post_delete.connect(_row_changed, sender=model, dispatch_uid=uid)
