"""The patient's leaflet of a medicine in their order: signed in, their own order only."""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET

from orders.models import OrderLine

from .documents import leaflet_facts
from .labels import render_leaflet


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
