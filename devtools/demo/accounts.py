"""Demo accounts for local development: known passwords, so never with DEBUG off."""

from dataclasses import dataclass

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from accounts.mfa import enrol_totp
from accounts.roles import CATALOG_STAFF, PHARMACIST

DEMO_PASSWORD = "demo-pharmacy-2026"  # noqa: S105 - development only, refused with DEBUG off


@dataclass(frozen=True)
class DemoAccount:
    role: str
    email: str
    first_name: str
    last_name: str
    group: str | None = None

    @property
    def is_staff(self) -> bool:
        return self.group is not None


PATIENT = DemoAccount("Patient", "patient@example.com", "Pat", "Jordan")
PHARMACIST_ACCOUNT = DemoAccount(
    "Pharmacist", "pharmacist@example.com", "Riley", "Chen", PHARMACIST
)
CATALOG_ACCOUNT = DemoAccount(
    "Catalog staff", "staff@example.com", "Casey", "Morgan", CATALOG_STAFF
)
DEMO_ACCOUNTS = [PATIENT, PHARMACIST_ACCOUNT, CATALOG_ACCOUNT]


@dataclass(frozen=True)
class DemoLogin:
    account: DemoAccount
    user: object
    totp_secret: str | None


def require_debug() -> None:
    if not settings.DEBUG:
        raise ImproperlyConfigured("Demo data is for development only (DEBUG is off).")


@transaction.atomic
def ensure_demo_accounts() -> list[DemoLogin]:
    """Create the demo accounts that are missing; leave existing ones as they are.

    Every demo email is verified; staff accounts get a TOTP authenticator, whose
    secret is returned so it can be printed for a person to enrol or type codes.
    """
    require_debug()
    User = get_user_model()
    logins = []
    for account in DEMO_ACCOUNTS:
        user, created = User.objects.get_or_create(
            email=account.email,
            defaults={
                "first_name": account.first_name,
                "last_name": account.last_name,
                "is_staff": account.is_staff,
            },
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
            if account.group:
                user.groups.add(Group.objects.get(name=account.group))
        EmailAddress.objects.get_or_create(
            user=user, email=user.email, defaults={"verified": True, "primary": True}
        )
        secret = enrol_totp(user) if account.is_staff else None
        logins.append(DemoLogin(account, user, secret))
    return logins
