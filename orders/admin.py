from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import ValidationError
from django.utils.html import format_html
from django.utils.translation import gettext as _

from pharmacy.admin import HistoryAdmin
from pharmacy.admin_search import CODE, EMAIL, EXACT, NAME, CappedCountPaginator, IndexedSearchMixin

from . import services
from .extensions import dispatch_hold_reason
from .models import (
    AutoRefill,
    AutoRefillChange,
    AutoRefillCycle,
    DeliveryAddress,
    Discrepancy,
    Order,
    OrderLine,
    OrderStatusChange,
    PaymentEvent,
    Shipment,
    ShippingOption,
)
from .payments.refunds import refund_order
from .services.autorefill import auto_refill_stop

REFUND_PERMISSION = "orders.refund_order"


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class OrderLineInline(ReadOnlyInline):
    model = OrderLine
    fields = (
        "description",
        "package_price",
        "quantity",
        "units",
        "prescription",
        "units_reserved",
        "monograph_version",
    )
    readonly_fields = fields


class StatusChangeInline(ReadOnlyInline):
    model = OrderStatusChange
    fields = ("at", "from_status", "to_status", "actor", "note")
    readonly_fields = fields


class PaymentEventInline(ReadOnlyInline):
    model = PaymentEvent
    fields = ("received_at", "type", "event_id", "processed_at", "outcome")
    readonly_fields = fields


class DiscrepancyInline(ReadOnlyInline):
    model = Discrepancy
    fk_name = "order"
    fields = ("detected_at", "kind", "amount", "currency", "refund_status", "detail")
    readonly_fields = fields


class ShipmentInline(ReadOnlyInline):
    model = Shipment
    fields = ("carrier", "tracking_number", "tracking_url", "status", "created_at", "delivered_at")
    readonly_fields = fields


class DeliveryFilter(admin.SimpleListFilter):
    """The delivery options by name, read from the options (a handful) rather than from
    a DISTINCT over every order."""

    title = "delivery"
    parameter_name = "shipping_name"

    def lookups(self, request, model_admin):
        names = ShippingOption.objects.order_by("position", "pk").values_list("name", flat=True)
        return [(name, name) for name in dict.fromkeys(names)]

    def queryset(self, request, queryset):
        return queryset.filter(shipping_name=self.value()) if self.value() else queryset


@admin.register(Order)
class OrderAdmin(IndexedSearchMixin, admin.ModelAdmin):
    list_display = (
        "number",
        "patient",
        "status",
        "total",
        "shipping_name",
        "created_at",
        "paid_at",
        "tracking",
    )
    list_filter = ("status", "capture_method", DeliveryFilter, "created_at", "paid_at")
    search_fields = (
        "number",
        "patient__email",
        "patient__last_name",
        "ship_name",
        "stripe_session_id",
        "stripe_payment_intent",
        "shipment__tracking_number",
    )
    indexed_search = (
        ("number", CODE),
        ("patient__email", EMAIL),
        ("patient__last_name", NAME),
        ("ship_name", NAME),
        ("stripe_session_id", EXACT),
        ("stripe_payment_intent", EXACT),
        ("shipment__tracking_number", EXACT),
    )
    list_select_related = ("patient", "shipment")
    show_full_result_count = False
    paginator = CappedCountPaginator
    inlines = [
        OrderLineInline,
        ShipmentInline,
        StatusChangeInline,
        PaymentEventInline,
        DiscrepancyInline,
    ]
    actions = ["refund_selected", "cancel_selected"]
    readonly_fields = [*(f.name for f in Order._meta.fields), "dispatch_hold"]
    fieldsets = (
        (None, {"fields": ("number", "patient", "status", "total", "currency")}),
        ("At the pharmacy", {"fields": ("checked_at", "checked_by", "dispatch_hold")}),
        (
            "Delivery address",
            {
                "fields": (
                    "ship_name",
                    "ship_line1",
                    "ship_line2",
                    "ship_city",
                    "ship_state",
                    "ship_zip",
                    "ship_phone",
                )
            },
        ),
        (
            "Delivery option, as chosen at checkout",
            {
                "fields": (
                    "shipping_name",
                    "shipping_price",
                    "shipping_days_min",
                    "shipping_days_max",
                )
            },
        ),
        (
            "Payment",
            {
                "fields": (
                    "created_at",
                    "payment_due_by",
                    "capture_method",
                    "authorised_at",
                    "capture_before",
                    "paid_at",
                    "stripe_session_id",
                    "stripe_payment_intent",
                    "amount_refunded",
                )
            },
        ),
    )

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not request.user.has_perm(REFUND_PERMISSION):
            actions.pop("refund_selected", None)
            actions.pop("cancel_selected", None)
        return actions

    def action_checkbox(self, obj):
        """Django's checkbox as its widget writes it, without rendering the widget's
        template once per row: that was a sixth of each row's cost, 100 rows a page."""
        label = format_html(_("Select this object for an action - {}"), str(obj))
        return format_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select" aria-label="{}">',
            ACTION_CHECKBOX_NAME,
            str(obj.pk),
            label,
        )

    @admin.display(description="Held, not to be sent")
    def dispatch_hold(self, obj):
        """Why the courier may not take the parcel (a recall of a lot in it), if held."""
        return dispatch_hold_reason(obj.pk) or "—"

    @admin.display(description="Tracking")
    def tracking(self, obj):
        shipment = getattr(obj, "shipment", None)
        return format_html("{}", shipment.tracking_number) if shipment else "—"

    @admin.action(description="Refund selected paid orders (through Stripe)")
    def refund_selected(self, request, queryset):
        for order in queryset:
            try:
                refund_order(order_id=order.pk, actor=request.user)
            except ValidationError as exc:
                self.message_user(
                    request, f"{order.number}: {' '.join(exc.messages)}", messages.ERROR
                )
            except Exception as exc:  # a Stripe outage: say so, keep going with the others
                self.message_user(
                    request, f"{order.number}: refund failed ({exc}); try again.", messages.ERROR
                )
            else:
                self.message_user(
                    request, f"{order.number} refunded; stock and prescription units given back."
                )

    @admin.action(description="Cancel selected orders waiting for payment")
    def cancel_selected(self, request, queryset):
        for order in queryset:
            try:
                services.order_cancel(
                    order_id=order.pk, actor=request.user, note="Cancelled by the pharmacy"
                )
            except ValidationError as exc:
                self.message_user(
                    request, f"{order.number}: {' '.join(exc.messages)}", messages.ERROR
                )
            else:
                self.message_user(
                    request, f"{order.number} cancelled; stock and prescription units given back."
                )


