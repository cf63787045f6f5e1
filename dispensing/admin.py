"""Dispensing in the admin: lots received and expiring, the "to check" queue, the records.

Lots are received through `services.stock.lot_receive` (the add form) and never edited
or deleted afterwards; the final check and the dispense records are read-only here,
made only by `services.final_check.order_final_check` from the queue's check page.
"""

from datetime import timedelta

from django import forms
from django.contrib import admin
from django.utils import timezone

from pharmacy.admin import HistoryAdmin

from .admin_conversations import OrderConversationAdmin  # noqa: F401  registers them
from .admin_queue import OrderToCheckAdmin  # noqa: F401  registers the queue
from .admin_recalls import DispatchHoldAdmin, RecallAdmin  # noqa: F401  registers recalls
from .models import EXPIRES_SOON_DAYS, DispenseRecord, DispenseReturn, FinalCheck, Lot
from .services.stock import lot_receipt_errors, lot_receive


class ExpiryFilter(admin.SimpleListFilter):
    title = "expiry"
    parameter_name = "expiry"

    def lookups(self, request, model_admin):
        return [
            ("soon", f"Expires within {EXPIRES_SOON_DAYS} days"),
            ("expired", "Expired"),
            ("ok", f"More than {EXPIRES_SOON_DAYS} days left"),
        ]

    def queryset(self, request, queryset):
        today = timezone.localdate()
        soon = today + timedelta(days=EXPIRES_SOON_DAYS)
        if self.value() == "soon":
            return queryset.filter(expiry_date__gte=today, expiry_date__lte=soon)
        if self.value() == "expired":
            return queryset.filter(expiry_date__lt=today)
        if self.value() == "ok":
            return queryset.filter(expiry_date__gt=soon)
        return queryset


class OnHandFilter(admin.SimpleListFilter):
    title = "on hand"
    parameter_name = "on_hand"

    def lookups(self, request, model_admin):
        return [("yes", "Packages left"), ("no", "Used up")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(quantity_on_hand__gt=0)
        if self.value() == "no":
            return queryset.filter(quantity_on_hand=0)
        return queryset


class LotReceiveForm(forms.ModelForm):
    class Meta:
        model = Lot
        fields = (
            "package",
            "lot_number",
            "expiry_date",
            "quantity_received",
            "supplier",
            "invoice_reference",
        )
        widgets = {"expiry_date": forms.DateInput(attrs={"type": "date"})}

    def clean(self):
        data = super().clean()
        errors = lot_receipt_errors(
            lot_number=data.get("lot_number", ""),
            expiry_date=data.get("expiry_date"),
            quantity=data.get("quantity_received"),
            supplier=data.get("supplier", ""),
            invoice_reference=data.get("invoice_reference", ""),
        )
        for name, message in errors.items():
            if name not in self.errors:
                self.add_error(name, message)
        return data


@admin.register(Lot)
class LotAdmin(HistoryAdmin):
    """Receive a lot with *Add lot*; a received lot is read-only and kept for good."""

    list_display = (
        "lot_number",
        "package",
        "expiry_date",
        "state",
        "quantity_on_hand",
        "quantity_received",
        "supplier",
        "invoice_reference",
        "received_at",
    )
    list_filter = (ExpiryFilter, OnHandFilter, "package__formulation__drug", "supplier")
    search_fields = ("lot_number", "supplier", "invoice_reference")
    list_select_related = ("package__formulation__drug",)
    show_full_result_count = False
    readonly_fields = [f.name for f in Lot._meta.fields]

    @admin.display(description="State")
    def state(self, obj):
        if obj.is_held:
            return "Held (recall)"
        if obj.is_expired():
            return "Expired: off sale"
        if obj.expiry_date <= timezone.localdate() + timedelta(days=EXPIRES_SOON_DAYS):
            return "Expires soon"
        return "On sale" if obj.quantity_on_hand else "Used up"

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = LotReceiveForm
        return super().get_form(request, obj, change, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else ()

    def get_fields(self, request, obj=None):
        if obj is None:
            return LotReceiveForm.Meta.fields
        return super().get_fields(request, obj)

    def save_model(self, request, obj, form, change):
        if change:
            return
        received = lot_receive(
            package_id=obj.package_id,
            lot_number=obj.lot_number,
            expiry_date=obj.expiry_date,
            quantity=obj.quantity_received,
            supplier=obj.supplier,
            invoice_reference=obj.invoice_reference,
            received_by=request.user,
        )
        obj.pk = received.pk
        obj._state.adding = False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(FinalCheck)
class FinalCheckAdmin(ReadOnlyAdmin):
    list_display = ("order", "outcome", "round", "pharmacist", "at")
    list_filter = ("outcome", "at")
    search_fields = ("order__number", "pharmacist__email", "reason")
    list_select_related = ("order", "pharmacist")
    readonly_fields = ("order", "outcome", "round", "reason", "pharmacist", "at")


@admin.register(DispenseRecord)
class DispenseRecordAdmin(ReadOnlyAdmin):
    list_display = (
        "order_line",
        "order_number",
        "lot_number",
        "expiry_date",
        "quantity",
        "units",
        "pharmacist",
        "at",
        "put_back",
    )
    list_filter = ("at", "lot__package__formulation__drug")
    search_fields = ("lot_number", "order_line__order__number", "order_line__order__patient__email")
    list_select_related = ("order_line__order", "pharmacist", "returned")
    readonly_fields = (
        "put_back",
        "final_check",
        "order_line",
        "prescription",
        "lot",
        "lot_number",
        "expiry_date",
        "quantity",
        "units",
        "pharmacist",
        "at",
    )

    @admin.display(description="Order", ordering="order_line__order__number")
    def order_number(self, obj):
        return obj.order_line.order.number

    @admin.display(description="Put back")
    def put_back(self, obj):
        returned = getattr(obj, "returned", None)
        if returned is None:
            return "—"
        if returned.reason == DispenseReturn.Reason.RECHECK:
            sale = "still the order's, for its new check"
        else:
            sale = "on sale" if returned.back_on_sale else "kept off sale"
        return f"{returned.at:%Y-%m-%d %H:%M}, {returned.get_reason_display().lower()} ({sale})"


@admin.register(DispenseReturn)
class DispenseReturnAdmin(ReadOnlyAdmin):
    """Boxes put back into their lot before they left: who, when, why. Written by the
    refund and by unpacking a parcel a recall held (services.returns), never here."""

    list_display = (
        "record",
        "order_number",
        "quantity",
        "back_on_sale",
        "reason",
        "returned_by",
        "at",
    )
    list_filter = ("reason", "back_on_sale", "at")
    search_fields = ("record__lot_number", "record__order_line__order__number", "note")
    list_select_related = ("record__order_line__order", "returned_by")
    readonly_fields = (
        "record",
        "quantity",
        "back_on_sale",
        "reason",
        "note",
        "returned_by",
        "at",
    )

    @admin.display(description="Order", ordering="record__order_line__order__number")
    def order_number(self, obj):
        return obj.record.order_line.order.number
