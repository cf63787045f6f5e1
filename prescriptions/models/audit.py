"""The audit trail of who looked at medical data, and the counters of refused looks.

Every look is an `AuditEvent` row, written once and never changed. A refused look
is an `AuditEvent` the first time in a window; repeats of the same refusal in that
window only count up on its `DeniedAttempt`, so that nobody can flood the trail by
asking for what they may not see.
"""

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
        LIST_PROFILES = "list_profiles", "Listed medical profiles"
        LIST_PRESCRIPTIONS = "list_prescriptions", "Listed prescriptions"
        VIEW_PROFILE_HISTORY = "view_profile_history", "Viewed a medical profile's history"
        VIEW_PRESCRIPTION_HISTORY = (
            "view_prescription_history",
            "Viewed a prescription's history",
        )
        # The pharmacist's dispensing pages (dispensing.admin_queue, admin_conversations).
        VIEW_FINAL_CHECK = "view_final_check", "Viewed the final check"
        PRINT_LABEL = "print_label", "Printed a label"
        PRINT_LEAFLET = "print_leaflet", "Printed a leaflet"
        READ_CONVERSATION = "read_conversation", "Read a conversation"

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    action = models.CharField(max_length=30, choices=Action)
    allowed = models.BooleanField()
    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    object_repr = models.CharField(max_length=200)
    rows_shown = models.PositiveIntegerField(
        null=True, blank=True, help_text="For a list: how many records the page showed."
    )
    path = models.CharField(max_length=500, help_text="With the query string: a list's filters.")
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [
            # The audit list, newest first, whole and by its filters.
            models.Index(fields=["at", "id"], name="audit_at"),
            models.Index(fields=["action", "at", "id"], name="audit_action_at"),
            models.Index(fields=["allowed", "at", "id"], name="audit_allowed_at"),
            models.Index(fields=["path"], opclasses=["varchar_pattern_ops"], name="audit_path"),
        ]

    def __str__(self):
        verdict = "allowed" if self.allowed else "DENIED"
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor or 'anonymous'} {self.action} ({verdict})"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionDenied("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionDenied("Audit events are append-only.")


class DeniedAttemptQuerySet(models.QuerySet):
    COUNTED_FIELDS = frozenset({"count", "last_at", "last_path", "last_ip"})

    def update(self, **kwargs):
        # Only the aggregation in prescriptions.audit counts up; what was refused, to
        # whom and when it started never changes.
        if not set(kwargs) <= self.COUNTED_FIELDS:
            raise PermissionDenied("A denied attempt only counts up.")
        return super().update(**kwargs)

    def delete(self):
        raise PermissionDenied("Denied attempts are kept like the audit trail.")


class DeniedAttempt(models.Model):
    """The same refusal (actor, action, target) repeated within one window.

    Its first occurrence is a full `AuditEvent`; the repeats raise `count` (which
    includes that first one) with a conditional update, so a thousand refused
    requests are one event and one counter, not a thousand rows.
    """

    ANONYMOUS = "anonymous"
    OTHER_TARGETS = "*"  # an actor's refusals past the per-window cap of distinct targets

    first_event = models.OneToOneField(
        AuditEvent, on_delete=models.PROTECT, related_name="denied_attempt"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    actor_key = models.CharField(max_length=40, help_text='"user:<id>" or "anonymous".')
    action = models.CharField(max_length=30, choices=AuditEvent.Action)
    target = models.CharField(max_length=120, help_text='What was asked for; "*" for the rest.')
    window_start = models.DateTimeField(db_index=True)
    count = models.PositiveIntegerField(default=1)
    last_at = models.DateTimeField()
    last_path = models.CharField(max_length=500)
    last_ip = models.GenericIPAddressField(null=True, blank=True)

    objects = DeniedAttemptQuerySet.as_manager()

    class Meta:
        ordering = ["-window_start", "-last_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["actor_key", "action", "target", "window_start"],
                name="denied_attempt_one_per_window",
            ),
            models.CheckConstraint(condition=models.Q(count__gte=1), name="denied_attempt_counted"),
        ]

    def __str__(self):
        return f"{self.actor or self.ANONYMOUS} {self.action} {self.target}: {self.count}×"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionDenied("A denied attempt only counts up.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionDenied("Denied attempts are kept like the audit trail.")
