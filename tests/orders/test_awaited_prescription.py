"""An order that waits for a prescription not sent yet: the patient says at checkout that
their prescriber or a telemedicine service will send it. The card is authorised; the
prescription, when it arrives in the patient's name for that medicine, joins the order
(once), and the order is then charged or cancelled as any order waiting for a
pharmacist. If none arrives in time, the order is cancelled and nothing charged.
"""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from orders.cart import CartLine
from orders.models import CaptureMethod, Order, OrderStatus, OrderStatusChange
from orders.payments.settlement import authorised_orders_settle, order_settle
from orders.services import order_place
from prescriptions.models import Prescription
from prescriptions.services import prescription_verify
from tests.factories import make_e_prescription, make_profile
from tests.fixtures.stripe import pay_at_standin
from tests.orders.factories import (
    baclofen_package,
    decide,
    intent_of,
    make_address,
    make_patient,
    receive,
    stock,
    units_used,
)

pytestmark = pytest.mark.urls("tests.orders.urls_webhook")

CHECKOUT = "/checkout/"
ADDRESS = {
    "full_name": "Pat Jordan",
    "line1": "1 Main St",
    "line2": "",
    "city": "Albany",
    "state": "NY",
    "zip_code": "12207",
    "phone": "",
}


def place_expecting(patient, *, package=None, quantity=1) -> Order:
    package = package or baclofen_package()
    return order_place(
        patient=patient,
        lines=[CartLine(package, quantity)],
        address=make_address(patient),
        expecting=frozenset({package.pk}),
    )


@pytest.fixture
def expecting(baclofen, stripe_api, capture):
    """A new patient (with a confirmed profile) whose order waits for a prescription the
    prescriber is to send, paid on the hosted page: the card is authorised."""
    patient = make_patient()
    make_profile(patient)
    order = place_expecting(patient)
    with capture(execute=True):
        receive(pay_at_standin(stripe_api, order))
    order.refresh_from_db()
    assert order.status == OrderStatus.AUTHORISED
    return order


def sent_by_partner(capture, patient, **overrides) -> Prescription:
    """The telemedicine partner's prescription arrives, its follow-up tasks run."""
    with capture(execute=True):
        return make_e_prescription(patient=patient, **overrides)


def test_checkout_offers_that_the_prescriber_will_send_it(patient_client, patient, package):
    patient_client.post("/cart/add/", {"package": package.pk, "quantity": 1})
    html = patient_client.get(CHECKOUT).content.decode()
    assert 'value="expect"' in html
    assert "My prescriber or a telemedicine service will send it to the pharmacy" in html
    assert "view<span" not in html  # nothing to view before it arrives


def test_choosing_it_places_an_order_that_only_authorises_and_holds_the_stock(
    patient_client, patient, package, stripe_api, stripe_standin
):
    make_profile(patient)
    before = stock()
    patient_client.post("/cart/add/", {"package": package.pk, "quantity": 1})
    response = patient_client.post(CHECKOUT, {**ADDRESS, f"line-{package.pk}-choice": "expect"})

    assert response.status_code == 302
    assert response["Location"].startswith(stripe_standin.url)
    order = Order.objects.get(patient=patient)
    assert order.capture_method == CaptureMethod.MANUAL
    line = order.lines.get()
    assert line.prescription is None and line.units_reserved is False
    assert stock() == before - 1


def test_the_order_page_and_email_say_what_the_order_waits_for(expecting, patient_client, settings):
    order = expecting
    patient_client.force_login(order.patient)
    html = patient_client.get(order.get_absolute_url()).content.decode()
    assert "waiting for your prescriber or telemedicine service to send us the prescription" in (
        html
    )
    assert "Baclofen 10 mg" in html
    [email] = [m for m in mail.outbox if "authorised" in m.body]
    assert (
        "waiting for your prescriber or telemedicine service to send us the prescription for"
        in (email.body)
    )
    assert "#None" not in email.body


