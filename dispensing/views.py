"""The patient's pages of an order's dispensing: the leaflet of a medicine in it, and the
counselling offers and messages with the pharmacists. Signed in, their own order only."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET

from orders.models import Order, OrderLine

from .documents import leaflet_facts
from .forms import CounsellingAnswerForm, MessageForm
from .labels import render_leaflet
from .services.counselling import counselling_answer, message_post


def pdf_response(content: bytes, filename: str) -> HttpResponse:
    """A private PDF: never cached by anyone between, never sniffed as something else."""
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
@require_GET
def leaflet(request, number: str, line_id: int):
    line = get_object_or_404(
        OrderLine.objects.select_related("package__formulation__drug", "order"),
        pk=line_id,
        order__number=number,
    )
    if line.order.patient_id != request.user.pk:
        raise Http404  # another patient's order: as if it did not exist
    drug = line.package.formulation.drug
    return pdf_response(render_leaflet(leaflet_facts(drug=drug)), f"{drug.slug}-leaflet.pdf")


def _errors_onto(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


@login_required
def conversation(request, number: str):
    """The patient's counselling offers and messages with the pharmacists on one order."""
    order = Order.objects.filter(number=number, patient=request.user).first()
    if order is None:
        raise Http404
    offers = list(order.counselling_offers.select_related("prescription__formulation"))
    pending = next((offer for offer in offers if offer.is_pending), None)
    answer_form = CounsellingAnswerForm(prefix="c")
    message_form = MessageForm(prefix="m")
    if request.method == "POST":
        try:
            if "c-answer" in request.POST and pending is not None:
                answer_form = CounsellingAnswerForm(request.POST, prefix="c")
                if answer_form.is_valid():
                    counselling_answer(
                        offer_id=pending.pk,
                        patient=request.user,
                        answer=answer_form.cleaned_data["answer"],
                        question=answer_form.cleaned_data["question"],
                    )
                    messages.success(request, "Thank you: your answer is recorded.")
                    return redirect("dispensing:conversation", number=order.number)
            else:
                message_form = MessageForm(request.POST, prefix="m")
                if message_form.is_valid():
                    message_post(
                        order_id=order.pk,
                        author=request.user,
                        body=message_form.cleaned_data["body"],
                    )
                    messages.success(request, "Sent: a pharmacist answers within one working day.")
                    return redirect("dispensing:conversation", number=order.number)
        except ValidationError as exc:
            form = answer_form if "c-answer" in request.POST else message_form
            _errors_onto(form, exc)
    context = {
        "order": order,
        "offers": offers,
        "pending": pending,
        "answer_form": answer_form,
        "message_form": message_form,
        "thread": order.messages.select_related("author"),
    }
    return render(request, "dispensing/conversation.html", context)
