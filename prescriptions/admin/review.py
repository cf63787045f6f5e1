"""The pharmacist's decisions on a verified prescription, on its own admin page: a
hold to release after re-screening, or an early refill to allow; each with a reason."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.template.loader import render_to_string
from django.urls import path

from .. import services
from ..models import Prescription, Status
from ..selectors import refill_supply

VERIFY_PERMISSION = "prescriptions.verify_prescription"
REVIEW_FIELDSET = ("Review after verification", {"fields": ("review_state",)})
# An early refill may be allowed before verification too (services.review).
EARLY_REFILL_BEFORE = (Status.SUBMITTED, Status.NEEDS_INFO)


class ReviewForm(forms.Form):
    action = forms.ChoiceField(
        choices=[("review_again", "Reviewed again"), ("allow_early_refill", "Allow early refill")]
    )
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))


DONE = {
    "review_again": "reviewed again; ordering is open",
    "allow_early_refill": "may be ordered early once",
}


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
                "supply": refill_supply(patient=obj.patient, drug_id=obj.drug_id)
                if obj.patient_id and obj.drug_id
                else None,
            },
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        verified = str(object_id).isdigit() and (
            Prescription.objects.filter(pk=object_id, status=Status.VERIFIED).exists()
        )
        if verified:
            extra_context["review_form"] = request.user.has_perm(VERIFY_PERMISSION)
        elif str(object_id).isdigit() and request.user.has_perm(VERIFY_PERMISSION):
            # Before verification only the early refill: an order waiting on this
            # prescription is checked for one when verifying charges it.
            waiting = (
                Prescription.objects.filter(pk=object_id, status__in=EARLY_REFILL_BEFORE)
                .select_related("patient")
                .first()
            )
            if waiting is not None:
                extra_context["early_refill_form"] = True
                extra_context["early_supply"] = (
                    refill_supply(patient=waiting.patient, drug_id=waiting.drug_id)
                    if waiting.patient_id and waiting.drug_id
                    else None
                )
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
        action = form.cleaned_data["action"]
        decide = {
            "review_again": services.prescription_review_again,
            "allow_early_refill": services.prescription_allow_early_refill,
        }[action]
        try:
            decide(prescription_id=pk, pharmacist=request.user, reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
        else:
            messages.success(request, f"Prescription #{prescription.pk} {DONE[action]}.")
        return redirect("admin:prescriptions_prescription_change", pk)
