"""The benchmarks' data, made through the site's own services and models.

The benchmarks run with production settings (DEBUG off), so neither the test factories
nor the demo data (refused with DEBUG off) are theirs to use: what a patient, a
pharmacist and an e-prescription are is built here from the same calls the site makes.
"""

from datetime import date, timedelta
from decimal import Decimal

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from about.models import LicenceKind, StateLicence
from accounts.roles import PHARMACIST
from catalog.models import Package
from orders.delivery import ShippingOption
from prescriptions.intake import IntakeData
from prescriptions.models import Prescription, TelemedicinePartner
from prescriptions.npi import npi_check_digit
from prescriptions.services import prescription_receive_from_partner, profile_update

DRUG_SLUG = "baclofen"  # loaded by the catalog's data migration
STRENGTH = "10 mg"
PILLS = 10


def bench_package() -> Package:
    """The package every benchmark patient orders."""
    return Package.objects.select_related("formulation__drug").get(
        formulation__drug__slug=DRUG_SLUG, formulation__strength_label=STRENGTH, pill_count=PILLS
    )


def licence_state(state: str) -> StateLicence:
    """A current licence for `state`: checkout ships only to the states the pharmacy
    holds one for (orders/services/destinations.py), and a fresh database has none."""
    licence, _ = StateLicence.objects.update_or_create(
        state=state,
        kind=LicenceKind.PHARMACY,
        defaults={
            "licence_number": f"BENCH-{state}",
            "expires_on": timezone.localdate() + timedelta(days=365),
        },
    )
    return licence


def delivery_option() -> ShippingOption:
    """The first delivery option offered, or a standard one: an order needs one, and a
    fresh database has none."""
    option = ShippingOption.objects.default()
    if option is None:
        option, _ = ShippingOption.objects.update_or_create(
            name="Standard (benchmark)",
            defaults={"price": Decimal("5.00"), "days_min": 2, "days_max": 5, "active": True},
        )
    return option


DATE_OF_BIRTH = date(1980, 5, 17)
# Every question answered, nothing that matters for the drug: a pharmacist verifies
# without an override only a prescription whose patient's profile screens clean.
PROFILE = {
    "date_of_birth": DATE_OF_BIRTH,
    "weight_kg": 72,
    "medication_classes": [],
    "other_medications": "",
    "allergies": "",
    "kidney_disease": "none",
    "hepatic_impairment": False,
    "pregnant": False,
    "breastfeeding": False,
    "active_peptic_ulcer": False,
    "epilepsy": False,
    "psychiatric_disorder": False,
    "alcohol_use": "none",
}


def make_patient(*, email: str, first_name: str, last_name: str):
    """A patient whose address is verified and whose medical profile is filled in and
    confirmed; no usable password (sign-in is by session)."""
    user = get_user_model().objects.create_user(
        email=email, password=None, first_name=first_name, last_name=last_name
    )
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    profile_update(patient=user, data=PROFILE)
    return user


def make_pharmacist(*, email: str):
    user = get_user_model().objects.create_user(email=email, password=None, is_staff=True)
    user.groups.add(Group.objects.get(name=PHARMACIST))
    return user


def make_partner(*, name: str, slug: str) -> TelemedicinePartner:
    return TelemedicinePartner.objects.create(name=name, slug=slug)


def receive_e_prescription(*, patient, partner, reference: str) -> Prescription:
    """One tablet three times a day for 30 days, as a telemedicine partner sends it."""
    package = bench_package()
    # The intake's own record of a received prescription, so a field it gains is a
    # TypeError here rather than an AttributeError halfway through the benchmark.
    data = IntakeData(
        partner_reference=reference,
        patient_email=patient.email,
        patient_first_name=patient.first_name,
        patient_last_name=patient.last_name,
        patient_date_of_birth=DATE_OF_BIRTH,
        prescriber_name="Dr. Grace Hopper",
        prescriber_npi="123456789" + str(npi_check_digit("123456789")),
        prescriber_license="NY-123456",
        drug=package.formulation.drug,
        formulation=package.formulation,
        directions="Take 1 tablet three times a day",
        units_per_dose=Decimal(1),
        doses_per_day=3,
        quantity=90,
        refills=1,
        date_written=timezone.localdate() - timedelta(days=1),
    )
    prescription, _ = prescription_receive_from_partner(partner=partner, data=data)
    return prescription
