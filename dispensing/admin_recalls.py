"""Recalls in the admin: staff enter a recalled lot; its page lists who received it, and
the parcels it holds, which a pharmacist unpacks for a new final check."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.html import format_html, format_html_join

from pharmacy.admin import HistoryAdmin

from .models import DispatchHold, Recall, RecallNotice
from .services.final_check import CHECK_PERMISSION
from .services.holds import hold_recheck
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
    fields = ("patient", "orders", "held_orders", "sent_at")
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


@admin.register(DispatchHold)
class DispatchHoldAdmin(HistoryAdmin):
    """Parcels checked with a recalled lot before the courier took them: held, not sent.

    Open holds first. The action unpacks a parcel for a new final check with another
    lot (services.holds.hold_recheck); refunding the order closes its hold too.
    """

    list_display = ("order", "patient", "reason", "held_at", "outcome", "closed_by", "closed_at")
    list_filter = ("outcome", "held_at")
    search_fields = ("order__number", "order__patient__email", "recall__lot_number")
    list_select_related = ("order__patient", "recall", "closed_by")
    readonly_fields = ("order", "recall", "reason", "held_at", "outcome", "closed_by", "closed_at")
    actions = ["recheck_selected"]
    ordering = ("outcome", "-held_at", "-pk")  # "held" sorts before "recheck", "refunded"

    @admin.display(description="Patient", ordering="order__patient__email")
    def patient(self, obj):
        return obj.order.patient

    @admin.action(description="Unpack for a new final check with another lot")
    def recheck_selected(self, request, queryset):
        if not request.user.has_perm(CHECK_PERMISSION):
            raise PermissionDenied
        for hold in queryset:
            try:
                order = hold_recheck(hold_id=hold.pk, pharmacist=request.user)
            except ValidationError as exc:
                self.message_user(
                    request, f"{hold.order}: {' '.join(exc.messages)}", messages.ERROR
                )
            else:
                self.message_user(
                    request,
                    f"Order {order.number} is back in the orders to check: its boxes are back "
                    "in their lots, the recalled ones kept off sale.",
                )

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not request.user.has_perm(CHECK_PERMISSION):
            actions.pop("recheck_selected", None)
        return actions

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
