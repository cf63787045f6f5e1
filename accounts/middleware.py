"""Signed-in requests: the user from the cache, the second factor for staff before
anything but signing in, and an idle timeout for staff.

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
from django.contrib.auth.middleware import (
    AuthenticationMiddleware as DjangoAuthenticationMiddleware,
)
from django.shortcuts import redirect
from django.urls import Resolver404, resolve, reverse
from django.utils.functional import SimpleLazyObject
from django.utils.http import urlencode

from .mfa import has_mfa, is_staff_member, signed_in_with_second_factor
from .user_cache import signed_in_user

LAST_SEEN_KEY = "staff_last_seen"
# Refresh the stored timestamp at most this often, to avoid a session write per request.
LAST_SEEN_RESOLUTION = 60


class AuthenticationMiddleware(DjangoAuthenticationMiddleware):
    """Django's, with the signed-in user read from the cache (accounts.user_cache)."""

    def process_request(self, request):
        super().process_request(request)
        request.user = SimpleLazyObject(lambda: _user(request))


def _user(request):
    if not hasattr(request, "_cached_user"):
        request._cached_user = signed_in_user(request)
    return request._cached_user


def _sign_in_again(request, message: str):
    next_path = request.get_full_path()
    logout(request)
    messages.info(request, message)
    return redirect(f"{reverse('account_login')}?{urlencode({'next': next_path})}")


class StaffSessionMiddleware:
    # What a staff session without its second factor may still open, by URL name:
    # signing in and out, allauth's two-factor pages (enrol, recovery codes) and the
    # password check that enrolling asks for.
    OPEN_URL_NAMES = frozenset({"account_login", "account_logout", "account_reauthenticate"})
    OPEN_URL_PREFIX = "mfa_"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if user.is_authenticated and is_staff_member(user):
            if self._idle_too_long(request):
                return _sign_in_again(request, "You were signed out after a period of inactivity.")
            if not self._may_pass(request):
                return self._second_factor_first(request)
        return self.get_response(request)

    def _may_pass(self, request) -> bool:
        return self._is_open(request.path_info) or signed_in_with_second_factor(request)

    def _is_open(self, path: str) -> bool:
        try:
            name = resolve(path).view_name  # with its namespace: "orders:mfa_x" is not open
        except Resolver404:
            return False
        return name in self.OPEN_URL_NAMES or name.startswith(self.OPEN_URL_PREFIX)

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
