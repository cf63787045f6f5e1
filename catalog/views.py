from django.core.paginator import Paginator
from django.shortcuts import render
from django.views.decorators.http import require_safe

from . import caching, selectors
from .forms import DrugSearchForm

DRUGS_PER_PAGE = 12


@require_safe
def drug_list(request):
    form = DrugSearchForm(request.GET or None)
    query = ""
    status = 200
    if form.is_bound:
        if form.is_valid():
            query = form.cleaned_data["q"]
        else:
            status = 400
    drugs = selectors.published_drugs(query=query) if status == 200 else []
    page = Paginator(drugs, DRUGS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "catalog/drug_list.html",
        {"form": form, "query": query, "page_obj": page},
        status=status,
    )


@require_safe
def drug_detail(request, slug):
    def build() -> str:
        return caching.render_shared("catalog/drug_detail.html", selectors.drug_page(slug=slug))

    return caching.cached_page(request, caching.drug_page_key(slug), build)
