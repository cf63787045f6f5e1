from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_safe

from .models import PolicyKind
from .selectors import facts, policy


@require_safe
def contact(request):
    pharmacy = facts()
    return render(
        request,
        "about/contact.html",
        {
            "pharmacy": pharmacy,
            "licences": pharmacy.current_licences(),
            "reach": policy(PolicyKind.PHARMACIST),
        },
    )


@require_safe
def policy_detail(request, kind: str):
    if kind not in PolicyKind.values:
        raise Http404("No such policy.")
    notice = policy(kind)
    context = {"policy": notice, "kind_label": PolicyKind(kind).label}
    # A notice staff have not written yet: said plainly, with how to reach the pharmacy.
    return render(request, "about/policy_detail.html", context, status=200 if notice else 404)
