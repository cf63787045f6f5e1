"""Accounts, prescriptions and packages the fuzz tests aim their input at.

Every test in this folder is marked `fuzz`: `make test-quick` leaves them out, `make
test` (and so CI) runs them.
"""

from pathlib import Path

import pytest
from django.test import Client

from catalog.models import Package
from prescriptions import services
from prescriptions.models import Prescription
from tests.factories import (
    clean_document,
    make_package,
    make_user_with_verified_email,
    sign_in,
)
from tests.prescriptions.documents import blank_pdf

TINY_PDF = blank_pdf()
PAYMENT_PAGE = "https://checkout.stripe.test/pay/cs_fuzz"
HERE = Path(__file__).resolve().parent


def pytest_itemcollected(item):
    """Marks this folder's tests `fuzz` as they are collected, before `-m` selects."""
    if HERE in Path(str(item.path)).parents:
        item.add_marker(pytest.mark.fuzz)


def signed_in(user) -> Client:
    """A client of its own; a server error raises, so its traceback shows in the report."""
    return sign_in(Client(), user)


@pytest.fixture
def other_patient(db):
    return make_user_with_verified_email(first_name="Olga", last_name="Other")


@pytest.fixture
def inactive_package(db) -> Package:
    return make_package(active=False)


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
