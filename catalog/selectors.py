from django.db.models import Min, Q, QuerySet
from django.shortcuts import get_object_or_404

from .models import Drug, Package


def published_drugs(*, query: str = "") -> QuerySet[Drug]:
    """Drugs in the storefront, with their lowest package price, matching `query`."""
    drugs = Drug.objects.filter(is_published=True).annotate(
        lowest_price=Min(
            "formulations__packages__price",
            filter=Q(formulations__packages__active=True, formulations__sellable=True),
        )
    )
    if query:
        drugs = drugs.filter(
            Q(name__icontains=query)
            | Q(also_known_as__icontains=query)
            | Q(summary__icontains=query)
        )
    return drugs.order_by("name")


def drug_page(*, slug: str) -> dict:
    """Everything the drug page shows, in four queries; 404 for an unknown drug."""
    drug = get_object_or_404(Drug, slug=slug, is_published=True)
    sections = list(drug.sections.all())
    first_sentence = drug.stop_warning.split(". ")[0]
    return {
        "drug": drug,
        "sections": sections,
        "stop_warning_section": next(
            (s for s in sections if first_sentence and first_sentence in s.body), None
        ),
        "callouts": [s for s in sections if s.callout],
        "guidelines": list(drug.dosing_guidelines.all()),
        "packages": list(
            Package.objects.purchasable()
            .filter(formulation__drug=drug)
            .select_related("formulation__drug")
            .order_by("formulation__position", "pill_count")
        ),
    }
