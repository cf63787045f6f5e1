from django.contrib import admin

from pharmacy.admin import HistoryAdmin

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
)


class MonographSectionInline(admin.StackedInline):
    model = MonographSection
    extra = 0
    fields = ("position", "heading", "slug", "body", "callout")
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
        "sellable",
    )
    show_change_link = True


@admin.register(Drug)
class DrugAdmin(HistoryAdmin):
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
class MonographSectionAdmin(HistoryAdmin):
    list_display = ("heading", "drug", "position", "has_callout")
    list_filter = ("drug",)
    search_fields = ("heading", "body", "callout")
    list_select_related = ("drug",)
    prepopulated_fields = {"slug": ("heading",)}

    @admin.display(boolean=True, description="Callout")
    def has_callout(self, obj):
        return bool(obj.callout)


@admin.register(DosingGuideline)
class DosingGuidelineAdmin(HistoryAdmin):
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
class InteractionAdmin(HistoryAdmin):
    list_display = ("name", "drug", "severity")
    list_filter = ("drug", "severity")
    search_fields = ("name", "effect", "medication_classes__name")
    list_select_related = ("drug",)
    filter_horizontal = ("medication_classes",)


@admin.register(DrugCondition)
class DrugConditionAdmin(HistoryAdmin):
    list_display = ("fact", "drug", "severity")
    list_filter = ("drug", "fact", "severity")
    search_fields = ("message", "source")
    list_select_related = ("drug",)


@admin.register(RenalThreshold)
class RenalThresholdAdmin(HistoryAdmin):
    list_display = ("__str__", "drug", "action", "severity")
    list_filter = ("drug", "severity")
    list_select_related = ("drug",)


@admin.register(MedicationClass)
class MedicationClassAdmin(HistoryAdmin):
    list_display = ("name", "slug", "substances")
    search_fields = ("name", "substances")
    prepopulated_fields = {"slug": ("name",)}
    fields = ("name", "slug", "substances")


@admin.register(Formulation)
class FormulationAdmin(HistoryAdmin):
    list_display = ("__str__", "drug", "form", "strength_label", "sellable")
    list_filter = ("drug", "form", "sellable")
    search_fields = ("drug__name", "strength_label")
    list_select_related = ("drug",)


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
class PackageAdmin(HistoryAdmin):
    list_display = ("__str__", "price", "unit_price", "stock", "active")
    list_editable = ("price", "stock", "active")
    list_filter = ("active", StockFilter, "formulation__drug", "formulation__form")
    search_fields = ("formulation__drug__name", "formulation__strength_label")
    list_select_related = ("formulation__drug",)
    readonly_fields = ("unit_price",)
    fields = ("formulation", "pill_count", "price", "unit_price", "stock", "active")

    @admin.display(description="Per pill")
    def unit_price(self, obj):
        return obj.unit_price if obj.price and obj.pill_count else "-"
