"""State changes of the catalog made by staff."""

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone

from .models import Package, StockAdjustment
from .stock import move_stock


@transaction.atomic
def stock_adjust(*, package_id: int, quantity: int, reason: str, actor) -> StockAdjustment:
    """Add (`quantity` > 0) or remove boxes, and record who did it, why, and what it left.

    The stock moves by `quantity` from whatever it is now (one conditional UPDATE,
    which also locks the row until the record is written), so an order placed
    while the staff member had the form open keeps its decrement. A removal of more
    than is on the shelf is refused and changes nothing.
    """
    reason = (reason or "").strip()
    if not quantity:
        raise ValidationError({"quantity": "Enter how many boxes to add (e.g. 5) or remove (-5)."})
    if not reason:
        raise ValidationError({"reason": "Say why the stock changes (delivery, damage, count…)."})
    package = Package.objects.filter(pk=package_id).first()
    if package is None:
        raise ValidationError("This package no longer exists.")
    left = move_stock(package_id, quantity)
    if left is None:
        on_shelf = Package.objects.filter(pk=package_id).values_list("stock", flat=True).get()
        raise ValidationError(
            {
                "quantity": f"Only {on_shelf} on the shelf: cannot remove {-quantity}. "
                "Nothing was changed."
            }
        )
    return StockAdjustment.objects.create(
        package=package, quantity=quantity, stock_after=left, reason=reason[:200], actor=actor
    )


# Columns a restored version never writes back, by model label: stock moves only by
# adjustments and orders, so an old count restored would undo them.
NEVER_RESTORED = {"catalog.package": {"stock"}}


@transaction.atomic
def version_restore(
    *, model: type[models.Model], object_id: int, history_id: int, actor
) -> models.Model:
    """Give a record the values of one of its earlier versions, as a new version.

    The old version is not written back as such: the record is changed like any
    other save, validated as one, and its history gains a row "Restored version of
    <date> by <user>". Any model with django-simple-history can be restored (the
    pharmacy's details too); what `NEVER_RESTORED` names stays as it is now.
    """
    history = model.history.model
    pk_name = model._meta.pk.attname
    version = history.objects.filter(pk=history_id, **{pk_name: object_id}).first()
    if version is None:
        raise ValidationError("This version does not exist for this record.")
    row = model._default_manager.select_for_update().filter(pk=object_id).first()
    if row is None:
        raise ValidationError("This record was deleted; a deleted record cannot be restored.")
    kept = NEVER_RESTORED.get(model._meta.label_lower, set())
    tracked = {f.attname for f in history.tracked_fields}
    fields = [
        f
        for f in model._meta.concrete_fields
        if f.editable and not f.primary_key and f.attname in tracked and f.name not in kept
    ]
    changed = [f for f in fields if getattr(row, f.attname) != getattr(version, f.attname)]
    links = _m2m_links_to_restore(row, version)
    if not changed and not links:
        raise ValidationError("The record already holds this version's values: nothing to restore.")
    for field in changed:
        setattr(row, field.attname, getattr(version, field.attname))
    row.full_clean()
    when = timezone.localtime(version.history_date).strftime("%Y-%m-%d %H:%M")
    row._change_reason = f"Restored version of {when} by {actor}"[:100]
    row._history_user = actor
    # Links first and without a version of their own, so the one version the save
    # writes holds them.
    row.skip_history_when_saving = True
    for name, ids in links.items():
        getattr(row, name).set(ids)
    del row.skip_history_when_saving
    stamped = [f.name for f in model._meta.concrete_fields if getattr(f, "auto_now", False)]
    row.save(update_fields=[*(f.name for f in fields), *stamped])
    return row


def _m2m_links_to_restore(row, version) -> dict[str, set]:
    """The tracked many-to-many fields whose links differ: {field name: the old ids}.

    A row linked then but deleted since cannot be linked again; the others are.
    """
    links = {}
    for field in version._history_m2m_fields:
        target = field.m2m_reverse_field_name()
        old = {getattr(link, f"{target}_id") for link in getattr(version, field.name).all()}
        old = set(
            field.related_model._default_manager.filter(pk__in=old).values_list("pk", flat=True)
        )
        now = set(getattr(row, field.name).values_list("pk", flat=True))
        if old != now:
            links[field.name] = old
    return links
