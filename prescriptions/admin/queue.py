"""The pharmacist's verification queue and the decision on each prescription."""

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import F
from django.shortcuts import get_object_or_404, redirect
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.timesince import timesince

from pharmacy.admin import HistoryAdmin
from pharmacy.admin_search import (
    EMAIL,
    EXACT,
    ID,
    NAME,
    PREFIX,
    CappedCountPaginator,
    IndexedSearchMixin,
)

from .. import services
from ..models import (
    AuditEvent,
    MedicalProfile,
    Prescription,
    Status,
)
from ..selectors import profile_changes
from ..services.identity import IDENTITY_MISMATCH_CODE
from ..services.prescriptions import EDITABLE_DETAILS, OPEN_STATUSES
from .decision import VERIFY_PERMISSION, DecisionMixin
from .mixins import AuditedAdminMixin
from .review import ReviewAfterVerificationMixin


class OrderWaitingFilter(admin.SimpleListFilter):
    title = "order waiting"
    parameter_name = "order_waiting"

    def lookups(self, request, model_admin):
        return [("yes", "An order waits for it"), ("no", "No order waits")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(order_waiting_since__isnull=False)
        if self.value() == "no":
            return queryset.filter(order_waiting_since__isnull=True)
        return queryset


@admin.register(Prescription)
class PrescriptionAdmin(
    IndexedSearchMixin, DecisionMixin, ReviewAfterVerificationMixin, AuditedAdminMixin, HistoryAdmin
):
    """The pharmacist's verification queue: prescriptions an order waits for first (the
    patient's card is held until they are verified), then the other open ones, oldest first."""

    audit_action = AuditEvent.Action.VIEW_PRESCRIPTION
    audit_history_action = AuditEvent.Action.VIEW_PRESCRIPTION_HISTORY
    audit_list_action = AuditEvent.Action.LIST_PRESCRIPTIONS

    change_form_template = "admin/prescriptions/prescription/change_form.html"
    # "Save" comes first in the form, so Enter in a details field saves rather than decides.
    save_on_top = True

    class Media:
        css = {"all": ["css/admin-prescriptions.css"]}

    list_display = (
        "number",
        "patient_display",
        "medicine",
        "source",
        "status",
        "findings",
        "waiting",
        "order_waiting",
        "submitted_at",
    )
    list_display_links = ("number", "patient_display")
    list_filter = (
        "status",
        OrderWaitingFilter,
        "source",
        ("has_blocking_checks", admin.BooleanFieldListFilter),
        "partner",
    )
    search_fields = (
        "patient_email",
        "patient_name",
        "patient__first_name",
        "patient__last_name",
        "prescriber_name",
        "prescriber_npi",
        "partner_reference",
    )
    indexed_search = (
        ("pk", ID),
        ("patient_email", EMAIL),
        ("patient_name", NAME),
        ("patient__first_name", NAME),
        ("patient__last_name", NAME),
        ("prescriber_name", NAME),
        ("prescriber_npi", PREFIX),
        ("partner_reference", EXACT),
    )
    list_select_related = ("patient", "formulation__drug", "partner")
    list_per_page = 50
    show_full_result_count = False
    paginator = CappedCountPaginator
    autocomplete_fields = ()
    fieldsets = (
        (
            "Patient",
            {
                "fields": (
                    "patient_summary",
                    "source",
                    "partner",
                    "partner_reference",
                    "patient_note",
                    "submitted_at",
                )
            },
        ),
        ("Documents", {"fields": ("documents_preview",)}),
        ("Clinical checks", {"fields": ("checks_table",)}),
        (
            "Prescription details",
            {
                "description": "Fill in or confirm from the document. Saving runs the checks again.",
                "fields": (
                    ("prescriber_name", "prescriber_npi", "prescriber_license"),
                    ("drug", "formulation"),
                    "directions",
                    ("units_per_dose", "doses_per_day"),
                    ("quantity", "refills"),
                    ("date_written", "expiry_date"),
                ),
            },
        ),
        (
            "Decision and history",
            {
                "fields": (
                    "status",
                    "pharmacist_message",
                    "decided_by",
                    "decided_at",
                    "override_reason",
                    "units",
                    "status_history",
                )
            },
        ),
    )
    base_readonly = (
        "patient_summary",
        "source",
        "partner",
        "partner_reference",
        "patient_note",
        "submitted_at",
        "documents_preview",
        "checks_table",
        "status",
        "pharmacist_message",
        "decided_by",
        "decided_at",
        "override_reason",
        "units",
        "status_history",
        "review_state",
    )

    def get_ordering(self, request):
        """The queue: waiting for a pharmacist with an order waiting (longest-held card
        first), then the rest waiting for a pharmacist, then waiting for the patient, then
        decided; oldest first within each. Stored as `queue_rank` and indexed, so a page
        reads only its rows."""
        return [
            "queue_rank",
            F("order_waiting_since").asc(nulls_last=True),
            "submitted_at",
            "pk",
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is None or obj.status not in OPEN_STATUSES:
            return self.base_readonly + tuple(EDITABLE_DETAILS)
        return self.base_readonly

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "formulation":
            kwargs["queryset"] = db_field.related_model.objects.select_related("drug")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        details = {
            name: form.cleaned_data[name] for name in form.changed_data if name in EDITABLE_DETAILS
        }
        if details:
            services.prescription_update_details(
                prescription_id=obj.pk, actor=request.user, details=details
            )

    def audit_patient(self, obj):
        return obj.patient

    def change_view(self, request, object_id, form_url="", extra_context=None):
        prescription = self.get_object(request, unquote(object_id))
        extra_context = extra_context or {}
        if prescription and prescription.status == Status.NEEDS_INFO:
            extra_context["waiting_for_patient"] = True
        if prescription and prescription.status in OPEN_STATUSES:
            own = services.prescription_is_own(prescription=prescription, user=request.user)
            extra_context["own_prescription"] = own
            allowed = request.user.has_perm(VERIFY_PERMISSION) and not own
            extra_context["can_resolve_identity"] = allowed and any(
                r.get("code") == IDENTITY_MISMATCH_CODE and r.get("level") == "block"
                for r in prescription.check_results
            )
            if prescription.status == Status.SUBMITTED:
                extra_context["decision_form"] = self.decision_form(request)
                extra_context["can_decide"] = allowed
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        return [
            path(
                "<int:pk>/accept-identity/",
                self.admin_site.admin_view(self.accept_identity_view),
                name="prescriptions_prescription_accept_identity",
            ),
            *super().get_urls(),
        ]

    def accept_identity_view(self, request, pk: int):
        """Settle an identity mismatch: attach to the named account, with the reason."""
        if request.method != "POST":
            return redirect("admin:prescriptions_prescription_change", pk)
        if not request.user.has_perm(VERIFY_PERMISSION):
            raise PermissionDenied
        get_object_or_404(Prescription, pk=pk)
        try:
            prescription = services.prescription_accept_identity(
                prescription_id=pk,
                pharmacist=request.user,
                reason=request.POST.get("identity_reason", ""),
            )
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
        else:
            messages.success(
                request,
                f"Prescription #{pk}: identity accepted for the account {prescription.patient}.",
            )
        return redirect("admin:prescriptions_prescription_change", pk)

    @admin.display(description="#", ordering="pk")
    def number(self, obj):
        return f"#{obj.pk}"

    @admin.display(description="Patient", ordering="patient_name")
    def patient_display(self, obj):
        return obj.patient_name or obj.patient_email

    @admin.display(description="Medicine")
    def medicine(self, obj):
        return str(obj.formulation) if obj.formulation_id else "—"

    @admin.display(description="Checks", ordering="has_blocking_checks")
    def findings(self, obj):
        levels = [r.get("level") for r in obj.check_results]
        blocks, warnings = levels.count("block"), levels.count("warn")
        if not levels:
            return "✓ clear"
        parts = []
        if blocks:
            parts.append(format_html('<strong class="rx-blocking">⛔ {} blocking</strong>', blocks))
        if warnings:
            parts.append(format_html("⚠ {} warning{}", warnings, "s" if warnings > 1 else ""))
        return mark_safe("<br>".join(parts))  # noqa: S308 - every part went through format_html

    @admin.display(description="Waiting")
    def waiting(self, obj):
        if obj.status not in OPEN_STATUSES:
            return "—"
        return timesince(obj.submitted_at)

    @admin.display(description="Order waiting", ordering="order_waiting_since")
    def order_waiting(self, obj):
        since = obj.order_waiting_since
        if since is None:
            return "—"
        return format_html(
            '<strong class="rx-order-waiting">card held {} ago</strong>', timesince(since)
        )

    @admin.display(description="Patient")
    def patient_summary(self, obj):
        profile = (
            MedicalProfile.objects.filter(user_id=obj.patient_id)
            .prefetch_related("medication_classes", "hypersensitive_to")
            .first()
            if obj.patient_id
            else None
        )
        return render_to_string(
            "admin/prescriptions/includes/_patient_summary.html",
            {
                "prescription": obj,
                "profile": profile,
                "age": profile.age_on(timezone.localdate()) if profile else None,
                "changes": profile_changes(profile, limit=5) if profile else [],
                "profile_url": reverse(
                    "admin:prescriptions_medicalprofile_change", args=[profile.pk]
                )
                if profile
                else None,
            },
        )

    @admin.display(description="Documents")
    def documents_preview(self, obj):
        return render_to_string(
            "admin/prescriptions/includes/_documents.html", {"documents": obj.documents.all()}
        )

    @admin.display(description="Findings")
    def checks_table(self, obj):
        return render_to_string(
            "admin/prescriptions/includes/_checks.html",
            {"results": obj.check_results, "run_at": obj.checks_run_at},
        )

    @admin.display(description="Units")
    def units(self, obj):
        return f"{obj.units_used} used of {obj.units_authorised} authorised"

    @admin.display(description="Status history")
    def status_history(self, obj):
        return render_to_string(
            "admin/prescriptions/includes/_status_history.html",
            {"changes": obj.status_changes.select_related("actor")},
        )