def test_a_prescription_sent_for_the_patient_joins_the_order_and_is_charged_on_verification(
    expecting, stripe_api, capture
):
    order = expecting
    prescription = sent_by_partner(capture, order.patient)

    line = order.lines.get()
    assert line.prescription == prescription
    assert OrderStatusChange.objects.filter(
        order=order, note__startswith=f"Prescription #{prescription.pk} arrived"
    ).exists()
    order.refresh_from_db()
    assert order.status == OrderStatus.AUTHORISED  # the pharmacist has yet to verify it
    queued = Prescription.objects.get(pk=prescription.pk)
    assert queued.order_waiting_since == order.authorised_at  # first in the pharmacist's queue

    decide(capture, prescription_verify, prescription, warnings_acknowledged=True)

    order.refresh_from_db()
    assert order.awaits_final_check  # charged; the pharmacist's final check comes next
    assert intent_of(stripe_api, order).status == "succeeded"
    assert units_used(prescription) == 10


def test_a_prescription_for_another_strength_or_patient_is_not_taken(expecting, capture):
    order = expecting
    other_strength = sent_by_partner(capture, order.patient, strength="20 mg")
    someone_else = sent_by_partner(capture, make_patient(email="sam@example.com"))

    assert order.lines.get().prescription is None
    assert not other_strength.order_lines.exists() and not someone_else.order_lines.exists()


def test_a_prescription_joins_one_order_once_however_often_its_arrival_is_seen(
    expecting, capture, settings
):
    order = expecting
    prescription = sent_by_partner(capture, order.patient)
    with capture(execute=True):
        assert authorised_orders_settle() == 0  # the sweep matches nothing more

    assert prescription.order_lines.count() == 1
    assert OrderStatusChange.objects.filter(order=order, note__contains="arrived").count() == 1


def test_the_sweep_matches_a_prescription_whose_arrival_task_was_lost(expecting, capture, settings):
    order = expecting
    settings.PRESCRIPTION_ARRIVAL_TASKS = []
    prescription = sent_by_partner(capture, order.patient)
    assert order.lines.get().prescription is None

    with capture(execute=True):
        authorised_orders_settle()

    assert order.lines.get().prescription == prescription


def test_a_prescription_already_waiting_when_the_order_is_placed_is_matched_by_the_sweep(
    baclofen, stripe_api, capture
):
    patient = make_patient()
    prescription = make_e_prescription(patient=patient)  # waiting, but not chosen
    order = place_expecting(patient)
    with capture(execute=True):
        receive(pay_at_standin(stripe_api, order))
        authorised_orders_settle()

    assert order.lines.get().prescription == prescription


def test_no_prescription_arriving_in_time_cancels_and_releases_the_hold(
    expecting, stripe_api, capture, settings
):
    order = expecting
    before = stock()
    mail.outbox.clear()
    later = timezone.now() + timedelta(hours=settings.ORDER_VERIFICATION_HOURS + 1)

    with capture(execute=True):
        outcome = order_settle(order_id=order.pk, now=later)

    order.refresh_from_db()
    assert outcome.startswith("authorisation cancelled")
    assert order.status == OrderStatus.CANCELLED
    assert intent_of(stripe_api, order).status == "canceled"
    assert stock() == before + 1
    [email] = mail.outbox
    assert (
        f"the prescription your prescriber was to send us did not arrive within "
        f"{settings.ORDER_VERIFICATION_HOURS} hours" in email.body
    )
    assert "Nothing was charged" in email.body
    assert "units on prescription" not in email.body


def test_a_prescription_arriving_after_the_order_was_cancelled_stays_in_the_queue(
    expecting, capture, settings
):
    order = expecting
    later = timezone.now() + timedelta(hours=settings.ORDER_VERIFICATION_HOURS + 1)
    with capture(execute=True):
        order_settle(order_id=order.pk, now=later)

    prescription = sent_by_partner(capture, order.patient)

    assert order.lines.get().prescription is None
    assert prescription.status == "submitted"


def test_while_it_waits_another_order_of_the_drug_is_refused(expecting, capture):
    from orders.services import CheckoutError

    with pytest.raises(CheckoutError) as refused:
        place_expecting(expecting.patient)
    assert [p.kind for p in refused.value.problems] == ["order_waiting"]
