"""Every email the site sends comes from the pharmacy, by name, and ends with its
signature: order and prescription emails, and allauth's account emails."""

from email.utils import parseaddr

import pytest
from django.core import mail

from orders.emails import order_email
from orders.models import Notification
from prescriptions.emails import status_change_email
from prescriptions.models import StatusChange
from tests.accounts.test_sign_up import sign_up
from tests.factories import make_user_with_verified_email
from tests.orders.factories import make_patient, make_verified_prescription, pay, place_order

SENDER = ("Northside Pharmacy (demo)", "no-reply@northside-pharmacy.example")
SIGNATURE = "Northside Pharmacy (demo)\nPhone: (555) 010-0142\n100 Example Avenue, Suite 2, Albany, NY 12207"
HOSTS = ("testserver", "127.0.0.1", "localhost", "example.com")


def assert_in_the_pharmacys_name(message) -> None:
    body = message.body.strip()
    lines = body.splitlines()
    assert parseaddr(message.from_email) == SENDER, message.subject
    assert body.endswith(SIGNATURE), (message.subject, body[-300:])
    # The greeting and the sign-off name the pharmacy, never a host (allauth's own end
    # with "Thank you for using <host>!" and the bare host on a line of its own).
    assert not any(host in lines[0] for host in HOSTS), (message.subject, lines[0])
    assert not [line for line in lines if line.strip().rstrip("!.") in HOSTS], message.subject
    assert "Thank you for using" not in body, message.subject


def test_every_order_email_is_in_the_pharmacys_name(
    demo_pharmacy, baclofen, django_capture_on_commit_callbacks
):
    patient = make_patient()
    make_verified_prescription(patient=patient)
    order = pay(place_order(patient=patient), django_capture_on_commit_callbacks)
    for kind in Notification.Kind:
        assert_in_the_pharmacys_name(order_email(order, kind))


def test_every_prescription_email_is_in_the_pharmacys_name(demo_pharmacy, baclofen):
    prescription = make_verified_prescription(patient=make_patient())
    changes = StatusChange.objects.filter(prescription=prescription)
    assert changes.count() >= 2
    for change in changes:
        assert_in_the_pharmacys_name(status_change_email(change))


def test_the_order_emails_sent_by_the_tasks_are_in_the_pharmacys_name(
    demo_pharmacy, baclofen, django_capture_on_commit_callbacks
):
    patient = make_patient()
    make_verified_prescription(patient=patient)
    mail.outbox.clear()
    pay(place_order(patient=patient), django_capture_on_commit_callbacks)
    assert mail.outbox, "paying sends the receipt"
    for message in mail.outbox:
        assert_in_the_pharmacys_name(message)


@pytest.mark.parametrize(
    "flow",
    ["sign_up", "sign_up_known_address", "password_reset", "password_reset_unknown_address"],
)
def test_allauths_account_emails_are_in_the_pharmacys_name(client, demo_pharmacy, flow):
    known = make_user_with_verified_email(email="known@example.org")
    mail.outbox.clear()
    if flow == "sign_up":
        sign_up(client, "new@example.org")
    elif flow == "sign_up_known_address":
        sign_up(client, known.email)
    else:
        email = known.email if flow == "password_reset" else "nobody@example.org"
        client.post("/accounts/password/reset/", {"email": email})
    assert len(mail.outbox) == 1
    assert_in_the_pharmacys_name(mail.outbox[0])


def test_the_sign_up_email_names_the_pharmacy_rather_than_the_host(client, demo_pharmacy):
    sign_up(client, "new@example.org")
    body = mail.outbox[0].body
    assert body.startswith("Hello from Northside Pharmacy (demo),")
    assert "create an account at Northside Pharmacy (demo)." in body


def test_without_the_pharmacys_details_emails_come_from_the_default_sender(client, db, settings):
    sign_up(client, "new@example.org")
    message = mail.outbox[0]
    assert message.from_email == settings.DEFAULT_FROM_EMAIL
    assert message.body.strip().endswith(settings.SITE_NAME)
    assert "testserver" not in message.body.splitlines()[0]
