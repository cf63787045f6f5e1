"""Accounts, prescriptions and packages the fuzz tests aim their input at."""

import pytest
from django.test import Client

from catalog.models import Package
from prescriptions import services
from prescriptions.models import Prescription
from tests.factories import (
    clean_document,
    make_e_prescription,
    make_package,
    make_pharmacist,
    make_user_with_verified_email,
    sign_in,
)
from tests.prescriptions.documents import blank_pdf

TINY_PDF = blank_pdf()
PAYMENT_PAGE = "https://checkout.stripe.test/pay/cs_fuzz"


def signed_in(user) -> Client:
    """A client of its own; a server error raises, so its traceback shows in the report."""
    return sign_in(Client(), user)


@pytest.fixture
def patient(db):
    return make_user_with_verified_email(first_name="Pat", last_name="Jordan")


@pytest.fixture
def other_patient(db):
    return make_user_with_verified_email(first_name="Olga", last_name="Other")


@pytest.fixture
def pharmacist(db):
    return make_pharmacist(first_name="Phil", last_name="Pharmacist")


@pytest.fixture
def package(baclofen) -> Package:
    """Baclofen 10 mg, 10 tablets: purchasable, 100 in stock."""
    return Package.objects.get(formulation__drug=baclofen, formulation__strength_label="10 mg")


@pytest.fixture
def inactive_package(db) -> Package:
    return make_package(active=False)


@pytest.fixture
def verified(patient, pharmacist, baclofen) -> Prescription:
    """Baclofen 10 mg, 90 tablets and one refill: 180 units, enough for 18 packages."""
    prescription = make_e_prescription(patient=patient, quantity=90, refills=1)
    return services.prescription_verify(
        prescription_id=prescription.pk, pharmacist=pharmacist, warnings_acknowledged=True
    )


def make_needs_info(*, patient, pharmacist, question="Which strength did your doctor write?"):
    """An uploaded prescription on which the pharmacist asked the patient a question."""
    prescription = services.prescription_submit_upload(
        patient=patient, documents=[clean_document(TINY_PDF)], note="First note"
    )
    return services.prescription_request_info(
        prescription_id=prescription.pk, pharmacist=pharmacist, message=question
    )


@pytest.fixture
def needs_info(patient, pharmacist, baclofen) -> Prescription:
    return make_needs_info(patient=patient, pharmacist=pharmacist)


@pytest.fixture
def no_stripe(monkeypatch):
    """Checkout sends the patient to a fixed payment page instead of calling Stripe."""
    monkeypatch.setattr("orders.payments.sessions.checkout_session_for", lambda order: PAYMENT_PAGE)
    return PAYMENT_PAGE
