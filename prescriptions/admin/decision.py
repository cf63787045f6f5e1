"""The pharmacist's decision on a submitted prescription: verify, reject or ask.

"Record decision" submits the prescription's own change form, so what the pharmacist
typed in the details is never lost: valid details are saved first (the checks run
again) and the decision is judged on them; invalid ones come back with their errors,
the typed values and the decision as chosen, and nothing is decided.
"""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse

from .. import services
from ..models import Prescription

VERIFY_PERMISSION = "prescriptions.verify_prescription"
DECIDE_BUTTON = "_decide"  # the name of the "Record decision" button in the change form


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[
            ("verify", "Verify"),
            ("request_info", "Ask for information"),
            ("reject", "Reject"),
        ]
    )
    message = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    override_reason = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    warnings_acknowledged = forms.BooleanField(required=False)


def record_decision(request, pk: int, data: dict) -> str:
    """Run the chosen decision's service; returns what was done, or raises its
    ValidationError."""
    if data["decision"] == "verify":
        services.prescription_verify(
            prescription_id=pk,
            pharmacist=request.user,
            override_reason=data["override_reason"],
            warnings_acknowledged=data["warnings_acknowledged"],
        )
        return "verified"
    if data["decision"] == "reject":
        services.prescription_reject(
            prescription_id=pk, pharmacist=request.user, reason=data["message"]
        )
        return "rejected; the patient is told why"
    services.prescription_request_info(
        prescription_id=pk, pharmacist=request.user, message=data["message"]
    )
    return "sent back to the patient with your question"


class DecisionMixin:
    """For PrescriptionAdmin: the decision, from the change form or its own URL."""

    def decision_form(self, request) -> DecisionForm:
        """Bound to what was sent when the change form comes back with errors, so the
        decision chosen is shown again; empty otherwise."""
        if request.method == "POST" and DECIDE_BUTTON in request.POST:
            return DecisionForm(request.POST)
        return DecisionForm()

    def _decide(self, request, pk: int) -> HttpResponseRedirect:
        if not request.user.has_perm(VERIFY_PERMISSION):
            raise PermissionDenied
        prescription = get_object_or_404(Prescription, pk=pk)
        form = DecisionForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Choose a decision.")
            return redirect("admin:prescriptions_prescription_change", pk)
        try:
            done = record_decision(request, pk, form.cleaned_data)
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
            return redirect("admin:prescriptions_prescription_change", pk)
        messages.success(request, f"Prescription #{prescription.pk} {done}.")
        return redirect("admin:prescriptions_prescription_changelist")

    def response_change(self, request, obj):
        """After the details were saved (save_model), record the decision on them."""
        if DECIDE_BUTTON in request.POST:
            return self._decide(request, obj.pk)
        return super().response_change(request, obj)

    def get_urls(self):
        return [
            path(
                "<int:pk>/decide/",
                self.admin_site.admin_view(self.decide_view),
                name="prescriptions_prescription_decide",
            ),
            *super().get_urls(),
        ]

    def decide_view(self, request, pk: int):
        """A decision without the details form (the details as stored)."""
        if request.method != "POST":
            return HttpResponseRedirect(
                reverse("admin:prescriptions_prescription_change", args=[pk])
            )
        return self._decide(request, pk)
