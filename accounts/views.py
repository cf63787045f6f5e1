from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from .mfa import has_mfa


@login_required
def overview(request):
    return render(request, "accounts/overview.html", {"has_mfa": has_mfa(request.user)})
