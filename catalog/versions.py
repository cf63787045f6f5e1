"""The first version of every catalog row: the values it was loaded with.

Rows written by a data migration (the first drug's) have no history, because a
migration's models carry no history signals; without a first version, the first
change staff make has nothing to be compared with or restored to. This fills in a
version for each row that has none, with the values the row holds now.

It takes an app registry (`django.apps.apps` or a migration's `apps`), so the
migration and the loader write the same rows.
"""

from django.utils import timezone

SEED_REASON = "Loaded from the monograph source"
HISTORY_FIELD_PREFIX = "history_"


def record_first_versions(*, apps, app_label: str = "catalog", reason: str = SEED_REASON) -> int:
    """Give every row of `app_label` without history a first version ("Created").

    Idempotent: a row that has any version is left alone. Returns how many versions
    were written.
    """
    written = 0
    now = timezone.now()
    for model in list(apps.get_app_config(app_label).get_models()):
        history_model = _history_model(apps, app_label, model)
        if history_model is None:
            continue
        written += _first_versions_of(apps, app_label, model, history_model, reason, now)
    return written


def _history_model(apps, app_label: str, model):
    try:
        return apps.get_model(app_label, f"Historical{model._meta.object_name}")
    except LookupError:
        return None


def _first_versions_of(apps, app_label, model, history_model, reason, now) -> int:
    own = {f.attname for f in model._meta.concrete_fields}
    copied = [
        f.attname
        for f in history_model._meta.concrete_fields
        if not f.name.startswith(HISTORY_FIELD_PREFIX) and f.attname in own
    ]
    pk = model._meta.pk.attname
    missing = model._default_manager.exclude(
        **{f"{pk}__in": history_model._default_manager.values(pk)}
    ).order_by(pk)
    versions = history_model._default_manager.bulk_create(
        [
            history_model(
                history_date=now,
                history_type="+",
                history_change_reason=reason,
                history_user=None,
                **{name: values[name] for name in copied},
            )
            for values in missing.values(*copied)
        ]
    )
    for field in model._meta.many_to_many:
        _first_m2m_versions(apps, app_label, model, field, history_model, versions)
    return len(versions)


def _first_m2m_versions(apps, app_label, model, field, history_model, versions) -> None:
    """The related rows of a tracked many-to-many field, as of the first version."""
    try:
        m2m_history = apps.get_model(app_label, f"{history_model._meta.object_name}_{field.name}")
    except LookupError:
        return
    through = field.remote_field.through
    own_fk = next(
        f for f in through._meta.concrete_fields if f.is_relation and f.related_model is model
    )
    kept = {f.attname for f in m2m_history._meta.concrete_fields}
    columns = [f.attname for f in through._meta.concrete_fields if f.attname in kept]
    pk = model._meta.pk.attname
    rows = []
    for version in versions:
        links = through._default_manager.filter(**{own_fk.attname: getattr(version, pk)})
        rows += [m2m_history(history=version, **link) for link in links.values(*columns)]
    m2m_history._default_manager.bulk_create(rows)