@admin.register(PaymentEvent)
class PaymentEventAdmin(admin.ModelAdmin):
    list_display = ("received_at", "type", "event_id", "order", "processed_at", "outcome")
    list_filter = ("type", ("processed_at", admin.EmptyFieldListFilter))
    search_fields = ("event_id", "order__number", "outcome")
    list_select_related = ("order",)
    readonly_fields = [f.name for f in PaymentEvent._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(DeliveryAddress)
class DeliveryAddressAdmin(admin.ModelAdmin):
    list_display = ("user", "full_name", "city", "state", "zip_code")
    search_fields = ("user__email", "full_name", "zip_code")
    list_filter = ("state",)


@admin.register(Discrepancy)
class DiscrepancyAdmin(admin.ModelAdmin):
    """Payments that did not pay their order, and paid orders without a payment, as the
    webhook and the nightly reconciliation found them; staff write how each was resolved."""

    list_display = (
        "detected_at",
        "kind",
        "order",
        "amount",
        "currency",
        "refund_status",
        "stripe_session_id",
        "resolved_at",
    )
    list_filter = (
        "kind",
        "refund_status",
        ("resolved_at", admin.EmptyFieldListFilter),
        "detected_at",
    )
    search_fields = (
        "order__number",
        "stripe_session_id",
        "stripe_payment_intent",
        "stripe_refund_id",
        "detail",
    )
    list_select_related = ("order",)
    readonly_fields = (
        "kind",
        "order",
        "stripe_session_id",
        "stripe_payment_intent",
        "amount",
        "currency",
        "detail",
        "refund_status",
        "stripe_refund_id",
        "detected_at",
        "notified_at",
    )
    fields = (*readonly_fields, "resolved_at", "resolution")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class AutoRefillChangeInline(ReadOnlyInline):
    model = AutoRefillChange
    fields = ("at", "from_status", "to_status", "actor", "note")
    readonly_fields = fields


class AutoRefillCycleInline(ReadOnlyInline):
    model = AutoRefillCycle
    fields = ("run_on", "outcome", "order", "detail", "notice_sent_at", "outcome_sent_at")
    readonly_fields = fields


@admin.register(AutoRefill)
class AutoRefillAdmin(admin.ModelAdmin):
    """Patients' auto-refills: read-only (the patient decides), with every decision and
    cycle; staff may turn one off, which is recorded with who and why."""

    list_display = ("prescription", "patient", "package", "quantity", "status", "next_run_on")
    list_filter = ("status", "next_run_on")
    search_fields = ("patient__email", "patient__last_name", "prescription__pk", "card_label")
    list_select_related = ("patient", "package__formulation__drug", "prescription")
    readonly_fields = (
        "patient",
        "prescription",
        "package",
        "quantity",
        "status",
        "card_label",
        "stripe_customer_id",
        "stripe_payment_method_id",
        "stripe_setup_session_id",
        "next_run_on",
        "stopped_reason",
        "created_at",
    )
    exclude = ("updated_at",)
    inlines = [AutoRefillChangeInline, AutoRefillCycleInline]
    actions = ["turn_off"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Turn off the selected auto-refills", permissions=["change"])
    def turn_off(self, request, queryset):
        stopped = sum(
            auto_refill_stop(
                auto_refill_id=pk, actor=request.user, reason="Turned off by the pharmacy"
            )
            for pk in queryset.values_list("pk", flat=True)
        )
        self.message_user(request, f"{stopped} auto-refill(s) turned off.", messages.SUCCESS)


@admin.register(ShippingOption)
class ShippingOptionAdmin(HistoryAdmin):
    """The delivery options patients choose from at checkout. A placed order keeps the
    name, price and days it was placed with, so editing an option changes only orders
    placed after; an option no longer offered is turned off, never deleted."""

    list_display = ("name", "price", "days_min", "days_max", "active", "position", "updated_at")
    list_filter = ("active",)
    search_fields = ("name",)
    ordering = ("position", "pk")
    fields = ("name", "price", ("days_min", "days_max"), "active", "position")

    def has_delete_permission(self, request, obj=None):
        return False
