"""Every email the site sends comes from the pharmacy, by name, and ends with its
signature: order and prescription emails, and allauth's account emails."""

from email.utils import parseaddr
from pathlib import Path

import allauth
import pytest
from allauth.account.adapter import get_adapter
from allauth.core import context as allauth_context
from django.conf import settings
from django.core import mail
from django.core.cache import cache
from django.test import RequestFactory
from django.test.signals import template_rendered
from django.utils import timezone

from about.selectors import FACTS_KEY
from orders.emails import order_email
from orders.models import Notification
from orders.services import order_mark_paid
from orders.services.notifications import notification_send
from prescriptions.emails import (
    CONSULTATION_SUBJECTS,
    consultation_email_send,
    renewal_email_send,
    status_change_email,
)
from prescriptions.models import Consultation, PartnerRequest, RenewalRequest, StatusChange
from tests.accounts.test_sign_up import sign_up
from tests.factories import make_partner, make_user_with_verified_email
from tests.orders.factories import make_patient, make_verified_prescription, pay, place_order

SENDER = ("Northside Pharmacy (demo)", "no-reply@northside-pharmacy.example")
SIGNATURE = "Northside Pharmacy (demo)\nPhone: (555) 010-0142\n100 Example Avenue, Suite 2, Albany, NY 12207"
HOSTS = ("testserver", "127.0.0.1", "localhost", "example.com")


def assert_in_the_pharmacys_name(message) -> None:
    body = message.body.strip()
    lines = body.splitlines()
    assert parseaddr(message.from_email) == SENDER, message.subject
    assert message.subject.endswith(f" - {SENDER[0]}"), message.subject
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


@pytest.fixture
def renders_and_reads(monkeypatch):
    """The templates rendered, and how often the pharmacy's details were read (cache
    gets), while a test sends email."""
    seen = {"templates": [], "facts": 0}
    get = cache.get

    def counting_get(key, *args, **kwargs):
        if key == FACTS_KEY:
            seen["facts"] += 1
        return get(key, *args, **kwargs)

    def rendered(sender, template, **kwargs):
        seen["templates"].append(template.name)

    monkeypatch.setattr(cache, "get", counting_get)
    template_rendered.connect(rendered)
    yield seen
    template_rendered.disconnect(rendered)


def test_an_order_email_is_rendered_once_and_reads_the_pharmacys_details_once(
    demo_pharmacy, baclofen, django_capture_on_commit_callbacks, renders_and_reads
):
    patient = make_patient()
    make_verified_prescription(patient=patient)
    order = place_order(patient=patient)
    with django_capture_on_commit_callbacks(execute=False):  # its receipt queued, not sent
        order_mark_paid(order_id=order.pk, payment_intent="pi_test")
    mail.outbox.clear()
    renders_and_reads["templates"].clear()
    renders_and_reads["facts"] = 0

    assert notification_send(order_id=order.pk, kind=Notification.Kind.CONFIRMED)

    assert len(mail.outbox) == 1
    assert_in_the_pharmacys_name(mail.outbox[0])
    assert renders_and_reads["templates"].count("orders/email/confirmed.txt") == 1
    # The From, the subject, the greeting and the signature from one read (none while
    # the process's copy holds).
    assert renders_and_reads["facts"] <= 1
    # Sent already: a redelivered task renders nothing and sends nothing.
    renders_and_reads["templates"].clear()
    assert not notification_send(order_id=order.pk, kind=Notification.Kind.CONFIRMED)
    assert renders_and_reads["templates"] == []
    assert len(mail.outbox) == 1


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


def test_every_renewal_email_is_in_the_pharmacys_name(demo_pharmacy, baclofen):
    prescription = make_verified_prescription(patient=make_patient())
    for state in RenewalRequest.State:
        renewal = RenewalRequest.objects.create(
            prescription=prescription, patient=prescription.patient, state=state
        )
        mail.outbox.clear()
        assert renewal_email_send(renewal_id=renewal.pk, state=state)
        assert_in_the_pharmacys_name(mail.outbox[0])
        renewal.delete()


def test_every_consultation_email_is_in_the_pharmacys_name(demo_pharmacy, baclofen):
    patient = make_patient()
    partner = make_partner(requests_url="http://127.0.0.1:9/requests")
    for status in CONSULTATION_SUBJECTS:
        consultation = Consultation.objects.create(
            patient=patient,
            drug=baclofen,
            formulation=baclofen.formulations.first(),
            partner=partner,
            partner_request=PartnerRequest.objects.create(
                partner=partner, kind=PartnerRequest.Kind.CONSULTATION, payload={}
            ),
            answers=[],
            status=status,
        )
        mail.outbox.clear()
        assert consultation_email_send(consultation_id=consultation.pk, status=status)
        assert_in_the_pharmacys_name(mail.outbox[0])


ALLAUTH_TEMPLATES = Path(allauth.__file__).resolve().parent / "templates"
ALLAUTH_EMAILS = sorted(
    str(path.relative_to(ALLAUTH_TEMPLATES)).removesuffix("_message.txt")
    for folder in ("account/email", "mfa/email")
    for path in (ALLAUTH_TEMPLATES / folder).glob("*_message.txt")
    # An email has a subject; the others (base_message, base_notification) are frames.
    if path.with_name(path.name.replace("_message.txt", "_subject.txt")).exists()
)


@pytest.mark.parametrize("template_prefix", ALLAUTH_EMAILS)
def test_every_allauth_email_is_in_the_pharmacys_name(demo_pharmacy, template_prefix):
    """Each email allauth can send (its own list, so a new one in an upgrade is
    checked too), rendered as allauth sends it, from a request to the site's host."""
    user = make_user_with_verified_email(email="pat@example.org")
    request = RequestFactory().get("/accounts/email/", HTTP_USER_AGENT="Firefox")
    request.user = user
    values = {
        "user": user,
        "code": "K3Y9QZ",
        "activate_url": "http://testserver/accounts/confirm-email/key/",
        "password_reset_url": "http://testserver/accounts/password/reset/key/x/",
        "signup_url": "http://testserver/accounts/signup/",
        "from_email": "old@example.org",
        "to_email": "pat@example.org",
        "deleted_email": "old@example.org",
        "ip": "192.0.2.1",
        "user_agent": "Firefox",
        "timestamp": timezone.now(),
    }
    mail.outbox.clear()
    with allauth_context.request_context(request):
        get_adapter(request).send_mail(template_prefix, "pat@example.org", values)
    [message] = mail.outbox
    assert_in_the_pharmacys_name(message)
    assert "testserver" not in message.subject


def test_mail_to_the_site_admins_is_in_the_sites_name(settings):
    settings.ADMINS = [("Ops", "ops@example.org")]
    mail.outbox.clear()
    mail.mail_admins("Payment reconciliation: 1 discrepancy", "Details.")
    [message] = mail.outbox
    assert message.subject == f"[{settings.SITE_NAME}] Payment reconciliation: 1 discrepancy"
    assert parseaddr(message.from_email)[0] == settings.SITE_NAME


def test_the_default_senders_name_the_site_not_a_placeholder():
    assert parseaddr(settings.DEFAULT_FROM_EMAIL)[0] == settings.SITE_NAME
    assert parseaddr(settings.SERVER_EMAIL)[0] == settings.SITE_NAME
