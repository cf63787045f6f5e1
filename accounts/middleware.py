"""Extra protection for staff sessions: MFA before any admin page, and an idle timeout."""

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode

from .mfa import has_mfa

LAST_SEEN_KEY = "staff_last_seen"
# Refresh the stored timestamp at most this often, to avoid a session write per request.
LAST_SEEN_RESOLUTION = 60


class StaffSessionMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.admin_prefix = reverse("admin:index")

    def __call__(self, request):
        user = request.user
        if user.is_authenticated and user.is_staff:
            if self._idle_too_long(request):
                logout(request)
                messages.info(request, "You were signed out after a period of inactivity.")
                query = urlencode({"next": request.get_full_path()})
                return redirect(f"{reverse('account_login')}?{query}")
            if request.path.startswith(self.admin_prefix) and not has_mfa(user):
                messages.warning(
                    request,
                    "Staff accounts must set up two-factor authentication before using the admin.",
                )
                return redirect("mfa_activate_totp")
        return self.get_response(request)

    @staticmethod
    def _idle_too_long(request) -> bool:
        now = int(time.time())
        last_seen = request.session.get(LAST_SEEN_KEY)
        if last_seen is not None and now - last_seen > settings.STAFF_IDLE_TIMEOUT_SECONDS:
            return True
        if last_seen is None or now - last_seen >= LAST_SEEN_RESOLUTION:
            request.session[LAST_SEEN_KEY] = now
        return False
