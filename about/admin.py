from django.contrib import admin

from catalog.services import version_restore
from pharmacy.admin import RestorableHistoryAdmin

from .models import PharmacyIdentity, Policy, StateLicence


class AboutHistoryAdmin(RestorableHistoryAdmin):
    """Each save keeps who and why; any version can be restored as a new one."""

    restore_service = staticmethod(version_restore)


@admin.register(PharmacyIdentity)
class PharmacyIdentityAdmin(AboutHistoryAdmin):
    list_display = ["name", "legal_name", "phone", "updated_at"]
    fieldsets = [
        (None, {"fields": ["legal_name", "name"]}),
        ("Address", {"fields": ["street_address", "city", "state", "zip_code"]}),
        ("Contact", {"fields": ["phone", "email", "opening_hours"]}),
        ("Pharmacist in charge", {"fields": ["pharmacist_in_charge", "pharmacist_licence_number"]}),
        ("Accreditation", {"fields": ["accreditation"]}),
        ("Emails", {"fields": ["sender_email"]}),
    ]

    def has_add_permission(self, request):
        """One row: once it exists, staff change it rather than add another."""
        return super().has_add_permission(request) and not PharmacyIdentity.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(StateLicence)
class StateLicenceAdmin(AboutHistoryAdmin):
    list_display = ["state", "state_name", "kind", "licence_number", "expires_on"]
    list_filter = ["kind", "state", "expires_on"]
    search_fields = ["state", "licence_number"]


@admin.register(Policy)
class PolicyAdmin(AboutHistoryAdmin):
    list_display = ["title", "kind", "changed_at"]
    list_filter = ["kind"]
    search_fields = ["title", "body"]
    readonly_fields = ["changed_at"]
