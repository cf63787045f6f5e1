from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied

from ..audit import record_access, record_list_access


class AuditedAdminMixin:
    """Every look at these records in the admin writes an audit row (who, what, IP):
    the change page, the history list and each old version, and (with
    `audit_list_action`) the list, as one row carrying its filters and row count.
    Refused looks are audited too, aggregated by `record_access`.
    """

    audit_action: str
    audit_history_action: str
    audit_list_action: str | None = None

    def audit_patient(self, obj):
        raise NotImplementedError

    def _audit_object(self, request, object_id, *, action, allowed) -> None:
        obj = self.get_object(request, unquote(object_id))  # None for a malformed id
        if obj is not None:
            record_access(
                request,
                action=action,
                patient=self.audit_patient(obj),
                obj=obj,
                allowed=allowed(obj),
            )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        self._audit_object(
            request,
            object_id,
            action=self.audit_action,
            allowed=lambda obj: self.has_view_permission(request, obj),
        )
        return super().change_view(request, object_id, form_url, extra_context)

    def history_view(self, request, object_id, extra_context=None):
        self._audit_object(
            request,
            object_id,
            action=self.audit_history_action,
            allowed=lambda obj: self.has_view_history_or_change_history_permission(request, obj),
        )
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        # A POST here is an attempt to write an old version back: refused and audited.
        self._audit_object(
            request,
            object_id,
            action=self.audit_history_action,
            allowed=lambda obj: (
                request.method in ("GET", "HEAD")
                and self.has_view_history_or_change_history_permission(request, obj)
            ),
        )
        return super().history_form_view(request, object_id, version_id, extra_context)

    def changelist_view(self, request, extra_context=None):
        if self.audit_list_action is None:
            return super().changelist_view(request, extra_context)
        if not self.has_view_or_change_permission(request):
            record_list_access(
                request, action=self.audit_list_action, rows_shown=None, matched=None, allowed=False
            )
            raise PermissionDenied
        response = super().changelist_view(request, extra_context)
        changelist = (getattr(response, "context_data", None) or {}).get("cl")
        record_list_access(
            request,
            action=self.audit_list_action,
            rows_shown=len(changelist.result_list) if changelist is not None else None,
            matched=changelist.result_count if changelist is not None else None,
            allowed=True,
        )
        return response


class ReadOnlyAdminMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
