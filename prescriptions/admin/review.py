"""The pharmacist's second look at a verified prescription: a hold to release after
re-screening, with the reason, on the prescription's own admin page."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.template.loader import render_to_string
from django.urls import path

from .. import services
from ..models import Prescription, Status

VERIFY_PERMISSION = "prescriptions.verify_prescription"
REVIEW_FIELDSET = ("Review after verification", {"fields": ("review_state",)})


class ReviewForm(forms.Form):
    action = forms.ChoiceField(choices=[("review_again", "Reviewed again")])
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))


class ReviewAfterVerificationMixin:
    """For PrescriptionAdmin: the hold, the decisions taken since verification, and
    the form that records a new one (through its service)."""

    def get_list_filter(self, request):
        return (*super().get_list_filter(request), ("held_since", admin.EmptyFieldListFilter))

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is not None and obj.status == Status.VERIFIED:
            return (*fieldsets, REVIEW_FIELDSET)
        return fieldsets

    @admin.display(description="Review")
    def review_state(self, obj):
        return render_to_string(
            "admin/prescriptions/includes/_review_state.html",
            {
                "prescription": obj,
                "reviews": obj.clinical_reviews.select_related("pharmacist"),
            },
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        verified = str(object_id).isdigit() and (
            Prescription.objects.filter(pk=object_id, status=Status.VERIFIED).exists()
        )
        if verified:
            extra_context["review_form"] = request.user.has_perm(VERIFY_PERMISSION)
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        return [
            path(
                "<int:pk>/review/",
                self.admin_site.admin_view(self.review_view),
                name="prescriptions_prescription_review",
            ),
            *super().get_urls(),
        ]

    def review_view(self, request, pk: int):
        if request.method != "POST":
            return redirect("admin:prescriptions_prescription_change", pk)
        if not request.user.has_perm(VERIFY_PERMISSION):
            raise PermissionDenied
        prescription = get_object_or_404(Prescription, pk=pk)
        form = ReviewForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Give the reason for your decision; it is kept with your name.")
            return redirect("admin:prescriptions_prescription_change", pk)
        try:
            services.prescription_review_again(
                prescription_id=pk, pharmacist=request.user, reason=form.cleaned_data["reason"]
            )
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
        else:
            messages.success(
                request, f"Prescription #{prescription.pk} reviewed again; ordering is open."
            )
        return redirect("admin:prescriptions_prescription_change", pk)
