"""The patient's consultation pages: ask a telemedicine service for a prescription from
the drug's page, and follow the request. Only the patient sees theirs."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET

from catalog.models import Drug

from . import services
from .forms import ConsultationForm, MedicalProfileForm
from .models import Consultation, MedicalProfile
from .selectors import open_consultation

PROFILE_PREFIX = "profile"


@login_required
def consultation_new(request, slug: str):
    """The drug's questionnaire: the medical profile (saved with the request), the
    drug's questions, the form and strength, and the service to ask."""
    drug = get_object_or_404(Drug, slug=slug, is_published=True, prescription_required=True)
    open_one = open_consultation(patient=request.user, drug=drug)
    if open_one is not None:
        messages.info(request, f"You already asked for a prescription of {drug}; here it is.")
        return redirect(open_one)
    profile = (
        MedicalProfile.objects.filter(user=request.user)
        .prefetch_related("medication_classes", "hypersensitive_to")
        .first()
    )
    data = request.POST if request.method == "POST" else None
    profile_form = MedicalProfileForm(data, instance=profile, prefix=PROFILE_PREFIX)
    form = ConsultationForm(data, drug=drug)
    if data is not None and profile_form.is_valid() and form.is_valid():
        try:
            consultation = services.consultation_request(
                patient=request.user,
                drug=drug,
                formulation=form.cleaned_data["formulation"],
                partner=form.cleaned_data["partner"],
                profile_data=profile_form.cleaned_data,
                answers=form.answers(),
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request,
                f"We sent your request to {consultation.partner}; we will email you when "
                "their clinician answers.",
            )
            return redirect(consultation)
    errors = len(profile_form.errors) + len(form.errors)
    return render(
        request,
        "prescriptions/consultation_new.html",
        {"drug": drug, "form": form, "profile_form": profile_form, "error_count": errors},
        status=400 if errors else 200,
    )


@login_required
@require_GET
def consultation_detail(request, pk: int):
    consultation = get_object_or_404(
        Consultation.objects.select_related(
            "partner", "drug", "formulation__drug", "partner_request", "prescription"
        ),
        pk=pk,
        patient=request.user,
    )
    return render(request, "prescriptions/consultation_detail.html", {"consultation": consultation})
