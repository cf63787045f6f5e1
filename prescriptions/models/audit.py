from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import models


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise PermissionDenied("Audit events are append-only.")

    def delete(self):
        raise PermissionDenied("Audit events are append-only.")


class AuditEvent(models.Model):
    """Someone other than the patient looked at (or tried to look at) medical data."""

    class Action(models.TextChoices):
        VIEW_PRESCRIPTION = "view_prescription", "Viewed a prescription"
        DOWNLOAD_DOCUMENT = "download_document", "Downloaded a prescription document"
        VIEW_PROFILE = "view_profile", "Viewed a medical profile"

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    action = models.CharField(max_length=30, choices=Action)
    allowed = models.BooleanField()
    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    object_repr = models.CharField(max_length=200)
    path = models.CharField(max_length=500)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self):
        verdict = "allowed" if self.allowed else "DENIED"
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor or 'anonymous'} {self.action} ({verdict})"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionDenied("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionDenied("Audit events are append-only.")
