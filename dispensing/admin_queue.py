"""The pharmacist's "to check" queue: paid orders waiting for the final check.

The list is every paid order not yet released to the courier, oldest payment first;
an order's page is the check itself: the prescription, the label's details and the
lots to pick, and a form for what the pharmacist reads off the boxes, sent to
`services.final_check.order_final_check`.
"""

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.timesince import timesince

from orders.models import OrderLine, OrderStatus
from pharmacy.admin_search import CODE, EMAIL, NAME, CappedCountPaginator, IndexedSearchMixin
from prescriptions.audit import record_access
from prescriptions.models import AuditEvent

from .documents import label_facts, leaflet_facts
from .forms import FinalCheckForm
from .labels import render_label, render_leaflet
from .models import OrderToCheck
from .services.final_check import CHECK_PERMISSION, final_check_plan, order_final_check
from .views import pdf_response

# Labels and leaflets are printed by whoever may read what was dispensed: pharmacists.
PRINT_PERMISSION = "dispensing.view_dispenserecord"


@admin.register(OrderToCheck)
class OrderToCheckAdmin(IndexedSearchMixin, admin.ModelAdmin):
    list_display = ("number", "patient", "paid_at", "waiting", "lines_summary")
    list_display_links = ("number",)
    list_filter = ("lines__package__formulation__drug",)
    search_fields = ("number", "patient__email", "patient__first_name", "patient__last_name")
    indexed_search = (
        ("number", CODE),
        ("patient__email", EMAIL),
        ("patient__first_name", NAME),
        ("patient__last_name", NAME),
    )
    list_select_related = ("patient",)
    # Read in the order of the `order_to_check` index, which holds only this queue.
    ordering = ("paid_at", "pk")
    show_full_result_count = False
    paginator = CappedCountPaginator

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .filter(status=OrderStatus.PAID, checked_at__isnull=True)
            .prefetch_related("lines")
        )

    @admin.display(description="Waiting")
    def waiting(self, obj):
        return timesince(obj.paid_at, timezone.now()) if obj.paid_at else "-"

    @admin.display(description="Lines")
    def lines_summary(self, obj):
        return "; ".join(str(line) for line in obj.lines.all())

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        return [
            path(
                "label/<int:line_id>/",
                self.admin_site.admin_view(self.label_view),
                name="dispensing_label",
            ),
            path(
                "leaflet/<int:line_id>/",
                self.admin_site.admin_view(self.leaflet_view),
                name="dispensing_leaflet",
            ),
            *super().get_urls(),
        ]

    def _line(self, request, line_id: int) -> OrderLine:
        if not request.user.has_perm(PRINT_PERMISSION):
            raise PermissionDenied
        return get_object_or_404(
            OrderLine.objects.select_related(
                "order__patient", "package__formulation__drug", "prescription"
            ),
            pk=line_id,
        )

    def label_view(self, request, line_id: int):
        """The line's label as a PDF to print (any order, checked or still to check)."""
        line = self._line(request, line_id)
        try:
            content = render_label(label_facts(line=line))
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("admin:dispensing_ordertocheck_changelist")
        record_access(
            request,
            action=AuditEvent.Action.PRINT_LABEL,
            patient=line.order.patient,
            obj=line.prescription,
            allowed=True,
        )
        return pdf_response(content, f"label-{line.order.number}-{line.pk}.pdf")

    def leaflet_view(self, request, line_id: int):
        line = self._line(request, line_id)
        try:
            content = render_leaflet(leaflet_facts(drug=line.package.formulation.drug))
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("admin:dispensing_ordertocheck_changelist")
        # The leaflet is the monograph's, but which patient's order it is printed for is not.
        record_access(
            request,
            action=AuditEvent.Action.PRINT_LEAFLET,
            patient=line.order.patient,
            obj=line,
            allowed=True,
        )
        return pdf_response(content, f"leaflet-{line.package.formulation.drug.slug}.pdf")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The final check of one order (GET: the page; POST: the check)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        order = self.get_object(request, unquote(object_id))
        if order is None:
            raise Http404
        plans = final_check_plan(order=order)
        for plan in plans:
            if plan.prescription is not None:
                record_access(
                    request,
                    action=AuditEvent.Action.VIEW_FINAL_CHECK,
                    patient=order.patient,
                    obj=plan.prescription,
                    allowed=True,
                )
        may_check = request.user.has_perm(CHECK_PERMISSION)
        form = FinalCheckForm(request.POST if request.method == "POST" else None, plans=plans)
        if request.method == "POST":
            if not may_check:
                raise PermissionDenied
            if form.is_valid():
                try:
                    order_final_check(
                        order_id=order.pk,
                        pharmacist=request.user,
                        drug_confirmed_lines=form.drug_confirmed_lines(),
                        lots=form.lot_confirmations(),
                    )
                except ValidationError as exc:
                    for message in exc.messages:
                        form.add_error(None, message)
                else:
                    messages.success(
                        request, f"Order {order.number} checked and released to the courier."
                    )
                    return redirect("admin:dispensing_ordertocheck_changelist")
        context = {
            **self.admin_site.each_context(request),
            "title": f"Final check: order {order.number}",
            "opts": self.model._meta,
            "original": order,
            "order": order,
            "form": form,
            "may_check": may_check,
            "refusals": order.final_checks.filter(outcome="refused").select_related("pharmacist"),
            "has_view_permission": True,
        }
        return TemplateResponse(request, "admin/dispensing/ordertocheck/final_check.html", context)
