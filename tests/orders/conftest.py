"""Fixtures for the orders tests: real orders placed through checkout, paid ones, and
a patient who holds a verified prescription. The Stripe stand-in and its helpers are
in tests/fixtures/stripe.py, shared with the integration and reliability tests."""

import pytest
from django.core import mail

from orders.models import Order
from tests.factories import make_e_prescription
from tests.fixtures.stripe import pay_at_standin
from tests.orders.factories import (
    make_patient,
    make_verified_prescription,
    pay_and_release,
    place_order,
    place_waiting,
    receive,
)


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
    """10 pills of baclofen 10 mg, paid, through the pharmacist's final check and
    dispatched by the task it enqueues, with its emails sent and then cleared."""
    order = pay_and_release(place_order(patient=prescribed_patient), capture)
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


@pytest.fixture
def waiting_rx(baclofen):
    """A new patient and their baclofen 10 mg e-prescription, submitted, not verified."""
    patient = make_patient()
    return patient, make_e_prescription(patient=patient)


@pytest.fixture
def authorised(waiting_rx, stripe_api, capture):
    """An order placed against the waiting prescription, paid on the hosted page: the
    card is authorised. Its emails are sent and cleared."""
    patient, prescription = waiting_rx
    order = place_waiting(patient, prescription)
    completed = pay_at_standin(stripe_api, order)
    with capture(execute=True):
        outcome = receive(completed)
    assert outcome == "authorised: waiting for the pharmacist"
    order.refresh_from_db()
    mail.outbox.clear()
    return order, prescription
