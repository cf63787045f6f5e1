from django.contrib import admin
from django.template.loader import render_to_string
from django.utils import timezone
from simple_history.admin import SimpleHistoryAdmin

from .models import MedicalProfile
from .selectors import PROFILE_FIELDS, profile_changes


@admin.register(MedicalProfile)
class MedicalProfileAdmin(SimpleHistoryAdmin):
    """Read-only for everyone: a profile is the patient's own statement."""

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
    list_select_related = ("user",)
    date_hierarchy = "updated_at"
    fields = ["user", *PROFILE_FIELDS, "updated_at", "change_log"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

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
