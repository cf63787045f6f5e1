"""Counselling and messages in the admin: orders whose patient waits for a pharmacist first.

An order's page shows its counselling offers (with a form to record the counselling)
and the messages, with a form to answer; both go through services.counselling.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Case, Exists, OuterRef, Q, Subquery, When
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse

from prescriptions.audit import record_access
from prescriptions.models import AuditEvent

from .models import CounsellingOffer, OrderConversation, OrderMessage
from .services.counselling import (
    PHARMACIST_PERMISSION,
    counselling_record,
    message_post,
    waiting_for_pharmacist,
)

WAITING_ANSWERS = [CounsellingOffer.Answer.ACCEPTED, CounsellingOffer.Answer.QUESTION]


class ReplyForm(forms.Form):
    body = forms.CharField(label="Answer the patient", max_length=2000, widget=forms.Textarea)


class CounselledForm(forms.Form):
    notes = forms.CharField(
        label="How the patient was counselled, and on what",
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class WaitingFilter(admin.SimpleListFilter):
    title = "waiting for a pharmacist"
    parameter_name = "waiting"

    def lookups(self, request, model_admin):
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(waiting=True)
        if self.value() == "no":
            return queryset.filter(waiting=False)
        return queryset


@admin.register(OrderConversation)
class OrderConversationAdmin(admin.ModelAdmin):
    list_display = ("number", "patient", "waiting_label", "created_at")
    list_filter = (WaitingFilter,)
    search_fields = ("number", "patient__email", "patient__first_name", "patient__last_name")
    list_select_related = ("patient",)

    def get_queryset(self, request):
        last_from_pharmacist = Subquery(
            OrderMessage.objects.filter(order=OuterRef("pk"))
            .order_by("-at", "-pk")
            .values("from_pharmacist")[:1]
        )
        offer_waiting = Exists(
            CounsellingOffer.objects.filter(
                order=OuterRef("pk"), answer__in=WAITING_ANSWERS, counselled_at__isnull=True
            )
        )
        has_message = Exists(OrderMessage.objects.filter(order=OuterRef("pk")))
        has_offer = Exists(CounsellingOffer.objects.filter(order=OuterRef("pk")))
        return (
            super()
            .get_queryset(request)
            .filter(has_message | has_offer)
            .annotate(last_from_pharmacist=last_from_pharmacist)
            .annotate(
                waiting=Case(
                    When(Q(offer_waiting) | Q(last_from_pharmacist=False), then=True),
                    default=False,
                )
            )
            .order_by("-waiting", "created_at", "pk")
        )

    @admin.display(description="Waiting for a pharmacist", boolean=True, ordering="-waiting")
    def waiting_label(self, obj):
        return obj.waiting

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        order = self.get_object(request, unquote(object_id))
        if order is None:
            raise Http404
        record_access(
            request,
            action=AuditEvent.Action.READ_CONVERSATION,
            patient=order.patient,
            obj=order,
            allowed=True,
        )
        reply = ReplyForm(prefix="r")
        counselled = CounselledForm(prefix="c")
        if request.method == "POST":
            if not request.user.has_perm(PHARMACIST_PERMISSION):
                raise PermissionDenied
            try:
                if "offer" in request.POST:
                    counselled = CounselledForm(request.POST, prefix="c")
                    if counselled.is_valid():
                        counselling_record(
                            offer_id=int(request.POST["offer"]),
                            pharmacist=request.user,
                            notes=counselled.cleaned_data["notes"],
                        )
                        messages.success(request, "Counselling recorded.")
                        return redirect(request.path)
                else:
                    reply = ReplyForm(request.POST, prefix="r")
                    if reply.is_valid():
                        message_post(
                            order_id=order.pk, author=request.user, body=reply.cleaned_data["body"]
                        )
                        messages.success(request, "Answer sent; the patient is emailed a notice.")
                        return redirect(request.path)
            except (ValidationError, ValueError) as exc:
                form = counselled if "offer" in request.POST else reply
                for message in getattr(exc, "messages", [str(exc)]):
                    form.add_error(None, message)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Order {order.number}: counselling and messages",
            "opts": self.model._meta,
            "original": order,
            "order": order,
            "offers": order.counselling_offers.select_related("prescription", "counselled_by"),
            "thread": order.messages.select_related("author"),
            "waiting": waiting_for_pharmacist(order),
            "reply": reply,
            "counselled": counselled,
            "has_view_permission": True,
        }
        return TemplateResponse(
            request, "admin/dispensing/orderconversation/conversation.html", context
        )


@admin.register(CounsellingOffer)
class CounsellingOfferAdmin(admin.ModelAdmin):
    """Every offer and its answer, read-only: the record on the order."""

    list_display = ("order", "prescription", "answer", "answered_at", "counselled_by")
    list_filter = ("answer", "offered_at")
    search_fields = ("order__number", "order__patient__email")
    list_select_related = ("order", "prescription", "counselled_by")
    readonly_fields = [f.name for f in CounsellingOffer._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
