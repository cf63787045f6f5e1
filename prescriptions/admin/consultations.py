"""Consultations in the admin: the questions pharmacists ask per drug (rows with a
history), and the patients' consultations, read-only (their answers are on the page
of each, audited like any patient record)."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from pharmacy.admin import HistoryAdmin
from pharmacy.admin_search import CappedCountPaginator

from ..models import AuditEvent, Consultation, ConsultationQuestion, ConsultationStatusChange
from .mixins import AuditedAdminMixin, ReadOnlyAdminMixin


@admin.register(ConsultationQuestion)
class ConsultationQuestionAdmin(HistoryAdmin):
    list_display = ("text", "drug", "kind", "required", "position", "active")
    list_editable = ("position", "active")
    list_filter = ("drug", "kind", "required", "active")
    search_fields = ("text", "help_text", "drug__name")
    list_select_related = ("drug",)


class StatusChangeInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = ConsultationStatusChange
    fields = ("at", "from_status", "to_status", "message")
    readonly_fields = fields
    extra = 0


@admin.register(Consultation)
class ConsultationAdmin(AuditedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "pk", "drug", "partner", "status", "rx", "answered_at")
    list_filter = ("status", "partner", "drug")
    search_fields = ("id", "partner_request__request_id", "decline_reason")
    show_full_result_count = False
    paginator = CappedCountPaginator
    list_select_related = ("drug", "partner")
    exclude = ("patient", "prescription", "partner_request", "emailed_status")
    readonly_fields = ("rx",)
    inlines = [StatusChangeInline]
    # The answers are the patient's medical profile, as they gave it.
    audit_action = AuditEvent.Action.VIEW_PROFILE
    audit_history_action = AuditEvent.Action.VIEW_PROFILE_HISTORY

    def audit_patient(self, obj):
        return obj.patient

    # Its history is the status changes inline; the admin's own history page (the log of
    # admin edits, of which there are none) is audited like the others' version pages.
    def has_view_history_or_change_history_permission(self, request, obj=None):
        return self.has_view_permission(request, obj)

    @admin.display(description="Prescription")
    def rx(self, obj):
        if not obj.prescription_id:
            return "-"
        return format_html(
            '<a href="{}">#{}</a>',
            reverse("admin:prescriptions_prescription_change", args=[obj.prescription_id]),
            obj.prescription_id,
        )
