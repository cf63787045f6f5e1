from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from pharmacy.admin import RestorableHistoryAdmin
from pharmacy.admin_search import CappedCountPaginator

from . import services
from .forms import StockAdjustForm
from .models import (
    DosingGuideline,
    Drug,
    DrugCondition,
    Formulation,
    Interaction,
    MedicationClass,
    MonographSection,
    Package,
    RenalThreshold,
    StockAdjustment,
)

ADJUST_STOCK_PERMISSION = "catalog.add_stockadjustment"


class CatalogHistoryAdmin(RestorableHistoryAdmin):
    """Each save keeps who and why; "Restore this version" goes through the catalog's
    service, with the change permission of the record."""

    restore_service = staticmethod(services.version_restore)


class MonographSectionInline(admin.StackedInline):
    model = MonographSection
    extra = 0
    fields = ("position", "heading", "slug", "body", "callout", "in_patient_leaflet")
    prepopulated_fields = {"slug": ("heading",)}
    show_change_link = True


class DosingGuidelineInline(admin.StackedInline):
    model = DosingGuideline
    extra = 0
    show_change_link = True
    fieldsets = (
        (None, {"fields": ("position", "patient_group", "route")}),
        ("As shown to patients", {"fields": ("initial_dose", "titration", "maximum")}),
        (
            "Numbers read by the clinical checks",
            {
                "fields": (
                    ("min_age_years", "max_age_years"),
                    ("initial_dose_mg", "initial_doses_per_day"),
                    ("titration_step_mg", "titration_interval_days"),
                    "max_daily_mg",
                    ("max_dose_mg", "max_doses_per_day"),
                    ("min_mg_per_kg_day", "max_mg_per_kg_day"),
                    "not_established",
                    "source",
                )
            },
        ),
    )


class InteractionInline(admin.TabularInline):
    """Interaction classes: the profile's classes that trigger each, and its severity.
    The substances matched in free text are edited on each medication class."""

    model = Interaction
    extra = 0
    fields = ("position", "name", "medication_classes", "effect", "severity")
    show_change_link = True


class DrugConditionInline(admin.TabularInline):
    """The profile facts that matter for this drug; a fact without a row is no finding."""

    model = DrugCondition
    extra = 0
    fields = ("position", "fact", "severity", "message", "source")
    show_change_link = True


class RenalThresholdInline(admin.TabularInline):
    model = RenalThreshold
    extra = 0
    fields = ("measure", "below", "action", "severity", "source")
    show_change_link = True


class FormulationInline(admin.TabularInline):
    model = Formulation
    extra = 0
    fields = (
        "position",
        "form",
        "strength_label",
        "strength_mg",
        "concentration_mg_per_ml",
        "rxnorm_code",
        "sellable",
    )
    show_change_link = True


@admin.register(Drug)
class DrugAdmin(CatalogHistoryAdmin):
    list_display = ("name", "also_known_as", "manufacturer", "is_published", "updated_at")
    list_filter = ("is_published", "prescription_required")
    search_fields = ("name", "also_known_as", "summary")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [
        MonographSectionInline,
        DosingGuidelineInline,
        InteractionInline,
        DrugConditionInline,
        RenalThresholdInline,
        FormulationInline,
    ]
    view_on_site = True


@admin.register(MonographSection)
class MonographSectionAdmin(CatalogHistoryAdmin):
    list_display = ("heading", "drug", "position", "has_callout", "in_patient_leaflet")
    list_filter = ("drug", "in_patient_leaflet")
    search_fields = ("heading", "body", "callout")
    list_select_related = ("drug",)
    prepopulated_fields = {"slug": ("heading",)}

    @admin.display(boolean=True, description="Callout")
    def has_callout(self, obj):
        return bool(obj.callout)


