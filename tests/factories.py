"""Plain factory functions: each makes one valid object, overridable by keyword."""

from datetime import date
from decimal import Decimal
from itertools import count

from allauth.account.internal.flows.login import record_authentication
from allauth.mfa.base.internal.flows import post_authentication
from allauth.mfa.models import Authenticator
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import RequestFactory

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


def make_partner(**fields):
    from prescriptions.models import TelemedicinePartner

    n = next(_seq)
    return TelemedicinePartner.objects.create(
        name=fields.pop("name", f"Telehealth {n}"),
        slug=fields.pop("slug", f"telehealth-{n}"),
        **fields,
    )


def valid_npi(first_nine: str = "123456789") -> str:
    from prescriptions.npi import npi_check_digit

    return first_nine + str(npi_check_digit(first_nine))


def intake_data(*, patient_email: str, strength: str = "10 mg", **overrides):
    """What the telemedicine API hands to the intake service, for a baclofen tablet."""
    from datetime import timedelta
    from types import SimpleNamespace

    from django.utils import timezone

    from catalog.models import Formulation

    formulation = Formulation.objects.select_related("drug").get(
        drug__slug="baclofen", form="tablet", strength_label=strength
    )
    data = {
        "partner_reference": f"TM-{next(_seq)}",
        "patient_email": patient_email,
        "patient_first_name": "Pat",
        "patient_last_name": "Jordan",
        "patient_date_of_birth": date(1980, 5, 17),
        "prescriber_name": "Dr. Grace Hopper",
        "prescriber_npi": valid_npi(),
        "prescriber_license": "NY-123456",
        "drug": formulation.drug,
        "formulation": formulation,
        "directions": "Take 1 tablet three times a day",
        "units_per_dose": Decimal(1),
        "doses_per_day": 3,
        "quantity": 90,
        "refills": 1,
        "date_written": timezone.localdate() - timedelta(days=1),
        "renews": "",
        "consultation": "",
    }
    data.update(overrides)
    return SimpleNamespace(**data)


# Every profile question answered, with nothing a check flags.
NOTHING_TO_FLAG = {
    "kidney_disease": "none",
    "pregnant": False,
    "breastfeeding": False,
    "hepatic_impairment": False,
    "active_peptic_ulcer": False,
    "epilepsy": False,
    "psychiatric_disorder": False,
    "alcohol_use": "none",
}


def make_profile(user, **fields):
    """The patient's medical profile, confirmed now, with nothing that a check flags."""
    from django.utils import timezone

    from prescriptions.models import MedicalProfile

    fields.setdefault("date_of_birth", date(1980, 5, 17))
    fields.setdefault("confirmed_at", timezone.now())
    for name, answer in NOTHING_TO_FLAG.items():
        fields.setdefault(name, answer)
    return MedicalProfile.objects.create(user=user, **fields)


def make_e_prescription(*, patient=None, partner=None, with_profile=True, **overrides):
    """A complete prescription as a telemedicine partner sends it, in the queue.

    For `patient`, it is written for that person (their name and date of birth), as
    an account takes only prescriptions of its holder; an account made without a
    name is given the default one, as sign-up would have asked for it. The patient
    gets a confirmed medical profile first if they have none (the review blocks a
    prescription without one), unless `with_profile` is False.
    """
    from prescriptions.models import MedicalProfile
    from prescriptions.services import prescription_receive_from_partner

    if with_profile and patient and not MedicalProfile.objects.filter(user=patient).exists():
        make_profile(patient)
    email = patient.email if patient else overrides.pop("patient_email", "nobody@example.com")
    if patient is not None:
        if not (patient.first_name or patient.last_name):
            patient.first_name, patient.last_name = "Pat", "Jordan"
            patient.save(update_fields=["first_name", "last_name"])
        overrides.setdefault("patient_first_name", patient.first_name)
        overrides.setdefault("patient_last_name", patient.last_name)
        born = (
            MedicalProfile.objects.filter(user=patient)
            .values_list("date_of_birth", flat=True)
            .first()
        )
        if born:
            overrides.setdefault("patient_date_of_birth", born)
    prescription, _ = prescription_receive_from_partner(
        partner=partner or make_partner(), data=intake_data(patient_email=email, **overrides)
    )
    return prescription


def clean_document(content: bytes, *, name: str = "prescription.pdf"):
    """A PDF after the upload checks a patient's file goes through."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from prescriptions.uploads import clean_upload

    return clean_upload(SimpleUploadedFile(name, content, content_type="application/pdf"))


def sign_in_staff(client, user):
    """Sign a staff member in on the test client, as the site requires staff to be:
    with the password and then the authenticator code, recorded in the session by
    allauth's own functions exactly as its sign-in form records them.

    Every test that acts as a pharmacist or catalog staff signs in through here, so
    what a staff session must carry (the second factor) is decided in one place. A
    user without an authenticator is given one first.
    """
    enrol_totp(user)
    authenticator = Authenticator.objects.get(user=user, type=Authenticator.Type.TOTP)
    client.force_login(user)
    request = RequestFactory().get("/")
    request.session = client.session  # a fresh store each time it is read: keep this one
    request.user = user
    record_authentication(request, user, method="password", email=user.email)
    post_authentication(request, authenticator)
    request.session.save()
    return client


def sign_in(client, user):
    """Sign anyone in: staff as `sign_in_staff` does, patients directly."""
    if user.is_staff or user.is_superuser:
        return sign_in_staff(client, user)
    client.force_login(user)
    return client
