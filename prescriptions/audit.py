"""Who looked at which medical data: every access by someone other than the patient."""

from allauth.core.internal.httpkit import get_client_ip

from .models import AuditEvent


def record_access(request, *, action: str, patient, obj, allowed: bool) -> None:
    """Write an audit row unless the patient is looking at their own data."""
    actor = request.user if request.user.is_authenticated else None
    if allowed and actor is not None and patient is not None and actor.pk == patient.pk:
        return
    AuditEvent.objects.create(
        actor=actor,
        action=action,
        allowed=allowed,
        patient=patient,
        object_repr=str(obj)[:200],
        path=request.get_full_path()[:500],
        ip_address=get_client_ip(request),
    )