@admin.register(DosingGuideline)
class DosingGuidelineAdmin(CatalogHistoryAdmin):
    list_display = (
        "patient_group",
        "drug",
        "route",
        "min_age_years",
        "max_age_years",
        "not_established",
        "max_daily_mg",
        "max_dose_mg",
        "max_doses_per_day",
    )
    list_filter = ("drug", "route")
    search_fields = ("patient_group",)
    list_select_related = ("drug",)
    fieldsets = DosingGuidelineInline.fieldsets


@admin.register(Interaction)
class InteractionAdmin(CatalogHistoryAdmin):
    list_display = ("name", "drug", "severity")
    list_filter = ("drug", "severity")
    search_fields = ("name", "effect", "medication_classes__name")
    list_select_related = ("drug",)
    filter_horizontal = ("medication_classes",)


@admin.register(DrugCondition)
class DrugConditionAdmin(CatalogHistoryAdmin):
    list_display = ("fact", "drug", "severity")
    list_filter = ("drug", "fact", "severity")
    search_fields = ("message", "source")
    list_select_related = ("drug",)


@admin.register(RenalThreshold)
class RenalThresholdAdmin(CatalogHistoryAdmin):
    list_display = ("__str__", "drug", "action", "severity")
    list_filter = ("drug", "severity")
    list_select_related = ("drug",)


@admin.register(MedicationClass)
class MedicationClassAdmin(CatalogHistoryAdmin):
    list_display = ("name", "slug", "substances")
    search_fields = ("name", "substances")
    prepopulated_fields = {"slug": ("name",)}
    fields = ("name", "slug", "substances")


class PackageInline(admin.TabularInline):
    """The formulation's pack sizes, read here and edited on each package's own page:
    there prices are saved with their history and stock only moves through "Adjust
    stock" (a form here would write back the stock it read)."""

    model = Package
    extra = 0
    fields = ("pill_count", "price", "per_pill", "stock", "active")
    readonly_fields = fields
    can_delete = False
    show_change_link = True
    verbose_name = "pack size"

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description="Per pill")
    def per_pill(self, obj):
        # An invalid formulation form is shown again with its inline's forms, which may
        # hold no package.
        return obj.price_per_pill if obj.pk else ""


@admin.register(Formulation)
class FormulationAdmin(CatalogHistoryAdmin):
    list_display = (
        "__str__",
        "drug",
        "form",
        "strength_label",
        "rxnorm_code",
        "pack_sizes",
        "sellable",
    )
    list_filter = ("drug", "form", "sellable")
    search_fields = ("drug__name", "strength_label", "rxnorm_code")
    list_select_related = ("drug",)
    readonly_fields = ("add_pack_size",)
    inlines = [PackageInline]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("packages")

    @admin.display(description="Packs (pills)")
    def pack_sizes(self, obj):
        return ", ".join(str(p.pill_count) for p in obj.packages.all()) or "-"

    @admin.display(description="New pack size")
    def add_pack_size(self, obj):
        if obj is None or obj.pk is None:
            return "Save the formulation first, then add its packs."
        url = f"{reverse('admin:catalog_package_add')}?formulation={obj.pk}"
        return format_html('<a href="{}">Add a pack size of {}</a>', url, obj)


class StockFilter(admin.SimpleListFilter):
    title = "stock"
    parameter_name = "stock"

    def lookups(self, request, model_admin):
        return [("out", "Out of stock"), ("in", "In stock")]

    def queryset(self, request, queryset):
        if self.value() == "out":
            return queryset.filter(stock=0)
        if self.value() == "in":
            return queryset.filter(stock__gt=0)
        return queryset


