"""A paid order of baclofen 10 mg waiting for its final check, and lots to pick from."""

import pytest
from django.core import mail

from about.models import PharmacyIdentity
from about.selectors import forget_facts
from tests.orders.factories import (
    baclofen_package,
    make_patient,
    make_verified_prescription,
    place_order,
)
from tests.orders.factories import pay as pay_order


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


@pytest.fixture
def package(baclofen):
    """Baclofen 10 mg, 10 tablets a package (the catalog's own row)."""
    return baclofen_package()


@pytest.fixture
def to_check(package, capture):
    """One package (10 tablets, 1 three times a day: 4 days of supply), paid, waiting."""
    patient = make_patient()
    make_verified_prescription(patient=patient)
    order = pay_order(place_order(patient=patient, package=package), capture)
    mail.outbox.clear()
    return order


@pytest.fixture
def pharmacy(db):
    identity = PharmacyIdentity.objects.create(
        legal_name="Label Test Pharmacy LLC",
        name="Label Test Pharmacy",
        street_address="5 Mortar Lane",
        city="Albany",
        state="NY",
        zip_code="12207",
        phone="(518) 555-0142",
        email="care@example.com",
        opening_hours="Monday to Friday: 9 am to 6 pm",
        pharmacist_in_charge="Sam Rivera",
        pharmacist_licence_number="NY-PH-1",
        sender_email="orders@example.com",
    )
    forget_facts()
    return identity
