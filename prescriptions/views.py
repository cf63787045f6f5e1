import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from . import selectors, services
from .forms import MedicalProfileForm
from .models import MedicalProfile


@login_required
def profile_edit(request):
    profile = (
        MedicalProfile.objects.filter(user=request.user)
        .prefetch_related("medication_classes", "hypersensitive_to")
        .first()
    )
    form = MedicalProfileForm(request.POST or None, instance=profile)
    if request.method == "POST" and form.is_valid():
        services.profile_update(patient=request.user, data=form.cleaned_data)
        messages.success(request, "Your medical profile was saved.")
        return redirect("prescriptions:profile")
    status = 400 if form.errors else 200
    return render(
        request,
        "prescriptions/profile_edit.html",
        {"form": form, "profile": profile},
        status=status,
    )


@login_required
def profile_export(request):
    """The patient's own profile and its full history, as a JSON download."""
    data = selectors.profile_export(patient=request.user)
    response = HttpResponse(
        json.dumps(data, cls=DjangoJSONEncoder, indent=2), content_type="application/json"
    )
    stamp = timezone.localdate().isoformat()
    response["Content-Disposition"] = f'attachment; filename="medical-profile-{stamp}.json"'
    return response