@admin.register(Package)
class PackageAdmin(CatalogHistoryAdmin):
    """Prices and packages are edited here; stock only moves through "Adjust stock".

    A form that wrote the stock back would write the value read when it was opened,
    undoing every order placed meanwhile; so stock is shown, never a field, and
    saving a package writes every column but stock.
    """

    list_display = ("__str__", "price", "price_per_pill", "stock", "adjust_link", "active")
    # Not the price: a price change needs its reason, which only the package's form asks.
    list_editable = ("active",)
    list_filter = ("active", StockFilter, "formulation__drug", "formulation__form")
    search_fields = ("formulation__drug__name", "formulation__strength_label")
    list_select_related = ("formulation__drug",)
    readonly_fields = ("price_per_pill", "stock_on_shelf")
    fields = ("formulation", "pill_count", "price", "price_per_pill", "stock_on_shelf", "active")
    reason_required_for = ("price",)

    @admin.display(description="Per pill")
    def price_per_pill(self, obj):
        return obj.price_per_pill if obj.price and obj.pill_count else "-"

    @admin.display(description="Stock")
    def stock_on_shelf(self, obj):
        if obj.pk is None:
            return "0 (add boxes with “Adjust stock” once the package is saved)"
        return format_html(
            '{} boxes · <a href="{}">Adjust stock</a>',
            obj.stock,
            reverse("admin:catalog_package_adjust_stock", args=[obj.pk]),
        )

    @admin.display(description="")
    def adjust_link(self, obj):
        url = reverse("admin:catalog_package_adjust_stock", args=[obj.pk])
        return format_html('<a href="{}">Adjust stock</a>', url)

    def save_model(self, request, obj, form, change):
        self.note_change(request, obj, form)
        if not change:
            obj.save()
            return
        columns = [
            field.name
            for field in obj._meta.concrete_fields
            if not field.primary_key and field.name != "stock"
        ]
        obj.save(update_fields=columns)

    def get_urls(self):
        return [
            path(
                "<path:object_id>/stock/",
                self.admin_site.admin_view(self.adjust_stock_view),
                name="catalog_package_adjust_stock",
            ),
            *super().get_urls(),
        ]

    def adjust_stock_view(self, request, object_id):
        """Add or remove boxes with a reason, through `services.stock_adjust`."""
        if not request.user.has_perm(ADJUST_STOCK_PERMISSION):
            raise PermissionDenied
        package = self.get_object(request, unquote(object_id))
        if package is None:
            raise Http404
        form = StockAdjustForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            try:
                adjustment = services.stock_adjust(
                    package_id=package.pk,
                    quantity=form.cleaned_data["quantity"],
                    reason=form.cleaned_data["reason"],
                    actor=request.user,
                )
            except ValidationError as exc:
                _errors_onto(form, exc)
            else:
                messages.success(
                    request,
                    f"{package}: {adjustment.quantity:+d} boxes, "
                    f"{adjustment.stock_after} now on the shelf.",
                )
                return redirect("admin:catalog_package_change", package.pk)
        package.refresh_from_db(fields=["stock"])
        context = {
            **self.admin_site.each_context(request),
            "title": f"Adjust stock: {package}",
            "opts": self.model._meta,
            "original": package,
            "form": form,
            "recent": package.adjustments.select_related("actor")[:10],
            "has_view_permission": self.has_view_permission(request, package),
        }
        return TemplateResponse(request, "admin/catalog/package/adjust_stock.html", context)


def _errors_onto(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


class DirectionFilter(admin.SimpleListFilter):
    title = "direction"
    parameter_name = "direction"

    def lookups(self, request, model_admin):
        return [("added", "Boxes added"), ("removed", "Boxes removed")]

    def queryset(self, request, queryset):
        if self.value() == "added":
            return queryset.filter(quantity__gt=0)
        if self.value() == "removed":
            return queryset.filter(quantity__lt=0)
        return queryset


@admin.register(StockAdjustment)
class StockAdjustmentAdmin(admin.ModelAdmin):
    """Every stock change staff made, read-only: new ones come from "Adjust stock"."""

    list_display = ("at", "package", "change", "stock_after", "actor", "reason")
    list_filter = (DirectionFilter, "package__formulation__drug", "package__formulation__form")
    search_fields = ("reason", "actor__email", "package__formulation__drug__name")
    list_select_related = ("package__formulation__drug", "actor")
    show_full_result_count = False
    paginator = CappedCountPaginator
    readonly_fields = [f.name for f in StockAdjustment._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Boxes", ordering="quantity")
    def change(self, obj):
        return f"{obj.quantity:+d}"
