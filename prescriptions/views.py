import hashlib
import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.core.validators import slug_re
from django.http import Http404, HttpResponse, HttpResponseServerError, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from catalog.models import Drug

from . import selectors, services
from .audit import record_access
from .forms import MedicalProfileForm, PrescriptionResponseForm, PrescriptionUploadForm
from .models import (
    AuditEvent,
    Consultation,
    MedicalProfile,
    Prescription,
    PrescriptionDocument,
    Status,
)

logger = logging.getLogger(__name__)
PRESCRIPTIONS_PER_PAGE = 10
# Only the file itself and the inline styles of the page the browser wraps it in.
DOCUMENT_POLICY = (
    "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'self'"
)


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
        {
            "form": form,
            "profile": profile,
            "profile_notice": selectors.profile_notice(patient=request.user, profile=profile),
        },
        status=status,
    )


@login_required
@require_POST
def profile_confirm(request):
    """“My profile is still correct”: a confirmation without an edit."""
    try:
        services.profile_confirm(patient=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "Thank you: your medical profile is confirmed as correct.")
    return redirect(request.POST.get("next") if _safe_next(request) else "prescriptions:profile")


def _safe_next(request) -> bool:
    target = request.POST.get("next", "")
    return bool(target) and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )


@login_required
def profile_export(request):
    """The patient's own profile and its full history, as a JSON download, streamed."""
    response = StreamingHttpResponse(
        selectors.profile_export(patient=request.user), content_type="application/json"
    )
    stamp = timezone.localdate().isoformat()
    response["Content-Disposition"] = f'attachment; filename="medical-profile-{stamp}.json"'
    return response


@login_required
def prescription_list(request):
    prescriptions = (
        Prescription.objects.filter(patient=request.user)
        .select_related("formulation__drug")
        .order_by("-submitted_at")
    )
    page = Paginator(prescriptions, PRESCRIPTIONS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "prescriptions/prescription_list.html",
        {
            "page_obj": page,
            "profile_notice": selectors.profile_notice(patient=request.user),
            "consultations": Consultation.objects.filter(patient=request.user).select_related(
                "drug", "partner", "partner_request", "prescription"
            ),
        },
    )


@login_required
def prescription_new(request):
    slug = request.GET.get("drug", "")
    drug = (
        Drug.objects.filter(slug=slug, is_published=True).first()
        if slug_re.fullmatch(slug)
        else None
    )
    form = PrescriptionUploadForm(
        request.POST or None,
        request.FILES or None,
        initial={"drug": drug},
        claim_upload=_upload_claim(request),
    )
    if request.method == "POST" and form.is_valid():
        prescription = services.prescription_submit_upload(
            patient=request.user,
            documents=form.cleaned_data["documents"],
            note=form.cleaned_data["note"],
            drug=form.cleaned_data["drug"],
        )
        messages.success(
            request,
            "Thank you: we received your prescription. A pharmacist will check it, and we will "
            "email you when it is verified or if we need anything.",
        )
        return redirect(prescription)
    status = 400 if form.errors else 200
    return render(request, "prescriptions/prescription_new.html", {"form": form}, status=status)


def _upload_claim(request):
    """Counts a batch of files against the signed-in patient's hourly limit."""

    def claim(files: int) -> None:
        services.upload_check_claim(user=request.user, files=files)

    return claim


def _prescription_for(request, pk: int, *, action: str) -> Prescription:
    """The prescription if the viewer may see it: its patient, or a pharmacist (audited).

    Anyone else gets a 404, as if it did not exist, and the attempt is audited.
    """
    prescription = (
        Prescription.objects.select_related("patient", "formulation__drug", "drug")
        .filter(pk=pk)
        .first()
    )
    if prescription is None:
        raise Http404
    user = request.user
    allowed = user.is_authenticated and (
        prescription.patient_id == user.pk
        or (user.is_staff and user.has_perm("prescriptions.view_prescription"))
    )
    record_access(
        request, action=action, patient=prescription.patient, obj=prescription, allowed=allowed
    )
    if not allowed:
        raise Http404
    return prescription


@login_required
def prescription_detail(request, pk: int):
    prescription = _prescription_for(request, pk, action=AuditEvent.Action.VIEW_PRESCRIPTION)
    if prescription.patient_id != request.user.pk:
        return redirect("admin:prescriptions_prescription_change", prescription.pk)
    form = PrescriptionResponseForm() if prescription.status == Status.NEEDS_INFO else None
    return render(
        request,
        "prescriptions/prescription_detail.html",
        {
            "prescription": prescription,
            "documents": prescription.documents.all(),
            "changes": prescription.status_changes.all(),
            "form": form,
            **_renewal_context(prescription),
        },
    )


