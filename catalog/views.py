from django.core.paginator import Paginator
from django.shortcuts import render
from django.views.decorators.http import require_safe

from . import caching, selectors
from .forms import DrugSearchForm

DRUGS_PER_PAGE = 12


@require_safe
def drug_list(request):
    form = DrugSearchForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        page = Paginator([], DRUGS_PER_PAGE).get_page(1)
        context = {"form": form, "query": "", "page_obj": page}
        return render(request, "catalog/drug_list.html", context, status=400)
    query = form.cleaned_data["q"] if form.is_bound else ""
    number = request.GET.get("page", "1")
    number = number if number.isdigit() and len(number) < 6 else "1"

    def build() -> str:
        drugs = selectors.published_drugs(query=query)
        page = Paginator(drugs, DRUGS_PER_PAGE).get_page(number)
        context = {"form": DrugSearchForm(initial={"q": query}), "query": query, "page_obj": page}
        return caching.render_shared("catalog/drug_list.html", context)

    return caching.cached_page(request, caching.list_page_key(query, number), build)


@require_safe
def drug_detail(request, slug):
    def build() -> str:
        return caching.render_shared("catalog/drug_detail.html", selectors.drug_page(slug=slug))

    return caching.cached_page(request, caching.drug_page_key(slug), build)
