"""Patients racing for the last boxes, with real concurrent transactions on PostgreSQL."""

import threading
import time

import pytest
from django.core import mail
from django.core.mail import EmailMessage
from django.db import connection, connections

from catalog.models import Drug, Package
from orders import services
from orders.cart import CartLine
from orders.models import DeliveryAddress, Notification, Order
from orders.services.notifications import notification_send
from prescriptions.services import prescription_verify
from tests.factories import make_e_prescription, make_pharmacist, make_user_with_verified_email
from tests.orders.factories import make_patient, make_verified_prescription, place_order

RACERS = 20
BOXES = 5

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="needs real concurrent transactions (PostgreSQL)"
    ),
]


def test_twenty_patients_racing_for_five_boxes_buy_exactly_five():
    baclofen = Drug.objects.get(slug="baclofen")
    package = Package.objects.get(
        formulation__drug=baclofen, formulation__strength_label="10 mg", pill_count=10
    )
    Package.objects.filter(pk=package.pk).update(stock=BOXES)
    pharmacist = make_pharmacist()
    patients = []
    for n in range(RACERS):
        patient = make_user_with_verified_email(email=f"racer{n}@example.com")
        prescription_verify(
            prescription_id=make_e_prescription(patient=patient).pk, pharmacist=pharmacist
        )
        DeliveryAddress.objects.create(
            user=patient, full_name="R", line1="1 St", city="Troy", state="NY", zip_code="12180"
        )
        patients.append(patient)

    start = threading.Barrier(RACERS)
    outcomes: list[str] = []
    lock = threading.Lock()

    def race(patient):
        try:
            start.wait()
            try:
                services.order_place(
                    patient=patient,
                    lines=[CartLine(Package.objects.get(pk=package.pk), 1)],
                    address=patient.delivery_address,
                )
                outcome = "ordered"
            except services.CheckoutError as exc:
                outcome = exc.problems[0].kind
            with lock:
                outcomes.append(outcome)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=race, args=(p,)) for p in patients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes) == ["ordered"] * BOXES + ["out_of_stock"] * (RACERS - BOXES)
    assert Order.objects.count() == BOXES
    assert Package.objects.get(pk=package.pk).stock == 0
    # The losers' prescription units were never taken.
    reserved = sorted(p.prescriptions.get().units_used for p in patients)
    assert reserved == [0] * (RACERS - BOXES) + [10] * BOXES


def test_the_same_cart_submitted_five_times_at_once_places_one_order():
    """A double (or fivefold) click on "Place order": one order, the stock taken once."""
    package = Package.objects.get(
        formulation__drug__slug="baclofen", formulation__strength_label="10 mg", pill_count=10
    )
    patient = make_user_with_verified_email(email="clicker@example.com")
    prescription_verify(
        prescription_id=make_e_prescription(patient=patient).pk, pharmacist=make_pharmacist()
    )
    address = {
        "full_name": "R",
        "line1": "1 St",
        "city": "Troy",
        "state": "NY",
        "zip_code": "12180",
    }
    clicks = 5
    start = threading.Barrier(clicks)
    numbers: list[str] = []
    lock = threading.Lock()

    def click():
        try:
            start.wait()
            order = services.order_check_out(
                patient=patient,
                lines=[CartLine(Package.objects.get(pk=package.pk), 2)],
                address_data=address,
            )
            with lock:
                numbers.append(order.number)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=click) for _ in range(clicks)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(numbers) == clicks and len(set(numbers)) == 1
    assert Order.objects.filter(patient=patient).count() == 1
    assert Package.objects.get(pk=package.pk).stock == package.stock - 2
    assert patient.prescriptions.get().units_used == 20


def test_two_workers_sending_the_same_email_at_once_send_it_once(monkeypatch):
    """The second one's UPDATE of the unsent row waits for the first's commit, after its
    send, and then finds the row sent."""
    patient = make_patient(email="twice@example.com")
    make_verified_prescription(patient=patient)
    order = place_order(patient=patient)
    Notification.objects.create(order=order, kind=Notification.Kind.CONFIRMED)
    real_send = EmailMessage.send
    sending = threading.Event()

    def slow_send(message, *args, **kwargs):
        sending.set()
        time.sleep(0.3)
        return real_send(message, *args, **kwargs)

    monkeypatch.setattr(EmailMessage, "send", slow_send)
    mail.outbox.clear()  # the prescription's own emails
    results: list[bool] = []

    def send():
        try:
            results.append(notification_send(order_id=order.pk, kind=Notification.Kind.CONFIRMED))
        finally:
            connections.close_all()

    first, second = threading.Thread(target=send), threading.Thread(target=send)
    first.start()
    assert sending.wait(timeout=10)
    second.start()
    first.join(timeout=30)
    second.join(timeout=30)

    assert sorted(results) == [False, True]
    assert len(mail.outbox) == 1
    assert Notification.objects.get(order=order).sent_at is not None
