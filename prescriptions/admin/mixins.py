from django.contrib.admin.utils import unquote

from ..audit import record_access


class AuditedAdminMixin:
    """Opening one of these records in the admin writes an audit row (who, what, IP)."""

    audit_action: str

    def audit_patient(self, obj):
        raise NotImplementedError

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, unquote(object_id))  # None for a malformed id
        if obj is not None:
            record_access(
                request,
                action=self.audit_action,
                patient=self.audit_patient(obj),
                obj=obj,
                allowed=self.has_view_permission(request, obj),
            )
        return super().change_view(request, object_id, form_url, extra_context)


class ReadOnlyAdminMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
