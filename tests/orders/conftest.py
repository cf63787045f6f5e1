"""Fixtures for the orders tests: real orders placed through checkout, paid ones, and
a patient who holds a verified prescription. The Stripe stand-in and its helpers are
in tests/fixtures/stripe.py, shared with the integration and reliability tests."""

import pytest
from django.core import mail

from orders.models import Order
from tests.orders.factories import make_patient, make_verified_prescription, pay, place_order


@pytest.fixture
def prescribed_patient(patient, baclofen):
    """`patient`, holding a verified baclofen 10 mg e-prescription (1 tablet three times a day)."""
    make_verified_prescription(patient=patient)
    return patient


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


@pytest.fixture
def paid_order(prescribed_patient, capture) -> Order:
    """10 pills of baclofen 10 mg, paid and dispatched by the task that payment enqueues,
    with its emails sent and then cleared from the outbox."""
    order = pay(place_order(patient=prescribed_patient), capture)
    mail.outbox.clear()
    return order


@pytest.fixture
def orders_any_day(settings):
    """For tests that place several orders of one drug on one day as scaffolding: the
    early-refill refusal (tests/prescriptions/test_review.py) is turned off."""
    settings.REFILL_TOO_EARLY_SHARE = "0"


@pytest.fixture
def order_factory(db, baclofen):
    """Orders placed through the real checkout: a verified prescription, stock taken."""

    def make(*, quantity: int = 1, **patient_fields) -> Order:
        patient = make_patient(**patient_fields)
        make_verified_prescription(patient=patient)
        return place_order(patient=patient, quantity=quantity)

    return make


@pytest.fixture
def order(order_factory) -> Order:
    """One baclofen 10 mg package waiting for payment."""
    return order_factory()
