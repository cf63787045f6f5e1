"""Admin for what pharmacists read but nobody edits: profiles, the audit trail; and partners."""

from django.contrib import admin
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from pharmacy.admin import HistoryAdmin
from pharmacy.admin_search import EMAIL, IP, NAME, PREFIX, CappedCountPaginator, IndexedSearchMixin

from ..models import AuditEvent, DeniedAttempt, MedicalProfile, TelemedicinePartner
from ..selectors import PROFILE_FIELDS, profile_changes
from .mixins import AuditedAdminMixin, ReadOnlyAdminMixin


@admin.register(MedicalProfile)
class MedicalProfileAdmin(IndexedSearchMixin, AuditedAdminMixin, ReadOnlyAdminMixin, HistoryAdmin):
    """Read-only for everyone: a profile is the patient's own statement."""

    audit_action = AuditEvent.Action.VIEW_PROFILE
    audit_history_action = AuditEvent.Action.VIEW_PROFILE_HISTORY
    audit_list_action = AuditEvent.Action.LIST_PROFILES

    list_display = ("user", "patient_name", "date_of_birth", "age", "kidney_disease", "updated_at")
    list_filter = (
        "kidney_disease",
        "pregnant",
        "breastfeeding",
        "alcohol_use",
        "active_peptic_ulcer",
        "epilepsy",
        "psychiatric_disorder",
    )
    search_fields = ("user__email", "user__first_name", "user__last_name")
    indexed_search = (
        ("user__email", EMAIL),
        ("user__first_name", NAME),
        ("user__last_name", NAME),
    )
    list_select_related = ("user",)
    show_full_result_count = False
    paginator = CappedCountPaginator
    fields = ["user", *PROFILE_FIELDS, "updated_at", "change_log"]
    readonly_fields = fields

    def audit_patient(self, obj):
        return obj.user

    @admin.display(description="Name")
    def patient_name(self, obj):
        return obj.user.get_full_name()

    @admin.display(description="Age")
    def age(self, obj):
        return obj.age_on(timezone.localdate())

    @admin.display(description="Changes (newest first)")
    def change_log(self, obj):
        return render_to_string(
            "prescriptions/includes/_profile_changes.html", {"entries": profile_changes(obj)}
        )


@admin.register(AuditEvent)
class AuditEventAdmin(IndexedSearchMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "at",
        "actor",
        "action",
        "allowed_display",
        "patient",
        "object_repr",
        "attempts",
        "ip_address",
    )
    list_filter = ("allowed", "action", ("at", admin.DateFieldListFilter))
    search_fields = ("actor__email", "patient__email", "object_repr", "path", "ip_address")
    indexed_search = (
        ("actor__email", EMAIL),
        ("patient__email", EMAIL),
        ("object_repr", NAME),
        ("path", PREFIX),
        ("ip_address", IP),
    )
    list_select_related = ("actor", "patient", "denied_attempt")
    show_full_result_count = False
    paginator = CappedCountPaginator
    readonly_fields = [f.name for f in AuditEvent._meta.fields]

    def get_actions(self, request):
        return {}

    @admin.display(description="Allowed", boolean=True, ordering="allowed")
    def allowed_display(self, obj):
        return obj.allowed

    @admin.display(description="Attempts in the hour")
    def attempts(self, obj):
        counter = getattr(obj, "denied_attempt", None) if not obj.allowed else None
        return counter.count if counter is not None else ""


@admin.register(DeniedAttempt)
class DeniedAttemptAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Refused looks, one row per actor, action, target and hour, with how many."""

    list_display = ("window_start", "actor", "action", "target", "count", "last_at", "last_ip")
    search_fields = ("actor__email", "target", "last_path", "last_ip")
    list_select_related = ("actor",)
    list_filter = ("action", ("window_start", admin.DateFieldListFilter))
    show_full_result_count = False
    paginator = CappedCountPaginator
    readonly_fields = [f.name for f in DeniedAttempt._meta.fields]

    def get_actions(self, request):
        return {}


@admin.register(TelemedicinePartner)
class TelemedicinePartnerAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "slug",
        "active",
        "requests_format",
        "created_at",
        "prescriptions_received",
    )
    list_filter = ("active", "requests_format")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}

    @admin.display(description="Prescriptions received")
    def prescriptions_received(self, obj):
        return format_html(
            '<a href="{}?partner__id__exact={}">{}</a>',
            reverse("admin:prescriptions_prescription_changelist"),
            obj.pk,
            obj.prescription_set.count(),
        )
