"""Recalls in the admin: staff enter a recalled lot; its page lists who received it."""

from django import forms
from django.contrib import admin
from django.utils.html import format_html, format_html_join

from pharmacy.admin import HistoryAdmin

from .models import Recall, RecallNotice
from .services.recalls import affected_orders, recall_enter, recall_errors


class RecallForm(forms.ModelForm):
    class Meta:
        model = Recall
        fields = ("package", "lot_number", "reason", "patient_instructions")

    def clean(self):
        data = super().clean()
        package = data.get("package")
        errors = recall_errors(
            package_id=package.pk if package else None, lot_number=data.get("lot_number", "")
        )
        for name, message in errors.items():
            if name not in self.errors:
                self.add_error(name, message)
        return data


class RecallNoticeInline(admin.TabularInline):
    model = RecallNotice
    fields = ("patient", "orders", "sent_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Recall)
class RecallAdmin(HistoryAdmin):
    """Enter a recall with *Add recall*: the lot is held at once and its patients emailed."""

    list_display = ("lot_number", "package", "entered_at", "entered_by", "patients")
    list_filter = ("package__formulation__drug", "entered_at")
    search_fields = ("lot_number", "reason")
    list_select_related = ("package__formulation__drug", "entered_by")
    readonly_fields = (
        "package",
        "lot_number",
        "reason",
        "patient_instructions",
        "entered_by",
        "entered_at",
        "received_by",
    )
    inlines = [RecallNoticeInline]

    @admin.display(description="Patients told")
    def patients(self, obj):
        return obj.notices.count()

    @admin.display(description="Who received the lot")
    def received_by(self, obj):
        received = affected_orders(recall=obj)
        if not received:
            return "Nobody: no box of this lot was dispensed."
        notices = {n.patient_id: n for n in obj.notices.select_related("patient")}
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td></tr>",
            (
                (notices[pid].patient.email if pid in notices else pid, ", ".join(sorted(nums)))
                for pid, nums in received.items()
            ),
        )
        return format_html(
            "<table><thead><tr><th scope='col'>Patient</th><th scope='col'>Orders</th></tr>"
            "</thead><tbody>{}</tbody></table>",
            rows,
        )

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = RecallForm
        return super().get_form(request, obj, change, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else ()

    def get_fields(self, request, obj=None):
        if obj is None:
            return RecallForm.Meta.fields
        return self.readonly_fields

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def save_model(self, request, obj, form, change):
        if change:
            return
        recall = recall_enter(
            package_id=obj.package_id,
            lot_number=obj.lot_number,
            reason=obj.reason,
            patient_instructions=obj.patient_instructions,
            entered_by=request.user,
        )
        obj.pk = recall.pk
        obj._state.adding = False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