def _renewal_context(prescription: Prescription) -> dict:
    """Where the prescription's renewal stands, for its page: the latest request, and
    whether (and why) it may be asked for now."""
    renewal = prescription.renewal_requests.select_related("new_prescription").first()
    need = services.renewal_need(prescription)
    return {
        "renewal": renewal,
        "renewal_need": need,
        "can_ask_renewal": need.due and (renewal is None or not renewal.is_open),
        "renewal_by_partner": services.renewal_by_partner(prescription),
    }


@login_required
def prescription_renewal(request, pk: int):
    """POST: the patient asks for a renewal. GET: the request to give the prescriber,
    once there is one (printable: everything the prescriber needs, and the pharmacy)."""
    prescription = _prescription_for(request, pk, action=AuditEvent.Action.VIEW_PRESCRIPTION)
    if prescription.patient_id != request.user.pk:
        raise Http404
    if request.method == "POST":
        try:
            renewal = services.renewal_request(prescription_id=pk, patient=request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect(prescription)
        if renewal.state == renewal.State.SENT:
            messages.success(
                request,
                f"We asked {prescription.partner} to renew prescription #{pk}; we will email "
                "you when they answer.",
            )
            return redirect(prescription)
        return redirect("prescriptions:renewal", pk)
    renewal = prescription.renewal_requests.filter(state="for_prescriber").first()
    if renewal is None:
        return redirect(prescription)
    return render(
        request,
        "prescriptions/renewal_request.html",
        {
            "prescription": prescription,
            "renewal": renewal,
            "need": services.renewal_need(prescription),
        },
    )


@login_required
@require_POST
def prescription_respond(request, pk: int):
    prescription = _prescription_for(request, pk, action=AuditEvent.Action.VIEW_PRESCRIPTION)
    if prescription.patient_id != request.user.pk:
        raise Http404
    form = PrescriptionResponseForm(
        request.POST, request.FILES, claim_upload=_upload_claim(request)
    )
    if form.is_valid():
        try:
            services.prescription_respond(
                prescription_id=prescription.pk,
                patient=request.user,
                note=form.cleaned_data["note"],
                documents=form.cleaned_data["documents"] or [],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Thank you: your answer was sent to the pharmacist.")
            return redirect(prescription)
    return render(
        request,
        "prescriptions/prescription_detail.html",
        {
            "prescription": prescription,
            "documents": prescription.documents.all(),
            "changes": prescription.status_changes.all(),
            "form": form,
        },
        status=400,
    )


@login_required
def document_download(request, pk: int, document_pk: int):
    """A prescription file, to its patient or a pharmacist, after checking its hash.

    Served as an attachment with nosniff and a sandboxing CSP; pharmacists may ask for
    it inline to preview it in the admin, under the same headers.
    """
    prescription = _prescription_for(request, pk, action=AuditEvent.Action.DOWNLOAD_DOCUMENT)
    document = get_object_or_404(PrescriptionDocument, pk=document_pk, prescription=prescription)
    with document.file.open("rb") as handle:
        content = handle.read()
    if hashlib.sha256(content).hexdigest() != document.sha256:
        logger.critical("Prescription document %s failed its integrity check", document.pk)
        return HttpResponseServerError(
            "This file failed its integrity check and was not sent. The pharmacy has been told.",
            content_type="text/plain",
        )
    inline = request.GET.get("inline") == "1" and prescription.patient_id != request.user.pk
    response = HttpResponse(content, content_type=document.content_type)
    disposition = "inline" if inline else "attachment"
    filename = f"prescription-{prescription.pk}-{document.pk}{_extension(document)}"
    response["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    # The sandbox gives the document an opaque origin, with no scripts, forms, plugins
    # or popups, so that a file that slipped past the upload checks cannot act as the
    # signed-in pharmacist. Set here, the site-wide policy is left off it. Downloads
    # carry it too, for a browser that renders an attachment all the same.
    response["Content-Security-Policy"] = DOCUMENT_POLICY
    if inline:
        response["X-Frame-Options"] = "SAMEORIGIN"
    return response


def _extension(document: PrescriptionDocument) -> str:
    return {"application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png"}.get(
        document.content_type, ""
    )
