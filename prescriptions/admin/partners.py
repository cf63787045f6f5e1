"""What passed between the pharmacy and its partners, read-only: every request received
or sent (the audit trail), the outbox, and the patients' renewal requests. No patient
data is listed here: the rows point at the prescription, whose page is audited."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from pharmacy.admin_search import CappedCountPaginator

from ..models import PartnerExchange, PartnerRequest, RenewalRequest
from .mixins import ReadOnlyAdminMixin


def _prescription_link(prescription_id):
    if not prescription_id:
        return "-"
    return format_html(
        '<a href="{}">#{}</a>',
        reverse("admin:prescriptions_prescription_change", args=[prescription_id]),
        prescription_id,
    )


@admin.register(PartnerExchange)
class PartnerExchangeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("at", "direction", "partner_name", "endpoint", "status_code", "outcome", "rx")
    list_filter = ("direction", "partner", "status_code")
    search_fields = ("partner_slug", "endpoint", "outcome", "body_sha256")
    show_full_result_count = False
    paginator = CappedCountPaginator
    list_select_related = ("partner",)
    exclude = ("prescription", "request")
    readonly_fields = ("rx",)

    @admin.display(description="Partner")
    def partner_name(self, obj):
        return obj.partner or f"unknown ({obj.partner_slug or 'none named'})"

    @admin.display(description="Prescription")
    def rx(self, obj):
        return _prescription_link(obj.prescription_id)


@admin.register(PartnerRequest)
class PartnerRequestAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "created_at",
        "kind",
        "partner",
        "state",
        "attempts",
        "next_attempt_at",
        "delivered_at",
        "last_error",
    )
    list_filter = ("state", "kind", "partner")
    search_fields = ("request_id", "last_error")
    exclude = ("payload",)  # the patient's details: read on the prescription's page


@admin.register(RenewalRequest)
class RenewalRequestAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "rx", "state", "new_rx", "answered_at", "decline_reason")
    list_filter = ("state", "prescription__partner")
    search_fields = ("prescription__id", "decline_reason")
    exclude = ("patient", "prescription", "new_prescription", "partner_request")
    readonly_fields = ("rx", "new_rx")

    @admin.display(description="Prescription")
    def rx(self, obj):
        return _prescription_link(obj.prescription_id)

    @admin.display(description="Renewed by")
    def new_rx(self, obj):
        return _prescription_link(obj.new_prescription_id)
