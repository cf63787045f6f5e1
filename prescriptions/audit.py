"""Who looked at which medical data: every access by someone other than the patient.

Allowed looks each write an `AuditEvent`. Refused looks are aggregated: the first
refusal of (actor, action, target) in a window writes an `AuditEvent` and opens a
`DeniedAttempt` counter; repeats in that window only count up on it. An actor who
is refused on more distinct targets than `DENIED_TARGETS_PER_WINDOW` in a window
has the rest counted together under one "*" target. So refused requests, however
many, add at most (cap + 1) events and counters per actor, action and window.
"""

from datetime import datetime, timedelta

from allauth.core.internal.httpkit import get_client_ip
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from .models import AuditEvent, DeniedAttempt

DENIED_WINDOW = timedelta(hours=1)
DENIED_TARGETS_PER_WINDOW = 20


def record_access(request, *, action: str, patient, obj, allowed: bool) -> None:
    """Write an audit row unless the patient is looking at their own data."""
    _record(
        request,
        action=action,
        patient=patient,
        object_repr=str(obj),
        target=_target_of(obj),
        rows_shown=None,
        allowed=allowed,
    )


def record_list_access(
    request, *, action: str, rows_shown: int | None, matched: int | None, allowed: bool
) -> None:
    """One row for a list page (its query string is in the path), not one per patient."""
    described = (
        f"List page: {rows_shown} shown of {matched} matching"
        if rows_shown is not None
        else "List page"
    )
    _record(
        request,
        action=action,
        patient=None,
        object_repr=described,
        target="list",
        rows_shown=rows_shown,
        allowed=allowed,
    )


def _target_of(obj) -> str:
    meta = getattr(obj, "_meta", None)
    return f"{meta.label_lower}:{obj.pk}" if meta is not None else str(obj)[:120]


def _record(request, *, action, patient, object_repr, target, rows_shown, allowed) -> None:
    actor = request.user if request.user.is_authenticated else None
    if allowed and actor is not None and patient is not None and actor.pk == patient.pk:
        return
    event = {
        "actor": actor,
        "action": action,
        "patient": patient,
        "object_repr": object_repr[:200],
        "rows_shown": rows_shown,
        "path": request.get_full_path()[:500],
        "ip_address": get_client_ip(request),
    }
    if allowed:
        AuditEvent.objects.create(allowed=True, **event)
    else:
        record_denied(target=target, **event)


def _window_start(now: datetime) -> datetime:
    seconds = int(DENIED_WINDOW.total_seconds())
    return datetime.fromtimestamp(now.timestamp() // seconds * seconds, tz=now.tzinfo)


def record_denied(*, actor, action: str, target: str, **event) -> None:
    """Audit a refused look without letting repeats grow the audit trail.

    The counter goes up with a conditional UPDATE (`count = count + 1` on the one
    row for this actor, action, target and window), so concurrent refusals are all
    counted and none of them rewrites what the first one recorded. The event it
    points to is never touched: the trail stays append-only.
    """
    now = timezone.now()
    actor_key = f"user:{actor.pk}" if actor is not None else DeniedAttempt.ANONYMOUS
    window = DeniedAttempt.objects.filter(
        actor_key=actor_key, action=action, window_start=_window_start(now)
    )
    repeat = {
        "count": F("count") + 1,
        "last_at": now,
        "last_path": event["path"],
        "last_ip": event["ip_address"],
    }
    if window.filter(target=target).update(**repeat):
        return
    if window.count() >= DENIED_TARGETS_PER_WINDOW:
        target = DeniedAttempt.OTHER_TARGETS
        if window.filter(target=target).update(**repeat):
            return
    try:
        with transaction.atomic():
            first = AuditEvent.objects.create(actor=actor, action=action, allowed=False, **event)
            DeniedAttempt.objects.create(
                first_event=first,
                actor=actor,
                actor_key=actor_key,
                action=action,
                target=target,
                window_start=_window_start(now),
                last_at=now,
                last_path=event["path"],
                last_ip=event["ip_address"],
            )
    except IntegrityError:  # a concurrent refusal opened the counter first
        window.filter(target=target).update(**repeat)
