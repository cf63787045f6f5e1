"""Plain factory functions: each makes one valid object, overridable by keyword."""

from decimal import Decimal
from itertools import count

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from accounts.mfa import enrol_totp
from accounts.roles import CATALOG_STAFF, PHARMACIST
from catalog.models import DosageForm, Drug, Formulation, Package

_seq = count(1)
PASSWORD = "a-long-test-password-1"


def make_user(*, email: str | None = None, password: str = PASSWORD, groups=(), **fields):
    user = get_user_model().objects.create_user(
        email=email or f"user{next(_seq)}@example.com", password=password, **fields
    )
    for name in groups:
        user.groups.add(Group.objects.get(name=name))
    return user


def make_user_with_verified_email(**kwargs):
    from allauth.account.models import EmailAddress

    user = make_user(**kwargs)
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    return user


def make_staff(*, group: str, mfa: bool = True, **fields):
    """A staff member of `group`; with `mfa` (the default) enrolled in TOTP as required."""
    user = make_user_with_verified_email(is_staff=True, groups=[group], **fields)
    if mfa:
        enrol_totp(user)
    return user


def make_catalog_staff(**fields):
    return make_staff(group=CATALOG_STAFF, **fields)


def make_pharmacist(**fields):
    return make_staff(group=PHARMACIST, **fields)


def make_drug(*, name: str | None = None, **fields) -> Drug:
    n = next(_seq)
    name = name or f"Testodrine {n}"
    return Drug.objects.create(name=name, slug=fields.pop("slug", f"testodrine-{n}"), **fields)


def make_package(*, drug: Drug | None = None, price="12.34", pill_count=10, stock=5, **fields):
    drug = drug or make_drug()
    formulation = Formulation.objects.create(
        drug=drug,
        form=DosageForm.TABLET,
        strength_label=f"{next(_seq)} mg",
        strength_mg=Decimal(10),
    )
    return Package.objects.create(
        formulation=formulation, price=Decimal(price), pill_count=pill_count, stock=stock, **fields
    )
