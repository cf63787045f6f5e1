"""Staff sessions: the second factor before anything but signing in, and an idle timeout.

Staff reach patient records through many doors (the admin, prescription documents,
profiles, exports, and pages yet to be written), so the rule is not attached to any
one of them: a staff session that did not pass the authenticator code step when it
signed in gets the sign-in, sign-out and two-factor pages and nothing else.

Without an authenticator, a staff member is sent to enrol one. Enrolling does not
upgrade the session: it was opened with the password alone, which is all a thief of
that password has, so after enrolling the staff member signs in again with a code.
"""

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode

from .mfa import has_mfa, is_staff_member, signed_in_with_second_factor

LAST_SEEN_KEY = "staff_last_seen"
# Refresh the stored timestamp at most this often, to avoid a session write per request.
LAST_SEEN_RESOLUTION = 60


def _sign_in_again(request, message: str):
    next_path = request.get_full_path()
    logout(request)
    messages.info(request, message)
    return redirect(f"{reverse('account_login')}?{urlencode({'next': next_path})}")


class StaffSessionMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        # What a staff session without its second factor may still open.
        self.open_paths = {
            reverse("account_login"),
            reverse("account_logout"),
            reverse("account_reauthenticate"),  # enrolling asks for the password again
        }
        self.mfa_prefix = reverse("mfa_index")  # enrol, recovery codes, reauthenticate

    def __call__(self, request):
        user = request.user
        if user.is_authenticated and is_staff_member(user):
            if self._idle_too_long(request):
                return _sign_in_again(request, "You were signed out after a period of inactivity.")
            if not self._may_pass(request):
                return self._second_factor_first(request)
        return self.get_response(request)

    def _may_pass(self, request) -> bool:
        path = request.path  # with the script prefix, as reverse() gives it
        return (
            path in self.open_paths
            or path.startswith(self.mfa_prefix)
            or signed_in_with_second_factor(request)
        )

    @staticmethod
    def _second_factor_first(request):
        if has_mfa(request.user):
            return _sign_in_again(
                request,
                "Staff accounts open patient records only after signing in with the code "
                "from their authenticator app. Please sign in again.",
            )
        messages.warning(
            request,
            "Staff accounts must set up two-factor authentication before anything else. "
            "Once it is set up, you will sign in again with a code.",
        )
        return redirect("mfa_activate_totp")

    @staticmethod
    def _idle_too_long(request) -> bool:
        now = int(time.time())
        last_seen = request.session.get(LAST_SEEN_KEY)
        if last_seen is not None and now - last_seen > settings.STAFF_IDLE_TIMEOUT_SECONDS:
            return True
        if last_seen is None or now - last_seen >= LAST_SEEN_RESOLUTION:
            request.session[LAST_SEEN_KEY] = now
        return False
