"""Demo accounts for local development: known passwords, so never with DEBUG off."""

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from .roles import CATALOG_STAFF

DEMO_PASSWORD = "demo-pharmacy-2026"  # noqa: S105 - development only, refused with DEBUG off


@dataclass(frozen=True)
class DemoAccount:
    role: str
    email: str
    first_name: str
    last_name: str
    group: str | None
    is_staff: bool


DEMO_ACCOUNTS = [
    DemoAccount("Catalog staff", "staff@example.com", "Casey", "Catalog", CATALOG_STAFF, True),
]


@transaction.atomic
def ensure_demo_accounts() -> list[DemoAccount]:
    """Create the demo accounts that are missing; leave existing ones as they are."""
    if not settings.DEBUG:
        raise ImproperlyConfigured("Demo accounts are for development only (DEBUG is off).")
    User = get_user_model()
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
    return DEMO_ACCOUNTS
