"""Two-factor authentication facts, on top of allauth's mfa app."""

import time

from allauth.account.authentication import get_authentication_records
from allauth.mfa import app_settings
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import (
    TOTP,
    format_hotp_value,
    generate_totp_secret,
    hotp_value,
)
from allauth.mfa.utils import decrypt

SECOND_FACTORS = (Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN)


def is_staff_member(user) -> bool:
    """Whether the user holds staff powers, and so needs the second factor.

    The flags, not the groups: every staff door (the admin, the prescription and
    document views) demands `is_staff`, so a Pharmacist-group member without it gets
    exactly what any patient gets (tests/security/test_access_matrix.py pins that).
    Asking for the groups would cost a query on every signed-in patient page.
    """
    return user.is_authenticated and (user.is_staff or user.is_superuser)


def has_mfa(user) -> bool:
    """Whether the user has a second factor that allauth asks for at sign-in."""
    return Authenticator.objects.filter(user=user, type__in=SECOND_FACTORS).exists()


def signed_in_with_second_factor(request) -> bool:
    """Whether this session's sign-in passed allauth's code step with an authenticator
    the user still has.

    allauth records each step of a sign-in in the session; the code step is "mfa".
    A "reauthenticated" record does not count: it proves only that a signed-in
    session typed a code, and a session signed in with the password alone could have
    enrolled that very authenticator a minute earlier.
    """
    ids = [
        record.get("id")
        for record in get_authentication_records(request, request.user)
        if record.get("method") == "mfa" and not record.get("reauthenticated")
    ]
    return bool(ids) and Authenticator.objects.filter(user=request.user, pk__in=ids).exists()


def totp_secret(user) -> str | None:
    authenticator = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
    return decrypt(authenticator.data["secret"]) if authenticator else None


def enrol_totp(user, secret: str | None = None) -> str:
    """Give the user a TOTP authenticator (demo accounts and tests); returns the secret."""
    existing = totp_secret(user)
    if existing:
        return existing
    secret = secret or generate_totp_secret()
    TOTP.activate(user, secret)
    return secret


def current_totp_code(secret: str) -> str:
    """The code an authenticator app would show now for this secret."""
    return format_hotp_value(hotp_value(secret, int(time.time()) // app_settings.TOTP_PERIOD))
