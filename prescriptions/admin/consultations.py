"""Consultations in the admin: the questions pharmacists ask per drug (rows with a
history), and the patients' consultations, read-only (their answers are on the page
of each, audited like any patient record)."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from pharmacy.admin import HistoryAdmin

from ..models import AuditEvent, Consultation, ConsultationQuestion
from .mixins import AuditedAdminMixin, ReadOnlyAdminMixin


@admin.register(ConsultationQuestion)
class ConsultationQuestionAdmin(HistoryAdmin):
    list_display = ("text", "drug", "kind", "required", "position", "active")
    list_editable = ("position", "active")
    list_filter = ("drug", "kind", "required", "active")
    search_fields = ("text", "help_text", "drug__name")
    list_select_related = ("drug",)


@admin.register(Consultation)
class ConsultationAdmin(AuditedAdminMixin, ReadOnlyAdminMixin, HistoryAdmin):
    list_display = ("created_at", "pk", "drug", "partner", "state", "rx", "answered_at")
    list_filter = ("state", "partner", "drug")
    search_fields = ("pk", "partner_request__request_id", "decline_reason")
    date_hierarchy = "created_at"
    list_select_related = ("drug", "partner")
    exclude = ("patient", "prescription", "partner_request", "emailed_state")
    readonly_fields = ("rx",)
    # The answers are the patient's medical profile, as they gave it.
    audit_action = AuditEvent.Action.VIEW_PROFILE
    audit_history_action = AuditEvent.Action.VIEW_PROFILE_HISTORY

    def audit_patient(self, obj):
        return obj.patient

    @admin.display(description="Prescription")
    def rx(self, obj):
        if not obj.prescription_id:
            return "-"
        return format_html(
            '<a href="{}">#{}</a>',
            reverse("admin:prescriptions_prescription_change", args=[obj.prescription_id]),
            obj.prescription_id,
        )
